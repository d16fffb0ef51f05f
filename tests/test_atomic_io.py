"""Files written whole: no temporary file left, nothing half-written on an error."""

import os

import pytest

from atomic_io import atomic_path, atomic_write_json


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
