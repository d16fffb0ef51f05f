"""Shape metrics shared by evaluation, the dataset checks and benchmarks. All @torch.no_grad().

Points are in the object frame, where the shape spans about 1 unit (bounding-box diagonal 1), so
thresholds are in those units: 0.05 is 5% of the object's diagonal.
"""

import torch
from pytorch3d.ops import knn_points

DEFAULT_THRESHOLDS = (0.01, 0.02, 0.03, 0.04, 0.05)


@torch.no_grad()
def nearest_neighbours(pred_points, gt_points, pred_lengths):
    """One knn query each way, shared by every metric (CPU knn is the cost of evaluation).

    Empty predictions (length 0) get a far-away dummy point so knn stays defined.
    Returns dists_pred (B, N) and idx_pred (B, N) into gt, dists_gt (B, M) and idx_gt (B, M)
    into pred, all Euclidean (not squared).
    """
    B, M = gt_points.shape[0], gt_points.shape[1]
    empty = pred_lengths == 0
    if empty.any():
        pred_points = pred_points.clone()
        pred_points[empty, 0] = 1e6
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


def precision_recall_f1(dists_pred, dists_gt, pred_lengths, thresholds) -> dict:
    """Percent precision / recall / F1 per item from nearest-neighbour distances (B, N), (B, M)."""
    empty = pred_lengths == 0
    metrics = {}
    for t in thresholds:
        precision = masked_mean(100.0 * (dists_pred < t).float(), pred_lengths)
        recall = 100.0 * (dists_gt < t).float().mean(1)
        f1 = 2.0 * precision * recall / (precision + recall + 1e-8)
        precision, recall, f1 = (torch.where(empty, torch.zeros_like(x), x) for x in (precision, recall, f1))
        metrics["Precision@%f" % t], metrics["Recall@%f" % t], metrics["F1@%f" % t] = precision, recall, f1
    return metrics


@torch.no_grad()
def compute_sampling_metrics(pred_points, gt_points, thresholds=DEFAULT_THRESHOLDS, pred_lengths=None) -> dict:
    """Precision, recall and F1 (percent) at each threshold, as in the course and Mesh R-CNN.

    precision@t: % of predicted points within t of the GT; recall@t: % of GT points within t of
    the prediction; F1 their harmonic mean.

    Args:
        pred_points: (B, N, 3) or (N, 3) predicted points.
        gt_points: (B, M, 3) or (M, 3) ground-truth points.
        thresholds: distances t.
        pred_lengths: (B,) number of valid predicted points per item (for padded batches);
            an item with 0 points scores 0 everywhere.

    Returns:
        {"Precision@%f" % t, "Recall@%f" % t, "F1@%f" % t: (B,) tensors, or floats if the input
        was unbatched}.
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
        metrics = {f"{k}@{t:f}": zeros for t in thresholds for k in ("Precision", "Recall", "F1")}
    else:
        dists_pred, _, dists_gt, _ = nearest_neighbours(pred_points, gt_points, pred_lengths)
        metrics = precision_recall_f1(dists_pred, dists_gt, pred_lengths, thresholds)
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
    f1 = precision_recall_f1(scaled_pred, scaled_gt, pred_lengths, MESHRCNN_THRESHOLDS)
    metrics = {f"MeshRCNN_F1@{t:g}": f1["F1@%f" % t] for t in MESHRCNN_THRESHOLDS}
    chamfer = masked_mean(scaled_pred.square(), pred_lengths) + scaled_gt.square().mean(1)
    metrics["MeshRCNN_ChamferL2"] = torch.where(pred_lengths > 0, chamfer, torch.full_like(chamfer, float("nan")))
    return metrics


@torch.no_grad()
def label_iou(inside_pred: torch.Tensor, inside_gt: torch.Tensor) -> torch.Tensor:
    """IoU of two (B, Q) boolean labellings of the same query points (Occupancy Networks' IoU,
    on points uniform in the volume): (B,); 1 if both are empty."""
    return voxel_iou(inside_pred, inside_gt)
