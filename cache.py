"""Reading one model's R2N2 files into tensors, and the per-split cache of every model read once.

    model = read_model(layout, entry)            # mesh or voxel surface, voxels, samples, views
    cache = load_cache(layout, "train", entries) # built on first use, memory-mapped afterwards

Ground truth: the voxels are the binvox grid placed in the object frame (`layout.voxel_placement`,
see `r2n2.binvox_centers`). Surface samples (points and normals) are the exact ones of
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

from dataset_location import Layout, ModelEntry, model_files
from geometry import sample_surface, voxels_to_meshes
from metrics import voxel_iou
from r2n2 import DatasetError, prepare_image, r2n2_camera, read_binvox, read_mesh, read_metadata, read_png, voxels_object_frame

N_SURFACE_POINTS = 5000  # surface samples per model kept in the cache
CACHE_VERSION = 3


def read_view(png: str) -> tuple[torch.Tensor, torch.Tensor]:
    """image (137, 137, 3) float and mask (137, 137) bool of one RGBA rendering. R2N2's renderings
    carry the object mask as alpha, so a PNG without alpha (grey or RGB) is refused."""
    raw = read_png(png)
    if raw.ndim != 3 or raw.shape[2] not in (2, 4):
        channels = 1 if raw.ndim == 2 else raw.shape[2]
        raise DatasetError(f"rendering {png} has {channels} channel(s): R2N2 renderings are RGBA (the alpha is the object's mask)")
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
        points, normals = torch.from_numpy(data["points"].astype(np.float32)), torch.from_numpy(data["normals"].astype(np.float32))
        if len(points) < n or points.shape != normals.shape or points.shape[-1:] != (3,):
            raise DatasetError(f"{files['pointcloud']} holds {tuple(points.shape)} points: {n} (N, 3) points with normals are needed")
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


def read_model(layout: Layout, entry: ModelEntry, n_surface: int = N_SURFACE_POINTS, seed: int = 0) -> dict:
    """Parse one model's files: surface mesh, voxels, surface samples, and its listed views.

    Returns verts (V, 3), faces (F, 3) long, voxels (32, 32, 32) [z, y, x], points and normals
    (n_surface, 3) with surface_source ("samples", "mesh" or "voxels"), occupancy (query points
    (Q, 3), labels (Q,)) or None, images (Nv, 137, 137, 3), masks (Nv, 137, 137), R (Nv, 3, 3),
    T (Nv, 3), and placement_iou: for bbox-placed voxels, their IoU with the centred-grid
    placement (else nan).
    """
    files = model_files(layout, entry)
    binvox = read_binvox(files["binvox"])
    placement_iou = float("nan")
    if layout.surfaces == "mesh":
        verts, faces = read_mesh(files["obj"])
        voxels = voxels_object_frame(*binvox, verts, layout.voxel_placement)
        if layout.voxel_placement == "bbox":
            centred = voxels_object_frame(*binvox, None, "centred")
            placement_iou = float(voxel_iou(voxels[None] > 0, centred[None] > 0)[0])
    else:
        voxels = voxels_object_frame(*binvox, None, layout.voxel_placement)
        if not voxels.any():
            raise DatasetError(f"voxels {files['binvox']} are empty: no surface to evaluate against")
        mesh = voxels_to_meshes(voxels[None])
        verts, faces = mesh.verts_list()[0], mesh.faces_list()[0]
    cameras = read_metadata(files["metadata"], n_views=max(entry.views) + 1)
    images, masks, Rs, Ts = [], [], [], []
    for view, png in zip(entry.views, files["pngs"]):
        image, mask = read_view(png)
        images.append(image)
        masks.append(mask)
        R, T = r2n2_camera(*cameras[view])
        Rs.append(R)
        Ts.append(T)
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
        "images": torch.stack(images),
        "masks": torch.stack(masks),
        "R": torch.stack(Rs),
        "T": torch.stack(Ts),
        "placement_iou": placement_iou,
    }


def cache_key(layout: Layout, split: str, entries: list[ModelEntry]) -> str:
    """Hash of everything the cache depends on: format, settings, and each source file's
    size and modification time, so an edited file triggers a rebuild."""
    digest = hashlib.sha1(f"{CACHE_VERSION}|{split}|{layout.kind}|{layout.voxel_placement}|{layout.surfaces}|{N_SURFACE_POINTS}".encode())
    for entry in entries:
        digest.update(f"{entry.synset}/{entry.model_id}/{entry.views}".encode())
        files = model_files(layout, entry)
        for path in (files["obj"], files["pointcloud"], files["points"], files["binvox"], files["metadata"], *files["pngs"]):
            try:
                st = os.stat(path) if path else None
                digest.update(f"{st.st_size}/{st.st_mtime_ns}".encode() if st else b"none")
            except OSError:
                digest.update(b"missing")
    return digest.hexdigest()[:16]


def build_cache(layout: Layout, split: str, entries: list[ModelEntry], out_path: str, quiet: bool = False) -> None:
    """Parse every file of the split once and save one tensor dict, atomically."""
    from tqdm import tqdm

    models = [read_model(layout, entry) for entry in tqdm(entries, desc=f"caching {split} split", unit="model", disable=quiet)]
    verts_counts = torch.tensor([len(m["verts"]) for m in models])
    faces_counts = torch.tensor([len(m["faces"]) for m in models])
    views_counts = torch.tensor([len(m["images"]) for m in models])
    occupancy = [m["occupancy"] for m in models]
    exact_occupancy = all(o is not None for o in occupancy) and len({len(o[0]) for o in occupancy}) == 1
    cache = {
        "version": CACHE_VERSION,
        "synsets": [e.synset for e in entries],
        "model_ids": [e.model_id for e in entries],
        "surfaces": layout.surfaces,
        "surface_sources": [m["surface_source"] for m in models],
        "voxel_placement": layout.voxel_placement,
        "views": torch.tensor([v for e in entries for v in e.views]),
        "view_model": torch.repeat_interleave(torch.arange(len(entries)), views_counts),
        "images": (torch.cat([m["images"] for m in models]) * 255).round().to(torch.uint8),  # (Nv, 137, 137, 3)
        "masks": torch.cat([m["masks"] for m in models]),  # (Nv, 137, 137) bool
        "R": torch.cat([m["R"] for m in models]),
        "T": torch.cat([m["T"] for m in models]),
        "voxels": torch.stack([m["voxels"] for m in models]).to(torch.bool),  # (M, 32, 32, 32)
        "points": torch.stack([m["points"] for m in models]),  # (M, S, 3)
        "normals": torch.stack([m["normals"] for m in models]).to(torch.float16),  # (M, S, 3) unit vectors
        "placement_iou": torch.tensor([m["placement_iou"] for m in models]),  # (M,)
        # Exact occupancy labels (points.npz) when every model has them: (M, Q, 3) float16, (M, Q) bool.
        "occ_points": torch.stack([o[0] for o in occupancy]) if exact_occupancy else torch.zeros(len(models), 0, 3, dtype=torch.float16),
        "occ_labels": torch.stack([o[1] for o in occupancy]) if exact_occupancy else torch.zeros(len(models), 0, dtype=torch.bool),
        "verts": torch.cat([m["verts"] for m in models]),
        "faces": torch.cat([m["faces"] for m in models]).to(torch.int32),
        "verts_offsets": torch.cat([torch.zeros(1, dtype=torch.long), verts_counts.cumsum(0)]),
        "faces_offsets": torch.cat([torch.zeros(1, dtype=torch.long), faces_counts.cumsum(0)]),
    }
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    tmp_path = f"{out_path}.tmp-{os.getpid()}"
    try:
        torch.save(cache, tmp_path)
        os.replace(tmp_path, out_path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def load_cache(layout: Layout, split: str, entries: list[ModelEntry], quiet: bool = False) -> dict:
    """The split's cache in `layout.cache_dir`, built first if missing or stale. Tensors are
    memory-mapped. entries: the split's models, from `dataset_location.load_split`."""
    key = cache_key(layout, split, entries)
    path = os.path.join(layout.cache_dir, f"{split}-{key}.pt")
    if not os.path.exists(path):
        build_cache(layout, split, entries, path, quiet=quiet)
        for name in os.listdir(layout.cache_dir):  # drop stale caches of this split
            if name.startswith(f"{split}-") and name.endswith(".pt") and name != os.path.basename(path):
                os.remove(os.path.join(layout.cache_dir, name))
    try:
        return torch.load(path, mmap=True, weights_only=True)
    except Exception as err:
        raise DatasetError(f"cache {path} is unreadable ({err}); delete it to rebuild") from None
