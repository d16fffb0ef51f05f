"""The per-split cache: what it holds, and that it is rebuilt or refused when it does not fit."""

import os

import torch

from dataset_location import detect_layout
from r2n2.cache import load_cache
from r2n2.splits import load_split


def test_cache_records_what_the_gt_is(archives_root):
    layout = detect_layout(archives_root)
    entries, _ = load_split(layout, "test")
    cache = load_cache(layout, "test", entries, quiet=True)
    assert cache["surface_sources"] == ["voxels"] * len(entries) and cache["model_ids"] == [e.model_id for e in entries]
    assert cache["normals"].dtype == torch.float16 and cache["normals"].shape == cache["points"].shape
    assert not os.path.exists(
        os.path.join(archives_root, "splits.json")
    )  # the generated split lives in the cache folder


def test_a_cache_is_rebuilt_when_the_code_that_reads_the_files_changes(archives_copy, monkeypatch, capsys):
    from r2n2 import cache as cache_module

    layout = detect_layout(archives_copy)
    entries, _ = load_split(layout, "test")
    load_cache(layout, "test", entries, quiet=True)
    before = sorted(os.listdir(layout.cache_dir))
    monkeypatch.setattr(cache_module, "reader_code_digest", lambda: "an edited reader")
    rebuilt = load_cache(layout, "test", entries, quiet=True)
    after = sorted(os.listdir(layout.cache_dir))
    err = capsys.readouterr().err
    assert (
        "cache of the test split" in err
        and "is stale (a source file or the code that reads it changed): rebuilding" in err
    )
    caches = lambda names: [n for n in names if n.startswith("test-") and n.endswith(".pt")]  # noqa: E731
    assert caches(after) != caches(before) and f"{caches(after)[0]}.sv3d-written" in after  # its mark beside it
    assert len(caches(after)) == 1 and rebuilt["model_ids"] == [e.model_id for e in entries]
