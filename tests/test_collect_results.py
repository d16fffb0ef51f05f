"""Collecting results: only the test-split result of the very checkpoint collected is published."""

import json
import os
import shutil

import pytest

from dataset_location import EMBEDDED_DATA_ROOT
from evaluation.config import CAMERA_SEARCH
from tools import collect_results
from training.checkpoints import file_digest


def write_result(folder, **fields):
    os.makedirs(folder, exist_ok=True)
    result = {
        "type": "vox",
        "oracle": False,
        "split": "test",
        "views": "first",
        "iso": 0.5,
        "data": EMBEDDED_DATA_ROOT,
        "thresholds": [0.01, 0.02, 0.03, 0.04, 0.05],
        "n_points": 5000,
        "grid_res": 64,
        "seed": 0,
        "train_overlap": {"shapes": 0, "of": 99},
    }
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump({**result, **fields}, f)


def test_only_the_test_split_of_the_collected_checkpoint_counts(tiny_checkpoints, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("checkpoints/vox")
    shutil.copyfile(tiny_checkpoints / "vox" / "checkpoint_vox.pth", "checkpoints/vox/checkpoint_vox.pth")
    checkpoint = "checkpoints/vox/checkpoint_vox.pth"
    digest = file_digest(checkpoint)
    write_result("output/eval/vox_val", split="val", checkpoint_sha256=digest)  # another split
    write_result("output/eval/vox_old", checkpoint_sha256="0" * 16)  # an older checkpoint at the same path
    write_result("output/eval/vox_iso", iso=0.3, checkpoint_sha256=digest)  # another level
    write_result("output/eval/vox_real", data="/elsewhere", checkpoint_sha256=digest)  # other data
    # other thresholds: the tables' F1@0.01..0.05 headers would label F1@0.1 and 0.2
    write_result("output/eval/vox_t", thresholds=[0.1, 0.2], checkpoint_sha256=digest)
    write_result("output/eval/vox_n", n_points=2000, checkpoint_sha256=digest)  # another protocol
    write_result("output/eval/vox_seen", train_overlap={"shapes": 3, "of": 99}, checkpoint_sha256=digest)  # trained on
    results = collect_results.load_results()
    assert collect_results.find_result(results, "vox", checkpoint) is None
    with pytest.raises(SystemExit):
        collect_results.require_result(results, "vox", checkpoint)
    write_result("output/eval/vox", checkpoint_sha256=digest)
    found = collect_results.require_result(collect_results.load_results(), "vox", checkpoint)
    assert found["folder"] == os.path.join("output", "eval", "vox")
    # A result told no camera is its own row; a leftover folder of a killed evaluation never counts.
    summary = {f"F1@{t:.2f}": 50.0 for t in (0.01, 0.02, 0.03, 0.04, 0.05)} | {"ChamferL2": 0.01}
    write_result(
        "output/eval/vox.sv3d-tmp-99999-deadbeef",
        camera="none",
        camera_search=CAMERA_SEARCH,
        checkpoint_sha256=digest,
        model=summary,
    )
    known = {"camera_used": "the metadata's camera (R, T, K)"}
    missing = collect_results.no_camera_rows(collect_results.load_results(), "vox", checkpoint, known)
    assert len(missing) == 1 and "not evaluated (eval_model.py --camera none)" in missing[0]
    # told no camera without the default search (an older result: camera_search 0): not the row
    write_result("output/eval/vox_guess", camera="none", checkpoint_sha256=digest, model=summary)
    guessed = collect_results.no_camera_rows(collect_results.load_results(), "vox", checkpoint, known)
    assert "not evaluated" in guessed[0]
    write_result(
        "output/eval/vox_none",
        camera="none",
        camera_search=CAMERA_SEARCH,
        checkpoint_sha256=digest,
        model=summary,
        mean_shape_baseline=None,
    )
    rows = collect_results.no_camera_rows(collect_results.load_results(), "vox", checkpoint, known)
    assert len(rows) == 1 and rows[0].startswith("| vox, no camera | model | 50.0")
    assert collect_results.no_camera_rows(results, "vox", checkpoint, {"camera_used": "not read: ..."}) == []
