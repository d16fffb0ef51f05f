import json
import os

import pytest
from conftest import assert_one_line_error, call_main, run_script


def test_oracle_scores_high(tiny_root, tmp_path):
    proc = run_script(
        "eval_model.py",
        "--type",
        "vox",
        "--oracle",
        "--data_root",
        tiny_root,
        "--device",
        "cpu",
        "--n_points",
        "2000",
        "--results_dir",
        str(tmp_path),
        "--vis_ids",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.load(open(tmp_path / "vox_oracle" / "metrics.json"))
    assert result["model"]["F1@0.050000"] >= 95.0
    assert result["model"]["IoU_vox32"] == pytest.approx(1.0)
    assert result["mean_shape_baseline"]["F1@0.050000"] < result["model"]["F1@0.050000"]


@pytest.mark.parametrize("model_type", ["vox", "point", "mesh", "occupancy", "voxmesh"])
def test_eval_end_to_end_writes_every_output(tiny_root, tiny_checkpoints, tmp_path, model_type):
    proc = run_script(
        "eval_model.py",
        "--type",
        model_type,
        "--load_checkpoint",
        "--out_dir",
        str(tiny_checkpoints / model_type),
        "--data_root",
        tiny_root,
        "--device",
        "cpu",
        "--n_points",
        "300",
        "--results_dir",
        str(tmp_path),
        "--vis_ids",
        "0",
        "1",
        "--grid_res",
        "16",
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / model_type
    for name in (
        "metrics.json",
        "per_sample.csv",
        f"eval_{model_type}.png",
        "gallery.png",
        "0_gt.png",
        "0_pred.gif",
        "0_gt_mesh.gif",
        "1_pred.gif",
        "index.html",
        "plotly.min.js",
        "samples.json",
    ):
        assert (out / name).stat().st_size > 0, name
    result = json.load(open(out / "metrics.json"))
    assert result["n_samples"] == 3 and result["checkpoint"].endswith(f"checkpoint_{model_type}.pth")
    for key in ("F1@0.010000", "F1@0.050000", "ChamferL2"):
        assert key in result["model"] and key in result["mean_shape_baseline"]
    # voxmesh predicts a voxel grid too (its first stage), so its IoU is reported beside its mesh scores
    assert ("IoU_vox32" in result["model"]) == (model_type in ("vox", "occupancy", "voxmesh"))
    assert ("NormalConsistency" in result["model"]) == (model_type != "point")
    lines = open(out / "per_sample.csv").read().strip().splitlines()
    assert len(lines) == 4  # header + 3 test models


def test_wrong_or_missing_checkpoint(tiny_root, tiny_checkpoints, tmp_path):
    for args, message in [
        (
            ["--type", "point", "--checkpoint", str(tiny_checkpoints / "vox" / "checkpoint_vox.pth")],
            "holds a 'vox' model",
        ),
        (["--type", "vox", "--checkpoint", str(tmp_path / "nope.pth")], "not found"),
        (["--type", "vox"], "say which model"),
        (["--type", "mesh", "--oracle"], "--oracle"),
        (["--type", "point", "--load_checkpoint", "--iso", "0.3"], "--iso applies to vox and occupancy"),
    ]:
        assert_one_line_error(
            call_main("eval_model", *args, "--data_root", tiny_root, "--device", "cpu", "--results_dir", tmp_path),
            message,
        )
    assert not os.path.exists(tmp_path / "point")  # nothing half-written for a failed run
