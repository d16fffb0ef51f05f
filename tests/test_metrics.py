import pytest
import torch

from metrics import compute_sampling_metrics, nearest_neighbours, normal_consistency, voxel_iou


def brute_force_metrics(pred, gt, thresholds):
    d = torch.cdist(pred.double(), gt.double())  # (N, M)
    out = {}
    for t in thresholds:
        precision = 100.0 * (d.min(1).values < t).double().mean().item()
        recall = 100.0 * (d.min(0).values < t).double().mean().item()
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        out[t] = (precision, recall, f1)
    return out


def test_metrics_match_brute_force_on_random_clouds():
    torch.manual_seed(0)
    thresholds = (0.05, 0.1, 0.2)
    pred, gt = torch.rand(2, 300, 3), torch.rand(2, 450, 3)
    batched = compute_sampling_metrics(pred, gt, thresholds)
    for b in range(2):
        ref = brute_force_metrics(pred[b], gt[b], thresholds)
        for t in thresholds:
            p, r, f1 = ref[t]
            assert batched["Precision@%f" % t][b].item() == pytest.approx(p, abs=1e-3)
            assert batched["Recall@%f" % t][b].item() == pytest.approx(r, abs=1e-3)
            assert batched["F1@%f" % t][b].item() == pytest.approx(f1, abs=1e-3)


def test_identical_disjoint_and_empty():
    points = torch.rand(100, 3)
    assert compute_sampling_metrics(points, points)["F1@0.010000"] == pytest.approx(100.0)
    assert compute_sampling_metrics(points, points + 10.0)["F1@0.050000"] == 0.0
    empty = compute_sampling_metrics(torch.zeros(0, 3), points)
    assert all(v == 0.0 for v in empty.values())
    # A padded batch whose second prediction is empty scores 0 there, the first unaffected.
    batch = compute_sampling_metrics(
        torch.stack([points, points]), torch.stack([points, points]), pred_lengths=torch.tensor([100, 0])
    )
    assert batch["F1@0.010000"].tolist() == pytest.approx([100.0, 0.0])
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        compute_sampling_metrics(torch.rand(2, 5, 2), torch.rand(2, 5, 3))


def test_normal_consistency_matches_brute_force():
    torch.manual_seed(0)
    pred, gt = torch.rand(1, 60, 3), torch.rand(1, 80, 3)
    normals_pred = torch.nn.functional.normalize(torch.randn(1, 60, 3), dim=-1)
    normals_gt = torch.nn.functional.normalize(torch.randn(1, 80, 3), dim=-1)
    lengths = torch.tensor([60])
    _, idx_pred, _, idx_gt = nearest_neighbours(pred, gt, lengths)
    ours = normal_consistency(normals_pred, idx_pred, normals_gt, idx_gt, lengths)
    d = torch.cdist(pred[0], gt[0])
    ref_pred = (normals_pred[0] * normals_gt[0][d.argmin(1)]).sum(-1).abs().mean()
    ref_gt = (normals_gt[0] * normals_pred[0][d.argmin(0)]).sum(-1).abs().mean()
    assert ours.item() == pytest.approx(0.5 * (ref_pred + ref_gt).item(), abs=1e-6)
    assert normal_consistency(normals_pred, idx_pred, normals_gt, idx_gt, torch.tensor([0])).item() == 0.0


def test_voxel_iou_counts_and_empty_grids():
    a = torch.zeros(2, 4, 4, 4, dtype=torch.bool)
    b = torch.zeros(2, 4, 4, 4, dtype=torch.bool)
    a[0, :2], b[0, 1:3] = True, True  # 32 and 32 cells overlapping in 16
    assert voxel_iou(a, b).tolist() == pytest.approx([16 / 48, 1.0])
