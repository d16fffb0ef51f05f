"""Rod-like cells of a voxel grid: the legs, rails, stretchers and spindles that plates do not cover.

    rods = thin_cells(voxels_gt)          # (B, 32, 32, 32) {0, 1} -> (B, 32, 32, 32) bool

Shared by the thin loss that trains on them (`vox.loss.thin_loss`) and the thin_recall metric that
scores them (`evaluation.metrics.thin_recall`). Grids are [z, y, x] (`r2n2/formats.py`).
"""

import torch

from geometry.grids import ISO


def _opening_with_square(occupied: torch.Tensor, kernel: tuple[int, int, int]) -> torch.Tensor:
    """Binary opening of (B, D, H, W) {0, 1} grids by one 3x3x1 square: an erosion (outside the
    grid counts as empty) then a dilation. Returns (B, D, H, W) float."""
    pad = [k // 2 for k in reversed(kernel) for _ in range(2)]  # F.pad's order: last axis first
    empty_outside = torch.nn.functional.pad(occupied[:, None], pad, value=0.0)
    eroded = -torch.nn.functional.max_pool3d(-empty_outside, kernel, stride=1)  # min over the square
    return torch.nn.functional.max_pool3d(eroded, kernel, stride=1, padding=tuple(k // 2 for k in kernel))[:, 0]


@torch.no_grad()
def thin_cells(voxels_gt: torch.Tensor) -> torch.Tensor:
    """The rod-like cells of GT grids: (B, D, H, W) {0, 1} -> (B, D, H, W) bool.

    A cell is rod-like (a leg, rail, stretcher, spindle or thin arm) when it is occupied and no
    axis-aligned 3x3 square of occupied cells covers it, i.e. the binary opening with each of the
    three 3x3x1 squares removes it. A plate (seat, back, top) keeps a square in its own plane and
    a thick solid one in every plane, so neither is thin. From the grid alone: the same number runs
    on R2N2's own voxels."""
    if voxels_gt.dim() != 4:
        raise ValueError(f"voxels_gt must be (B, D, H, W), got shape {tuple(voxels_gt.shape)}")
    occupied = (voxels_gt >= ISO).float()
    covered = torch.zeros_like(occupied, dtype=torch.bool)
    for kernel in ((1, 3, 3), (3, 1, 3), (3, 3, 1)):  # squares in the (y, x), (z, x) and (z, y) planes
        covered |= _opening_with_square(occupied, kernel) > 0.5
    return occupied.bool() & ~covered
