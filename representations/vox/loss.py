"""The vox type's training loss: its targets in the prediction's frame, the voxel terms and the silhouette.

    targets = voxel_targets(batch, settings, memo)        # the GT grid (and rods) in the model's frame
    total, terms = voxel_loss_terms(prediction, batch, targets, settings)

The terms are pure functions, each checked against a naive reference in tests/test_vox_loss.py:
the BCE (`losses.voxel_loss`, the course's), the soft Dice, the thin loss on rod-like cells, deep
supervision at 8^3 and 16^3, and the silhouette the grid casts in the input view; the two
functions at the end decide what they compare.
"""

import torch
import torch.nn.functional as F

from common.memo import GridMemo
from geometry.rods import thin_cells
from geometry.view_frame import viewer_cameras, voxels_to_viewer
from losses import voxel_loss
from model import Prediction


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
    return ray_samples(torch.sigmoid(logits.float()), R, T, K, size, n_samples)[0].amax(-1)  # (B, P)


def ray_samples(
    grids: torch.Tensor, R: torch.Tensor, T: torch.Tensor, K: torch.Tensor, size: int, n_samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A grid read along the rays of a size x size view of cameras (R, T, K): (B, D, H, W) [z, y, x]
    values over [-0.5, 0.5]^3 -> (B, size * size, n_samples) trilinear readings (0 outside the cube)
    and (B, size * size, n_samples, 3) the points read, n_samples evenly across the cube's bounding
    sphere, near to far, pixels row by row."""
    from geometry.cameras import camera_rays

    B = grids.shape[0]
    origins, directions = camera_rays(R, T, K, size)  # (B, 3), (B, P, 3), object frame
    reach = 0.87  # the cube's half diagonal
    distance = origins.norm(dim=1, keepdim=True)  # (B, 1): to the cube's centre
    steps = torch.linspace(-reach, reach, n_samples, device=grids.device)
    points = origins[:, None, None] + directions[:, :, None] * (distance[:, :, None] + steps)[..., None]  # (B,P,S,3)
    sampled = F.grid_sample(
        grids.float()[:, None], 2 * points.view(B, -1, 1, 1, 3), mode="bilinear", align_corners=False
    )
    return sampled.view(B, -1, n_samples), points


@torch.no_grad()
def grid_surface(
    voxels_gt: torch.Tensor, R: torch.Tensor, T: torch.Tensor, K: torch.Tensor, size: int, n_samples: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """The surface of a GT grid visible in the view of cameras (R, T, K): (B, D, H, W) [z, y, x] {0, 1}
    -> depth (B, size, size), the first point along each pixel's ray where the grid reaches 0.5
    (trilinear readings, the crossing interpolated between samples), as its depth along the view
    axis relative to the object's centre in `PixelAligned`'s units (2 (z - T_z); T = (0, 0,
    distance) for the look-at and viewer cameras), 0 where the ray misses; and hit (B, size, size)
    bool. 64 samples: about 0.9 of a 32^3 cell apart."""
    B = voxels_gt.shape[0]
    sampled, points = ray_samples(voxels_gt, R, T, K, size, n_samples)  # (B, P, S), (B, P, S, 3)
    solid = sampled >= 0.5
    hit = solid.any(-1)  # (B, P)
    first = solid.float().argmax(-1, keepdim=True)  # (B, P, 1): the first solid sample (0 where none)
    before = (first - 1).clamp_min(0)
    z = (points @ R.float()[:, None] + T.float()[:, None, None])[..., 2]  # (B, P, S): depth along the view axis
    # Where the readings cross 0.5 between the sample before and the first solid one (linear in between).
    v0, v1 = sampled.gather(2, before), sampled.gather(2, first)
    share = ((0.5 - v0) / (v1 - v0).clamp_min(1e-6)).clamp(0, 1)
    z0, z1 = z.gather(2, before), z.gather(2, first)
    z_hit = (z0 + share * (z1 - z0))[..., 0]  # (B, P)
    depth = torch.where(hit, 2 * (z_hit - T.float()[:, 2:3]), torch.zeros_like(z_hit))  # as `PixelAligned`
    return depth.view(B, size, size), hit.view(B, size, size)


def surface_loss(
    surface: torch.Tensor, voxels_gt: torch.Tensor, R: torch.Tensor, T: torch.Tensor, K: torch.Tensor, masks=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The visible surface's loss (`networks.surface.SurfaceHead`): BCE of its coverage logit against
    the rendering's mask (box-averaged to the head's size; the GT grid's own coverage without masks),
    and the L1 error of its depth against the GT grid's (`grid_surface`) on the pixels where the GT
    grid is hit. surface (B, 2, S, S); voxels_gt (B, D, H, W) in the frame of the cameras (R, T, K).
    Returns (coverage, depth) terms."""
    size = surface.shape[-1]
    depth_gt, hit = grid_surface(voxels_gt, R, T, K, size)  # (B, S, S) each
    covered = (
        hit.float() if masks is None else F.interpolate(masks.float()[:, None], size=(size, size), mode="area")[:, 0]
    )
    coverage = F.binary_cross_entropy_with_logits(surface[:, 1].float(), covered)
    errors = (surface[:, 0].float() - depth_gt).abs() * hit
    depth = errors.sum() / hit.sum().clamp_min(1)
    return coverage, depth


def voxel_targets(batch: dict, settings, memo: dict | None = None) -> dict:
    """What the voxel terms compare with, in the model's frame (settings.frame): "voxels" (B, 32, 32,
    32), "grids" (what the terms derive from it: rods, near, coarse targets, `target_grids`)
    and "cameras", the input views' (R, T, K) in that frame (None without metadata). A viewer-frame
    model's GT is the object-frame GT turned by each view's R, its rods found on the object's axes
    (`geometry.view_frame.voxels_to_viewer`). With memo (the run's) on the CPU, each shape's grids
    (each view's, in the viewer frame) are computed once a run (`common.memo.GridMemo`)."""
    cameras = (batch["R"], batch["T"], batch["K"]) if batch.get("R") is not None else None
    viewer = settings.frame == "viewer"
    if viewer and cameras is None:
        raise ValueError("a viewer-frame model trains on data with cameras (R, T, K): its targets are turned by R")
    voxels_gt = batch["voxels"]
    resolutions = (8, 16) if settings.w_aux > 0 else ()

    def compute(rows: list[int]) -> dict:
        gt, rods = voxels_gt[rows], None
        if viewer:
            turned = thin_cells(gt) if settings.w_thin > 0 else None
            gt, rods = voxels_to_viewer(gt, batch["R"][rows], turned)
        grids = target_grids(gt, rods, settings.w_thin > 0, resolutions)
        return {**grids, "voxels": gt >= 0.5} if viewer else grids

    device = voxels_gt.device
    keys = batch.get("shape_index")
    if memo is None or keys is None or device.type == "cuda":  # recomputing costs nothing on a GPU
        grids = compute(list(range(len(voxels_gt))))
    else:
        views = batch["view"].tolist() if viewer else [None] * len(voxels_gt)
        grids = memo.setdefault("voxel_targets", GridMemo()).get(list(zip(keys.tolist(), views)), compute, device)
    if viewer:
        voxels_gt = grids.pop("voxels").float()
        cameras = viewer_cameras(batch["T"], batch["K"])
    return {"voxels": voxels_gt, "grids": grids, "cameras": cameras}


def voxel_loss_terms(prediction: Prediction, batch: dict, targets: dict, settings) -> tuple[torch.Tensor, dict]:
    """The voxel terms of a prediction with its coarse logits (`voxel_terms`) and, with
    --w_silhouette, the silhouette the grid casts in the input view against the rendering's mask
    (`silhouette_loss`), and with a visible-surface head (aux["surface"]) its loss (`surface_loss`),
    float32, against `voxel_targets`."""
    s = settings
    if prediction.frame != s.frame:  # the targets were turned into settings.frame
        raise ValueError(
            f"a {prediction.frame}-frame prediction against {s.frame}-frame targets: settings of another model"
        )
    logits = prediction.voxels
    coarse = [c.float() for c in prediction.aux.get("coarse", [])]
    total, terms = voxel_terms(
        logits.float(), targets["voxels"], coarse, s.pos_weight, s.w_dice, s.w_aux, s.w_thin, targets["grids"]
    )
    cameras = targets["cameras"]
    if s.w_silhouette > 0 and batch.get("masks") is not None and cameras is not None:
        silhouette = silhouette_loss(logits.float(), *cameras, batch["masks"], s.sil_rays, s.sil_samples)
        total = total + s.w_silhouette * silhouette
        terms["silhouette"] = silhouette.detach()
    surface = prediction.aux.get("surface")
    if surface is not None and s.w_surface > 0 and cameras is not None:
        coverage, depth = surface_loss(surface, targets["voxels"], *cameras, batch.get("masks"))
        total = total + s.w_surface * (coverage + depth)
        terms.update(surface_coverage=coverage.detach(), surface_depth=depth.detach())
    return total, terms
