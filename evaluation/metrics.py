"""Shape metrics shared by evaluation, the dataset checks and benchmarks. All @torch.no_grad().

Points are in the object frame, where the shape spans about 1 unit (bounding-box diagonal 1), so
thresholds are in those units: 0.05 is 5% of the object's diagonal.
"""

import torch
from pytorch3d.ops import knn_points

from geometry.rods import thin_cells

DEFAULT_THRESHOLDS = (0.01, 0.02, 0.03, 0.04, 0.05)


def metric_key(name: str, threshold: float) -> str:
    """The one spelling of a thresholded metric, everywhere (results files, logs, tables): "F1@0.05"."""
    return f"{name}@{threshold:g}"


def f1_key(threshold: float) -> str:
    return metric_key("F1", threshold)


F1_HEADLINE = f1_key(0.05)  # F1 at 5% of the diagonal: every table's headline and the default selection metric


# How an empty prediction (or one with a non-finite coordinate) is scored: as one point at the
# origin (`nearest_neighbours`). Its
# Chamfer-L2 is then min_j |g_j|^2 + mean_j |g_j|^2 over the GT samples g (about 0.1 for a shape
# of diagonal 1, some 50 times a fair prediction's), counted in the mean like any other, so a model
# that predicts nothing for hard shapes is not rewarded with a better mean.
EMPTY_PREDICTION = "one point at the origin"


@torch.no_grad()
def nearest_neighbours(pred_points, gt_points, pred_lengths):
    """One knn query each way, shared by every metric (CPU knn is the cost of evaluation).

    An empty prediction (length 0) is scored as one point at the origin, the centre of the
    object frame (`EMPTY_PREDICTION`): its distances are those of that point, so its Chamfer is
    a finite penalty that counts in every mean, and F1 scores it 0 (`compute_sampling_metrics`).
    Returns dists_pred (B, N) and idx_pred (B, N) into gt, dists_gt (B, M) and idx_gt (B, M)
    into pred, all Euclidean (not squared).
    """
    B, M = gt_points.shape[0], gt_points.shape[1]
    empty = pred_lengths == 0
    if empty.any():
        pred_points = pred_points.clone()
        pred_points[empty, 0] = 0.0
    lengths = pred_lengths.clamp_min(1)
    gt_lengths = torch.full((B,), M, dtype=torch.long, device=gt_points.device)
    knn_pred = knn_points(pred_points, gt_points, lengths, gt_lengths, K=1)
    knn_gt = knn_points(gt_points, pred_points, gt_lengths, lengths, K=1)
    return (
        knn_pred.dists[..., 0].clamp_min(0).sqrt(),
        knn_pred.idx[..., 0],
        knn_gt.dists[..., 0].clamp_min(0).sqrt(),
        knn_gt.idx[..., 0],
    )


def masked_mean(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of the first lengths[b] entries of each row of values (B, N): (B,); 0 where lengths is 0."""
    valid = torch.arange(values.shape[1], device=values.device)[None] < lengths[:, None]
    return (values * valid).sum(1) / lengths.clamp_min(1)


def chamfer_l2(dists_pred: torch.Tensor, dists_gt: torch.Tensor, pred_lengths: torch.Tensor) -> torch.Tensor:
    """Chamfer-L2 per item from nearest-neighbour distances (B, N), (B, M) (`nearest_neighbours`):
    mean squared distance each way, summed, as `pytorch3d.loss.chamfer_distance`. An empty
    prediction is scored by its stand-in point (`EMPTY_PREDICTION`), never skipped."""
    # In float64: a point at 1e20 squares to 1e40, past float32's range (inf), not past float64's.
    return masked_mean(dists_pred.double().square(), pred_lengths.clamp_min(1)) + dists_gt.double().square().mean(1)


def _precision_recall_f1(dists_pred, dists_gt, pred_lengths, thresholds) -> dict:
    """Percent precision / recall / F1 per item from nearest-neighbour distances (B, N), (B, M):
    the arithmetic of `compute_sampling_metrics`, the one F1 of the project."""
    empty = pred_lengths == 0
    metrics = {}
    for t in thresholds:
        precision = masked_mean(100.0 * (dists_pred < t).float(), pred_lengths)
        recall = 100.0 * (dists_gt < t).float().mean(1)
        f1 = 2.0 * precision * recall / (precision + recall + 1e-8)
        precision, recall, f1 = (torch.where(empty, torch.zeros_like(x), x) for x in (precision, recall, f1))
        metrics[metric_key("Precision", t)], metrics[metric_key("Recall", t)], metrics[f1_key(t)] = (
            precision,
            recall,
            f1,
        )
    return metrics


@torch.no_grad()
def compute_sampling_metrics(
    pred_points, gt_points, thresholds=DEFAULT_THRESHOLDS, pred_lengths=None, neighbours=None
) -> dict:
    """Precision, recall and F1 (percent) at each threshold, as in the course and Mesh R-CNN: the
    project's one F1 (evaluation, validation, the frame check and the benchmarks all call it).

    precision@t: % of predicted points within t of the GT; recall@t: % of GT points within t of
    the prediction; F1 their harmonic mean.

    Args:
        pred_points: (B, N, 3) or (N, 3) predicted points.
        gt_points: (B, M, 3) or (M, 3) ground-truth points.
        thresholds: distances t.
        pred_lengths: (B,) number of valid predicted points per item (for padded batches);
            an item with 0 points scores 0 everywhere.
        neighbours: (dists_pred (B, N), dists_gt (B, M)) of `nearest_neighbours`, when the caller
            already has them (they serve Chamfer and normals too): no second query.

    Returns:
        {"Precision@<t>", "Recall@<t>", "F1@<t>" (`metric_key`: "F1@0.05"): (B,) tensors, or floats
        if the input was unbatched}.
    """
    unbatched = pred_points.dim() == 2
    if unbatched:
        pred_points, gt_points = pred_points[None], gt_points[None]
    if pred_points.dim() != 3 or pred_points.shape[-1] != 3 or gt_points.dim() != 3 or gt_points.shape[-1] != 3:
        raise ValueError(
            f"expected (B, N, 3) and (B, M, 3) points, got {tuple(pred_points.shape)} and {tuple(gt_points.shape)}"
        )
    B, N, _ = pred_points.shape
    device = pred_points.device
    if pred_lengths is None:
        pred_lengths = torch.full((B,), N, dtype=torch.long, device=device)
    pred_lengths = pred_lengths.to(device)
    if N == 0 or gt_points.shape[1] == 0:
        zeros = torch.zeros(B, device=device)
        metrics = {metric_key(k, t): zeros for t in thresholds for k in ("Precision", "Recall", "F1")}
    else:
        if neighbours is None:
            dists_pred, _, dists_gt, _ = nearest_neighbours(pred_points, gt_points, pred_lengths)
        else:
            dists_pred, dists_gt = neighbours
        metrics = _precision_recall_f1(dists_pred, dists_gt, pred_lengths, thresholds)
    if unbatched:
        metrics = {k: float(v[0]) for k, v in metrics.items()}
    return metrics


@torch.no_grad()
def voxel_iou(voxels_pred: torch.Tensor, voxels_gt: torch.Tensor) -> torch.Tensor:
    """Intersection over union of two (B, D, H, W) boolean grids: (B,); 1 if both are empty."""
    pred, gt = voxels_pred.bool().flatten(1), voxels_gt.bool().flatten(1)
    inter = (pred & gt).sum(1).float()
    union = (pred | gt).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


@torch.no_grad()
def normal_consistency(normals_pred, idx_pred, normals_gt, idx_gt, pred_lengths) -> torch.Tensor:
    """Mean |cos| between each point's normal and its nearest neighbour's, both ways: (B,).
    idx_pred (B, N) indexes gt, idx_gt (B, M) indexes pred (from `nearest_neighbours`)."""
    cos_pred = (normals_pred * torch.gather(normals_gt, 1, idx_pred[..., None].expand(-1, -1, 3))).sum(-1).abs()
    cos_gt = (normals_gt * torch.gather(normals_pred, 1, idx_gt[..., None].expand(-1, -1, 3))).sum(-1).abs()
    # A non-finite normal (a degenerate face) agrees with nothing: 0, counted, not skipped by a NaN mean.
    cos_pred, cos_gt = (torch.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0) for c in (cos_pred, cos_gt))
    score = 0.5 * (masked_mean(cos_pred, pred_lengths) + cos_gt.mean(1))
    return torch.where(pred_lengths > 0, score, torch.zeros_like(score))


# Mesh R-CNN (Gkioxari et al. 2019) scales each GT shape so that the longest edge of its bounding
# box is 10 (the prediction by the same factor) and reports F1 at 0.1, 0.3 and 0.5 in those units.
MESHRCNN_EDGE = 10.0
MESHRCNN_THRESHOLDS = (0.1, 0.3, 0.5)


@torch.no_grad()
def meshrcnn_metrics(dists_pred, dists_gt, pred_lengths, longest_edge_gt) -> dict:
    """F1 (percent) and Chamfer-L2 in Mesh R-CNN's units from object-frame nearest-neighbour
    distances (B, N), (B, M) (`nearest_neighbours`) and each GT's bounding-box longest edge (B,):
    distances are multiplied by 10 / longest edge, so F1@0.3 there is F1 at 3 % of the longest
    edge. Returns {"MeshRCNN_F1@0.1": (B,), ..., "MeshRCNN_ChamferL2": (B,)}."""
    scale = MESHRCNN_EDGE / longest_edge_gt.clamp_min(1e-9)
    scaled_pred, scaled_gt = dists_pred * scale[:, None], dists_gt * scale[:, None]
    f1 = _precision_recall_f1(scaled_pred, scaled_gt, pred_lengths, MESHRCNN_THRESHOLDS)  # in their units
    metrics = {metric_key("MeshRCNN_F1", t): f1[f1_key(t)] for t in MESHRCNN_THRESHOLDS}
    metrics["MeshRCNN_ChamferL2"] = chamfer_l2(scaled_pred, scaled_gt, pred_lengths)
    return metrics


@torch.no_grad()
def label_iou(inside_pred: torch.Tensor, inside_gt: torch.Tensor) -> torch.Tensor:
    """IoU of two (B, Q) boolean labellings of the same query points (Occupancy Networks' IoU,
    on points uniform in the volume): (B,); 1 if both are empty."""
    return voxel_iou(inside_pred, inside_gt)


# Thin structure: the cells of a GT grid that no axis-aligned 3x3 square of occupied cells covers.
THIN_MIN_CELLS = 20  # a sample with fewer rod-like cells (a sofa) carries no thin_recall


@torch.no_grad()
def points_to_cells(points: torch.Tensor, lengths: torch.Tensor, resolution: int = 32) -> torch.Tensor:
    """The cells of a resolution^3 grid over [-0.5, 0.5]^3 that hold at least one of the first
    lengths[b] object-frame points (B, N, 3) (x, y, z): (B, R, R, R) bool, [z, y, x]."""
    B, N, _ = points.shape
    n_cells = resolution**3
    # One extra slot takes the points outside the grid, padded or non-finite: scattering them
    # into a real cell could overwrite a hit there.
    cells = torch.zeros(B, n_cells + 1, dtype=torch.bool, device=points.device)
    finite = torch.isfinite(points).all(-1)
    index = ((torch.where(finite[..., None], points, 0.0) + 0.5) * resolution).floor().long()  # (i, j, k) = (x, y, z)
    inside = ((index >= 0) & (index < resolution)).all(-1) & finite
    inside &= torch.arange(N, device=points.device)[None] < lengths[:, None]
    flat = (index[..., 2] * resolution + index[..., 1]) * resolution + index[..., 0]  # [z, y, x]
    cells.scatter_(1, torch.where(inside, flat, n_cells), True)
    return cells[:, :n_cells].view(B, resolution, resolution, resolution)


@torch.no_grad()
def thin_recall(covered_pred: torch.Tensor, voxels_gt: torch.Tensor, min_cells: int = THIN_MIN_CELLS):
    """The share of each GT's rod-like cells (`thin_cells`) that the prediction covers.

    Args:
        covered_pred: (B, D, H, W) bool, the cells the prediction covers (its occupied cells,
            and/or the cells its surface points fall in: `points_to_cells`).
        voxels_gt: (B, D, H, W) GT occupancy.
    Returns:
        (recall (B,) float, NaN where the GT has fewer than min_cells rod-like cells; counts (B,)
        long, each GT's number of rod-like cells).
    """
    if covered_pred.shape != voxels_gt.shape:
        raise ValueError(f"covered_pred {tuple(covered_pred.shape)} and voxels_gt {tuple(voxels_gt.shape)} differ")
    thin = thin_cells(voxels_gt).flatten(1)
    counts = thin.sum(1)
    hits = (thin & covered_pred.bool().flatten(1)).sum(1)
    recall = hits.float() / counts.clamp_min(1)
    return torch.where(counts >= min_cells, recall, torch.full_like(recall, float("nan"))), counts
