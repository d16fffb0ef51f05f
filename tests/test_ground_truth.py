"""Reading one shape's ground truth from its R2N2 files: surfaces, voxels, views, refusals."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from dataset_location import detect_layout, shape_paths
from procedural.shape_files import write_binvox
from r2n2.formats import DatasetError, read_binvox
from r2n2.ground_truth import read_shape
from r2n2.splits import load_split


def first_shape(root):
    layout = detect_layout(root)
    entries, _ = load_split(layout, "all")
    return layout, entries[0], shape_paths(layout, entries[0])


def test_without_meshes_the_gt_surface_is_the_voxels_surface(archives_root):
    layout, entry, _ = first_shape(archives_root)
    shape = read_shape(layout, entry)
    assert shape["images"].shape == (24, 137, 137, 3) and shape["masks"].shape == (24, 137, 137)
    # Every surface sample lies on the voxel grid's 0.5 iso-surface, which passes between occupied
    # and empty cell centres: within one cell (1/32) of an occupied cell's centre.
    occupied = shape["voxels"].nonzero().flip(1).float()  # (N, 3) as (x, y, z) indices
    centres = (occupied + 0.5) / 32 - 0.5
    nearest = torch.cdist(shape["points"], centres).min(1).values
    assert nearest.max() <= 1 / 32
    torch.testing.assert_close(shape["normals"].norm(dim=1), torch.ones(len(shape["normals"])), atol=1e-4, rtol=0)
    assert np.isnan(shape["placement_iou"])


@pytest.mark.parametrize("channels", [1, 3])
def test_a_rendering_without_alpha_is_refused(archives_copy, channels):
    layout, entry, files = first_shape(archives_copy)
    png = files["pngs"][0]
    rgba = iio.imread(png)
    iio.imwrite(png, rgba[..., 0] if channels == 1 else rgba[..., :3])
    with pytest.raises(DatasetError, match=f"rendering {png} has {channels} channel"):
        read_shape(layout, entry)


def test_empty_and_128_voxel_grids(archives_copy):
    layout, entry, files = first_shape(archives_copy)
    coords, *_ = read_binvox(files["binvox"])
    grid = np.zeros((32, 32, 32), bool)
    grid[coords[:, 2], coords[:, 1], coords[:, 0]] = True  # [z, y, x]
    write_binvox(files["binvox"], grid)  # the object-frame cube: 32^3 and 128^3 cells nest exactly
    before = read_shape(layout, entry)["voxels"]
    fine = grid.repeat(4, 0).repeat(4, 1).repeat(4, 2)  # the same solid at 128^3
    write_binvox(files["binvox"], fine)
    torch.testing.assert_close(read_shape(layout, entry)["voxels"], before)  # resampled to the same 32^3 cells
    write_binvox(files["binvox"], np.zeros((32, 32, 32), bool))
    with pytest.raises(DatasetError, match="are empty"):
        read_shape(layout, entry)
