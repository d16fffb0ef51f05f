"""The per-split cache: every shape of a split read once into one tensor file, memory-mapped after.

    cache = load_cache(layout, "train", entries)   # built on first use, rebuilt when a source file changes

What is cached is `ground_truth.read_shape`'s, for every shape of the split: uint8 images, bool
masks and voxels, float16 normals and occupancy queries, the meshes packed with offsets.
Reading it is one memory map instead of thousands of PNG, binvox and npz files.
"""

import contextlib
import hashlib
import os
import sys

import torch

from common.atomic_io import atomic_torch_save, sweep_orphans
from common.written import MARK_SUFFIX, mark_written, marked, read_mark
from r2n2.formats import DatasetError
from r2n2.ground_truth import N_SURFACE_POINTS, read_shape
from r2n2.layout import Layout, ShapeEntry, shape_paths

CACHE_VERSION = 4


# The code that decides what a cache holds: a change to any of these files rebuilds every cache.
# (Metrics are not among them: they score what is cached, they do not decide it.)
READER_FILES = (
    "r2n2/cache.py",
    "r2n2/ground_truth.py",
    "r2n2/formats.py",
    "r2n2/images.py",
    "geometry/grids.py",
    "r2n2/layout.py",
)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def reader_code_digest() -> str:
    """sha1 of the source of READER_FILES, so a cache never outlives the code that wrote it."""
    digest = hashlib.sha1()
    for name in READER_FILES:
        with open(os.path.join(REPO_ROOT, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def cache_key(layout: Layout, split: str, entries: list[ShapeEntry]) -> str:
    """Hash of everything the cache depends on: its format, the code that reads the files, the
    settings, and each source file's size and modification time, so an edited file or an edited
    reader triggers a rebuild."""
    settings = (
        f"{CACHE_VERSION}|{reader_code_digest()}|{split}|{layout.kind}|{layout.voxel_placement}|{layout.surfaces}"
    )
    digest = hashlib.sha1(f"{settings}|{N_SURFACE_POINTS}".encode())
    for entry in entries:
        digest.update(f"{entry.synset}/{entry.model_id}/{entry.views}".encode())
        files = shape_paths(layout, entry)
        for path in (
            files["obj"],
            files["pointcloud"],
            files["points"],
            files["binvox"],
            files["metadata"],
            *files["pngs"],
        ):
            try:
                st = os.stat(path) if path else None
                digest.update(f"{st.st_size}/{st.st_mtime_ns}".encode() if st else b"none")
            except OSError:
                digest.update(b"missing")
    return digest.hexdigest()[:16]


def pack_shapes(entries: list[ShapeEntry], shapes: list[dict]) -> dict:
    """One tensor dict of a split's shapes (`read_shape`'s dicts), per-view tensors concatenated
    over the views of every shape, meshes packed with offsets. M shapes, Nv views in all."""
    verts_counts = torch.tensor([len(s["verts"]) for s in shapes])
    faces_counts = torch.tensor([len(s["faces"]) for s in shapes])
    occupancy = [s["occupancy"] for s in shapes]
    exact_occupancy = all(o is not None for o in occupancy) and len({len(o[0]) for o in occupancy}) == 1
    no_occupancy = (torch.zeros(len(shapes), 0, 3, dtype=torch.float16), torch.zeros(len(shapes), 0, dtype=torch.bool))
    return {
        "model_ids": [e.model_id for e in entries],  # checked against the split on load
        "surface_sources": [s["surface_source"] for s in shapes],
        "images": (torch.cat([s["images"] for s in shapes]) * 255).round().to(torch.uint8),  # (Nv, 137, 137, 3)
        "masks": torch.cat([s["masks"] for s in shapes]),  # (Nv, 137, 137) bool
        "R": torch.cat([s["R"] for s in shapes]),
        "T": torch.cat([s["T"] for s in shapes]),
        "voxels": torch.stack([s["voxels"] for s in shapes]).to(torch.bool),  # (M, 32, 32, 32)
        "points": torch.stack([s["points"] for s in shapes]),  # (M, S, 3)
        "normals": torch.stack([s["normals"] for s in shapes]).to(torch.float16),  # (M, S, 3) unit vectors
        "placement_iou": torch.tensor([s["placement_iou"] for s in shapes]),  # (M,)
        # Exact occupancy labels (points.npz) when every shape has them: (M, Q, 3) float16, (M, Q) bool.
        "occ_points": torch.stack([o[0] for o in occupancy]) if exact_occupancy else no_occupancy[0],
        "occ_labels": torch.stack([o[1] for o in occupancy]) if exact_occupancy else no_occupancy[1],
        "verts": torch.cat([s["verts"] for s in shapes]),
        "faces": torch.cat([s["faces"] for s in shapes]).to(torch.int32),
        "verts_offsets": torch.cat([torch.zeros(1, dtype=torch.long), verts_counts.cumsum(0)]),
        "faces_offsets": torch.cat([torch.zeros(1, dtype=torch.long), faces_counts.cumsum(0)]),
    }


def build_cache(layout: Layout, split: str, entries: list[ShapeEntry], out_path: str, quiet: bool = False) -> None:
    """Parse every file of the split once and save one tensor dict, atomically."""
    from tqdm import tqdm

    # The bar is closed however the reading ends, so an error's line starts a line of its own.
    with tqdm(entries, desc=f"caching {split} split", unit="model", disable=quiet) as bar:
        shapes = [read_shape(layout, entry) for entry in bar]
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    atomic_torch_save(pack_shapes(entries, shapes), out_path)
    mark_written(out_path)  # this project wrote it: a dataset's replacement may remove it (`common.written`)


def ours(path: str) -> bool:
    """A cache this project wrote: it carries its mark and matches it, or it was written before caches
    were marked (`common.legacy.EARLIER_CACHE_FILES`: named as this module names them, with no mark)."""
    from common.legacy import EARLIER_CACHE_FILES

    if marked(path):
        return True
    return bool(EARLIER_CACHE_FILES.match(os.path.basename(path))) and not os.path.exists(path + MARK_SUFFIX)


def load_cache(layout: Layout, split: str, entries: list[ShapeEntry], quiet: bool = False) -> dict:
    """The split's cache in `layout.cache_dir`, built first if missing or stale. Tensors are
    memory-mapped. entries: the split's shapes, from `splits.load_split`."""
    key = cache_key(layout, split, entries)
    path = os.path.join(layout.cache_dir, f"{split}-{key}.pt")
    if os.path.isdir(layout.cache_dir):
        sweep_orphans(layout.cache_dir)  # a cache or a mark whose writer was killed halfway
    if not os.path.exists(path):
        stale = (  # this split's earlier caches, as this project wrote them (never a file of another name or edited)
            [
                name
                for name in os.listdir(layout.cache_dir)
                if name.startswith(f"{split}-") and name.endswith(".pt") and ours(os.path.join(layout.cache_dir, name))
            ]
            if os.path.isdir(layout.cache_dir)
            else []
        )
        if stale:
            print(
                f"cache of the {split} split in {layout.cache_dir} is stale (a source file or the code that reads it "
                "changed): rebuilding it",
                file=sys.stderr,
            )
        build_cache(layout, split, entries, path, quiet=quiet)
        for name in stale:  # drop the stale caches of this split, and their marks
            for old in (os.path.join(layout.cache_dir, name), os.path.join(layout.cache_dir, name) + MARK_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(old)
    mark = read_mark(path + MARK_SUFFIX)
    if mark is not None and os.path.getsize(path) != mark["size"]:  # the size only: hashing it each time costs seconds
        raise DatasetError(f"cache {path} changed since it was written; delete it to rebuild")
    try:
        cache = torch.load(path, mmap=True, weights_only=True)
    except Exception as err:
        raise DatasetError(f"cache {path} is unreadable ({err}); delete it to rebuild") from None
    if cache.get("model_ids") != [e.model_id for e in entries]:
        raise DatasetError(f"cache {path} holds other shapes than split {split!r}; delete it to rebuild")
    return cache
