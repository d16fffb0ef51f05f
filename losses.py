"""Losses for fitting and training 3D predictions. Pure functions, one per loss.

Conventions: voxels are (B, D, H, W) logits / occupancies in [z, y, x] order; point clouds are
(B, N, 3) in the object frame.
"""

import functools

import torch
import torch.nn.functional as F
from pytorch3d.ops import knn_points
from pytorch3d.structures import Meshes


def voxel_loss(voxels_pred: torch.Tensor, voxels_gt: torch.Tensor, pos_weight: float | None = None) -> torch.Tensor:
    """Mean binary cross-entropy between occupancy logits and 0/1 targets.

    Args:
        voxels_pred: (B, D, H, W) float logits (not probabilities).
        voxels_gt: (B, D, H, W) targets in {0, 1} (any dtype).
        pos_weight: optional weight of the occupied voxels' term. Only ~5% of a 32^3 grid is
            occupied, so plain BCE learns to under-fill thin parts; > 1 counters that.

    Returns:
        Scalar tensor. Uses the log-sum-exp form (`binary_cross_entropy_with_logits`), which
        stays finite for logits of any magnitude, unlike sigmoid followed by log.
    """
    if voxels_pred.dim() != 4:
        raise ValueError(f"voxels_pred must be (B, D, H, W) logits, got shape {tuple(voxels_pred.shape)}")
    if voxels_gt.shape != voxels_pred.shape:
        raise ValueError(
            f"voxels_gt must have the shape of voxels_pred {tuple(voxels_pred.shape)}, got {tuple(voxels_gt.shape)}"
        )
    weight = None if pos_weight is None else constant(pos_weight, voxels_pred.dtype, voxels_pred.device)
    return F.binary_cross_entropy_with_logits(voxels_pred, voxels_gt.to(voxels_pred.dtype), pos_weight=weight)


@functools.cache
def constant(value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A scalar tensor made once per (value, dtype, device): making it at every step would copy
    it to the GPU, and wait for the GPU, every step."""
    return torch.tensor(value, dtype=dtype, device=device)


def chamfer_loss(points_pred: torch.Tensor, points_gt: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer distance with squared L2, averaged over points then over the batch.

    Equals `pytorch3d.loss.chamfer_distance(points_pred, points_gt)[0]` with its defaults:
        mean_b [ mean_i min_j |p_i - g_j|^2 + mean_j min_i |p_i - g_j|^2 ].

    Args:
        points_pred: (B, N, 3) float.
        points_gt: (B, M, 3) float; M may differ from N.

    Returns:
        Scalar tensor, differentiable with respect to both inputs.
    """
    if points_pred.dim() != 3 or points_pred.shape[-1] != 3:
        raise ValueError(f"points_pred must be (B, N, 3), got shape {tuple(points_pred.shape)}")
    if points_gt.dim() != 3 or points_gt.shape[-1] != 3 or points_gt.shape[0] != points_pred.shape[0]:
        raise ValueError(
            f"points_gt must be (B, M, 3) with B={points_pred.shape[0]}, got shape {tuple(points_gt.shape)}"
        )
    if points_pred.shape[1] == 0 or points_gt.shape[1] == 0:
        raise ValueError("chamfer_loss needs at least one point in each cloud")
    # knn_points returns squared distances to the K=1 nearest neighbour, with gradients.
    dists_pred_to_gt = knn_points(points_pred, points_gt, K=1).dists[..., 0]  # (B, N)
    dists_gt_to_pred = knn_points(points_gt, points_pred, K=1).dists[..., 0]  # (B, M)
    return (dists_pred_to_gt.mean(dim=1) + dists_gt_to_pred.mean(dim=1)).mean()


def smoothness_loss(meshes: Meshes) -> torch.Tensor:
    """Uniform Laplacian smoothing: mean over vertices of |v - mean(neighbours of v)|.

    Averaged per mesh then over the batch, exactly `pytorch3d.loss.mesh_laplacian_smoothing(
    meshes, method="uniform")`, whose sparse implementation we use.

    Args:
        meshes: a `Meshes` batch of B meshes.
    """
    from pytorch3d.loss import mesh_laplacian_smoothing

    if not isinstance(meshes, Meshes):
        raise ValueError(f"smoothness_loss expects a pytorch3d Meshes batch, got {type(meshes).__name__}")
    return mesh_laplacian_smoothing(meshes, method="uniform")


def chamfer_and_normal_loss(
    points_pred: torch.Tensor, normals_pred: torch.Tensor, points_gt: torch.Tensor, normals_gt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chamfer (as `chamfer_loss`) and normal loss from one nearest-neighbour query each way.

    The normal loss is Mesh R-CNN's: 1 - |cos| between each point's normal and its nearest
    neighbour's in the other cloud, averaged each way then summed, averaged over the batch (as
    `pytorch3d.loss.chamfer_distance`'s second output). Normals need not be unit length.

    Args:
        points_pred, normals_pred: (B, N, 3); points_gt, normals_gt: (B, M, 3).
    Returns:
        (chamfer, normal), scalar tensors.
    """
    if points_pred.shape != normals_pred.shape or points_gt.shape != normals_gt.shape:
        raise ValueError("normals must have their points' shape (B, N, 3)")
    from pytorch3d.ops import knn_gather

    to_gt = knn_points(points_pred, points_gt, K=1)
    to_pred = knn_points(points_gt, points_pred, K=1)
    chamfer = (to_gt.dists[..., 0].mean(1) + to_pred.dists[..., 0].mean(1)).mean()
    unit_pred, unit_gt = F.normalize(normals_pred, dim=-1), F.normalize(normals_gt, dim=-1)
    cos_pred = (unit_pred * knn_gather(unit_gt, to_gt.idx)[:, :, 0]).sum(-1).abs()  # (B, N)
    cos_gt = (unit_gt * knn_gather(unit_pred, to_pred.idx)[:, :, 0]).sum(-1).abs()  # (B, M)
    normal = ((1 - cos_pred).mean(1) + (1 - cos_gt).mean(1)).mean()
    return chamfer, normal


def dice_loss(voxels_pred: torch.Tensor, voxels_gt: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice loss, 1 - 2|P G| / (|P| + |G|) with P the predicted probabilities, per item then
    averaged over the batch (V-Net, Milletari et al. 2016).

    Each shape counts by its overlap, not by its cells: the ~95% of a 32^3 grid that is empty
    does not outweigh a leg's few cells as it does in the per-cell mean of BCE.

    Args:
        voxels_pred: (B, D, H, W) float logits.
        voxels_gt: (B, D, H, W) targets in {0, 1}.
        eps: added to numerator and denominator, so an empty GT predicted empty scores 0.
    """
    if voxels_gt.shape != voxels_pred.shape:
        raise ValueError(f"voxels_gt {tuple(voxels_gt.shape)} must have the shape of voxels_pred")
    probs = torch.sigmoid(voxels_pred.float()).flatten(1)
    gt = voxels_gt.float().flatten(1)
    dice = (2 * (probs * gt).sum(1) + eps) / (probs.sum(1) + gt.sum(1) + eps)
    return (1 - dice).mean()


def pool_voxels(voxels_gt: torch.Tensor, resolution: int) -> torch.Tensor:
    """(B, D, D, D) {0, 1} grids -> (B, R, R, R): a coarse cell is occupied when any of its
    sub-cells is, as R2N2's grids mark a cell that any part of the solid reaches."""
    factor = voxels_gt.shape[-1] // resolution
    return F.max_pool3d(voxels_gt[:, None].float(), factor)[:, 0]


def voxel_terms(
    logits: torch.Tensor,
    voxels_gt: torch.Tensor,
    aux_logits: list | tuple = (),
    pos_weight: float | None = None,
    w_dice: float = 0.0,
    w_aux: float = 0.0,
) -> tuple[torch.Tensor, dict]:
    """The voxel loss of a vox prediction with its coarse logits: BCE (`voxel_loss`) plus w_dice
    times the Dice loss at 32^3, and w_aux times the same pair at each coarse resolution (deep
    supervision, against `pool_voxels` targets).

    Args:
        logits: (B, 32, 32, 32); voxels_gt: (B, 32, 32, 32) in {0, 1}.
        aux_logits: coarse logits (B, R, R, R), e.g. at 8^3 and 16^3.
    Returns:
        (weighted total, unweighted terms: bce, dice (when weighted) and the coarse terms).
    """
    bce = voxel_loss(logits.float(), voxels_gt, pos_weight)
    terms = {"bce": bce.detach()}
    total = bce
    if w_dice > 0:
        dice = dice_loss(logits, voxels_gt)
        total = total + w_dice * dice
        terms["dice"] = dice.detach()
    if w_aux > 0:
        for coarse in aux_logits:
            resolution = coarse.shape[-1]
            target = pool_voxels(voxels_gt, resolution)
            coarse_loss = voxel_loss(coarse.float(), target, pos_weight)
            if w_dice > 0:
                coarse_loss = coarse_loss + w_dice * dice_loss(coarse, target)
            total = total + w_aux * coarse_loss
            terms[f"coarse{resolution}"] = coarse_loss.detach()
    return total, terms
