"""The ground truth of one shape, read from its R2N2 files: which surface, where its voxels sit, its views.

    shape = read_shape(layout, entry)            # mesh or voxel surface, voxels, samples, views

Ground truth: the voxels are the binvox grid placed in the object frame (`layout.voxel_placement`,
see `r2n2.formats.binvox_centers`). Surface samples (points and normals) are the exact ones of
pointcloud.npz beside the OBJ when there is one (the embedded data writes it, as Occupancy
Networks' data has), else samples of the OBJ, else of the voxel grid's own surface (marching
cubes at 0.5, as the oracle does), which is what R2N2's two archives alone allow;
`layout.surfaces` says which, and so do every table and figure of the evaluation. Exact
occupancy labels (points.npz) are cached when every model has them.
"""

import hashlib
import os

import numpy as np
import torch

from geometry.grids import sample_surface, voxels_to_meshes
from r2n2.formats import DatasetError, r2n2_camera, read_binvox, read_mesh, read_metadata, read_png, voxels_object_frame
from r2n2.images import prepare_image
from r2n2.layout import Layout, ShapeEntry, shape_paths

N_SURFACE_POINTS = 5000  # surface samples per shape kept in the cache


def read_view(png: str) -> tuple[torch.Tensor, torch.Tensor]:
    """image (137, 137, 3) float and mask (137, 137) bool of one RGBA rendering. R2N2's renderings
    carry the object mask as alpha, so a PNG without alpha (grey or RGB) is refused."""
    raw = read_png(png)
    if raw.ndim != 3 or raw.shape[2] not in (2, 4):
        channels = 1 if raw.ndim == 2 else raw.shape[2]
        raise DatasetError(
            f"rendering {png} has {channels} channel(s): R2N2 renderings are RGBA (the alpha is the object's mask)"
        )
    try:
        image = prepare_image(raw)
    except ValueError as err:
        raise DatasetError(f"cannot use image {png}: {err}") from None
    return image, torch.from_numpy(np.ascontiguousarray(raw[..., -1])) > 127


def read_npz(path: str, keys: tuple[str, ...]) -> dict:
    """Arrays `keys` of an .npz file, or DatasetError naming it."""
    try:
        with np.load(path) as data:
            return {key: data[key] for key in keys}
    except (OSError, ValueError, KeyError) as err:
        raise DatasetError(f"cannot read {path}: {type(err).__name__}: {err}") from None


def surface_samples(files: dict, verts, faces, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """n GT surface points and normals (n, 3) and where they come from: the exact samples of
    pointcloud.npz when the data has them (the embedded data, Occupancy Networks' data), else
    area-uniform samples of the surface mesh (the OBJ, or the voxels' own surface)."""
    if files["pointcloud"] and os.path.exists(files["pointcloud"]):
        data = read_npz(files["pointcloud"], ("points", "normals"))
        points, normals = (
            torch.from_numpy(data["points"].astype(np.float32)),
            torch.from_numpy(data["normals"].astype(np.float32)),
        )
        if len(points) < n or points.shape != normals.shape or points.shape[-1:] != (3,):
            raise DatasetError(
                f"{files['pointcloud']} holds {tuple(points.shape)} points: {n} (N, 3) points with normals are needed"
            )
        return points[:n], torch.nn.functional.normalize(normals[:n], dim=1), "samples"
    points, normals = sample_surface(verts, faces, n, seed, return_normals=True)
    return points, normals, "mesh" if files["obj"] else "voxels"


def occupancy_labels(files: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Query points (Q, 3) float16 and their inside labels (Q,) bool from points.npz, if any."""
    if not (files["points"] and os.path.exists(files["points"])):
        return None
    data = read_npz(files["points"], ("points", "occupancies"))
    points = torch.from_numpy(data["points"].astype(np.float16))
    labels = torch.from_numpy(np.unpackbits(data["occupancies"])[: len(points)].astype(bool))
    if points.ndim != 2 or points.shape[1] != 3 or len(labels) != len(points):
        raise DatasetError(f"{files['points']}: points {tuple(points.shape)} and occupancies do not match")
    return points, labels


def surface_and_voxels(layout: Layout, files: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """The GT surface mesh verts (V, 3), faces (F, 3) and voxels (32, 32, 32) [z, y, x] of one
    shape, and for bbox-placed voxels their IoU with the centred placement (else nan). The
    surface is the OBJ when the data has meshes, else the voxel grid's own (marching cubes)."""
    binvox = read_binvox(files["binvox"])
    if layout.surfaces == "mesh":
        verts, faces = read_mesh(files["obj"])
        voxels = voxels_object_frame(*binvox, verts, layout.voxel_placement)
        placement_iou = float("nan")
        if layout.voxel_placement == "bbox":
            centred = voxels_object_frame(*binvox, None, "centred")
            union = int(((voxels > 0) | (centred > 0)).sum())  # voxel IoU of the two placements
            placement_iou = int(((voxels > 0) & (centred > 0)).sum()) / union if union else 1.0
        return verts, faces, voxels, placement_iou
    voxels = voxels_object_frame(*binvox, None, layout.voxel_placement)
    if not voxels.any():
        raise DatasetError(f"voxels {files['binvox']} are empty: no surface to evaluate against")
    mesh = voxels_to_meshes(voxels[None])
    return mesh.verts_list()[0], mesh.faces_list()[0], voxels, float("nan")


def read_views(files: dict, views: list[int]) -> dict:
    """images (Nv, 137, 137, 3), masks (Nv, 137, 137), R (Nv, 3, 3), T (Nv, 3) of the views."""
    cameras = read_metadata(files["metadata"], n_views=max(views) + 1)
    images, masks = zip(*(read_view(png) for png in files["pngs"]))
    Rs, Ts = zip(*(r2n2_camera(*cameras[view]) for view in views))
    return {"images": torch.stack(images), "masks": torch.stack(masks), "R": torch.stack(Rs), "T": torch.stack(Ts)}


def read_shape(layout: Layout, entry: ShapeEntry, n_surface: int = N_SURFACE_POINTS, seed: int = 0) -> dict:
    """Parse one shape's files: surface mesh, voxels, surface samples, and its listed views.

    Returns verts (V, 3), faces (F, 3) long, voxels (32, 32, 32) [z, y, x], points and normals
    (n_surface, 3) with surface_source ("samples", "mesh" or "voxels"), occupancy (query points
    (Q, 3), labels (Q,)) or None, images (Nv, 137, 137, 3), masks (Nv, 137, 137), R (Nv, 3, 3),
    T (Nv, 3), and placement_iou: for bbox-placed voxels, their IoU with the centred-grid
    placement (else nan).
    """
    files = shape_paths(layout, entry)
    verts, faces, voxels, placement_iou = surface_and_voxels(layout, files)
    views = read_views(files, entry.views)
    seed = int(hashlib.md5(f"{seed}-{entry.model_id}".encode()).hexdigest()[:8], 16)
    points, normals, source = surface_samples(files, verts, faces, n_surface, seed)
    return {
        "verts": verts,
        "faces": faces,
        "voxels": voxels,
        "points": points,
        "normals": normals,
        "surface_source": source,
        "occupancy": occupancy_labels(files),
        **views,
        "placement_iou": placement_iou,
    }
