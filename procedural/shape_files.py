"""One generated shape written as R2N2 / ShapeNet files: OBJ, exact samples, binvox, renderings.

    family, parts, rng = shape_parts(seed=0, synset="03001627", index=7)   # rebuilt exactly
    shape_id, family = write_shape("ROOT", "03001627", 7, seed=0, n_views=4)

Each shape draws from its own generator seeded by (seed, synset, index), so what is written does
not depend on the number of worker processes, and `shape_parts` rebuilds any written shape
(the benchmarks and tests do). Frames: ShapeNet v1's object frame (y up, front towards +x,
width along z; `shapes.normalize_parts`); views through R2N2's cameras (`r2n2.r2n2_camera`).
"""

import hashlib
import os

import numpy as np

from r2n2.formats import IMAGE_SIZE, R2N2_FOV, r2n2_camera

from .categories import family_of, make_shape
from .materials import assign_materials, material_table
from .parts import rot_y
from .rendering import render_views, sample_lighting
from .shapes import (
    normalize_parts,
    occupancy_queries,
    parts_to_mesh,
    sample_union_surface,
    union_contains,
    voxelize_parts,
)

LAYOUTS = ("course", "archives")
TURNS = (0, 90, 180, 270)
# Where the cameras are: "r2n2" as R2N2 (elevation 25-30 degrees), or "photo": every other view
# at the height product and phone photos are taken from (0-20 degrees), the rest as R2N2.
VIEWPOINTS = ("r2n2", "photo")
PHOTO_ELEVATIONS = (0.0, 20.0)
N_SURFACE_SAMPLES = 5000
N_OCCUPANCY_SAMPLES = (5000, 5000)  # uniform, near the surface


def shape_id(seed: int, synset: str, index: int) -> str:
    """A ShapeNet-like 32-hex-digit id, deterministic for (seed, synset, index)."""
    return hashlib.md5(f"embedded-{seed}-{synset}-{index}".encode()).hexdigest()


def shape_parts(
    seed: int, synset: str, index: int, turn: int = 0, family: str | None = None
) -> tuple[str, list, np.random.Generator]:
    """A model's family, its parts in ShapeNet's frame, and its generator, advanced past the shape
    (materials and views are drawn from it next): what `write_shape` writes, rebuilt. One
    generator per model, so the output does not depend on the number of worker processes.

    turn (degrees, right-handed about +y) writes the world in another frame than ShapeNet's, all
    files alike (a fixture on which `eval_model.py`'s frame check must name the turn)."""
    if turn not in TURNS:
        raise ValueError(f"turn must be one of {TURNS} degrees, got {turn}")
    rng = np.random.default_rng([seed, int(synset), index])
    family, raw_parts = make_shape(synset, rng, family)
    parts = normalize_parts(raw_parts)
    if turn:
        parts = [p.rotated(rot_y(np.radians(turn)).round(), np.zeros(3)) for p in parts]
    return family, parts, rng


def shape_dirs(root: str, layout: str, synset: str, mid: str) -> dict:
    """Where one model's files go: the course layout, or the two R2N2 archives side by side
    (ShapeNetRendering/ and ShapeNetVox32/, no meshes), exactly as people download them."""
    if layout == "archives":
        return {
            "mesh": None,
            "voxels": os.path.join(root, "ShapeNetVox32", synset, mid),
            "render": os.path.join(root, "ShapeNetRendering", synset, mid, "rendering"),
        }
    return {
        "mesh": os.path.join(root, "shapenet", synset, mid),
        "voxels": os.path.join(root, "r2n2", "ShapeNetVoxels", synset, mid),
        "render": os.path.join(root, "r2n2", "ShapeNetRendering", synset, mid, "rendering"),
    }


def write_binvox(path: str, voxels_zyx: np.ndarray, translate=(-0.5, -0.5, -0.5), scale: float = 1.0) -> None:
    """Write a (D, D, D) [z, y, x] bool grid as binvox, with the given header.

    binvox stores voxels with y fastest, then z, then x (linear index x*D*D + z*D + y), as
    PyTorch3D's `read_binvox_coords` reads them. The defaults describe the embedded dataset's grid
    (the cube [-0.5, 0.5]^3); R2N2's real files carry the object's bounding-box corner and largest
    side instead, with the grid centred (see `binvox_centers`).
    """
    dim = voxels_zyx.shape[0]
    data = np.ascontiguousarray(voxels_zyx.transpose(2, 0, 1)).ravel().astype(np.uint8)  # [x, z, y]
    # Run-length encode as (value, count) byte pairs, counts at most 255.
    change = np.flatnonzero(np.diff(data)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(data)]]))
    out = bytearray()
    for start, length in zip(starts, lengths):
        value = data[start]
        while length > 0:
            run = min(length, 255)
            out += bytes([value, run])
            length -= run
    tx, ty, tz = (f"{t:g}" for t in translate)
    header = f"#binvox 1\ndim {dim} {dim} {dim}\ntranslate {tx} {ty} {tz}\nscale {scale:g}\ndata\n"
    with open(path, "wb") as f:
        f.write(header.encode() + bytes(out))


def metadata_line(azim: float, elev: float, dist_ratio: float, fov: float = R2N2_FOV) -> str:
    """One rendering_metadata.txt line as R2N2 writes it: azim elev yaw dist_ratio fov."""
    return f"{azim:.6f} {elev:.6f} 0 {dist_ratio:.6f} {fov:g}\n"


def write_voxels(path: str, parts, verts: np.ndarray, layout: str) -> None:
    """The solid's 32^3 binvox. The course layout's grid is the object-frame cube [-0.5, 0.5]^3
    (header translate -0.5, scale 1). The archives layout writes what R2N2's ShapeNetVox32 holds:
    a grid of side = the object's largest side, centred on the origin, with the header's
    translate = the bounding box's minimum corner, so reading it by the header's translate
    would misplace it (see `r2n2.formats.binvox_centers`)."""
    if layout == "archives":
        lo, hi = verts.min(0), verts.max(0)
        side = float((hi - lo).max())
        write_binvox(path, voxelize_parts(parts, side=side), translate=tuple(lo), scale=side)
    else:
        write_binvox(path, voxelize_parts(parts))


def write_exact_samples(folder: str, parts, rng) -> None:
    """Exact ground truth beside the OBJ, in Occupancy Networks' file format:
    pointcloud.npz (points, normals: surface samples of the union) and points.npz (points,
    occupancies: packed bits of labelled query points). float16 coordinates keep them small."""
    points, normals = sample_union_surface(parts, N_SURFACE_SAMPLES, rng)
    np.savez(
        os.path.join(folder, "pointcloud.npz"), points=points.astype(np.float16), normals=normals.astype(np.float16)
    )
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


def sample_views(rng, n_views: int, viewpoints: str = "r2n2", photo_rng=None) -> list[tuple[float, float, float]]:
    """(azim, elev, dist_ratio) of each view. R2N2's viewpoints: azimuth uniform, elevation 25-30
    degrees, distance ratio 0.65-0.9. viewpoints "photo" then lowers every other view (1, 3, ...)
    to an elevation in PHOTO_ELEVATIONS, drawn from `photo_rng`: `rng` is drawn exactly as for
    "r2n2", so the two datasets differ in those elevations only (same azimuths, lights, materials)."""
    views = list(zip(rng.uniform(0, 360, n_views), rng.uniform(25, 30, n_views), rng.uniform(0.65, 0.9, n_views)))
    if viewpoints == "photo":
        for k in range(1, n_views, 2):
            azim, _, dist_ratio = views[k]
            views[k] = (azim, photo_rng.uniform(*PHOTO_ELEVATIONS), dist_ratio)
    elif viewpoints != "r2n2":
        raise ValueError(f"viewpoints must be one of {VIEWPOINTS}, got {viewpoints!r}")
    return views


def shape_appearance(seed: int, synset: str, index: int, turn: int = 0, family: str | None = None):
    """(family, parts, mesh, material table, generator): a model as `write_shape` renders it, its
    generator advanced past the materials (the views are drawn from it next). family: drawn by
    weight (None), or the one given (an extra family: random assemblies)."""
    family, parts, rng = shape_parts(seed, synset, index, turn, family)
    mesh = parts_to_mesh(parts)
    axes, centres = part_frames(parts)
    materials = assign_materials(family_of(synset, family).style, [p.group for p in parts], axes, centres, rng)
    return family, parts, mesh, material_table(materials), rng


def render_shape_views(mesh, table, views, rng, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """A shape (`shape_appearance`'s mesh and material table) rendered from each (azim, elev,
    dist_ratio) through R2N2's cameras, under lights drawn from `rng`: (V, S, S, 4) uint8 RGBA."""
    import torch

    cameras = [r2n2_camera(*view) for view in views]
    Rs, Ts = torch.stack([R for R, _ in cameras]), torch.stack([T for _, T in cameras])
    lights = [sample_lighting(rng) for _ in views]
    return render_views(
        mesh.verts, mesh.faces, mesh.normals, mesh.part_index, table, Rs, Ts, lights, image_size=image_size
    )


def write_shape(
    root: str,
    synset: str,
    index: int,
    seed: int,
    n_views: int,
    layout: str = "course",
    turn: int = 0,
    viewpoints: str = "r2n2",
    family: str | None = None,
) -> tuple[str, str]:
    """Generate and write one shape (mesh, exact samples, voxels, views, metadata). Returns (its id, its family)."""
    import imageio.v3 as iio
    import torch
    from pytorch3d.io import save_obj

    family, parts, mesh, table, rng = shape_appearance(seed, synset, index, turn, family)
    mid = shape_id(seed, synset, index)
    dirs = shape_dirs(root, layout, synset, mid)
    for folder in dirs.values():
        if folder:
            os.makedirs(folder, exist_ok=True)
    if dirs["mesh"]:
        save_obj(
            os.path.join(dirs["mesh"], "model.obj"),
            torch.as_tensor(mesh.verts, dtype=torch.float32),
            torch.as_tensor(mesh.faces),
        )
        write_exact_samples(dirs["mesh"], parts, np.random.default_rng([seed, int(synset), index, 1]))
    write_voxels(os.path.join(dirs["voxels"], "model.binvox"), parts, mesh.verts, layout)

    views = sample_views(rng, n_views, viewpoints, np.random.default_rng([seed, int(synset), index, 2]))
    rgba = render_shape_views(mesh, table, views, rng)
    for view, image in enumerate(rgba):
        iio.imwrite(os.path.join(dirs["render"], f"{view:02d}.png"), image)
    with open(os.path.join(dirs["render"], "rendering_metadata.txt"), "w") as f:
        f.writelines(metadata_line(*view) for view in views)
    with open(os.path.join(dirs["render"], "renderings.txt"), "w") as f:
        f.writelines(f"{view:02d}.png\n" for view in range(n_views))
    return mid, family
