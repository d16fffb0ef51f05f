import pytest
import torch

from evaluation.metrics import compute_sampling_metrics, nearest_neighbours, normal_consistency, voxel_iou


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
            assert batched[f"Precision@{t:g}"][b].item() == pytest.approx(p, abs=1e-3)
            assert batched[f"Recall@{t:g}"][b].item() == pytest.approx(r, abs=1e-3)
            assert batched[f"F1@{t:g}"][b].item() == pytest.approx(f1, abs=1e-3)


def test_identical_disjoint_and_empty():
    points = torch.rand(100, 3)
    assert compute_sampling_metrics(points, points)["F1@0.01"] == pytest.approx(100.0)
    assert compute_sampling_metrics(points, points + 10.0)["F1@0.05"] == 0.0
    empty = compute_sampling_metrics(torch.zeros(0, 3), points)
    assert all(v == 0.0 for v in empty.values())
    # A padded batch whose second prediction is empty scores 0 there, the first unaffected.
    batch = compute_sampling_metrics(
        torch.stack([points, points]), torch.stack([points, points]), pred_lengths=torch.tensor([100, 0])
    )
    assert batch["F1@0.01"].tolist() == pytest.approx([100.0, 0.0])
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


def slab_with_four_legs() -> torch.Tensor:
    """(1, 32, 32, 32) [z, y, x]: a table top 2 cells thick on four legs one cell wide."""
    grid = torch.zeros(1, 32, 32, 32)
    grid[0, 8:24, 20:22, 6:26] = 1  # the top: z 8-23, y 20-21, x 6-25
    for z, x in ((8, 6), (8, 25), (23, 6), (23, 25)):
        grid[0, z, 5:20, x] = 1  # a leg: 15 cells down from under the top
    return grid


def test_thin_cells_are_the_legs_not_the_slab():
    from geometry.rods import thin_cells

    grid = slab_with_four_legs()
    thin = thin_cells(grid)[0]
    legs = torch.zeros_like(thin)
    for z, x in ((8, 6), (8, 25), (23, 6), (23, 25)):
        legs[z, 5:20, x] = True
    assert torch.equal(thin, legs)  # every leg cell, and not one cell of the top
    solid = torch.zeros(1, 32, 32, 32)
    solid[0, 4:12, 4:12, 4:12] = 1
    assert thin_cells(solid).sum() == 0  # a thick solid has no rods
    rod = torch.zeros(1, 32, 32, 32)
    rod[0, 10:12, 3:29, 10:12] = 1  # a 2x2 post is a rod: no 3x3 square fits in it
    assert thin_cells(rod).sum() == rod.sum()


def test_thin_cells_match_a_naive_opening():
    """Against a per-cell reference: a cell is kept (not thin) when some 3x3 square of occupied
    cells, axis-aligned in one of the three planes, contains it."""
    from geometry.rods import thin_cells

    torch.manual_seed(0)
    grid = (torch.rand(1, 10, 10, 10) < 0.6).float()
    occupied = grid[0].bool()
    expected = torch.zeros_like(occupied)
    for z, y, x in occupied.nonzero().tolist():
        covered = False
        for axes in ((1, 2), (0, 2), (0, 1)):  # the square's plane: (y, x), (z, x), (z, y)
            for da in (-2, -1, 0):
                for db in (-2, -1, 0):
                    cells = []
                    for a in range(3):
                        for b in range(3):
                            c = [z, y, x]
                            c[axes[0]] += da + a
                            c[axes[1]] += db + b
                            cells.append(c)
                    if all(0 <= v < 10 for c in cells for v in c) and all(occupied[tuple(c)] for c in cells):
                        covered = True
        expected[z, y, x] = not covered
    assert torch.equal(thin_cells(grid)[0], expected)


def test_thin_recall_counts_covered_legs_and_skips_shapes_without_rods():
    from evaluation.metrics import thin_recall

    grid = slab_with_four_legs()
    half = grid.clone()
    half[0, :, 5:12] = 0  # the lower half of each leg lost (y 5-11 of 5-19)
    recall, counts = thin_recall(half.bool(), grid)
    assert counts.tolist() == [60] and recall.item() == pytest.approx(32 / 60)
    assert thin_recall(grid.bool(), grid)[0].item() == 1.0
    solid = torch.zeros(1, 32, 32, 32)
    solid[0, 4:12, 4:12, 4:12] = 1
    assert torch.isnan(thin_recall(solid.bool(), solid)[0]).all()  # fewer than 20 rod cells: no score


def test_points_to_cells_indexes_z_y_x():
    from evaluation.metrics import points_to_cells

    points = torch.tensor([[[-0.49, 0.0, 0.49], [0.6, 0.0, 0.0], [0.0, 0.0, 0.0]]])  # the second is outside
    cells = points_to_cells(points, torch.tensor([3]))
    assert cells[0].nonzero().tolist() == [[16, 16, 16], [31, 16, 0]]
    assert points_to_cells(points, torch.tensor([0])).sum() == 0


def test_points_to_cells_keeps_a_hit_in_the_first_cell_whatever_follows():
    """Points outside the grid, non-finite or beyond the length go to no cell: they must not
    overwrite a real hit, even in cell [0, 0, 0]."""
    from evaluation.metrics import points_to_cells

    corner = [-0.49, -0.49, -0.49]
    points = torch.tensor([[corner, [0.9, 0.0, 0.0], [float("nan"), 0.0, 0.0], [0.0, 0.0, 0.0]]])
    cells = points_to_cells(points, torch.tensor([3]))  # the last point is padding
    assert cells[0].nonzero().tolist() == [[0, 0, 0]]
