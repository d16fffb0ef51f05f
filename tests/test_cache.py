import os
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from cache import load_cache, read_model
from dataset_location import detect_layout, load_split, model_files
from r2n2 import DatasetError, read_binvox, write_binvox


@pytest.fixture()
def archives_copy(archives_root, tmp_path):
    root = str(tmp_path / "copy")
    shutil.copytree(archives_root, root, ignore=shutil.ignore_patterns(".cache"))
    return root


def first_model(root):
    layout = detect_layout(root)
    entries, _ = load_split(layout, "all")
    return layout, entries[0], model_files(layout, entries[0])


def test_without_meshes_the_gt_surface_is_the_voxels_surface(archives_root):
    layout, entry, _ = first_model(archives_root)
    model = read_model(layout, entry)
    assert model["images"].shape == (24, 137, 137, 3) and model["masks"].shape == (24, 137, 137)
    # Every surface sample lies on the voxel grid's 0.5 iso-surface, which passes between occupied
    # and empty cell centres: within one cell (1/32) of an occupied cell's centre.
    occupied = model["voxels"].nonzero().flip(1).float()  # (N, 3) as (x, y, z) indices
    centres = (occupied + 0.5) / 32 - 0.5
    nearest = torch.cdist(model["points"], centres).min(1).values
    assert nearest.max() <= 1 / 32
    torch.testing.assert_close(model["normals"].norm(dim=1), torch.ones(len(model["normals"])), atol=1e-4, rtol=0)
    assert np.isnan(model["placement_iou"])


@pytest.mark.parametrize("channels", [1, 3])
def test_a_rendering_without_alpha_is_refused(archives_copy, channels):
    layout, entry, files = first_model(archives_copy)
    png = files["pngs"][0]
    rgba = iio.imread(png)
    iio.imwrite(png, rgba[..., 0] if channels == 1 else rgba[..., :3])
    with pytest.raises(DatasetError, match=f"rendering {png} has {channels} channel"):
        read_model(layout, entry)


def test_empty_and_128_voxel_grids(archives_copy):
    layout, entry, files = first_model(archives_copy)
    coords, *_ = read_binvox(files["binvox"])
    grid = np.zeros((32, 32, 32), bool)
    grid[coords[:, 2], coords[:, 1], coords[:, 0]] = True  # [z, y, x]
    write_binvox(files["binvox"], grid)  # the object-frame cube: 32^3 and 128^3 cells nest exactly
    before = read_model(layout, entry)["voxels"]
    fine = grid.repeat(4, 0).repeat(4, 1).repeat(4, 2)  # the same solid at 128^3
    write_binvox(files["binvox"], fine)
    torch.testing.assert_close(read_model(layout, entry)["voxels"], before)  # resampled to the same 32^3 cells
    write_binvox(files["binvox"], np.zeros((32, 32, 32), bool))
    with pytest.raises(DatasetError, match="are empty"):
        read_model(layout, entry)


def test_cache_records_what_the_gt_is(archives_root):
    layout = detect_layout(archives_root)
    entries, _ = load_split(layout, "test")
    cache = load_cache(layout, "test", entries, quiet=True)
    assert cache["surfaces"] == "voxels" and cache["voxel_placement"] == "centred"
    assert cache["normals"].dtype == torch.float16 and cache["normals"].shape == cache["points"].shape
    assert not os.path.exists(os.path.join(archives_root, "splits.json"))  # the generated split lives in the cache folder
