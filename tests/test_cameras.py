"""R2N2's cameras in PyTorch3D's terms: the look-at parameters, projection and rays agree with the renderer."""

import pytest
import torch

from geometry.cameras import (
    azimuth_bin,
    azimuth_bins,
    camera_parameters,
    camera_rays,
    cameras_from_parameters,
    project_points,
)
from r2n2.formats import MAX_CAMERA_DISTANCE, R2N2_K, r2n2_camera

VIEWS = [(0.0, 25.0, 0.8), (90.0, 30.0, 0.7), (166.34, 29.75, 0.889), (300.0, 27.0, 0.65)]


def r2n2_batch(views):
    Rs, Ts = zip(*(r2n2_camera(*view) for view in views))
    return torch.stack(Rs), torch.stack(Ts), R2N2_K.expand(len(views), 4, 4)


def test_r2n2_cameras_are_pytorch3ds_look_at_cameras():
    """The convention the real data fixes: an R2N2 view (azim, elev, dist_ratio) is
    look_at_view_transform(1.75 dist_ratio, elev, 90 - azim); the parameters read back from R, T."""
    R, T, _ = r2n2_batch(VIEWS)
    azim, elev, dist = camera_parameters(R, T)
    expected = torch.tensor([(90 - a) % 360 for a, _, _ in VIEWS])
    torch.testing.assert_close(azim, expected, atol=1e-3, rtol=0)
    torch.testing.assert_close(elev, torch.tensor([e for _, e, _ in VIEWS]), atol=1e-3, rtol=0)
    torch.testing.assert_close(dist, torch.tensor([d * MAX_CAMERA_DISTANCE for *_, d in VIEWS]), atol=1e-5, rtol=0)
    R2, T2 = cameras_from_parameters(azim, elev, dist)
    torch.testing.assert_close(R2, R, atol=1e-5, rtol=0)
    torch.testing.assert_close(T2, T, atol=1e-5, rtol=0)


def test_projection_matches_the_silhouettes_pixels_and_rays_pass_through_them():
    from evaluation.silhouette import project

    R, T, K = r2n2_batch(VIEWS)
    points = torch.rand(len(VIEWS), 50, 3) - 0.5
    uv, depth = project_points(points, R, T, K)
    for b in range(len(VIEWS)):
        pixels = torch.from_numpy(project(points[b], R[b], T[b], K[b], 137))  # (col, row), centre at i + 0.5
        torch.testing.assert_close(uv[b], pixels / 137 * 2 - 1, atol=1e-4, rtol=0)
    assert (depth > 0).all()
    origins, directions = camera_rays(R, T, K, 9)
    centre = origins + directions[:, 40] * origins.norm(dim=1, keepdim=True)  # the middle pixel's ray: the origin
    torch.testing.assert_close(centre, torch.zeros_like(centre), atol=1e-4, rtol=0)
    along = origins[:, None] + 1.3 * directions  # points on the rays project back onto their pixels
    uv_rays, _ = project_points(along, R, T, K)
    grid = (2 * torch.arange(9) + 1) / 9 - 1
    v, u = torch.meshgrid(grid, grid, indexing="ij")
    torch.testing.assert_close(
        uv_rays, torch.stack([u.flatten(), v.flatten()], -1).expand_as(uv_rays), atol=1e-4, rtol=0
    )


def test_rays_follow_a_zoomed_and_shifted_image():
    """After training.augment's zoom and shift (K becomes ndc_map @ K, an offset in K02, K12), the
    rays still go through the pixels the points project to: the silhouette loss reads the mask
    where the image shows the object."""
    R, T, K = r2n2_batch(VIEWS)
    ndc_map = torch.eye(4).repeat(len(VIEWS), 1, 1)
    ndc_map[:, 0, 0] = ndc_map[:, 1, 1] = torch.tensor([0.9, 1.1, 1.0, 0.95])
    ndc_map[:, :2, 3] = torch.tensor([[0.06, -0.04], [-0.05, 0.0], [0.0, 0.06], [0.03, 0.03]])
    K = ndc_map @ K
    origins, directions = camera_rays(R, T, K, 9)
    uv_rays, _ = project_points(origins[:, None] + 1.3 * directions, R, T, K)
    grid = (2 * torch.arange(9) + 1) / 9 - 1
    v, u = torch.meshgrid(grid, grid, indexing="ij")
    torch.testing.assert_close(
        uv_rays, torch.stack([u.flatten(), v.flatten()], -1).expand_as(uv_rays), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("n_bins", [24, 72])
def test_azimuth_bins(n_bins):
    centres = azimuth_bins(n_bins)
    assert torch.equal(azimuth_bin(centres, n_bins), torch.arange(n_bins))
    assert azimuth_bin(torch.tensor([359.999, 360.0, -0.001]), n_bins).tolist() == [n_bins - 1, 0, n_bins - 1]
