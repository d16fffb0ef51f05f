"""Silhouettes of shapes seen from an input view's camera, and their IoU with the input's mask.

    silhouettes = mesh_silhouettes(meshes, R, T, K)              # (B, 137, 137) bool
    silhouettes = point_silhouettes(points, lengths, R, T, K)
    iou = silhouette_iou(silhouettes, masks)                      # (B,) float

Cameras are R2N2's (`r2n2.formats.r2n2_camera`): x_view = x_object @ R + T, then R2N2's fixed
intrinsics K, in PyTorch3D's conventions (+x left, +y up in NDC), the cameras both the real R2N2
renderings and the embedded ones were drawn with; a pixel is covered when its centre is, as
PyTorch3D's rasterizer decides. Triangles are filled with OpenCV at 4x4 sub-pixels per pixel and
a pixel kept when half of them are covered: PyTorch3D's rasterizer draws the same silhouette
(tests/test_silhouette.py) but takes 0.3-2 s per image on a CPU, this 5-50 ms.
"""

import cv2
import numpy as np
import torch

from r2n2.formats import IMAGE_SIZE

SUPERSAMPLE = 4  # sub-pixels per pixel side
POINT_RADIUS = 1.0  # pixels a point of a cloud covers around it, as a disk


def project(points: torch.Tensor, R: torch.Tensor, T: torch.Tensor, K: torch.Tensor, size: int) -> np.ndarray:
    """Object-frame points (N, 3) -> (N, 2) continuous pixel coordinates (column, row) of a size x
    size view, pixel (i, j)'s centre at (i + 0.5, j + 0.5): PyTorch3D puts pixel centre i at NDC
    1 - (2 i + 1) / size on both axes (+x left, +y up)."""
    view = points.float() @ R.float() + T.float()
    clip = torch.cat([view, torch.ones(len(view), 1, device=view.device)], 1) @ K.float().T
    ndc = clip[:, :2] / clip[:, 3:].clamp_min(1e-6)
    return ((1 - ndc) * size / 2).cpu().numpy()


def fill_triangles(pixels: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: the pixels whose centres the projected triangles cover (4x4 sub-pixels,
    at least half covered)."""
    fine = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), np.uint8)
    # Sub-pixel j's centre is at (j + 0.5) / SUPERSAMPLE in pixels; OpenCV's pixel j is centred on j.
    corners = np.round((pixels * SUPERSAMPLE - 0.5) * 256).astype(np.int64)  # 8 fractional bits
    corners = np.clip(corners, -(2**30), 2**30).astype(np.int32)
    for triangle in corners[faces]:
        cv2.fillConvexPoly(fine, triangle, 1, lineType=cv2.LINE_8, shift=8)
    coarse = cv2.resize(fine.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return coarse >= 0.5


@torch.no_grad()
def mesh_silhouettes(meshes, R: torch.Tensor, T: torch.Tensor, K: torch.Tensor, size: int = IMAGE_SIZE):
    """The silhouettes (B, size, size) bool of a Meshes batch (object frame) seen by B cameras
    (R (B, 3, 3), T (B, 3), K (B, 4, 4)); an empty mesh has an empty silhouette."""
    out = np.zeros((len(meshes), size, size), bool)
    for i, (verts, faces) in enumerate(zip(meshes.verts_list(), meshes.faces_list())):
        if len(faces) and torch.isfinite(verts).all():
            out[i] = fill_triangles(project(verts, R[i], T[i], K[i], size), faces.cpu().numpy(), size)
    return torch.from_numpy(out)


@torch.no_grad()
def point_silhouettes(points, lengths, R, T, K, size: int = IMAGE_SIZE, radius: float = POINT_RADIUS):
    """The silhouettes (B, size, size) bool of point clouds (B, N, 3) (the first lengths[b] points
    of each), each point a disk of `radius` pixels."""
    out = np.zeros((len(points), size, size), bool)
    fine_radius = max(1, round(radius * SUPERSAMPLE))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * fine_radius + 1, 2 * fine_radius + 1))
    for i in range(len(points)):
        cloud = points[i, : int(lengths[i])]
        if not len(cloud) or not torch.isfinite(cloud).all():
            continue
        fine_pixels = np.floor(project(cloud, R[i], T[i], K[i], size) * SUPERSAMPLE).astype(np.int64)
        inside = ((fine_pixels >= 0) & (fine_pixels < size * SUPERSAMPLE)).all(1)
        fine = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), np.uint8)
        fine[fine_pixels[inside, 1], fine_pixels[inside, 0]] = 1
        fine = cv2.dilate(fine, disk)
        out[i] = cv2.resize(fine.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) >= 0.5
    return torch.from_numpy(out)


@torch.no_grad()
def silhouette_iou(silhouettes: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """IoU (B,) of (B, H, W) silhouettes with (B, H, W) masks (both bool); 1 where both are empty."""
    a, b = silhouettes.bool().flatten(1).cpu(), masks.bool().flatten(1).cpu()
    intersection, union = (a & b).sum(1).float(), (a | b).sum(1).float()
    return torch.where(union > 0, intersection / union.clamp_min(1), torch.ones_like(union))
