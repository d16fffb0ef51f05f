"""The occupancy type's training targets: labels at query points, exact where the data has them.

points, labels = occupancy_targets(voxels_gt, n_queries, generator)            # read off the 32^3 grid
points, labels = exact_occupancy_targets(occ_points, occ_labels, n_queries, generator)   # points.npz's
"""

import torch
import torch.nn.functional as F


def occupancy_targets(
    voxels_gt: torch.Tensor, points_gt: torch.Tensor, n_queries: int, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query points and 0/1 labels for occupancy training.

    Half the queries are uniform in [-0.5, 0.5]^3, half are surface samples jittered by
    N(0, 0.03^2) (Occupancy Networks: near-surface samples carry the detail). Labels come from the
    GT solid, the 32^3 voxel grid, by trilinear interpolation thresholded at 0.5: the same
    0.5 iso-surface that marching cubes extracts from the GT voxels.

    voxels_gt: (B, D, H, W) [z, y, x]; points_gt: (B, S, 3). Returns (B, P, 3), (B, P).
    """
    B = voxels_gt.shape[0]
    device = voxels_gt.device
    n_uniform = n_queries // 2
    uniform = torch.rand(B, n_uniform, 3, device=device, generator=generator) - 0.5
    pick = torch.randint(points_gt.shape[1], (B, n_queries - n_uniform), device=device, generator=generator)
    near = torch.gather(points_gt, 1, pick[..., None].expand(-1, -1, 3))
    near = near + 0.03 * torch.randn(near.shape, device=device, generator=generator)
    queries = torch.cat([uniform, near], dim=1).clamp(-0.5, 0.5)
    # grid_sample reads grid (x, y, z) in [-1, 1] against (D, H, W) = (z, y, x); align_corners=False
    # puts -1 and 1 on the outer faces of the cube, as our voxel centres assume.
    occupancy = F.grid_sample(voxels_gt[:, None], 2 * queries[:, :, None, None], mode="bilinear", align_corners=False)
    return queries, (occupancy.view(B, -1) >= 0.5).float()


def exact_occupancy_targets(
    occ_points: torch.Tensor, occ_labels: torch.Tensor, n_queries: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """n_queries of each item's stored exact queries (points.npz: uniform and near-surface
    points labelled by the true solid), drawn at random. occ_points (B, Q, 3), occ_labels
    (B, Q) bool -> (B, n_queries, 3), (B, n_queries) float."""
    B, Q, _ = occ_points.shape
    pick = torch.randint(Q, (B, n_queries), device=occ_points.device)
    queries = torch.gather(occ_points, 1, pick[..., None].expand(-1, -1, 3))
    return queries, torch.gather(occ_labels, 1, pick).float()
