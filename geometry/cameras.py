"""R2N2's cameras as PyTorch3D sees them: their parameters, object-frame points projected into the image, rays.

    azim, elev, dist = camera_parameters(R, T)           # (B,) each: PyTorch3D's look-at angles
    R, T = cameras_from_parameters(azim, elev, dist)      # back, through look_at_view_transform
    uv, depth = project_points(points, R, T, K)           # (B, P, 2) in grid_sample's [-1, 1], (B, P)

An R2N2 camera (`r2n2.formats.r2n2_camera`: x_view = x_object @ R + T, R2N2's intrinsics K) looks
at the origin from distance dist_ratio * 1.75 with no roll: it is PyTorch3D's
`look_at_view_transform(dist, elev, 90 - azim)` of the metadata's azim and elev (tests pin it).
Images are read as PyTorch3D draws them: NDC +x left, +y up, pixel centre i at 1 - (2 i + 1) / S;
`grid_sample`'s x goes right and y down, so uv = -NDC, at any image resolution.
"""

import torch


def camera_parameters(R: torch.Tensor, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(azim, elev, dist), (B,) each, of look-at cameras R (B, 3, 3), T (B, 3): the camera centre
    C = -T R^T in the object frame is dist (cos elev sin azim, sin elev, cos elev cos azim), angles
    in degrees (PyTorch3D's `look_at_view_transform` convention)."""
    centre = -(T[:, None] @ R.transpose(1, 2))[:, 0]  # (B, 3)
    dist = centre.norm(dim=1)
    elev = torch.rad2deg(torch.asin((centre[:, 1] / dist.clamp_min(1e-9)).clamp(-1, 1)))
    azim = torch.rad2deg(torch.atan2(centre[:, 0], centre[:, 2])) % 360
    return azim, elev, dist


def cameras_from_parameters(azim, elev, dist) -> tuple[torch.Tensor, torch.Tensor]:
    """R (B, 3, 3), T (B, 3) of look-at cameras from (B,) azim, elev (degrees) and dist."""
    from pytorch3d.renderer import look_at_view_transform

    R, T = look_at_view_transform(dist=dist, elev=elev, azim=azim, device=dist.device)
    return R.to(dist.dtype), T.to(dist.dtype)


def project_points(points: torch.Tensor, R: torch.Tensor, T: torch.Tensor, K: torch.Tensor):
    """Object-frame points (B, P, 3) seen by cameras (R (B, 3, 3), T (B, 3), K (B, 4, 4)): uv (B, P, 2)
    in `grid_sample`'s coordinates (x right, y down, [-1, 1] across the image, at any resolution)
    and depth (B, P), the distance along the view axis, in float32."""
    view = points.float() @ R.float() + T.float()[:, None]  # (B, P, 3)
    K = K.float()
    # [view, 1] @ K^T, only the rows used (x, y and w), without building the homogeneous points.
    xy = view @ K[:, :2, :3].transpose(1, 2) + K[:, None, :2, 3]  # (B, P, 2)
    w = view @ K[:, 3, :3, None] + K[:, None, 3, 3:]  # (B, P, 1)
    return -xy / w.clamp_min(1e-6), view[..., 2]


def camera_rays(R: torch.Tensor, T: torch.Tensor, K: torch.Tensor, size: int):
    """Rays through the pixel centres of a size x size image: origins (B, 3), the cameras' centres,
    and unit directions (B, size * size, 3), both in the object frame, pixels row by row (the
    order of an image's flatten)."""
    B = len(R)
    centres = (2 * torch.arange(size, device=R.device, dtype=torch.float32) + 1) / size - 1  # grid_sample's u
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    ndc = -torch.stack([u.flatten(), v.flatten()], -1)  # (P, 2)
    # x_ndc = (K00 x + K02 z) / z, y_ndc likewise (w = z, no skew): R2N2's K has no offset K02, K12,
    # but a zoom or shift of the image (training.augment) puts one there. A direction in view space:
    focal = torch.stack([K[:, 0, 0], K[:, 1, 1]], -1).float()[:, None]  # (B, 1, 2)
    offset = torch.stack([K[:, 0, 2], K[:, 1, 2]], -1).float()[:, None]  # (B, 1, 2)
    view = torch.cat([(ndc[None] - offset) / focal, torch.ones(B, len(ndc), 1, device=R.device)], -1)
    directions = torch.nn.functional.normalize(view @ R.float().transpose(1, 2), dim=-1)  # x_object = x_view R^T
    origins = -(T.float()[:, None] @ R.float().transpose(1, 2))[:, 0]
    return origins, directions


def azimuth_bins(n_bins: int) -> torch.Tensor:
    """The centres (n_bins,) of n_bins equal azimuth bins over [0, 360) degrees."""
    return (torch.arange(n_bins) + 0.5) * (360.0 / n_bins)


def azimuth_bin(azim: torch.Tensor, n_bins: int) -> torch.Tensor:
    """The bin (B,) long of azimuths (B,) in degrees."""
    return ((azim % 360) / (360.0 / n_bins)).floor().long().clamp(0, n_bins - 1)


def rotation_y(angles: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) rotations by angles (N,) degrees about the object's up axis y, acting on row vectors
    (p @ R)."""
    c, s = torch.cos(torch.deg2rad(angles)), torch.sin(torch.deg2rad(angles))
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([c, zero, -s, zero, one, zero, s, zero, c], -1).view(-1, 3, 3)


@torch.no_grad()
def azimuth_self_overlap(voxels: torch.Tensor, n_bins: int, resolution: int = 32) -> torch.Tensor:
    """How much each shape looks like itself turned about its up axis by each multiple of a bin:
    (B, D, D, D) [z, y, x] {0, 1} grids -> (B, n_bins) IoU of the grid (max-pooled to resolution^3)
    with itself turned by k * 360 / n_bins degrees. A chair is itself only at 0; a rectangular table
    at 0 and 180 degrees too; a round stool everywhere: the views a camera head cannot tell apart
    (the shape-aware target of `losses.camera_loss`)."""
    from geometry.view_frame import resample_grid

    B, D = voxels.shape[:2]
    grids = torch.nn.functional.max_pool3d(voxels[:, None].float(), D // resolution)[:, 0]  # (B, r, r, r)
    turns = rotation_y(azimuth_bins(n_bins) - 180.0 / n_bins)  # (n_bins, 3, 3): k * bin width
    turned = resample_grid(grids.repeat_interleave(n_bins, 0), turns.to(voxels.device).repeat(B, 1, 1)) >= 0.5
    turned = turned.view(B, n_bins, -1)
    solid = (grids >= 0.5).view(B, 1, -1)
    inter = (turned & solid).sum(-1).float()
    union = (turned | solid).sum(-1).float().clamp_min(1)
    return inter / union
