"""Collecting results: only the test-split result of the very checkpoint collected is published."""

import json
import os
import shutil

import pytest

import collect_results
from checkpoints import file_digest
from dataset_location import EMBEDDED_DATA_ROOT


def write_result(folder, **fields):
    os.makedirs(folder, exist_ok=True)
    result = {"type": "vox", "oracle": False, "split": "test", "views": "first", "iso": 0.5, "data": EMBEDDED_DATA_ROOT}
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
    results = collect_results.load_results()
    assert collect_results.find_result(results, "vox", checkpoint) is None
    with pytest.raises(SystemExit):
        collect_results.require_result(results, "vox", checkpoint)
    write_result("output/eval/vox", checkpoint_sha256=digest)
    found = collect_results.require_result(collect_results.load_results(), "vox", checkpoint)
    assert found["folder"] == os.path.join("output", "eval", "vox")
