"""R2N2-style renderings of a mesh: 137x137 RGBA views through the R2N2 cameras, with per-part materials.

    rgba = render_views(verts, faces, normals, part_index, table, Rs, Ts, lights)   # (V, 137, 137, 4) uint8

The embedded dataset's images come from here. Cameras are `r2n2.r2n2_camera`'s, rasterized with
PyTorch3D's `BlenderCamera` and R2N2's fixed intrinsics, so a mesh drawn here lines up with the
alpha mask exactly as a real R2N2 rendering does with its model. Shading is ours (PyTorch3D's
shaders take one texture per mesh): every covered pixel gets its object-frame position, the
interpolated analytic normal and its part, the part's material (`materials.surface`) gives the
albedo, and Blinn-Phong with a key and a fill light, an ambient term and, for metals, an
environment reflection make the R2N2 look: soft light, specular highlights, no shadows or ground.
Only the window of pixels a mesh projects into is rasterized (PyTorch3D rasterizes every pixel
against every face on the CPU), with the intrinsics adjusted so the pixel centres are the full
view's.
"""

from dataclasses import dataclass

import numpy as np
import torch

from r2n2.formats import IMAGE_SIZE, R2N2_K

from .materials import surface

SKY, HORIZON, FLOOR = torch.tensor([0.8, 0.84, 0.9]), torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.3, 0.28, 0.26])


@dataclass
class Lighting:
    """One view's lights. Directions point towards the light, in PyTorch3D view space (+y up,
    -z towards the camera)."""

    ambient: float
    key: float
    key_dir: tuple
    fill: float
    fill_dir: tuple


def sample_lighting(rng) -> Lighting:
    """Soft studio light from the camera's side: a key light above, a weaker fill on the other side."""
    side = 1 if rng.random() < 0.5 else -1
    return Lighting(
        ambient=rng.uniform(0.3, 0.5),
        key=rng.uniform(0.5, 0.8),
        key_dir=(side * rng.uniform(0.1, 0.8), rng.uniform(0.3, 1.0), -1.0),
        fill=rng.uniform(0.15, 0.35),
        fill_dir=(-side * rng.uniform(0.3, 1.0), rng.uniform(-0.2, 0.4), -1.0),
    )


def environment(directions: torch.Tensor) -> torch.Tensor:
    """What a mirror sees along unit directions (M, 3), object frame: floor below, a bright
    horizon, sky above."""
    y = directions[:, 1:2]
    up = torch.clamp(y / 0.6, 0, 1)
    down = torch.clamp(-y / 0.15, 0, 1)
    return (1 - up) * (1 - down) * HORIZON + up * SKY + down * FLOOR


def shade(albedo, specular, shininess, mirror, normals, to_camera, lights: Lighting, R: torch.Tensor) -> torch.Tensor:
    """Blinn-Phong colour (M, 3) of surface points with unit normals and unit directions to the
    camera (M, 3), object frame; R (3, 3) the view's rotation (x_view = x_object @ R)."""
    normals = torch.where((normals * to_camera).sum(1, keepdim=True) < 0, -normals, normals)  # two-sided
    colour = lights.ambient * albedo
    highlight = torch.zeros_like(albedo[:, 0])
    for strength, direction in ((lights.key, lights.key_dir), (lights.fill, lights.fill_dir)):
        to_light = torch.nn.functional.normalize(R @ torch.tensor(direction, dtype=torch.float32), dim=0)
        colour = colour + strength * (normals @ to_light).clamp_min(0)[:, None] * albedo
        half = torch.nn.functional.normalize(to_light[None] + to_camera, dim=1)
        highlight = highlight + strength * (normals * half).sum(1).clamp_min(0) ** shininess
    reflected = 2 * (normals * to_camera).sum(1, keepdim=True) * normals - to_camera
    colour = (1 - mirror[:, None]) * colour + mirror[:, None] * environment(reflected) * (0.5 + 0.5 * albedo)
    return (colour + specular[:, None] * highlight[:, None]).clamp(0, 1)


def screen_window(verts: torch.Tensor, R: torch.Tensor, T: torch.Tensor, size: int) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1): the pixels of a size x size R2N2 view that the mesh can cover
    (its projected bounding box, a pixel of margin), in PyTorch3D's pixel order."""
    clip = torch.cat([verts @ R + T, torch.ones(len(verts), 1)], 1) @ R2N2_K.T
    ndc = clip[:, :2] / clip[:, 3:]
    cols, rows = (
        (size - 1 - size * ndc[:, 0]) / 2,
        (size - 1 - size * ndc[:, 1]) / 2,
    )  # pixel centre i is at ndc 1 - (2i + 1) / size
    row0, row1 = max(int(rows.min().floor()) - 1, 0), min(int(rows.max().ceil()) + 2, size)
    col0, col1 = max(int(cols.min().floor()) - 1, 0), min(int(cols.max().ceil()) + 2, size)
    return row0, max(row1, row0 + 1), col0, max(col1, col0 + 1)


def window_intrinsics(size: int, row0: int, row1: int, col0: int, col1: int) -> torch.Tensor:
    """R2N2's K (4, 4) followed by the NDC map that makes a (row1 - row0) x (col1 - col0) image
    show exactly those pixels of the size x size view, at the same pixel centres.

    PyTorch3D puts pixel centre j of a w-wide image at NDC (w - 2j - 1) / min(h, w) (the short
    side spans [-1, 1]); solving for a scale and shift that map the window's centres onto the
    full view's gives them."""
    h, w = row1 - row0, col1 - col0
    scale = size / min(h, w)
    cx, cy = (size - 2 * col0 - w) / size, (size - 2 * row0 - h) / size
    ndc_map = torch.tensor([[scale, 0, 0, -scale * cx], [0, scale, 0, -scale * cy], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    return ndc_map @ R2N2_K


def rasterize_view(verts, faces, R, T, size: int):
    """pix_to_face (S, S) long (-1: background) and bary_coords (S, S, 3) of one R2N2 view.

    PyTorch3D rasterizes naively on the CPU (every pixel tests every face), so only the window
    the mesh projects into is rasterized (`screen_window`): the same pixels, 2-3x fewer tests."""
    from pytorch3d.datasets.r2n2.utils import BlenderCamera
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    row0, row1, col0, col1 = screen_window(verts, R, T, size)
    cameras = BlenderCamera(R=R[None], T=T[None], K=window_intrinsics(size, row0, row1, col0, col1)[None])
    fragments = MeshRasterizer(
        cameras=cameras, raster_settings=RasterizationSettings(image_size=(row1 - row0, col1 - col0))
    )(Meshes([verts], [faces]))
    pix_to_face = torch.full((size, size), -1, dtype=torch.long)
    bary = torch.zeros(size, size, 3)
    pix_to_face[row0:row1, col0:col1] = fragments.pix_to_face[0, ..., 0]
    bary[row0:row1, col0:col1] = fragments.bary_coords[0, ..., 0, :]
    return pix_to_face, bary


@torch.no_grad()
def render_views(
    verts,
    faces,
    normals,
    part_index,
    table: dict,
    Rs: torch.Tensor,
    Ts: torch.Tensor,
    lights: list[Lighting],
    image_size: int = IMAGE_SIZE,
    supersample: int = 1,
) -> np.ndarray:
    """Render one mesh from V R2N2 cameras.

    verts (N, 3), faces (F, 3), normals (N, 3) unit, part_index (N,) (the material row of each
    vertex, `materials.material_table`); Rs (V, 3, 3), Ts (V, 3); one Lighting per view.
    supersample > 1 renders at that many times the size and averages down (antialiased edges,
    supersample^2 times the cost). Returns (V, S, S, 4) uint8 RGBA, transparent background,
    S = image_size.
    """
    verts = torch.as_tensor(verts, dtype=torch.float32)
    faces = torch.as_tensor(faces, dtype=torch.int64)
    normals = torch.as_tensor(normals, dtype=torch.float32)
    face_part = torch.as_tensor(part_index, dtype=torch.int64)[faces[:, 0]]  # every face lies on one part
    size = image_size * supersample
    images = []
    for R, T, lighting in zip(Rs, Ts, lights):
        pix_to_face, bary = rasterize_view(verts, faces, R, T, size)
        covered = pix_to_face >= 0
        face = pix_to_face[covered]
        corners = faces[face]  # (M, 3)
        weights = bary[covered][..., None]  # (M, 3, 1)
        positions = (weights * verts[corners]).sum(1)
        pixel_normals = torch.nn.functional.normalize((weights * normals[corners]).sum(1), dim=1)
        centre = -T @ R.T  # the camera centre in the object frame: x_view = x @ R + T vanishes there
        to_camera = torch.nn.functional.normalize(centre - positions, dim=1)
        albedo, specular, shininess, mirror = surface(table, face_part[face], positions)
        rgba = torch.zeros(size, size, 4)
        rgba[..., :3] = (
            1.0  # white under the transparent background, as R2N2's PNGs (readers that drop alpha see white)
        )
        rgba[covered] = torch.cat(
            [
                shade(albedo, specular, shininess, mirror, pixel_normals, to_camera, lighting, R),
                torch.ones(len(face), 1),
            ],
            1,
        )
        images.append(rgba)
    rgba = torch.stack(images)
    if supersample > 1:  # average colour over covered sub-pixels, alpha = coverage
        premultiplied = torch.cat([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], -1).permute(0, 3, 1, 2)
        pooled = torch.nn.functional.avg_pool2d(premultiplied, supersample).permute(0, 2, 3, 1)
        alpha = pooled[..., 3:]
        rgba = torch.cat(
            [torch.where(alpha > 0, pooled[..., :3] / alpha.clamp_min(1e-6), torch.ones_like(pooled[..., :3])), alpha],
            -1,
        )
    return (rgba.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
