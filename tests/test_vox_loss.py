"""The vox type's own loss terms (representations/vox/loss.py), each against its formula or a naive reference."""

import math

import pytest
import torch


def test_dice_loss_matches_its_formula_and_is_zero_for_a_perfect_prediction():
    from representations.vox.loss import dice_loss

    torch.manual_seed(0)
    logits, target = torch.randn(2, 8, 8, 8), (torch.rand(2, 8, 8, 8) > 0.7).float()
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    naive = (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()
    torch.testing.assert_close(dice_loss(logits, target), naive)
    assert dice_loss(torch.full((1, 4, 4, 4), 40.0), torch.ones(1, 4, 4, 4)) < 1e-6
    assert dice_loss(torch.full((1, 4, 4, 4), -40.0), torch.zeros(1, 4, 4, 4)) < 1e-6


def test_coarse_targets_keep_a_cell_any_part_reaches():
    from representations.vox.loss import pool_voxels

    grid = torch.zeros(1, 32, 32, 32)
    grid[0, 5, 9, 30] = 1
    coarse = pool_voxels(grid, 8)
    assert coarse.shape == (1, 8, 8, 8) and coarse.sum() == 1 and coarse[0, 1, 2, 7] == 1


def test_thin_loss_weighs_the_rods_and_the_empty_cells_beside_them():
    """A leg's cells should be occupied and its empty neighbours empty; the top's cells and cells
    far from any rod do not count; a batch without rods gives 0 with a gradient."""
    from representations.vox.loss import thin_loss

    grid = torch.zeros(1, 32, 32, 32)
    grid[0, 8:24, 20:22, 6:26] = 1  # a top two cells thick
    grid[0, 8, 5:20, 6] = 1  # one leg of 15 cells, y 5-19, at z 8, x 6
    logits = torch.zeros(1, 32, 32, 32, requires_grad=True)
    loss = thin_loss(logits, grid)
    loss.backward()
    assert loss.item() == pytest.approx(2 * math.log(2))  # log 2 for the rods, log 2 for the ring
    assert (logits.grad[0, 8, 5:20, 6] < 0).all()  # push the leg up
    assert (logits.grad[0, 7, 10, 5:8] > 0).all() and (logits.grad[0, 9, 10, 6] > 0)  # and its sides down
    assert logits.grad[0, 16, 21, 16] == 0 and logits.grad[0, 30, 30, 30] == 0  # the top, far away: untouched
    solid = torch.zeros(1, 32, 32, 32)
    solid[0, 4:12, 4:12, 4:12] = 1
    empty = thin_loss(logits, solid)
    assert empty.item() == 0.0 and empty.requires_grad


def test_silhouette_loss_is_lowest_for_the_grid_the_mask_shows(tiny_root):
    """The GT grid seen from its view casts the mask (a low loss); the same grid shifted by four
    cells, or the view's mask against another view's grid, costs more; gradients reach the grid."""
    from dataset import R2N2Dataset, batch_to_device, collate_batch
    from representations.vox.loss import silhouette_loss

    dataset = R2N2Dataset(tiny_root, "train", quiet=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__(list(range(4)))), "cpu")
    logits = (batch["voxels"] * 2 - 1) * 8  # the GT grid as confident logits
    cameras = (batch["R"], batch["T"], batch["K"])
    right = silhouette_loss(logits, *cameras, batch["masks"])
    shifted = silhouette_loss(torch.roll(logits, 4, dims=3), *cameras, batch["masks"])
    assert right < 0.5 * shifted, (right, shifted)
    logits = logits.clone().requires_grad_(True)
    silhouette_loss(logits, *cameras, batch["masks"]).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def box_entry(origins: torch.Tensor, directions: torch.Tensor, low: torch.Tensor, high: torch.Tensor):
    """Naive ray-box intersection (the slab method), one ray at a time: the distance at which each ray
    (B, 3) origins, (B, P, 3) unit directions enters the box [low, high] (x, y, z), nan where it misses."""
    B, P = directions.shape[:2]
    entry = torch.full((B, P), float("nan"))
    for b in range(B):
        for p in range(P):
            t_near, t_far = -float("inf"), float("inf")
            for axis in range(3):
                o, d = origins[b, axis].item(), directions[b, p, axis].item()
                if abs(d) < 1e-12:
                    if not low[axis] <= o <= high[axis]:
                        t_near, t_far = 1.0, 0.0
                    continue
                t0, t1 = sorted(((low[axis] - o) / d, (high[axis] - o) / d))
                t_near, t_far = max(t_near, t0), min(t_far, t1)
            if t_near <= t_far:
                entry[b, p] = t_near
    return entry


def test_grid_surface_is_where_each_ray_first_enters_the_solid():
    """A box of whole cells seen from three views: the GT surface's hits are the rays that enter the
    box (a naive ray-box intersection; pixels whose ray grazes an edge may differ) and its depth is
    the entry point's along the view axis, in PixelAligned's units 2 (z - |T|), within a hundredth."""
    from geometry.cameras import camera_rays, cameras_from_parameters
    from representations.vox.loss import grid_surface

    grid = torch.zeros(1, 32, 32, 32)
    grid[:, 4:20, 0:10, 10:30] = 1  # [z, y, x]: x in [10, 30) / 32 - 0.5, ...
    low = torch.tensor([10, 0, 4]) / 32 - 0.5
    high = torch.tensor([30, 10, 20]) / 32 - 0.5
    R, T = cameras_from_parameters(
        torch.tensor([0.0, 130.0, 250.0]), torch.tensor([0.0, 30.0, 15.0]), torch.full((3,), 1.4)
    )
    K = torch.tensor([[2.1875, 0, 0, 0], [0, 2.1875, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]).expand(3, 4, 4)
    size = 24
    depth, hit = grid_surface(grid.expand(3, -1, -1, -1), R, T, K, size)
    origins, directions = camera_rays(R, T, K, size)
    entry = box_entry(origins, directions, low, high)  # (3, P)
    expected_hit = ~entry.isnan()
    assert (hit.flatten(1) == expected_hit).float().mean() > 0.97
    both = hit.flatten(1) & expected_hit
    assert both.sum() > 100
    points = origins[:, None] + directions * entry.nan_to_num()[..., None]
    z = (points @ R + T[:, None])[..., 2]
    expected_depth = 2 * (z - T.norm(dim=1, keepdim=True))
    errors = (depth.flatten(1) - expected_depth).abs()[both]
    assert torch.quantile(errors, 0.9) < 0.01 and errors.max() < 0.1, (torch.quantile(errors, 0.9), errors.max())
    assert depth.flatten(1)[~hit.flatten(1)].abs().max() == 0


def test_surface_loss_is_zero_at_the_gt_surface_and_reaches_the_head(tiny_root):
    """The GT grid's own surface as the prediction (its depth, its coverage as confident logits)
    costs no depth and little coverage (judged against the GT grid's hits without masks, and
    against the masks, which it matches better than their mirror image, with them); a surface
    shifted back costs its shift on the hit pixels; gradients reach both channels."""
    from dataset import R2N2Dataset, batch_to_device, collate_batch
    from representations.vox.loss import grid_surface, surface_loss

    dataset = R2N2Dataset(tiny_root, "train", quiet=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__(list(range(4)))), "cpu")
    cameras = (batch["R"], batch["T"], batch["K"])
    depth_gt, hit = grid_surface(batch["voxels"], *cameras, 16)
    surface = torch.stack([depth_gt, (hit.float() * 2 - 1) * 12], 1)  # (B, 2, 16, 16)
    coverage, depth = surface_loss(surface, batch["voxels"], *cameras)
    assert depth.abs() < 1e-6 and coverage < 1e-4
    _, shifted = surface_loss(surface + torch.tensor([0.2, 0.0])[None, :, None, None], batch["voxels"], *cameras)
    torch.testing.assert_close(shifted, torch.tensor(0.2))
    with_masks, _ = surface_loss(surface, batch["voxels"], *cameras, batch["masks"])
    mirrored, _ = surface_loss(surface, batch["voxels"], *cameras, batch["masks"].flip(-1))
    assert 0 < with_masks < 0.75 * mirrored  # the rendering's mask, not the grid's: close, not equal
    surface = surface.clone().requires_grad_(True)
    sum(surface_loss(surface * 0.5, batch["voxels"], *cameras, batch["masks"])).backward()
    assert surface.grad[:, 0].abs().sum() > 0 and surface.grad[:, 1].abs().sum() > 0
