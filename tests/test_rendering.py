import numpy as np
import torch

from procedural.materials import make_material, material_table
from procedural.parts import box
from procedural.rendering import Lighting, rasterize_view, render_views, screen_window, window_intrinsics
from procedural.shapes import normalize_parts, parts_to_mesh
from r2n2.formats import R2N2_K, r2n2_camera

LIGHT = Lighting(ambient=0.4, key=0.6, key_dir=(0.3, 0.8, -1.0), fill=0.2, fill_dir=(-0.5, 0.1, -1.0))


def shape():
    parts = normalize_parts(
        [
            box(-0.3, 0.3, 0.4, 0.45, -0.25, 0.25),
            box(-0.3, 0.3, 0.45, 0.9, -0.25, -0.2),
            box(-0.3, -0.25, 0, 0.4, -0.25, -0.2),
        ]
    )
    return parts_to_mesh(parts)


def test_windowed_rasterization_is_the_full_view_rasterized():
    """Rasterizing only the projected window gives exactly the full view's pixels."""
    from pytorch3d.datasets.r2n2.utils import BlenderCamera
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    mesh = shape()
    verts, faces = torch.tensor(mesh.verts, dtype=torch.float32), torch.tensor(mesh.faces)
    for azim, elev, dist in ((30.0, 25.0, 0.7), (200.0, 30.0, 0.9)):
        R, T = r2n2_camera(azim, elev, dist)
        full = MeshRasterizer(
            cameras=BlenderCamera(R=R[None], T=T[None], K=R2N2_K[None]),
            raster_settings=RasterizationSettings(image_size=137),
        )(Meshes([verts], [faces])).pix_to_face[0, ..., 0]
        ours, _ = rasterize_view(verts, faces, R, T, 137)
        assert torch.equal(ours, full)
        row0, row1, col0, col1 = screen_window(verts, R, T, 137)
        assert (row1 - row0) * (col1 - col0) < 0.8 * 137 * 137  # the point of it: fewer pixels
    torch.testing.assert_close(window_intrinsics(137, 0, 137, 0, 137), R2N2_K)  # the whole view: R2N2's own K


def test_render_views_gives_rgba_on_a_white_transparent_background():
    mesh = shape()
    rng = np.random.default_rng(0)
    table = material_table([make_material(kind, rng, (1, 0, 0), (0, 0, 0)) for kind in ("wood", "fabric", "chrome")])
    cameras = [r2n2_camera(a, 27.0, 0.8) for a in (10.0, 130.0)]
    Rs, Ts = torch.stack([c[0] for c in cameras]), torch.stack([c[1] for c in cameras])
    rgba = render_views(mesh.verts, mesh.faces, mesh.normals, mesh.part_index, table, Rs, Ts, [LIGHT, LIGHT])
    assert rgba.shape == (2, 137, 137, 4) and rgba.dtype == np.uint8
    alpha = rgba[..., 3]
    assert set(np.unique(alpha)) <= {0, 255} and 0.05 < (alpha == 255).mean() < 0.8
    assert (rgba[alpha == 0][:, :3] == 255).all()
    assert rgba[alpha == 255][:, :3].std() > 5  # shaded, not flat
    smooth = render_views(
        mesh.verts, mesh.faces, mesh.normals, mesh.part_index, table, Rs[:1], Ts[:1], [LIGHT], supersample=2
    )
    assert ((smooth[..., 3] > 0) & (smooth[..., 3] < 255)).any()  # antialiased edges on request
