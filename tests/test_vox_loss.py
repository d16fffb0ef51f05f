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
