"""The embedded procedural dataset: shapes from the grammar written as R2N2 / ShapeNet files.

    info = generate("data/embedded", n_models=1000, n_views=4, seed=0)

Writes, for chairs (03001627), tables (04379243) and sofas (04256520), in the course layout
(`layout="archives"` writes R2N2's two archives instead, see `generate`):

    ROOT/shapenet/<synset>/<model>/model.obj                 ShapeNet v1 style mesh
    ROOT/shapenet/<synset>/<model>/pointcloud.npz            exact surface samples and normals
    ROOT/shapenet/<synset>/<model>/points.npz                labelled occupancy queries (exact)
    ROOT/r2n2/ShapeNetRendering/<synset>/<model>/rendering/  00.png .. NN.png (137x137 RGBA)
                                                             rendering_metadata.txt
    ROOT/r2n2/ShapeNetVoxels/<synset>/<model>/model.binvox   32^3 solid occupancy
    ROOT/splits.json                                         {split: {synset: {model: [views]}}}
    ROOT/embedded.json                                       how this dataset was made

Every shape is a union of analytic parts (`shapes.py`, `furniture.py`). That lets the voxels be
the exact solid (a point is inside if it is inside any part), not a guess from a non-watertight
mesh, and the same parts give the OBJ. Output is deterministic for a seed: each model draws from
its own generator seeded by (seed, category, index), whatever the number of worker processes.

Frames: the object frame is ShapeNet v1's (y up, the front towards +x and the width along z,
as ShapeNet aligns its objects; the mesh's bounding box is centred on the origin and its
diagonal has length 1, so the shape lies in [-0.5, 0.5]^3: `shapes.normalize_parts`). Views are rendered
with PyTorch3D's R2N2 camera utilities from the metadata lines, exactly as
`pytorch3d.datasets.R2N2` reconstructs the camera.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time

import numpy as np

from categories import FAMILIES, SYNSETS, family_synset, make_shape
from dataset_location import ARCHIVES_GENERATOR_FILE, split_counts
from materials import assign_materials, material_table
from parts import rot_y
from r2n2 import metadata_line, r2n2_camera, write_binvox
from rendering import render_views, sample_lighting
from shapes import normalize_parts, occupancy_queries, parts_to_mesh, sample_union_surface, union_contains, voxelize_parts

# Bumped whenever the generator writes different files for the same seed; readers refuse data of
# another version (`dataset.ensure_data`). 4: the ShapeNet v1 orientation (front +x, width along z).
GENERATOR_VERSION = 4


def model_id(seed: int, synset: str, index: int) -> str:
    """A ShapeNet-like 32-hex-digit id, deterministic for (seed, synset, index)."""
    return hashlib.md5(f"embedded-{seed}-{synset}-{index}".encode()).hexdigest()


TURNS = (0, 90, 180, 270)


def model_parts(seed: int, synset: str, index: int, turn: int = 0) -> tuple[str, list, np.random.Generator]:
    """A model's family, its parts in ShapeNet's frame, and its generator, advanced past the shape
    (materials and views are drawn from it next): what `write_model` writes, rebuilt. One
    generator per model, so the output does not depend on the number of worker processes.

    turn (degrees, right-handed about +y) writes the world in another frame than ShapeNet's, all
    files alike (a fixture on which `eval_model.py`'s frame check must name the turn)."""
    if turn not in TURNS:
        raise ValueError(f"turn must be one of {TURNS} degrees, got {turn}")
    rng = np.random.default_rng([seed, int(synset), index])
    family, raw_parts = make_shape(synset, rng)
    parts = normalize_parts(raw_parts)
    if turn:
        parts = [p.rotated(rot_y(np.radians(turn)).round(), np.zeros(3)) for p in parts]
    return family, parts, rng


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


N_SURFACE_SAMPLES = 5000
N_OCCUPANCY_SAMPLES = (5000, 5000)  # uniform, near the surface


def write_exact_samples(folder: str, parts, rng) -> None:
    """Exact ground truth beside the OBJ, in Occupancy Networks' file format:
    pointcloud.npz (points, normals: surface samples of the union) and points.npz (points,
    occupancies: packed bits of labelled query points). float16 coordinates keep them small."""
    points, normals = sample_union_surface(parts, N_SURFACE_SAMPLES, rng)
    np.savez(os.path.join(folder, "pointcloud.npz"), points=points.astype(np.float16), normals=normals.astype(np.float16))
    queries = occupancy_queries(points, *N_OCCUPANCY_SAMPLES, rng).astype(np.float16)
    inside = union_contains(parts, queries.astype(np.float64))  # labels of the points as stored
    np.savez(os.path.join(folder, "points.npz"), points=queries, occupancies=np.packbits(inside))


def part_frames(parts) -> tuple[np.ndarray, np.ndarray]:
    """Each part's longest direction (the wood grain) and centre, (P, 3) each."""
    axes, centres = [], []
    for part in parts:
        verts = part.mesh()[0]
        centred = verts - verts.mean(0)
        axes.append(np.linalg.eigh(centred.T @ centred)[1][:, -1])
        centres.append(verts.mean(0))
    return np.array(axes), np.array(centres)


def sample_views(rng, n_views: int) -> list[tuple[float, float, float]]:
    """R2N2's viewpoints: azimuth uniform, elevation 25-30 degrees, distance ratio 0.65-0.9."""
    return list(zip(rng.uniform(0, 360, n_views), rng.uniform(25, 30, n_views), rng.uniform(0.65, 0.9, n_views)))


def write_model(root: str, synset: str, index: int, seed: int, n_views: int, layout: str = "course", turn: int = 0) -> tuple[str, str]:
    """Generate and write one model (mesh, views, metadata, voxels). Returns (its id, its family)."""
    import imageio.v3 as iio
    import torch
    from pytorch3d.io import save_obj

    family, parts, rng = model_parts(seed, synset, index, turn)
    mesh = parts_to_mesh(parts)
    mid = model_id(seed, synset, index)
    dirs = model_dirs(root, layout, synset, mid)
    for folder in dirs.values():
        if folder:
            os.makedirs(folder, exist_ok=True)
    if dirs["mesh"]:
        save_obj(os.path.join(dirs["mesh"], "model.obj"), torch.as_tensor(mesh.verts, dtype=torch.float32), torch.as_tensor(mesh.faces))
        write_exact_samples(dirs["mesh"], parts, np.random.default_rng([seed, int(synset), index, 1]))
    write_voxels(os.path.join(dirs["voxels"], "model.binvox"), parts, mesh.verts, layout)

    axes, centres = part_frames(parts)
    materials = assign_materials(FAMILIES[synset][family].style, [p.group for p in parts], axes, centres, rng)
    views = sample_views(rng, n_views)
    cameras = [r2n2_camera(*view) for view in views]
    Rs, Ts = torch.stack([R for R, _ in cameras]), torch.stack([T for _, T in cameras])
    lights = [sample_lighting(rng) for _ in views]
    rgba = render_views(mesh.verts, mesh.faces, mesh.normals, mesh.part_index, material_table(materials), Rs, Ts, lights)
    for view, image in enumerate(rgba):
        iio.imwrite(os.path.join(dirs["render"], f"{view:02d}.png"), image)
    with open(os.path.join(dirs["render"], "rendering_metadata.txt"), "w") as f:
        f.writelines(metadata_line(*view) for view in views)
    with open(os.path.join(dirs["render"], "renderings.txt"), "w") as f:
        f.writelines(f"{view:02d}.png\n" for view in range(n_views))
    return mid, family


def _worker(job):
    import torch

    torch.set_num_threads(1)
    root, synset, index, seed, n_views, layout, turn = job
    return synset, index, write_model(root, synset, index, seed, n_views, layout, turn)


def make_splits(synsets, per_cat, ids, families, n_views, holdout=()) -> dict:
    """80/10/10 per category by model index (`split_counts`); models of a held-out family go to
    the split "heldout" instead, so no model of theirs is trained or tested on in-distribution."""
    splits = {"train": {}, "val": {}, "test": {}}
    if holdout:
        splits["heldout"] = {}
    for synset, n in zip(synsets, per_cat):
        kept = [i for i in range(n) if families[(synset, i)] not in holdout]
        n_train, n_val, _ = split_counts(len(kept))
        for rank, i in enumerate(kept):
            split = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
            splits[split].setdefault(synset, {})[ids[(synset, i)]] = list(range(n_views))
        for i in sorted(set(range(n)) - set(kept)):
            splits["heldout"].setdefault(synset, {})[ids[(synset, i)]] = list(range(n_views))
    return splits


def generate(root: str, n_models: int = 1000, n_views: int = 4, seed: int = 0, workers: int | None = None, quiet: bool = False,
             layout: str = "course", holdout=(), turn: int = 0) -> dict:
    """Write the dataset to `root` atomically (built in a temp folder, then renamed).

    `n_models` counts all categories together, split as evenly as possible. layout "course"
    writes the course layout with meshes, splits.json, families.json (each model's family) and
    embedded.json (which tells readers the data is exact); "archives" writes only what R2N2's
    two archives hold (renderings with metadata and renderings.txt, centred 32^3 binvox grids;
    no meshes, no split file; only a hidden .embedded.json naming the generator version), a
    stand-in for the real download. `holdout` names families whose
    models form the split "heldout" (the models are the same as without it: each is drawn from
    its own seed). `turn` (degrees about y) writes every model turned out of ShapeNet's frame, a
    fixture for the frame check. Returns the dataset's description (embedded.json's).
    """
    from multiprocessing import get_context

    from tqdm import tqdm

    if n_models < 1 or n_views < 1:
        raise ValueError("--n_models and --n_views must be at least 1")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if turn not in TURNS:
        raise ValueError(f"--turn must be one of {TURNS} degrees, got {turn}")
    for family in holdout:
        family_synset(family)  # ValueError naming the known families
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
        jobs = [(tmp, s, i, seed, n_views, layout, turn) for s, i in jobs_meta]
        workers = workers or min(len(jobs), os.cpu_count() or 1)
        ids, families = {}, {}
        bar = tqdm(total=len(jobs), desc=f"generating dataset in {root}", disable=quiet, unit="model")
        if workers > 1:
            with get_context("spawn").Pool(workers) as pool:
                results = pool.imap_unordered(_worker, jobs, chunksize=4)
                for synset, index, (mid, family) in results:
                    ids[(synset, index)], families[(synset, index)] = mid, family
                    bar.update()
        else:
            for job in jobs:
                synset, index, (mid, family) = _worker(job)
                ids[(synset, index)], families[(synset, index)] = mid, family
                bar.update()
        bar.close()

        info = {
            "generator_version": GENERATOR_VERSION,
            "layout": layout,
            "n_models": n_models,
            "n_views": n_views,
            "seed": seed,
            "categories": {s: SYNSETS[s] for s in synsets},
            "holdout": list(holdout),
            "voxel_frame": "centred",
            "object_frame": "ShapeNet v1: y up, front towards +x, width along z" + (f", then turned {turn} degrees about y" if turn else ""),
            "turn": turn,
            "seconds": round(time.time() - start, 1),
        }
        if layout == "course":
            with open(os.path.join(tmp, "splits.json"), "w") as f:
                json.dump(make_splits(synsets, per_cat, ids, families, n_views, holdout), f, indent=1)
            with open(os.path.join(tmp, "families.json"), "w") as f:
                json.dump({ids[key]: families[key] for key in sorted(ids)}, f, indent=1)
            with open(os.path.join(tmp, "embedded.json"), "w") as f:
                json.dump(info, f, indent=1)
        else:
            with open(os.path.join(tmp, ARCHIVES_GENERATOR_FILE), "w") as f:
                json.dump(info, f, indent=1)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
