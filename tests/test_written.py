"""A folder's record proves what this project wrote there by content: edits, additions and links are never its."""

import os

from common.written import differences, mark_written, marked, read_record, record_folder, remove_recorded


def test_a_record_proves_content_not_names(tmp_path):
    """Edited to the same size, added files, an empty folder, links (one dangling): each named, none
    removed; what still matches is removed."""
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("abc")
    (folder / "sub" / "b.txt").write_text("bbb")
    record_folder(str(folder), ".rec.json")
    record = read_record(str(folder), ".rec.json")
    assert differences(str(folder), record, ".rec.json") == []
    (folder / "sub" / "b.txt").write_text("BBB")  # same size
    (folder / "new.txt").write_text("n")
    (folder / "empty").mkdir()
    (folder / "link_dir").symlink_to(folder / "sub", target_is_directory=True)
    (folder / "dangling").symlink_to(folder / "nowhere")
    found = differences(str(folder), record, ".rec.json")
    assert sorted(found) == sorted(
        [
            "dangling (a symbolic link, dangling)", "link_dir (a symbolic link)", "empty/ (a folder added)",
            "new.txt (added)", "sub/b.txt (changed since written)",
        ]
    )  # fmt: skip
    left = remove_recorded(str(folder), record, ".rec.json")
    assert sorted(left) == sorted(found)
    assert not (folder / "a.txt").exists() and (folder / "sub" / "b.txt").read_text() == "BBB"
    assert (folder / "new.txt").exists() and (folder / "empty").is_dir() and os.path.islink(folder / "dangling")


def test_a_mark_proves_a_single_file(tmp_path):
    path = tmp_path / "train-0123456789abcdef.pt"
    path.write_bytes(b"cache")
    assert not marked(str(path))
    mark_written(str(path))
    assert marked(str(path))
    path.write_bytes(b"CACHE")  # edited, same size
    assert not marked(str(path))
