"""tools/result_lookup.py: which evaluation is a checkpoint's result (the tables publish only that one)."""

import json
import os

import pytest

from dataset_location import EMBEDDED_DATA_ROOT
from evaluation.config import CAMERA_SEARCH
from tools.result_lookup import find_result, load_results, require_result, standard_protocol
from training.checkpoints import file_digest


def write_result(folder, **fields) -> dict:
    """A metrics.json as eval_model.py writes it at the standard protocol, fields overriding."""
    os.makedirs(folder, exist_ok=True)
    result = {
        "type": "vox", "oracle": False, "split": "test", "views": "first", "iso": 0.5, "data": EMBEDDED_DATA_ROOT,
        "thresholds": [0.01, 0.02, 0.03, 0.04, 0.05], "n_points": 5000, "grid_res": 64, "seed": 0,
        "train_overlap": {"shapes": 0, "of": 99},
    }  # fmt: skip
    result.update(fields)
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(result, f)
    return result


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    """A checkpoint file (only its bytes matter here: results name it by its sha256)."""
    monkeypatch.chdir(tmp_path)
    os.makedirs("checkpoints/vox")
    path = "checkpoints/vox/checkpoint_vox.pth"
    with open(path, "wb") as f:
        f.write(b"weights")
    return path


def test_only_the_standard_test_result_of_the_checkpoint_as_it_is_now_counts(checkpoint):
    digest = file_digest(checkpoint)
    write_result("output/eval/vox_val", split="val", checkpoint_sha256=digest)  # another split
    write_result("output/eval/vox_old", checkpoint_sha256="0" * 16)  # an older checkpoint at the same path
    write_result("output/eval/vox_iso", iso=0.3, checkpoint_sha256=digest)  # another level
    write_result("output/eval/vox_real", data="/elsewhere", checkpoint_sha256=digest)  # other data
    write_result("output/eval/vox_t", thresholds=[0.1, 0.2], checkpoint_sha256=digest)  # other columns
    write_result("output/eval/vox_n", n_points=2000, checkpoint_sha256=digest)  # another protocol
    write_result("output/eval/vox_seen", train_overlap={"shapes": 3, "of": 99}, checkpoint_sha256=digest)
    write_result("output/eval/vox_clean", clean=True, checkpoint_sha256=digest)  # largest parts kept
    write_result("output/eval/vox.sv3d-tmp-99999-deadbeef", checkpoint_sha256=digest)  # a killed evaluation's
    assert find_result(load_results(), "vox", checkpoint) is None
    write_result("output/eval/vox", checkpoint_sha256=digest)
    assert find_result(load_results(), "vox", checkpoint)["folder"] == os.path.join("output", "eval", "vox")


def test_a_result_told_no_camera_is_found_only_when_asked_for_and_at_the_default_search(checkpoint):
    digest = file_digest(checkpoint)
    write_result("output/eval/vox_guess", camera="none", camera_search=0, checkpoint_sha256=digest)  # no search
    assert find_result(load_results(), "vox", checkpoint, camera="none") is None
    write_result("output/eval/vox_none", camera="none", camera_search=CAMERA_SEARCH, checkpoint_sha256=digest)
    assert find_result(load_results(), "vox", checkpoint) is None  # not the known-camera row
    found = find_result(load_results(), "vox", checkpoint, camera="none")
    assert found["folder"] == os.path.join("output", "eval", "vox_none")


def test_an_older_result_is_read_with_what_it_used_where_it_did_not_say(tmp_path):
    """A metrics.json from before the camera, search, clean and batch fields: the known camera,
    no search, no clean-up, batch 16 (common.legacy.RESULT_RECORD_BEFORE), the standard protocol."""
    older = write_result(str(tmp_path / "older"), checkpoint_sha256="0" * 16)
    assert standard_protocol(older)
    assert not standard_protocol({**older, "batch_size": 4})  # other batches draw other samples


def test_a_missing_result_is_one_line_naming_the_evaluation_to_run(checkpoint, capsys):
    with pytest.raises(SystemExit) as stop:
        require_result(load_results(), "vox", checkpoint, split="val", views="all")
    err = capsys.readouterr().err
    assert stop.value.code != 0 and err.count("\n") == 1
    assert f"eval_model.py --type vox --checkpoint {checkpoint} --split val --views all" in err
