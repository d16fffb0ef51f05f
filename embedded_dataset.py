"""The embedded procedural dataset: shapes from the grammar written as R2N2 / ShapeNet files.

    info = generate("data/embedded", n_models=1000, n_views=4, seed=0)

Writes, for chairs (03001627), tables (04379243) and sofas (04256520), in the course layout
(`layout="archives"` writes R2N2's two archives instead, see `generate`):

    ROOT/shapenet/<synset>/<model>/model.obj                 ShapeNet v1 style mesh
    ROOT/r2n2/ShapeNetRendering/<synset>/<model>/rendering/  00.png .. NN.png (137x137 RGBA)
                                                             rendering_metadata.txt
    ROOT/r2n2/ShapeNetVoxels/<synset>/<model>/model.binvox   32^3 solid occupancy
    ROOT/splits.json                                         {split: {synset: {model: [views]}}}
    ROOT/embedded.json                                       how this dataset was made

Every shape is a union of analytic parts (`shapes.py`, `furniture.py`). That lets the voxels be
the exact solid (a point is inside if it is inside any part), not a guess from a non-watertight
mesh, and the same parts give the OBJ. Output is deterministic for a seed: each model draws from
its own generator seeded by (seed, category, index), whatever the number of worker processes.

Frames: the object frame is ShapeNet v1's (y up; the mesh's bounding box is centred on the
origin and its diagonal has length 1, so the shape lies in [-0.5, 0.5]^3). Views are rendered
with PyTorch3D's R2N2 camera utilities from the metadata lines, exactly as
`pytorch3d.datasets.R2N2` reconstructs the camera.
"""

import colorsys
import hashlib
import json
import os
import shutil
import tempfile
import time

import numpy as np

from dataset_location import split_counts
from furniture import MAKERS, SYNSETS
from r2n2 import metadata_line, r2n2_camera, write_binvox
from rendering import render_rgba
from shapes import normalize_parts, parts_to_mesh, voxelize_parts

GENERATOR_VERSION = 2


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h, s, v))


def model_id(seed: int, synset: str, index: int) -> str:
    """A ShapeNet-like 32-hex-digit id, deterministic for (seed, synset, index)."""
    return hashlib.md5(f"embedded-{seed}-{synset}-{index}".encode()).hexdigest()


LAYOUTS = ("course", "archives")


def model_dirs(root: str, layout: str, synset: str, mid: str) -> dict:
    """Where one model's files go: the course layout, or the two R2N2 archives side by side
    (ShapeNetRendering/ and ShapeNetVox32/, no meshes), exactly as people download them."""
    if layout == "archives":
        return {"mesh": None, "voxels": os.path.join(root, "ShapeNetVox32", synset, mid),
                "render": os.path.join(root, "ShapeNetRendering", synset, mid, "rendering")}
    return {"mesh": os.path.join(root, "shapenet", synset, mid), "voxels": os.path.join(root, "r2n2", "ShapeNetVoxels", synset, mid),
            "render": os.path.join(root, "r2n2", "ShapeNetRendering", synset, mid, "rendering")}


def write_voxels(path: str, parts, verts: np.ndarray, layout: str) -> None:
    """The solid's 32^3 binvox. The course layout's grid is the object-frame cube [-0.5, 0.5]^3
    (header translate -0.5, scale 1). The archives layout writes what R2N2's ShapeNetVox32 holds:
    a grid of side = the object's largest side, centred on the origin, with the header's
    translate = the bounding box's minimum corner, so reading it by the header's translate
    would misplace it (see `r2n2.binvox_centers`)."""
    if layout == "archives":
        lo, hi = verts.min(0), verts.max(0)
        side = float((hi - lo).max())
        write_binvox(path, voxelize_parts(parts, side=side), translate=tuple(lo), scale=side)
    else:
        write_binvox(path, voxelize_parts(parts))


def write_model(root: str, synset: str, index: int, seed: int, n_views: int, layout: str = "course") -> str:
    """Generate and write one model (mesh, views, metadata, voxels). Returns its id."""
    import imageio.v3 as iio
    import torch
    from pytorch3d.io import save_obj

    rng = np.random.default_rng([seed, int(synset), index])
    parts = normalize_parts(MAKERS[synset](rng))
    verts, faces, groups = parts_to_mesh(parts)
    mid = model_id(seed, synset, index)
    dirs = model_dirs(root, layout, synset, mid)
    for folder in dirs.values():
        if folder:
            os.makedirs(folder, exist_ok=True)
    if dirs["mesh"]:
        save_obj(os.path.join(dirs["mesh"], "model.obj"), torch.as_tensor(verts, dtype=torch.float32), torch.as_tensor(faces))
    write_voxels(os.path.join(dirs["voxels"], "model.binvox"), parts, verts, layout)

    # Colours: a main hue per model, the parts' groups in related or contrasting tones.
    hue = rng.random()
    palette = np.stack(
        [_hsv_to_rgb((hue + rng.normal(0, 0.08)) % 1, rng.uniform(0.2, 0.8), rng.uniform(0.5, 0.95)) for _ in range(3)]
    )
    if rng.random() < 0.3:
        palette[:] = palette[0]
    vert_colors = palette[groups]

    azims = rng.uniform(0, 360, n_views)
    elevs = rng.uniform(25, 30, n_views)
    dist_ratios = rng.uniform(0.65, 0.9, n_views)
    Rs, Ts, lines = [], [], []
    for azim, elev, dist_ratio in zip(azims, elevs, dist_ratios):
        R, T = r2n2_camera(azim, elev, dist_ratio)
        Rs.append(R)
        Ts.append(T)
        lines.append(metadata_line(azim, elev, dist_ratio))
    # Lights roughly from the camera side, in view space (+z is away from the camera there).
    light_dirs = np.stack([rng.uniform(-0.6, 0.6, n_views), rng.uniform(0.2, 0.9, n_views), -np.ones(n_views)], 1)
    light_dirs = torch.as_tensor(light_dirs, dtype=torch.float32)
    Rs_t, Ts_t = torch.stack(Rs), torch.stack(Ts)
    # DirectionalLights work in world (object) coordinates: rotate view-space directions back.
    light_dirs_world = torch.einsum("vij,vj->vi", Rs_t, light_dirs)
    rgba = render_rgba(verts, faces, vert_colors, Rs_t, Ts_t, -light_dirs_world, ambient=rng.uniform(0.45, 0.65))

    for view, image in enumerate(rgba):
        iio.imwrite(os.path.join(dirs["render"], f"{view:02d}.png"), image)
    with open(os.path.join(dirs["render"], "rendering_metadata.txt"), "w") as f:
        f.writelines(lines)
    with open(os.path.join(dirs["render"], "renderings.txt"), "w") as f:
        f.writelines(f"{view:02d}.png\n" for view in range(n_views))
    return mid


def _worker(job):
    import torch

    torch.set_num_threads(1)
    root, synset, index, seed, n_views, layout = job
    return synset, index, write_model(root, synset, index, seed, n_views, layout)


def generate(root: str, n_models: int = 1000, n_views: int = 4, seed: int = 0, workers: int | None = None, quiet: bool = False,
             layout: str = "course") -> dict:
    """Write the dataset to `root` atomically (built in a temp folder, then renamed).

    `n_models` counts all categories together, split as evenly as possible. layout "course"
    writes the course layout with meshes, splits.json and embedded.json (which tells readers
    the data is exact); "archives" writes only what R2N2's two archives hold (renderings with
    metadata and renderings.txt, centred 32^3 binvox grids; no meshes, no split file), a
    stand-in for the real download. Returns the dataset's description (embedded.json's).
    """
    from multiprocessing import get_context

    from tqdm import tqdm

    if n_models < 1 or n_views < 1:
        raise ValueError("--n_models and --n_views must be at least 1")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if os.path.exists(root):
        raise FileExistsError(f"{root} already exists; remove it or choose another --root")
    synsets = list(SYNSETS)
    per_cat = [n_models // len(synsets) + (k < n_models % len(synsets)) for k in range(len(synsets))]
    jobs_meta = [(s, i) for s, n in zip(synsets, per_cat) for i in range(n)]

    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-dataset-", dir=parent)
    start = time.time()
    try:
        jobs = [(tmp, s, i, seed, n_views, layout) for s, i in jobs_meta]
        workers = workers or min(len(jobs), os.cpu_count() or 1)
        ids = {}
        bar = tqdm(total=len(jobs), desc=f"generating dataset in {root}", disable=quiet, unit="model")
        if workers > 1:
            with get_context("spawn").Pool(workers) as pool:
                for synset, index, mid in pool.imap_unordered(_worker, jobs, chunksize=4):
                    ids[(synset, index)] = mid
                    bar.update()
        else:
            for job in jobs:
                synset, index, mid = _worker(job)
                ids[(synset, index)] = mid
                bar.update()
        bar.close()

        info = {
            "generator_version": GENERATOR_VERSION,
            "layout": layout,
            "n_models": n_models,
            "n_views": n_views,
            "seed": seed,
            "categories": {s: SYNSETS[s] for s in synsets},
            "voxel_frame": "centred",
            "seconds": round(time.time() - start, 1),
        }
        if layout == "course":
            splits = {"train": {}, "val": {}, "test": {}}
            for synset, n in zip(synsets, per_cat):
                n_train, n_val, _ = split_counts(n)
                for i in range(n):
                    split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
                    splits[split].setdefault(synset, {})[ids[(synset, i)]] = list(range(n_views))
            with open(os.path.join(tmp, "splits.json"), "w") as f:
                json.dump(splits, f, indent=1)
            with open(os.path.join(tmp, "embedded.json"), "w") as f:
                json.dump(info, f, indent=1)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
