"""Losses for fitting and training 3D predictions: one pure function per loss, and the loss weights.

    loss = chamfer_loss(points_pred, points_gt)             # (B, N, 3), (B, M, 3) -> scalar
    total, terms = voxel_terms(logits, voxels_gt, coarse, pos_weight=3.0, w_dice=1.0)

Each type's training loss composes these with its targets in its representation
(`representations/<type>`), weighted by its settings and the shared `LossConfig`. Conventions: voxels are (B, D, H, W)
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
from geometry.rods import thin_cells


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


def thin_loss(
    voxels_pred: torch.Tensor,
    voxels_gt: torch.Tensor,
    rods: torch.Tensor | None = None,
    near: torch.Tensor | None = None,
) -> torch.Tensor:
    """BCE around the GT's rod-like cells (legs, rails, spindles: `geometry.rods.thin_cells`):
    the rods themselves, which should be occupied, and the empty cells next to them (their 26
    neighbours not in the GT), which should stay empty, each group averaged on its own and the two
    summed; 0 for a shape without rods.

    A leg is a few dozen of a grid's 32768 cells: in the per-cell mean of BCE it hardly counts,
    and the network learns the plates first and the rods late or never. This term gives the rods
    a voice of their own (in the spirit of clDice's skeleton term for tubular structures); its
    second half keeps them thin, where the first alone makes them fat. Each shape counts alike
    (its own means, then the batch's), so the loss of a batch split over DDP ranks is the same.

    Args:
        voxels_pred: (B, D, H, W) logits; voxels_gt: (B, D, H, W) in {0, 1}.
        rods: (B, D, H, W) bool, the GT's rod cells where they are known already (computed once per
            shape, or a grid turned into the viewer frame, `geometry.view_frame.voxels_to_viewer`);
            None: `thin_cells(voxels_gt)`.
        near: (B, D, H, W), the rods and their 26 neighbours (`near_rods`), where known already.
    """
    rods = (thin_cells(voxels_gt) if rods is None else rods).float()  # (B, D, H, W)
    near = (near_rods(rods) if near is None else near).float().flatten(1)
    rods = rods.flatten(1)  # (B, N)
    ring = near * (voxels_gt.flatten(1) < 0.5).float()
    logits = voxels_pred.float().flatten(1)
    rods_term = (F.softplus(-logits) * rods).sum(1) / rods.sum(1).clamp_min(1)
    ring_term = (F.softplus(logits) * ring).sum(1) / ring.sum(1).clamp_min(1)
    return (rods_term + ring_term).mean()  # per shape, then over the batch (a shape without rods adds 0)


def near_rods(rods: torch.Tensor) -> torch.Tensor:
    """(B, D, H, W) rod cells -> (B, D, H, W) float: the rods and their 26 neighbours."""
    return F.max_pool3d(rods.float()[:, None], 3, stride=1, padding=1)[:, 0]


def target_grids(voxels_gt: torch.Tensor, rods: torch.Tensor | None, thin: bool, resolutions=()) -> dict:
    """What the voxel terms derive from a GT grid (B, D, D, D), each a function of the shape alone
    (so a run computes it once per shape): "rods" and "near" for the thin loss (with thin; rods
    given or `thin_cells`), and "coarse<R>", the targets of deep supervision at each resolution R
    (`pool_voxels`). Bool grids."""
    grids = {}
    if thin:
        rods = thin_cells(voxels_gt) if rods is None else rods.bool()
        grids.update(rods=rods, near=near_rods(rods) > 0)
    for resolution in resolutions:
        grids[f"coarse{resolution}"] = pool_voxels(voxels_gt, resolution) > 0
    return grids


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
    w_thin: float = 0.0,
    grids: dict | None = None,
) -> tuple[torch.Tensor, dict]:
    """The voxel loss of a vox prediction with its coarse logits: BCE (`voxel_loss`) plus w_dice
    times the Dice loss and w_thin times the rods' BCE (`thin_loss`) at 32^3, and w_aux times BCE
    and Dice at each coarse resolution (deep supervision, against `pool_voxels` targets).

    Args:
        logits: (B, 32, 32, 32); voxels_gt: (B, 32, 32, 32) in {0, 1}.
        aux_logits: coarse logits (B, R, R, R), e.g. at 8^3 and 16^3.
        grids: what the terms derive from the GT, where known already (`target_grids`: "rods",
            "near", "coarse<R>"); what it lacks is derived here.
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
    if w_thin > 0:
        grids = grids or {}
        thin = thin_loss(logits, voxels_gt, grids.get("rods"), grids.get("near"))
        total = total + w_thin * thin
        terms["thin"] = thin.detach()
    if w_aux > 0:
        for coarse in aux_logits:
            resolution = coarse.shape[-1]
            known = (grids or {}).get(f"coarse{resolution}")
            target = pool_voxels(voxels_gt, resolution) if known is None else known.float()
            coarse_loss = voxel_loss(coarse.float(), target, pos_weight)
            if w_dice > 0:
                coarse_loss = coarse_loss + w_dice * dice_loss(coarse, target)
            total = total + w_aux * coarse_loss
            terms[f"coarse{resolution}"] = coarse_loss.detach()
    return total, terms


def silhouette_loss(
    logits: torch.Tensor,
    R: torch.Tensor,
    T: torch.Tensor,
    K: torch.Tensor,
    masks: torch.Tensor,
    size: int = 48,
    n_samples: int = 64,
) -> torch.Tensor:
    """BCE between the silhouette a grid casts in the input view and the rendering's mask: each
    pixel's ray is sampled through the object's cube and the largest occupancy probability on it
    is the pixel's (Perspective Transformer Nets' projection; Tulsiani et al.'s ray consistency),
    against the share of the pixel the mask covers.

    A voxel loss compares the grid with the GT cell by cell; this compares it with the image: a
    cell that is occupied where the image shows background costs here, however likely its family
    makes it. The mask is read at size x size (box-averaged), rays sampled n_samples times across
    the cube's bounding sphere (64 samples: about 0.9 of a cell apart).

    Args:
        logits: (B, D, H, W) [z, y, x] grid logits over [-0.5, 0.5]^3.
        R, T, K: the views' cameras (B, 3, 3), (B, 3), (B, 4, 4) (`geometry.cameras`).
        masks: (B, S, S) the renderings' masks (bool or [0, 1]).
    """
    silhouettes = grid_silhouettes(logits, R, T, K, size, n_samples)  # (B, P)
    target = F.interpolate(masks.float()[:, None], size=(size, size), mode="area").flatten(1)  # (B, P)
    return F.binary_cross_entropy(silhouettes.clamp(1e-6, 1 - 1e-6), target)


def grid_silhouettes(
    logits: torch.Tensor, R: torch.Tensor, T: torch.Tensor, K: torch.Tensor, size: int, n_samples: int
) -> torch.Tensor:
    """The silhouette a grid casts in the view of cameras (R, T, K): (B, D, H, W) [z, y, x] logits
    over [-0.5, 0.5]^3 -> (B, size * size) in [0, 1], the largest occupancy probability along each
    pixel's ray (pixels row by row), sampled n_samples times across the cube's bounding sphere."""
    from geometry.cameras import camera_rays

    B = logits.shape[0]
    origins, directions = camera_rays(R, T, K, size)  # (B, 3), (B, P, 3), object frame
    reach = 0.87  # the cube's half diagonal
    distance = origins.norm(dim=1, keepdim=True)  # (B, 1): to the cube's centre
    steps = torch.linspace(-reach, reach, n_samples, device=logits.device)
    points = origins[:, None, None] + directions[:, :, None] * (distance[:, :, None] + steps)[..., None]  # (B,P,S,3)
    probs = torch.sigmoid(logits.float())[:, None]  # outside the cube: 0 (grid_sample's zero padding)
    sampled = F.grid_sample(probs, 2 * points.view(B, -1, 1, 1, 3), mode="bilinear", align_corners=False)
    return sampled.view(B, -1, n_samples).amax(-1)  # (B, P)


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


def occupancy_targets(
    voxels_gt: torch.Tensor, points_gt: torch.Tensor, n_queries: int, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query points and 0/1 labels for occupancy training.

    Half the queries are uniform in [-0.5, 0.5]^3, half are surface samples jittered by
    N(0, 0.03^2) (Occupancy Networks: near-surface samples carry the detail). Labels come from the
    GT solid, the 32^3 voxel grid, by trilinear interpolation thresholded at 0.5: the same
    0.5 iso-surface that marching cubes extracts from the GT voxels.

    voxels_gt: (B, D, H, W) [z, y, x]; points_gt: (B, S, 3). Returns (B, P, 3), (B, P).
    """
    B = voxels_gt.shape[0]
    device = voxels_gt.device
    n_uniform = n_queries // 2
    uniform = torch.rand(B, n_uniform, 3, device=device, generator=generator) - 0.5
    pick = torch.randint(points_gt.shape[1], (B, n_queries - n_uniform), device=device, generator=generator)
    near = torch.gather(points_gt, 1, pick[..., None].expand(-1, -1, 3))
    near = near + 0.03 * torch.randn(near.shape, device=device, generator=generator)
    queries = torch.cat([uniform, near], dim=1).clamp(-0.5, 0.5)
    # grid_sample reads grid (x, y, z) in [-1, 1] against (D, H, W) = (z, y, x); align_corners=False
    # puts -1 and 1 on the outer faces of the cube, as our voxel centres assume.
    occupancy = F.grid_sample(voxels_gt[:, None], 2 * queries[:, :, None, None], mode="bilinear", align_corners=False)
    return queries, (occupancy.view(B, -1) >= 0.5).float()


def exact_occupancy_targets(
    occ_points: torch.Tensor, occ_labels: torch.Tensor, n_queries: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """n_queries of each item's stored exact queries (points.npz: uniform and near-surface
    points labelled by the true solid), drawn at random. occ_points (B, Q, 3), occ_labels
    (B, Q) bool -> (B, n_queries, 3), (B, n_queries) float."""
    B, Q, _ = occ_points.shape
    pick = torch.randint(Q, (B, n_queries), device=occ_points.device)
    queries = torch.gather(occ_points, 1, pick[..., None].expand(-1, -1, 3))
    return queries, torch.gather(occ_labels, 1, pick).float()


def mesh_losses(meshes, points_gt: torch.Tensor, normals_gt: torch.Tensor, n_points: int) -> tuple[torch.Tensor, ...]:
    """Mesh R-CNN's mesh losses of a Meshes batch against GT surface samples (B, S, 3) with
    normals: Chamfer and normal (`losses.chamfer_and_normal_loss`, on n_points sampled from each
    mesh) and edge (mean squared edge length, PyTorch3D's). Empty meshes are left out; all three
    are 0 when every mesh is empty."""
    from pytorch3d.loss import mesh_edge_loss
    from pytorch3d.ops import sample_points_from_meshes

    nonempty = [i for i, faces in enumerate(meshes.faces_list()) if len(faces)]
    if not nonempty:
        zero = points_gt.new_zeros(())
        return zero, zero, zero
    meshes = meshes[nonempty]
    points, normals = sample_points_from_meshes(meshes, n_points, return_normals=True)
    chamfer, normal = chamfer_and_normal_loss(points, normals, points_gt[nonempty], normals_gt[nonempty])
    return chamfer, normal, mesh_edge_loss(meshes)


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
        1000, "point, mesh, voxmesh: predicted points (point) and GT surface samples per Chamfer term (a new subset "
        "each step)", "positive_int",
    )  # fmt: skip
    w_chamfer: float = flag(1.0, "point, mesh, voxmesh: the Chamfer data term; must be > 0", "positive_float")
    w_camera: float = flag(
        0.1, "a model with a camera head (pixel-aligned features): its loss against the views' metadata "
        "(losses.camera_loss)", "non_negative_float",
    )  # fmt: skip
