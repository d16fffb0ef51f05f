"""Files written whole: no temporary file left, nothing half-written on an error."""

import os

import pytest

from common.atomic_io import atomic_path, atomic_write_json


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = atomic_write_json(str(tmp_path / "a.json"), {"x": 1})
    assert open(path).read().strip().startswith("{") and os.listdir(tmp_path) == ["a.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "a.json")
    atomic_write_json(path, {"x": 1})
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")
    assert open(path).read().strip() == '{\n "x": 1\n}' and os.listdir(tmp_path) == ["a.json"]


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path):
    """Two writers of one file (two processes, or threads of one) never share a temporary file,
    and a writer that picks the format by extension gets it."""
    path = str(tmp_path / "figure.png")
    with atomic_path(path, suffix=".png") as first, atomic_path(path, suffix=".png") as second:
        assert first != second and first.endswith(".png") and second.endswith(".png")
        for tmp in (first, second):
            open(tmp, "w").close()
    assert os.listdir(tmp_path) == ["figure.png"]
