"""Checkpoints on disk: read back, old ones too, and bad files refused with one reason."""

import os

import torch

from representations import make_model
from training.checkpoints import model_from_checkpoint

SMALL = {"image_size": 64, "n_points": 200, "ico_level": 2}


def test_occupancy_checkpoints_without_a_feature_volume_still_load(tmp_path):
    """Checkpoints of the global-feature decoder (before occ_grid existed) load as occ_grid 0."""
    old = make_model("occupancy", occ_grid=0, **SMALL)
    assert old.decoder.volume is None
    model_args = {k: v for k, v in old.model_args.items() if k not in ("occ_grid", "occ_grid_channels")}
    torch.save({"model": old.state_dict(), "model_args": model_args}, tmp_path / "old.pth")
    loaded, _ = model_from_checkpoint(str(tmp_path / "old.pth"), "occupancy")
    images, queries = torch.rand(1, 137, 137, 3), torch.rand(1, 10, 3) - 0.5
    torch.testing.assert_close(loaded(images, queries).occupancy, old.eval()(images, queries).occupancy)


def test_run_folders_and_bad_files(tmp_path):
    import pytest

    from model import ModelError
    from training.checkpoints import checkpoint_path, load_checkpoint, run_dir

    assert run_dir("vox") == os.path.join("checkpoints", "vox") and run_dir("vox", "elsewhere") == "elsewhere"
    assert checkpoint_path("elsewhere", "mesh") == os.path.join("elsewhere", "checkpoint_mesh.pth")
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(str(tmp_path / "missing.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="unreadable or corrupt"):
        load_checkpoint(str(tmp_path / "junk.pth"))
    torch.save({"weights": 1}, tmp_path / "other.pth")
    with pytest.raises(ModelError, match="not a checkpoint of train_model.py"):
        load_checkpoint(str(tmp_path / "other.pth"))
    torch.save({"model": {}, "model_args": {"type": "point"}}, tmp_path / "point.pth")
    with pytest.raises(ModelError, match="holds a 'point' model, not --type 'vox'"):
        load_checkpoint(str(tmp_path / "point.pth"), expected_type="vox")


class NotPlainData:
    """Anything a pickle could build (and, in a malicious file, run code with)."""


def test_checkpoints_load_as_weights_only_and_a_pickled_object_is_refused(tiny_checkpoints, tmp_path):
    import pytest

    from model import ModelError
    from training.checkpoints import load_checkpoint

    for model_type in ("vox", "point", "mesh", "occupancy", "voxmesh"):  # everything train_model.py writes is plain
        path = tiny_checkpoints / model_type / f"checkpoint_{model_type}.pth"
        assert torch.load(path, weights_only=True)["step"] == load_checkpoint(str(path), model_type)["step"] == 2
    torch.save({"model": {}, "model_args": {"type": "vox"}, "extra": NotPlainData()}, tmp_path / "evil.pth")
    with pytest.raises(ModelError, match="holds Python objects besides tensors and plain values.*refused"):
        load_checkpoint(str(tmp_path / "evil.pth"))


def test_a_checkpoint_that_cannot_rebuild_its_model_gives_one_reason(tmp_path):
    """model_args of the wrong kind, weights missing (an older model layout) or of other shapes:
    a ModelError naming what is wrong, never a traceback from load_state_dict."""
    import pytest

    from model import ModelError

    model = make_model("point", **SMALL)
    state = model.state_dict()
    cases = {
        "args_list.pth": ({"model": state, "model_args": ["point"]}, "not a dict"),
        "args_kind.pth": (
            {"model": state, "model_args": {"type": "point", "n_points": "many"}},
            "cannot build a model",
        ),
        "missing.pth": (
            {"model": {k: v for k, v in state.items() if "mlp.4" not in k}, "model_args": model.model_args},
            "missing 2 weights",
        ),
        "shapes.pth": (
            {"model": state, "model_args": {**model.model_args, "n_points": 300}},
            "weights of other shapes",
        ),
    }
    for name, (checkpoint, message) in cases.items():
        torch.save(checkpoint, tmp_path / name)
        with pytest.raises(ModelError, match=message):
            model_from_checkpoint(str(tmp_path / name))


def test_old_vox_checkpoints_keep_their_decoder(tmp_path):
    """A vox checkpoint written before the sub-pixel decoder (no vox_decoder in its model_args)
    rebuilds the transposed-convolution decoder it was trained with."""
    from representations.vox.decoder import DeconvVoxelDecoder

    old = make_model("vox", vox_decoder="deconv", vox_channels=(64, 32, 16), image_size=64)
    model_args = {k: v for k, v in old.model_args.items() if k in ("type", "arch", "image_size", "vox_channels")}
    torch.save({"model": old.state_dict(), "model_args": model_args}, tmp_path / "old.pth")
    loaded, _ = model_from_checkpoint(str(tmp_path / "old.pth"), "vox")
    assert isinstance(loaded.decoder, DeconvVoxelDecoder)
    images = torch.rand(2, 137, 137, 3)
    torch.testing.assert_close(loaded(images).voxels, old.eval()(images).voxels)


def test_checkpoints_that_hold_every_types_arguments_still_load(tmp_path):
    """Checkpoints written before each type declared its own arguments held every type's (a vox
    model's model_args had occ_hidden, ico_level, ...): they load, the other types' ignored."""
    old = make_model("point", **SMALL)
    every = {**old.model_args, "ico_level": 2, "occ_hidden": 128, "refine_stages": 1, "cubify_threshold": 0.5}
    torch.save({"model": old.state_dict(), "model_args": every}, tmp_path / "old.pth")
    loaded, _ = model_from_checkpoint(str(tmp_path / "old.pth"), "point")
    assert loaded.model_args == old.model_args
