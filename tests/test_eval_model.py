import json
import os

import pytest
from conftest import assert_one_line_error, call_main, result_folder, run_script


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
    result = json.load(open(result_folder(tmp_path, "vox_oracle") / "metrics.json"))
    assert result["model"]["F1@0.05"] >= 95.0
    assert result["model"]["IoU_vox32"] == pytest.approx(1.0)
    assert result["mean_shape_baseline"]["F1@0.05"] < result["model"]["F1@0.05"]


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
    out = result_folder(tmp_path, model_type)
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
    for key in ("F1@0.01", "F1@0.05", "ChamferL2"):
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
            "holds a 'vox' model, not --type 'point'",
        ),
        (["--type", "vox", "--checkpoint", str(tmp_path / "nope.pth")], "not found"),
        (["--type", "vox"], "say which model"),
        (["--load_checkpoint", "--tag", "a/b"], "--tag 'a/b': use letters"),
        (["--type", "mesh", "--oracle"], "--oracle"),
        (
            ["--type", "point", "--load_checkpoint", "--iso", "0.3"],
            "--iso applies to the types whose surface is read off a probability grid (vox, occupancy)",
        ),
        (
            [
                "--type",
                "vox",
                "--load_checkpoint",
                "--checkpoint",
                str(tiny_checkpoints / "vox" / "checkpoint_vox.pth"),
            ],
            "name two models: give one of them",
        ),
        (
            [
                "--type",
                "vox",
                "--checkpoint",
                str(tiny_checkpoints / "vox" / "checkpoint_vox.pth"),
                "--vis_ids",
                "0",
                "7",
            ],
            "--vis_ids 7: the test split has samples 0 to 2",
        ),
        (
            ["--type", "vox", "--oracle", "--thresholds", "0.05", "-0.01"],
            "argument --thresholds: must be a positive number",
        ),
    ]:
        assert_one_line_error(
            call_main("eval_model", *args, "--data_root", tiny_root, "--device", "cpu", "--results_dir", tmp_path),
            message,
        )
    assert not os.path.exists(tmp_path / "point")  # nothing half-written for a failed run


def test_results_of_different_splits_levels_and_checkpoints_never_share_a_folder(tiny_root, tiny_checkpoints, tmp_path):
    from training.checkpoints import file_digest

    checkpoint = str(tiny_checkpoints / "vox" / "checkpoint_vox.pth")
    common = [
        "--type",
        "vox",
        "--checkpoint",
        checkpoint,
        "--data_root",
        tiny_root,
        "--device",
        "cpu",
        "--results_dir",
        tmp_path,
        "--no_baseline",
        "--vis_ids",
        "--n_points",
        "300",
        "--no_frame_check",
    ]
    folders = {}
    for extra in ([], ["--split", "train"], ["--iso", "0.3"], ["--views", "all"]):
        code, out, err = call_main("eval_model", *common, *extra)
        assert code == 0, err
        result = json.loads(open(out.split("wrote ")[-1].split("/ (")[0] + "/metrics.json").read())
        folders[tuple(extra)] = result
        assert (result["split"], result["views"], result["iso"]) == (
            extra[1] if extra[:1] == ["--split"] else "test",
            "all" if "--views" in extra else "first",
            0.3 if "--iso" in extra else 0.5,
        )
        assert result["checkpoint"] == checkpoint and result["checkpoint_sha256"] == file_digest(checkpoint)
        assert result["checkpoint_step"] == 2 and result["data"] == tiny_root and result["generator_version"] == 4
    names = {os.path.basename(os.path.dirname(r["checkpoint"])) for r in folders.values()}
    assert (
        names == {"vox"} and len({json.dumps(r["split"]) + str(r["iso"]) + r["views"] for r in folders.values()}) == 4
    )
    assert len(os.listdir(tmp_path)) == 4  # four folders, none overwritten


def test_evaluations_with_other_settings_never_overwrite_each_other(tiny_root, tiny_checkpoints, tmp_path):
    """--tag train beside --split train (as --tag val beside --split val): the second is refused
    before any work, not written over the first; the settings missing from names (--n_points,
    --thresholds, --seed) name their folders; checkpoints not called checkpoint_<type> keep their
    own names."""
    import shutil

    checkpoint = str(tiny_checkpoints / "vox" / "checkpoint_vox.pth")
    common = ["--type", "vox", "--data_root", tiny_root, "--device", "cpu", "--results_dir", tmp_path]
    common += ["--no_baseline", "--vis_ids", "--n_points", "300", "--no_frame_check", "--checkpoint", checkpoint]
    code, _, err = call_main("eval_model", *common, "--tag", "train")
    assert code == 0, err
    written = sorted(os.listdir(tmp_path))
    before = open(tmp_path / written[0] / "metrics.json").read()
    assert_one_line_error(
        call_main("eval_model", *common, "--split", "train"), "holds the results of another evaluation (split differ)"
    )
    assert open(tmp_path / written[0] / "metrics.json").read() == before and sorted(os.listdir(tmp_path)) == written
    code, _, err = call_main("eval_model", *common, "--tag", "train")  # the same evaluation again replaces its own
    assert code == 0, err
    for extra in (["--thresholds", "0.1", "0.2"], ["--seed", "1"], ["--n_points", "200"]):
        code, _, err = call_main("eval_model", *common, *extra)
        assert code == 0, err
    assert len(os.listdir(tmp_path)) == 4
    result = json.loads(open(next(tmp_path.glob("*t0.1-0.2*")) / "metrics.json").read())
    assert result["thresholds"] == [0.1, 0.2] and "F1@0.1" in result["model"]
    others = tmp_path / "others"
    for name in ("model_a.pth", "model_b.pth"):  # two checkpoints in one folder, not named checkpoint_vox
        shutil.copyfile(checkpoint, tmp_path / name)
        code, _, err = call_main("eval_model", *common[:-1], tmp_path / name, "--results_dir", others)
        assert code == 0, err
    folders = sorted(os.listdir(others))
    assert len(folders) == 2 and "model_a" in folders[0] and "model_b" in folders[1]


def test_training_shapes_among_the_evaluated_ones_are_flagged(tiny_root, tiny_checkpoints, tmp_path):
    checkpoint = str(tiny_checkpoints / "vox" / "checkpoint_vox.pth")
    common = ["--type", "vox", "--checkpoint", checkpoint, "--data_root", tiny_root, "--device", "cpu"]
    common += ["--results_dir", tmp_path, "--no_baseline", "--vis_ids", "--n_points", "300", "--no_frame_check"]
    code, out, err = call_main("eval_model", *common, "--split", "all")
    assert code == 0, err
    assert "WARNING: 6 of the 9 evaluated shapes are training shapes of this checkpoint" in out
    result = json.loads(open(next(tmp_path.glob("*_all_*")) / "metrics.json").read())
    assert result["train_overlap"] == {"shapes": 6, "of": 9}
    code, out, err = call_main("eval_model", *common)
    assert code == 0 and "WARNING" not in out, err
    assert_one_line_error(call_main("eval_model", *common, "--n_points", "6000"), "holds 5000 surface samples")


def test_a_model_only_checkpoint_is_evaluated_and_a_broken_one_refused(tiny_root, tiny_checkpoints, tmp_path):
    """A checkpoint holding only the weights and model settings (no step, no optimizer) can be
    evaluated; one whose settings cannot build a model is refused in one line."""
    import torch

    full = torch.load(tiny_checkpoints / "vox" / "checkpoint_vox.pth", weights_only=True)
    torch.save({"model": full["model"], "model_args": full["model_args"]}, tmp_path / "weights.pth")
    common = ["--type", "vox", "--data_root", tiny_root, "--device", "cpu", "--results_dir", tmp_path / "eval"]
    common += ["--no_baseline", "--vis_ids", "--n_points", "300", "--no_frame_check"]
    code, _, err = call_main("eval_model", *common, "--checkpoint", tmp_path / "weights.pth")
    assert code == 0, err
    broken = {"model": full["model"], "model_args": {**full["model_args"], "vox_channels": [-5, 4, 4]}}
    torch.save(broken, tmp_path / "broken.pth")
    assert_one_line_error(
        call_main("eval_model", *common, "--checkpoint", tmp_path / "broken.pth"), "cannot build a model"
    )


@pytest.mark.parametrize("committed_copy", [True, False])
def test_eval_without_plotly(tiny_root, tiny_checkpoints, tmp_path, monkeypatch, committed_copy):
    """With plotly's import blocked (the GPU image has no plotly), an evaluation writes its metrics,
    plot and gallery; its page uses the committed plotly.min.js, or is skipped with one line."""
    import sys

    from evaluation import viewer

    monkeypatch.setitem(sys.modules, "plotly", None)  # `import plotly...` raises ImportError
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    if not committed_copy:
        monkeypatch.setattr(viewer, "COMMITTED_PLOTLY_JS", str(tmp_path / "missing.js"))
    code, out, err = call_main(
        "eval_model",
        "--type", "vox", "--load_checkpoint", "--out_dir", tiny_checkpoints / "vox", "--data_root", tiny_root,
        "--device", "cpu", "--n_points", "300", "--results_dir", tmp_path / "results", "--vis_ids", "0",
    )  # fmt: skip
    assert code == 0, err
    folder = result_folder(tmp_path / "results", "vox")
    for name in ("metrics.json", "per_sample.csv", "eval_vox.png", "gallery.png", "0_pred.gif"):
        assert (folder / name).stat().st_size > 0, name
    if committed_copy:
        assert (folder / "index.html").exists() and (folder / "plotly.min.js").stat().st_size > 1_000_000
    else:
        assert not (folder / "index.html").exists()
        assert [line for line in out.splitlines() if line.startswith("no interactive page")], out


def test_no_camera_is_refused_for_a_model_that_reads_none(tiny_root, tiny_checkpoints, tmp_path):
    """--camera none (or its earlier spelling, predicted) on a model that reads no pixels would score
    the same numbers under another name: refused in one line instead."""
    checkpoint = os.path.join(tiny_checkpoints, "point", "checkpoint_point.pth")
    for camera in ("none", "predicted"):
        assert_one_line_error(
            call_main(
                "eval_model", "--checkpoint", checkpoint, "--data_root", tiny_root, "--results_dir", tmp_path,
                "--camera", camera, "--no_baseline",
            ),
            "reads no camera",
        )  # fmt: skip
    assert not os.listdir(tmp_path)
