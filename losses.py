"""Losses several types share: one pure function per loss, and the shared loss settings.

    loss = voxel_loss(voxels_pred, voxels_gt)               # (B, D, H, W) logits, 0/1 -> scalar
    loss = chamfer_loss(points_pred, points_gt)             # (B, N, 3), (B, M, 3) -> scalar
    loss = smoothness_loss(meshes)                          # Meshes -> scalar

A loss only one type uses lives in that type's package (the vox type's Dice, thin and silhouette
terms: `representations/vox/loss.py`); each type's training loss composes these with its targets
there, weighted by its settings and the shared `LossConfig`. Conventions: voxels are (B, D, H, W)
logits / occupancies in [z, y, x] order; point clouds are (B, N, 3) in the object frame. The
network may run under bf16 autocast (--amp); the representations run every loss, its targets and
PyTorch3D's ops in float32 with autocast off (`common.precision.float32`).
"""

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pytorch3d.ops import knn_points
from pytorch3d.structures import Meshes

from common.flags import flag


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
    # PyTorch3D builds the Laplacian as a sparse tensor from indices it made itself: the invariant
    # checks torch warns it skips ("Sparse invariant checks are implicitly disabled") are off on purpose.
    with torch.sparse.check_sparse_tensor_invariants(enable=False):
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
    to_gt = knn_points(points_pred, points_gt, K=1)
    to_pred = knn_points(points_gt, points_pred, K=1)
    chamfer = (to_gt.dists[..., 0].mean(1) + to_pred.dists[..., 0].mean(1)).mean()
    unit_pred, unit_gt = F.normalize(normals_pred, dim=-1), F.normalize(normals_gt, dim=-1)
    cos_pred = (unit_pred * gather_points(unit_gt, to_gt.idx[..., 0])).sum(-1).abs()  # (B, N)
    cos_gt = (unit_gt * gather_points(unit_pred, to_pred.idx[..., 0])).sum(-1).abs()  # (B, M)
    normal = ((1 - cos_pred).mean(1) + (1 - cos_gt).mean(1)).mean()
    return chamfer, normal


def gather_points(values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """values (B, M, C) at idx (B, N) long -> (B, N, C). `pytorch3d.ops.knn_gather` does the same
    for full clouds but reads `lengths.min()` to decide on padding, which waits for the GPU at
    every call; the clouds here are never padded."""
    return torch.gather(values, 1, idx[..., None].expand(-1, -1, values.shape[-1]))


def azimuth_targets(azim: torch.Tensor, self_overlap: torch.Tensor, temperature: float = 0.03) -> torch.Tensor:
    """Shape-aware azimuth targets (B, n_bins): each bin weighted by how much the shape turned from
    the true azimuth to that bin looks like itself (`geometry.cameras.azimuth_self_overlap`
    (B, n_bins), IoU at each turn), exp((IoU - 1) / temperature), normalised. A rectangular table's
    view and the view from the other side are both right answers; a chair's is one bin (and a
    little of its neighbours)."""
    from geometry.cameras import azimuth_bin

    B, n_bins = self_overlap.shape
    weights = torch.exp((self_overlap.float() - 1) / temperature)  # (B, n_bins), turn k
    turn = (torch.arange(n_bins, device=azim.device)[None] - azimuth_bin(azim, n_bins)[:, None]) % n_bins
    weights = torch.gather(weights, 1, turn)  # bin j holds the turn j - true bin
    return weights / weights.sum(1, keepdim=True)


def camera_loss(
    predicted: dict, R: torch.Tensor, T: torch.Tensor, frame: str = "object", self_overlap: torch.Tensor | None = None
) -> tuple[torch.Tensor, dict]:
    """A camera head's loss against the views' cameras R (B, 3, 3), T (B, 3): cross-entropy of its
    azimuth bins, the elevation's error in units of 10 degrees and the distance's relative error.
    With self_overlap (B, n_bins) (`geometry.cameras.azimuth_self_overlap`), the azimuth's target is
    shape-aware (`azimuth_targets`): a symmetric shape's equivalent views are not errors. A head with
    in-bin offsets ("azimuth_offsets") also learns the offset within each bin it should pick.
    A viewer-frame model uses the distance alone (`geometry.view_frame`): its loss is the distance's.
    Returns (the total, {"camera_azimuth": cross-entropy, "camera_elevation_deg": mean absolute
    error, "camera_azimuth_deg": mean absolute error of the most likely bin, "camera_distance":
    mean relative error}), float32."""
    from geometry.cameras import azimuth_bin, azimuth_bins, camera_parameters

    azim, elev, dist = camera_parameters(R.float(), T.float())
    distance = ((predicted["distance"] - dist).abs() / dist).mean()
    if frame == "viewer":
        return distance, {"camera_distance": distance.detach()}
    logits = predicted["azimuth_logits"].float()
    n_bins = logits.shape[1]
    if self_overlap is None:
        azimuth = F.cross_entropy(logits, azimuth_bin(azim, n_bins))
    else:
        target = azimuth_targets(azim, self_overlap)
        azimuth = F.cross_entropy(logits, target)
    if "azimuth_offsets" in predicted:  # the true azimuth's place within its bin, for every bin that is right
        width = 360.0 / n_bins
        fraction = (azim % width) / width - 0.5  # (B,) in [-0.5, 0.5)
        weight = target if self_overlap is not None else F.one_hot(azimuth_bin(azim, n_bins), n_bins).float()
        offset = ((predicted["azimuth_offsets"].float() - fraction[:, None]).abs() * weight).sum(1).mean()
        azimuth = azimuth + offset
    elevation = (predicted["elevation"] - elev).abs().mean()
    best = logits.detach().argmax(1)
    guess = azimuth_bins(n_bins).to(logits.device)[best]
    if "azimuth_offsets" in predicted:
        guess = guess + (360.0 / n_bins) * predicted["azimuth_offsets"].detach().gather(1, best[:, None])[:, 0]
    azimuth_error = ((guess - azim + 180) % 360 - 180).abs().mean()
    total = azimuth + elevation / 10 + distance
    return total, {
        "camera_azimuth": azimuth.detach(),
        "camera_azimuth_deg": azimuth_error.detach(),
        "camera_elevation_deg": elevation.detach(),
        "camera_distance": distance.detach(),
    }


def point_subsets(points: torch.Tensor, normals: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A new random subset of n of each item's S surface samples (without replacement), and
    their normals: (B, S, 3) -> (B, n, 3). Drawn from the global generator, which train_model.py
    seeds by (seed, step): every step of every epoch sees other points, and a resumed run draws
    the ones an uninterrupted run would."""
    B, S, _ = points.shape
    if S <= n:
        return points, normals
    pick = torch.rand(B, S, device=points.device).argsort(dim=1)[:, :n, None].expand(-1, -1, 3)
    return torch.gather(points, 1, pick), torch.gather(normals, 1, pick)


@dataclass(frozen=True)
class LossConfig:
    """The loss settings several types share (each type's own are its `representations` Settings);
    each field is also train_model.py's flag of the same name (`common.flags.flag`), its default
    here only."""

    n_points: int = flag(
        1000, "a type with a Chamfer term: GT surface samples per term (a new subset each step), and a point "
        "model's predicted points", "positive_int",
    )  # fmt: skip
    w_chamfer: float = flag(1.0, "a type with a Chamfer term: its weight; must be > 0", "positive_float")
    w_camera: float = flag(
        0.1, "a model with a camera head (pixel-aligned features): its loss against the views' metadata "
        "(losses.camera_loss)", "non_negative_float",
    )  # fmt: skip
