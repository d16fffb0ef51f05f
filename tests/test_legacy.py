"""Files of earlier versions read as this version writes them: every old checkpoint format evaluates."""

import json

import pytest
import torch
from conftest import call_main, result_folder

from common.legacy import (
    MODEL_ARGS_BEFORE,
    canonical_metric_keys,
    upgrade_data_record,
    upgrade_model_args,
    upgrade_run_flags,
)
from evaluation.metrics import metric_key
from representations import make_model

SMALL = {"image_size": 64}


def first_vox():
    """The first vox models: the transposed-convolution decoder on the pooled feature; their
    model_args named only the widths."""
    model = make_model("vox", vox_decoder="deconv", vox_channels=(64, 32, 16), pixel_aligned=False, **SMALL)
    return model, {k: model.model_args[k] for k in ("type", "arch", "image_size", "vox_channels")}


def pixel_aligned_vox():
    """Pixel-aligned vox models before the sub-cell MLP, the viewer frame, the camera head's kinds and
    --no-vox_refine: each sub-cell's features went to the sub-cell convolution, the 16^3 volume was
    refined, no head predicted the visible surface, the flag was vox_pixel_aligned."""
    model = make_model("vox", vox_pixel_head="conv", pixel_aligned=True, vox_refine=True, vox_surface=False, **SMALL)
    new = ("vox_pixel_head", "frame", "camera_head", "vox_refine", "vox_surface")
    args = {k: v for k, v in model.model_args.items() if k not in new}
    args["vox_pixel_aligned"] = args.pop("pixel_aligned")
    return model, args


def occupancy_before_its_volume():
    """Occupancy models before the feature volume and pixel-aligned features: the global feature only."""
    model = make_model("occupancy", occ_grid=0, **SMALL)
    args = {k: v for k, v in model.model_args.items() if k not in ("occ_grid", "occ_grid_channels", "pixel_aligned")}
    return model, args


def pixel_aligned_occupancy():
    """Pixel-aligned occupancy models, whose flag was occ_pixel_aligned."""
    model = make_model("occupancy", pixel_aligned=True, **SMALL)
    args = dict(model.model_args)
    args["occ_pixel_aligned"] = args.pop("pixel_aligned")
    return model, args


def every_types_arguments():
    """Checkpoints written before each type declared its own arguments held every type's."""
    model = make_model("point", n_points=200, **SMALL)
    return model, {**model.model_args, "ico_level": 2, "occ_hidden": 128, "refine_stages": 1, "vox_decoder": "deconv"}


@pytest.mark.parametrize(
    "old_format",
    [first_vox, pixel_aligned_vox, occupancy_before_its_volume, pixel_aligned_occupancy, every_types_arguments],
)
def test_a_checkpoint_of_each_older_format_still_evaluates(old_format, tiny_root, tmp_path):
    """Written as that version wrote it (its model_args, its weights), it rebuilds the same model
    (the same outputs) and goes through eval_model.py."""
    from training.checkpoints import model_from_checkpoint

    torch.manual_seed(0)
    model, old_args = old_format()
    path = tmp_path / "old.pth"
    torch.save({"model": model.state_dict(), "model_args": old_args, "step": 7}, path)
    loaded, _ = model_from_checkpoint(str(path))
    images = torch.rand(2, 64, 64, 3)
    queries = torch.rand(2, 20, 3) - 0.5
    from r2n2.formats import R2N2_K

    before, after = model.eval()(images, queries, intrinsics=R2N2_K), loaded(images, queries, intrinsics=R2N2_K)
    for field in ("voxels", "points", "occupancy"):
        if getattr(before, field) is not None:
            torch.testing.assert_close(getattr(after, field), getattr(before, field))
    code, _, err = call_main(
        "eval_model", "--checkpoint", path, "--data_root", tiny_root, "--device", "cpu", "--results_dir",
        tmp_path / "eval", "--n_points", "500", "--vis_ids", "--no_frame_check", "--grid_res", "32",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    result = json.load(open(result_folder(tmp_path / "eval", old_args["type"]) / "metrics.json"))
    assert result["n_samples"] == 3 and 0 <= result["model"]["F1@0.05"] <= 100


def test_the_rules_by_name():
    known = {"arch", "image_size", "vox_decoder", "pixel_aligned", "frame"}
    upgraded = upgrade_model_args({"type": "vox", "vox_pixel_aligned": True, "occ_hidden": 5}, known)
    assert upgraded == {
        "type": "vox", "vox_decoder": MODEL_ARGS_BEFORE["vox_decoder"], "pixel_aligned": True, "frame": "object",
    }  # fmt: skip  # renamed, predated keys filled in, another type's dropped
    turned = upgrade_model_args(
        {"type": "vox", "vox_frame": "viewer", "vox_camera_head": "spatial"}, known | {"camera_head"}
    )
    assert turned["frame"] == "viewer" and turned["camera_head"] == "spatial"  # a viewer-frame model stays one
    assert upgrade_run_flags({"w_dice": 1.0})["w_silhouette"] == 0.0 and upgrade_run_flags({})["sil_rays"] == 48
    assert upgrade_data_record({"seed": 1})["viewpoints"] == "r2n2"
    assert canonical_metric_keys({"F1@0.050000": 1.0, "F1@0.05/turned": 2.0, "n": 3}, metric_key) == {
        "F1@0.05": 1.0, "F1@0.05/turned": 2.0, "n": 3,
    }  # fmt: skip
