"""Reading R2N2's files: binvox round trips, cameras, metadata, voxel placement."""

import numpy as np
import pytest
import torch

from procedural.shape_files import write_binvox
from r2n2.formats import (
    DatasetError,
    binvox_centers,
    r2n2_camera,
    read_binvox,
    read_metadata,
    voxels_from_centers,
    voxels_object_frame,
)


def test_binvox_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    grid = rng.random((32, 32, 32)) > 0.8  # [z, y, x]
    path = str(tmp_path / "v.binvox")
    write_binvox(path, grid)
    coords, dim, translate, scale = read_binvox(path)
    voxels = voxels_object_frame(coords, dim, translate, scale, None, "centred")
    assert dim == 32 and np.array_equal(voxels.bool().numpy(), grid)


def test_camera_matches_pytorch3d_r2n2_convention():
    """The camera centre sits at dist_ratio * 1.75 from the origin, elevated by elev degrees."""
    R, T = r2n2_camera(30.0, 25.0, 0.8)
    center = -T @ R.T  # x_view = x @ R + T is zero at the camera centre
    assert center.norm().item() == pytest.approx(0.8 * 1.75, rel=1e-5)
    assert torch.asin(center[1] / center.norm()).rad2deg().item() == pytest.approx(25.0, abs=1e-3)
    torch.testing.assert_close(R @ R.T, torch.eye(3), atol=1e-6, rtol=0)


def test_binvox_placements_on_an_r2n2_header():
    """A real ShapeNetVox32 header: translate is the bbox corner, scale its largest side, and the
    grid is centred on the origin, so only the centred rule puts the object on its bounding box."""
    translate, scale, dim = (-0.153441, -0.21116, -0.426459), 0.852918, 32
    coords = torch.tensor([[0, 0, 0], [31, 31, 31]])
    centred = binvox_centers(coords, dim, translate, scale, "centred")
    torch.testing.assert_close(centred[1], -centred[0])  # symmetric about the origin
    assert centred[1, 2].item() + 0.5 * scale / dim == pytest.approx(
        -translate[2], rel=1e-6
    )  # the largest side spans the grid
    shifted = binvox_centers(coords, dim, translate, scale, "translate")
    assert (shifted[1] - centred[1]).abs().max().item() > 0.2  # off by (scale / 2 + translate) per axis
    verts = torch.tensor([list(translate), [-t for t in translate]])
    aligned = binvox_centers(coords, dim, translate, scale, "bbox", verts)
    torch.testing.assert_close(aligned, verts)  # align_bbox stretches the occupied centres onto the mesh's box


def test_a_128_grid_is_resampled_to_32():
    grid = np.zeros((128, 128, 128), bool)
    grid[40:80, 10:20, 60:64] = True  # [z, y, x]
    voxels = voxels_from_centers(
        binvox_centers(torch.from_numpy(np.argwhere(grid.transpose(2, 1, 0))), 128, (-0.5,) * 3, 1.0, "centred")
    )
    assert voxels.shape == (32, 32, 32)
    assert voxels.nonzero().min(0).values.tolist() == [10, 2, 15] and voxels.nonzero().max(0).values.tolist() == [
        19,
        4,
        15,
    ]


def test_metadata_lines_need_five_numbers(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("166.339523062 29.7485770177 0 0.889372423348 25\n10 25 0 0.7 25\n")
    assert read_metadata(str(good), n_views=2) == [(166.339523062, 29.7485770177, 0.889372423348), (10.0, 25.0, 0.7)]
    with pytest.raises(DatasetError, match="2 lines but view 4"):
        read_metadata(str(good), n_views=5)
    short = tmp_path / "short.txt"
    short.write_text("166.3 29.7 0\n")
    with pytest.raises(DatasetError, match=r"short.txt: line 1 has 3 numbers, expected 5"):
        read_metadata(str(short))
