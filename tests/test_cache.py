"""The per-split cache: what it holds, and that it is rebuilt or refused when it does not fit."""

import os

import torch

from cache import load_cache
from dataset_location import detect_layout
from splits import load_split


def test_cache_records_what_the_gt_is(archives_root):
    layout = detect_layout(archives_root)
    entries, _ = load_split(layout, "test")
    cache = load_cache(layout, "test", entries, quiet=True)
    assert cache["surface_sources"] == ["voxels"] * len(entries) and cache["model_ids"] == [e.model_id for e in entries]
    assert cache["normals"].dtype == torch.float16 and cache["normals"].shape == cache["points"].shape
    assert not os.path.exists(
        os.path.join(archives_root, "splits.json")
    )  # the generated split lives in the cache folder
