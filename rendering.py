"""R2N2-style renderings of a mesh: 137x137 RGBA views through the R2N2 cameras.

    rgba = render_rgba(verts, faces, vert_colors, Rs, Ts, light_dirs, ambient=0.5)  # (V, 137, 137, 4)

The embedded dataset's images come from here. Cameras are `r2n2.r2n2_camera`'s, rendered with
PyTorch3D's `BlenderCamera` and R2N2's fixed intrinsics, so a mesh drawn here lines up with the
alpha mask exactly as a real R2N2 rendering does with its model.
"""

import numpy as np

from r2n2 import IMAGE_SIZE, R2N2_K


def render_rgba(verts, faces, vert_colors, Rs, Ts, light_dirs, ambient: float) -> np.ndarray:
    """Render one mesh from V R2N2 cameras.

    verts (V0, 3), faces (F, 3), vert_colors (V0, 3) in [0, 1]; Rs (V, 3, 3), Ts (V, 3),
    light_dirs (V, 3). Returns (V, 137, 137, 4) uint8 RGBA with a transparent background.
    """
    import torch
    from pytorch3d.datasets.r2n2.utils import BlenderCamera
    from pytorch3d.renderer import (
        BlendParams,
        DirectionalLights,
        HardPhongShader,
        Materials,
        MeshRasterizer,
        MeshRenderer,
        RasterizationSettings,
        TexturesVertex,
    )
    from pytorch3d.structures import Meshes

    n_views = len(Rs)
    mesh = Meshes(
        verts=[torch.as_tensor(verts, dtype=torch.float32)],
        faces=[torch.as_tensor(faces, dtype=torch.int64)],
        textures=TexturesVertex([torch.as_tensor(vert_colors, dtype=torch.float32)]),
    ).extend(n_views)
    cameras = BlenderCamera(R=Rs, T=Ts, K=R2N2_K.expand(n_views, 4, 4))
    lights = DirectionalLights(
        direction=torch.as_tensor(light_dirs, dtype=torch.float32),
        ambient_color=((ambient,) * 3,),
        diffuse_color=((1.0 - ambient,) * 3,),
        specular_color=((0.1,) * 3,),
    )
    renderer = MeshRenderer(
        MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=IMAGE_SIZE, faces_per_pixel=1)),
        HardPhongShader(cameras=cameras, lights=lights, materials=Materials(shininess=20.0), blend_params=BlendParams(background_color=(1.0, 1.0, 1.0))),
    )
    with torch.no_grad():
        rgba = renderer(mesh).clamp(0, 1)
    return (rgba.numpy() * 255 + 0.5).astype(np.uint8)
