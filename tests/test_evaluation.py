import torch

from evaluation import ConstantPredictor, average, predict_gt_voxels
from geometry import sample_meshes, voxels_to_meshes
from metrics import compute_sampling_metrics


def test_all_empty_predictions_score_zero_without_crashing():
    meshes = voxels_to_meshes(torch.zeros(3, 16, 16, 16))
    points, normals, lengths = sample_meshes(meshes, 50)
    assert points.shape == (3, 50, 3) and lengths.tolist() == [0, 0, 0]
    metrics = compute_sampling_metrics(points, torch.rand(3, 80, 3), pred_lengths=lengths)
    assert metrics["F1@0.050000"].tolist() == [0.0, 0.0, 0.0]


def test_average_skips_nan_and_oracle_keeps_the_grid():
    rows = [
        {"synset": "a", "model_id": "m", "view": 0, "n_pred_points": 5, "F1": 50.0, "ChamferL2": float("nan")},
        {"synset": "a", "model_id": "n", "view": 0, "n_pred_points": 5, "F1": 70.0, "ChamferL2": 0.5},
    ]
    assert average(rows) == {"F1": 60.0, "ChamferL2": 0.5}
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
