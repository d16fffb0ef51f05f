"""make_dataset.py: it writes, keeps or replaces only datasets it wrote, and checks a request first."""

import json
import os
import shutil

from conftest import assert_one_line_error, call_main


def test_replace_stale_never_deletes_a_folder_it_did_not_write(tmp_path):
    """A folder without the generator's record (real data, a home folder) is refused in one line
    and left as it was, whatever else the command asks; a bad request is refused before anything."""
    mine = tmp_path / "p"
    mine.mkdir()
    (mine / "mine").write_text("a user's file")
    args = ["--root", mine, "--n_models", "6", "--n_views", "1", "--replace_stale", "--workers", "1"]
    assert_one_line_error(call_main("make_dataset", *args, "--holdout", "nosuch"), "unknown family 'nosuch'")
    assert_one_line_error(call_main("make_dataset", *args), "has no .manifest.json")
    assert os.listdir(mine) == ["mine"] and (mine / "mine").read_text() == "a user's file"


def test_replace_stale_keeps_a_current_dataset_and_replaces_its_own_stale_one(tiny_root, tmp_path):
    root = tmp_path / "tiny"
    shutil.copytree(tiny_root, root, ignore=shutil.ignore_patterns(".cache"))
    args = ["--root", root, "--n_models", "9", "--n_views", "2", "--replace_stale", "--workers", "1"]
    code, out, err = call_main("make_dataset", *args)
    assert code == 0 and "already holds this dataset" in out, err
    record = json.loads((root / "embedded.json").read_text())
    # As an older generator would have left it: its record and the manifest listing it as written.
    (root / "embedded.json").write_text(json.dumps({**record, "generator_version": 3}))
    manifest = json.loads((root / ".manifest.json").read_text())
    from common.written import file_digest

    manifest["files"]["embedded.json"] = {
        "size": (root / "embedded.json").stat().st_size, "sha256": file_digest(str(root / "embedded.json"))
    }  # fmt: skip
    (root / ".manifest.json").write_text(json.dumps(manifest))
    code, out, err = call_main("make_dataset", *args)
    assert code == 0 and "replacing it" in out, err
    assert json.loads((root / "embedded.json").read_text())["generator_version"] == record["generator_version"]
