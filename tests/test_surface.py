"""networks/surface.py: the visible-surface head and what a point reads from it, against naive references."""

from functools import partial

import torch

from geometry.cameras import camera_rays, cameras_from_parameters
from networks.encoder import Encoding, ImageEncoder
from networks.pixel_aligned import grid_features
from networks.surface import SurfaceHead, surface_features

R2N2_K = torch.tensor([[2.1875, 0, 0, 0], [0, 2.1875, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])


def views(azim: list, elev: list, dist: float = 1.3) -> tuple:
    """(R, T, K) of look-at cameras at these angles, R2N2's intrinsics."""
    R, T = cameras_from_parameters(torch.tensor(azim), torch.tensor(elev), torch.full((len(azim),), dist))
    return R, T, R2N2_K.expand(len(azim), 4, 4)


def test_the_head_predicts_at_layer1s_resolution():
    """(B, 2, S, S) with S the side of the encoder's layer1 map, at any image size."""
    head = SurfaceHead()
    for size in (64, 128, 137):
        encoding = ImageEncoder("resnet18", size)(torch.rand(2, size, size, 3), return_maps=True)
        side = encoding.maps["layer1"].shape[-1]
        assert head(encoding).shape == (2, 2, side, side)


def test_a_point_reads_its_depth_against_the_surface_at_its_pixel():
    """Points placed on the rays through pixel centres, at known depths: each reads its own depth
    along the view axis minus the map's depth at that pixel (2 (z - |T|) units) and the sigmoid of
    the map's coverage logit there; a point outside the image reads coverage 0."""
    torch.manual_seed(0)
    size = 8
    R, T, K = views([30.0, 200.0], [20.0, 5.0])
    surface = torch.randn(2, 2, size, size)
    origins, directions = camera_rays(R, T, K, size)  # (B, 3), (B, 64, 3)
    along = 1.0 + 0.6 * torch.rand(2, size * size)  # distance along each ray
    points = origins[:, None] + directions * along[..., None]  # (B, 64, 3)
    encoding = Encoding(torch.zeros(2, 512), None, {})
    encoding.cameras = (R, T, K)
    features = surface_features(surface, encoding, points)  # (B, 64, 2)
    for b in range(2):
        for pixel in range(size * size):
            z = (points[b, pixel] @ R[b] + T[b])[2]
            i, j = divmod(pixel, size)
            expected_depth = 2 * (z - T[b].norm()) - surface[b, 0, i, j]
            torch.testing.assert_close(features[b, pixel, 0], expected_depth, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(features[b, pixel, 1], torch.sigmoid(surface[b, 1, i, j]), atol=1e-4, rtol=1e-4)
    far_off = torch.tensor([[[5.0, 0.0, 0.0]], [[0.0, 5.0, 0.0]]])  # projects far outside the image
    assert surface_features(surface, encoding, far_off)[..., 1].abs().max() < 1e-6


def test_grid_features_are_the_cells_features_in_z_y_x_order():
    """grid_features of surface_features: cell [z, y, x] holds surface_features at that cell's centre (x, y, z)."""
    from geometry.grids import grid_centres

    torch.manual_seed(1)
    encoding = Encoding(torch.zeros(1, 512), None, {})
    encoding.cameras = views([45.0], [25.0])
    surface = torch.randn(1, 2, 16, 16)
    volume = grid_features(partial(surface_features, surface), encoding, 4)  # (1, 2, 4, 4, 4)
    centres = grid_centres(4, "cpu").view(4, 4, 4, 3)
    for z, y, x in [(0, 0, 0), (3, 1, 2), (1, 3, 0)]:
        point = centres[z, y, x]
        assert torch.allclose(
            point, torch.tensor([(2 * x + 1) / 8 - 0.5, (2 * y + 1) / 8 - 0.5, (2 * z + 1) / 8 - 0.5])
        )
        expected = surface_features(surface, encoding, point.view(1, 1, 3))[0, 0]
        torch.testing.assert_close(volume[0, :, z, y, x], expected)


def test_a_point_on_the_gt_surface_reads_zero_against_the_gt_surface_in_both_frames():
    """The two conventions meet: with the surface map set to the GT grid's own (`grid_surface`), the
    points the map puts on each hit pixel's ray read depth ~0 against it and coverage ~1, with the
    object-frame camera and with the viewer frame's (the grid turned by R, R = I, T = (0, 0, |T|))."""
    from geometry.view_frame import viewer_cameras, voxels_to_viewer
    from representations.vox.loss import grid_surface

    grid = torch.zeros(2, 32, 32, 32)
    grid[:, 6:26, 4:20, 8:28] = 1
    R, T, K = views([35.0, 160.0], [25.0, 10.0])
    size = 16
    for frame in ("object", "viewer"):
        cameras = (R, T, K) if frame == "object" else viewer_cameras(T, K)
        voxels = grid if frame == "object" else voxels_to_viewer(grid, R)[0]
        depth, hit = grid_surface(voxels, *cameras, size)
        surface = torch.stack([depth, (hit.float() * 2 - 1) * 10], 1)
        origins, directions = camera_rays(*cameras, size)
        # From the camera's centre, z grows by (d R)_z per unit along a ray; the map says z = T_z + depth / 2.
        z_rate = (directions @ cameras[0])[..., 2]  # (B, P)
        along = (cameras[1][:, None, 2] + depth.flatten(1) / 2) / z_rate
        points = origins[:, None] + directions * along[..., None]
        encoding = Encoding(torch.zeros(2, 512), None, {})
        encoding.cameras = cameras
        features = surface_features(surface, encoding, points)  # (B, P, 2)
        inside = hit.flatten(1)
        assert inside.sum() > 50
        assert features[..., 0][inside].abs().max() < 1e-3, frame
        assert features[..., 1][inside].min() > 0.99, frame
