import numpy as np
import pytest
import torch

from r2n2 import prepare_image, r2n2_camera, read_binvox, voxels_object_frame, write_binvox


def test_binvox_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    grid = rng.random((32, 32, 32)) > 0.8  # [z, y, x]
    path = str(tmp_path / "v.binvox")
    write_binvox(path, grid)
    coords, dim, translate, scale = read_binvox(path)
    voxels = voxels_object_frame(coords, dim, translate, scale, None, "header")
    assert dim == 32 and np.array_equal(voxels.bool().numpy(), grid)


def test_camera_matches_pytorch3d_r2n2_convention():
    """The camera centre sits at dist_ratio * 1.75 from the origin, elevated by elev degrees."""
    R, T = r2n2_camera(30.0, 25.0, 0.8)
    center = -T @ R.T  # x_view = x @ R + T is zero at the camera centre
    assert center.norm().item() == pytest.approx(0.8 * 1.75, rel=1e-5)
    assert torch.asin(center[1] / center.norm()).rad2deg().item() == pytest.approx(25.0, abs=1e-3)
    torch.testing.assert_close(R @ R.T, torch.eye(3), atol=1e-6, rtol=0)


def test_prepare_image_formats():
    rgba = np.zeros((50, 80, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:25, :, 3] = 255  # top half opaque red, bottom transparent
    out = prepare_image(rgba)
    assert out.shape == (137, 137, 3)
    torch.testing.assert_close(out[5, 60], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(out[130, 60], torch.ones(3))  # composited over white
    grey = prepare_image(np.full((137, 137), 128, np.uint8))
    torch.testing.assert_close(grey, torch.full((137, 137, 3), 128 / 255))
    with pytest.raises(ValueError, match="image"):
        prepare_image(np.zeros((4, 4, 5), np.uint8))
