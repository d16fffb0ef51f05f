"""Rendering helpers: turntable GIFs of meshes, point clouds and voxels, on CPU or GPU.

All inputs are in the object frame (y up, within [-0.5, 0.5]^3). Every view uses the same
turntable camera and colours so figures of different representations compare directly.
"""

import os

import imageio.v3 as iio
import numpy as np
import torch
from pytorch3d.renderer import (
    AlphaCompositor,
    FoVPerspectiveCameras,
    HardPhongShader,
    MeshRasterizer,
    MeshRenderer,
    PointLights,
    PointsRasterizationSettings,
    PointsRasterizer,
    PointsRenderer,
    RasterizationSettings,
    TexturesVertex,
    look_at_view_transform,
)
from pytorch3d.structures import Meshes, Pointclouds

from common.atomic_io import atomic_path
from geometry.grids import ISO

PRED_COLOR = (0.95, 0.55, 0.25)  # orange: predictions
GT_COLOR = (0.35, 0.6, 0.9)  # blue: ground truth
BACKGROUND = (1.0, 1.0, 1.0)


# PyTorch3D's azimuth 90 puts the camera on +x, in front of a ShapeNet object (front towards +x):
# the first frame shows the object from the front, the next ones turn it.
FRONT_AZIMUTH = 90.0


def turntable_cameras(n_frames: int, image_size: int, dist: float = 1.5, elev: float = 25.0, device="cpu"):
    """n_frames FoV cameras circling the object from the front (azimuth 90..450, exclusive)."""
    azim = FRONT_AZIMUTH + torch.linspace(0, 360, n_frames + 1)[:-1]
    R, T = look_at_view_transform(dist=dist, elev=elev, azim=azim)
    return FoVPerspectiveCameras(R=R, T=T, fov=45.0, device=device)


# PyTorch3D rasterizes naively on the CPU (every pixel tests every face): about 2 ms per face for
# a 24-frame, 160-pixel turntable. Display meshes are decimated to this many faces, so a noisy
# early prediction (marching cubes can give 100k faces) renders in seconds, not minutes.
MAX_DISPLAY_FACES = 2000


def decimate_for_display(
    verts: torch.Tensor, faces: torch.Tensor, max_faces: int = MAX_DISPLAY_FACES
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertex-clustering decimation, for pictures only (metrics never see it).

    Vertices are merged per cell of a cubic grid over the mesh's bounding box (at their mean
    position), collapsed and duplicate faces dropped; the grid is coarsened until at most
    `max_faces` remain. verts (V, 3), faces (F, 3) long -> (V', 3), (F', 3), F' <= max_faces
    (a mesh already small enough is returned as it is).
    """
    if len(faces) <= max_faces:
        return verts, faces
    lo = verts.min(0).values
    extent = (verts.max(0).values - lo).max().clamp_min(1e-9)
    cells = 64
    while True:
        index = ((verts - lo) / extent * cells).floor().long().clamp(0, cells - 1)  # (V, 3)
        keys = (index[:, 0] * cells + index[:, 1]) * cells + index[:, 2]
        unique_keys, cluster = torch.unique(keys, return_inverse=True)
        counts = torch.zeros(len(unique_keys)).index_add_(0, cluster, torch.ones(len(verts)))
        merged = torch.zeros(len(unique_keys), 3).index_add_(0, cluster, verts.float().cpu()) / counts[:, None]
        new_faces = cluster[faces]
        keep = (
            (new_faces[:, 0] != new_faces[:, 1])
            & (new_faces[:, 1] != new_faces[:, 2])
            & (new_faces[:, 0] != new_faces[:, 2])
        )
        new_faces = new_faces[keep]
        # A face and its copies with the same vertex set (any rotation) count once.
        _, first = np.unique(np.sort(new_faces.numpy(), axis=1), axis=0, return_index=True)
        new_faces = new_faces[np.sort(first)]
        if len(new_faces) <= max_faces or cells <= 4:
            return merged.to(verts.device), new_faces[:max_faces].to(faces.device)
        cells = int(cells * 0.75)


def render_mesh_turntable(
    verts: torch.Tensor, faces: torch.Tensor, color=PRED_COLOR, n_frames: int = 24, image_size: int = 160
) -> np.ndarray:
    """verts (V, 3), faces (F, 3) -> (n_frames, S, S, 3) uint8. An empty mesh renders blank.
    Meshes over MAX_DISPLAY_FACES faces are drawn decimated (`decimate_for_display`)."""
    device = verts.device
    if len(verts) == 0 or len(faces) == 0:
        return np.full((n_frames, image_size, image_size, 3), 255, np.uint8)
    verts, faces = decimate_for_display(verts, faces.long())
    cameras = turntable_cameras(n_frames, image_size, device=device)
    colors = torch.tensor(color, device=device).expand(len(verts), 3)
    mesh = Meshes([verts.float()], [faces.long()], textures=TexturesVertex([colors])).extend(n_frames)
    lights = PointLights(location=cameras.get_camera_center(), device=device)
    renderer = MeshRenderer(
        MeshRasterizer(
            cameras=cameras, raster_settings=RasterizationSettings(image_size=image_size, faces_per_pixel=1)
        ),
        HardPhongShader(cameras=cameras, lights=lights, device=device),
    )
    with torch.no_grad():
        images = renderer(mesh)[..., :3]
    return (images.clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)


def render_points_turntable(
    points: torch.Tensor, color=PRED_COLOR, n_frames: int = 24, image_size: int = 160, radius: float = 0.012
) -> np.ndarray:
    """points (N, 3) -> (n_frames, S, S, 3) uint8, shaded by depth so the shape reads."""
    device = points.device
    if len(points) == 0:
        return np.full((n_frames, image_size, image_size, 3), 255, np.uint8)
    cameras = turntable_cameras(n_frames, image_size, device=device)
    # Darken points towards the back of each view so the cloud does not render as a flat blob.
    depth = cameras.get_world_to_view_transform().transform_points(points.float().expand(n_frames, -1, -1))[..., 2]
    shade = 1.0 - 0.5 * (depth - depth.min(1, keepdim=True)[0]) / (
        depth.max(1, keepdim=True)[0] - depth.min(1, keepdim=True)[0] + 1e-6
    )
    features = torch.tensor(color, device=device) * shade[..., None]
    clouds = Pointclouds(points=list(points.float().expand(n_frames, -1, -1)), features=list(features))
    renderer = PointsRenderer(
        rasterizer=PointsRasterizer(
            cameras=cameras,
            raster_settings=PointsRasterizationSettings(image_size=image_size, radius=radius, points_per_pixel=4),
        ),
        compositor=AlphaCompositor(background_color=BACKGROUND),
    )
    with torch.no_grad():
        images = renderer(clouds)[..., :3]
    return (images.clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)


def render_voxels_turntable(voxels: torch.Tensor, color=PRED_COLOR, threshold: float = ISO, **kwargs) -> np.ndarray:
    """voxels (D, H, W) occupancy probabilities, [z, y, x] -> turntable of its marching-cubes mesh."""
    from geometry.grids import voxels_to_meshes

    mesh = voxels_to_meshes(voxels[None], threshold)
    return render_mesh_turntable(mesh.verts_list()[0], mesh.faces_list()[0], color, **kwargs)


def side_by_side(*frame_stacks: np.ndarray) -> np.ndarray:
    """Concatenate (T, H, W, 3) frame stacks horizontally."""
    return np.concatenate(frame_stacks, axis=2)


def save_gif(path: str, frames: np.ndarray, fps: int = 12) -> str:
    """Write frames (T, H, W, 3) uint8 as a looping GIF, atomically. Returns the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path, suffix=".gif") as tmp:
        iio.imwrite(tmp, frames, duration=1000 / fps, loop=0)
    return path


def save_png(path: str, image: np.ndarray, title: str | None = None) -> str:
    """Write an (H, W, 3) uint8 or [0, 1] float image as PNG, optionally under a one-line title.
    Returns the path."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if title:
        image = np.concatenate([title_strip(title, image.shape[1]), image], axis=0)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        iio.imwrite(tmp, image)
    return path


def title_strip(text: str, width: int, height: int = 28) -> np.ndarray:
    """(height, width, 3) uint8: `text` in black on white, drawn with matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    fig.text(0.01, 0.5, text, va="center", ha="left", fontsize=10)
    fig.canvas.draw()
    strip = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return strip[:height, :width]


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8, bilinear."""
    resized = torch.nn.functional.interpolate(
        torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(size, size), mode="bilinear"
    )[0]
    return resized.permute(1, 2, 0).clamp(0, 255).byte().numpy()


def plot_f1(path: str, curves: dict, thresholds, title: str) -> str:
    """F1 (%) against threshold, one line per entry of curves {label: [F1 per threshold]};
    labels containing "baseline" are dashed. Written atomically; returns the path."""
    return plot_curves(path, thresholds, curves, "threshold (object diagonal = 1)", title)


def plot_curves(path: str, xs, curves: dict, xlabel: str, title: str, ylabel: str = "F1 (%)") -> str:
    """Lines of curves {label: [y per x]} against xs on a 0-100 axis; labels containing
    "baseline" are dashed. Written atomically; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=110)
    for label, values in curves.items():
        style = "--" if "baseline" in label else "-"
        ax.plot(xs, values, style, marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path


def families_figure(root: str, path: str, per_family: int = 2, columns: int = 9) -> str:
    """A grid of an embedded dataset's renderings, `per_family` models of every shape family
    (families.json) with the family's name, each view 00.png over white. Returns the path."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(os.path.join(root, "families.json")) as f:
        families = json.load(f)
    by_family: dict[str, list[str]] = {}
    for model_id, family in sorted(families.items()):
        by_family.setdefault(family, []).append(model_id)
    renderings = os.path.join(root, "r2n2", "ShapeNetRendering")
    synset_of = {m: s for s in os.listdir(renderings) for m in os.listdir(os.path.join(renderings, s))}
    tiles = []
    for family in sorted(by_family, key=lambda name: (synset_of[by_family[name][0]], name)):
        for model_id in by_family[family][:per_family]:
            rgba = (
                iio.imread(os.path.join(renderings, synset_of[model_id], model_id, "rendering", "00.png")).astype(
                    np.float32
                )
                / 255
            )
            tiles.append((family, rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])))
    rows = (len(tiles) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.75 * rows), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (family, image) in zip(axes.flat, tiles):
        ax.imshow(image)
        ax.set_title(family, fontsize=8)
    fig.tight_layout(pad=0.3)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
