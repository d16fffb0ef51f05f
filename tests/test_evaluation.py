import pytest
import torch

from evaluation.metrics import compute_sampling_metrics
from evaluation.protocol import ConstantPredictor, average, predict_gt_voxels
from geometry.grids import sample_meshes, voxels_to_meshes


def test_all_empty_predictions_score_zero_without_crashing():
    meshes = voxels_to_meshes(torch.zeros(3, 16, 16, 16))
    points, normals, lengths = sample_meshes(meshes, 50)
    assert points.shape == (3, 50, 3) and lengths.tolist() == [0, 0, 0]
    metrics = compute_sampling_metrics(points, torch.rand(3, 80, 3), pred_lengths=lengths)
    assert metrics["F1@0.05"].tolist() == [0.0, 0.0, 0.0]


def test_average_skips_nan_and_oracle_keeps_the_grid():
    rows = [
        {"synset": "a", "model_id": "m", "view": 0, "n_pred_points": 5, "F1": 50.0, "thin_recall": float("nan")},
        {"synset": "a", "model_id": "n", "view": 0, "n_pred_points": 0, "F1": 70.0, "thin_recall": 0.5},
    ]
    assert average(rows) == {"F1": 60.0, "thin_recall": 0.5, "thin_recall_samples": 1, "n_empty": 1}
    voxels = torch.zeros(1, 32, 32, 32)
    voxels[0, 8:24, 8:24, 8:24] = 1
    pred = predict_gt_voxels({"voxels": voxels}, n_points=100)
    assert pred["lengths"].tolist() == [100] and torch.equal(pred["voxels"], voxels)


def test_constant_predictor_is_the_same_shape_for_every_image():
    mean = torch.zeros(32, 32, 32)
    mean[10:20, 0:20, 10:20] = 0.8
    batch = {"images": torch.rand(3, 137, 137, 3)}
    for model_type in ("point", "vox"):
        pred = ConstantPredictor(model_type, mean, n_points=50, seed=0).predict(batch, n_points=50)
        assert pred["points"].shape == (3, 50, 3) and torch.equal(pred["points"][0], pred["points"][2]) == (
            model_type == "point"
        )
        assert pred["points"].min() >= -0.5 and pred["points"].max() <= 0.5


def plane_points(n_side: int = 20, spacing: float = 0.05) -> torch.Tensor:
    """(n_side^2, 3) points on a square grid in the plane z = 0, centred on the origin."""
    g = (torch.arange(n_side).float() - (n_side - 1) / 2) * spacing
    x, y = torch.meshgrid(g, g, indexing="ij")
    return torch.stack([x.flatten(), y.flatten(), torch.zeros(n_side * n_side)], 1)


def known_batch(points_gt: torch.Tensor) -> dict:
    B = 2
    return {
        "points": points_gt.expand(B, -1, -1).clone(),
        "normals": torch.tensor([0.0, 0, 1]).expand(B, len(points_gt), 3).clone(),
        "voxels": torch.zeros(B, 32, 32, 32),
        "synset": ["s"] * B,
        "model_id": ["a", "b"],
        "view": torch.zeros(B, dtype=torch.long),
        "verts": [points_gt, points_gt],
    }


def test_evaluate_end_to_end_on_shapes_with_a_known_answer():
    """The GT a grid in a plane, the prediction the same grid lifted by d (sample 0) or 0
    (sample 1): every nearest neighbour is at exactly d, so F1@t is 100 for t > d and 0 below,
    Chamfer-L2 is 2 d^2, as `pytorch3d.loss.chamfer_distance` says too, and in Mesh R-CNN's units
    (longest edge 0.95 -> 10) the distance is d * 10 / 0.95."""
    from pytorch3d.loss import chamfer_distance

    from evaluation.protocol import evaluate

    gt = plane_points()  # a 0.95 x 0.95 square: longest bbox edge 0.95
    d = 0.025
    lifted = torch.stack([gt + torch.tensor([0, 0, d]), gt])

    def predict_lifted(batch):
        return {"points": lifted, "lengths": torch.full((2,), len(gt)), "normals": None, "voxels": None}

    rows = evaluate(predict_lifted, [known_batch(gt)], "cpu", thresholds=(0.02, 0.03))
    assert (rows[0]["F1@0.02"], rows[0]["F1@0.03"], rows[1]["F1@0.02"]) == (0.0, 100.0, 100.0)
    assert rows[0]["ChamferL2"] == pytest.approx(2 * d**2, rel=1e-5) and rows[1]["ChamferL2"] == pytest.approx(
        0.0, abs=1e-12
    )
    reference, _ = chamfer_distance(lifted, known_batch(gt)["points"], batch_reduction=None)
    torch.testing.assert_close(torch.tensor([r["ChamferL2"] for r in rows]), reference, rtol=1e-5, atol=1e-9)
    scaled = d * 10 / 0.95  # 0.263 in Mesh R-CNN's units: above 0.1, below 0.3
    assert (rows[0]["MeshRCNN_F1@0.1"], rows[0]["MeshRCNN_F1@0.3"], rows[0]["MeshRCNN_F1@0.5"]) == (0.0, 100.0, 100.0)
    assert rows[0]["MeshRCNN_ChamferL2"] == pytest.approx(2 * scaled**2, rel=1e-4)


def test_evaluate_matches_pytorch3d_chamfer_on_random_clouds():
    from pytorch3d.loss import chamfer_distance

    from evaluation.protocol import evaluate

    torch.manual_seed(0)
    gt, pred = torch.rand(2, 300, 3) - 0.5, torch.rand(2, 200, 3) - 0.5
    batch = {**known_batch(gt[0]), "points": gt}
    rows = evaluate(
        lambda b: {"points": pred, "lengths": torch.full((2,), 200), "normals": None, "voxels": None}, [batch], "cpu"
    )
    reference, _ = chamfer_distance(pred, gt, batch_reduction=None)
    torch.testing.assert_close(torch.tensor([r["ChamferL2"] for r in rows]), reference, rtol=1e-5, atol=1e-9)


def test_iou_against_exact_labels_reads_every_volume_the_same_way():
    """A half-space solid (x < 0): a grid that holds it exactly and an occupancy function that is
    it both score 1 against exact labels at uniform points; the empty grid scores 0."""
    from evaluation.protocol import labels_iou

    torch.manual_seed(0)
    points = torch.rand(1, 2000, 3) - 0.5
    labels = points[..., 0] < 0
    occ_points = torch.cat([points, torch.zeros(1, 2000, 3)], 1)  # the near-surface half is left out
    batch = {"occ_points": occ_points, "occ_labels": torch.cat([labels, torch.ones(1, 2000, dtype=torch.bool)], 1)}
    grid = torch.zeros(1, 32, 32, 32)
    grid[..., :16] = 1.0  # x < 0: the cells of the first half of the last ([x]) axis
    # Read trilinearly, the step between the cells either side of x = 0 crosses 0.5 at x = 0 itself.
    assert labels_iou({"voxels": grid}, batch, 0.5).item() == 1.0
    assert labels_iou({"voxels": None, "occupancy_at": lambda p: (p[..., 0] < 0).float()}, batch, 0.5).item() == 1.0
    assert labels_iou({"voxels": torch.zeros(1, 32, 32, 32)}, batch, 0.5).item() == 0.0
    assert labels_iou({"voxels": grid}, {"occ_points": torch.zeros(1, 0, 3)}, 0.5) is None


def test_the_mean_shape_baseline_is_the_mean_of_the_training_split(tiny_root):
    """The baseline's grid is the average of the train split's voxel grids, read here from the
    binvox files themselves."""
    import json
    import os

    from evaluation.protocol import baseline_voxels
    from r2n2.formats import read_binvox, voxels_object_frame

    splits = json.load(open(os.path.join(tiny_root, "splits.json")))
    grids = [
        voxels_object_frame(
            *read_binvox(os.path.join(tiny_root, "r2n2", "ShapeNetVoxels", synset, model_id, "model.binvox")),
            None,
            "centred",
        )
        for synset, models in splits["train"].items()
        for model_id in models
    ]
    mean, source = baseline_voxels(None, tiny_root)
    torch.testing.assert_close(mean, torch.stack(grids).mean(0))
    assert "train split" in source and len(grids) == 6


def test_an_empty_prediction_counts_in_the_chamfer_mean_with_its_penalty():
    """A model that predicts nothing for a hard shape must not get a better mean Chamfer: the
    empty prediction is scored as one point at the origin (min |g|^2 + mean |g|^2), counted."""
    from evaluation.protocol import evaluate

    gt = plane_points() + torch.tensor([0.0, 0.0, 0.2])  # the plane z = 0.2: |g| >= 0.2 everywhere
    good = gt + torch.tensor([0.0, 0.0, 0.01])  # sample 0: close; sample 1: nothing

    def predict(batch):
        return {
            "points": torch.stack([good, good]),
            "lengths": torch.tensor([len(gt), 0]),
            "normals": None,
            "voxels": None,
        }

    rows = evaluate(predict, [known_batch(gt)], "cpu", thresholds=(0.05,))
    squared = gt.square().sum(1)
    assert rows[1]["n_pred_points"] == 0 and rows[1]["F1@0.05"] == 0.0
    assert rows[1]["ChamferL2"] == pytest.approx(float(squared.min() + squared.mean()), rel=1e-5)
    assert rows[1]["ChamferL2"] > 100 * rows[0]["ChamferL2"] and torch.isfinite(
        torch.tensor(rows[1]["MeshRCNN_ChamferL2"])
    )
    summary = average(rows)
    assert summary["n_empty"] == 1
    assert summary["ChamferL2"] == pytest.approx((rows[0]["ChamferL2"] + rows[1]["ChamferL2"]) / 2)
    diverged = evaluate(  # a NaN prediction is no better off than an empty one
        lambda b: {
            "points": torch.full((2, len(gt), 3), float("nan")),
            "lengths": torch.tensor([len(gt)] * 2),
            "normals": None,
            "voxels": None,
        },
        [known_batch(gt)],
        "cpu",
        thresholds=(0.05,),
    )
    assert diverged[0]["ChamferL2"] == pytest.approx(rows[1]["ChamferL2"]) and average(diverged)["n_empty"] == 2


def test_thin_recall_by_type_covers_with_the_volume_or_the_surface():
    """vox covers with its grid, point and mesh types with the cells their points fall in,
    occupancy with both (a solid thinner than a cell can miss the cell centres)."""
    from evaluation.protocol import covered_cells

    grid = torch.zeros(1, 32, 32, 32)
    grid[0, 3, 4, 5] = 1.0
    point = torch.tensor([[[(10 + 0.5) / 32 - 0.5, (4 + 0.5) / 32 - 0.5, (3 + 0.5) / 32 - 0.5]]])  # cell [3, 4, 10]
    pred = {"voxels": grid, "points": point, "lengths": torch.tensor([1])}
    volume = covered_cells({**pred, "thin_cover": "volume"}, 0.5)
    surface = covered_cells({**pred, "thin_cover": "surface"}, 0.5)
    both = covered_cells({**pred, "thin_cover": "both"}, 0.5)
    assert volume[0].nonzero().tolist() == [[3, 4, 5]] and surface[0].nonzero().tolist() == [[3, 4, 10]]
    assert both[0].nonzero().tolist() == [[3, 4, 5], [3, 4, 10]]
    assert (
        covered_cells({**pred, "voxels": None, "lengths": torch.tensor([0]), "thin_cover": "surface"}, 0.5).sum() == 0
    )
    # A mesh is covered by a dense sample of its surface, not by the evaluation's few points:
    # a one-cell rod 24 cells long, scored with a single evaluation point, is covered whole.
    from evaluation.metrics import thin_recall

    rod = torch.zeros(1, 32, 32, 32)
    rod[0, 16, 4:28, 16] = 1.0
    state = torch.random.get_rng_state()
    covered = covered_cells(
        {**pred, "voxels": None, "meshes": voxels_to_meshes(rod, 0.5), "thin_cover": "surface"}, 0.5
    )
    assert torch.equal(torch.random.get_rng_state(), state)  # the evaluation's random stream is untouched
    assert thin_recall(covered, rod)[0].item() == 1.0


def test_to_cpu_keeps_each_score_and_its_order():
    """to_cpu: every (B,) score as float64 on the CPU, under its own name, in the order given."""
    import torch

    from evaluation.protocol import to_cpu

    out = to_cpu({"b": torch.tensor([1, 2]), "a": torch.tensor([[0.5], [0.25]]), "c": [3.0, 4.0]})
    assert list(out) == ["b", "a", "c"]
    assert out["a"].dtype == torch.float64 and out["a"].tolist() == [0.5, 0.25] and out["c"].tolist() == [3.0, 4.0]
