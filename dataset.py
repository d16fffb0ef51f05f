"""The R2N2 Dataset: one item per (shape, view) of a split, served from the split's cache.

    dataset = R2N2Dataset(data_root=None, split="train", n_points=1000)   # the embedded data
    loader = DataLoader(dataset, batch_size=32, collate_fn=collate_batch)
    batch = batch_to_device(next(iter(loader)), "cuda")

Any R2N2-layout folder works (the course layout or the two R2N2 archives, detected by
`dataset_location.detect_layout`); opening one prints a line saying what was found. Files are
read by `ground_truth.py` and cached by `cache.py`; every convention (object frame, voxel order
[z, y, x], cameras, images) is
`r2n2.py`'s. The embedded dataset is generated on first use (`procedural.write_dataset`).
"""

import hashlib
import os
import shutil
import sys

import numpy as np
import torch

from dataset_location import (
    DATA_ROOT,
    EMBEDDED_DATA_ROOT,
    EMBEDDED_MODELS,
    Layout,
    ShapeEntry,
    detect_layout,
    generated_without_record,
)
from r2n2.cache import load_cache
from r2n2.formats import R2N2_K, DatasetError  # noqa: F401 (DatasetError: what every reader raises, importable from here)
from r2n2.ground_truth import read_shape
from r2n2.splits import load_split, read_splits


def stale_generator_message(layout: Layout) -> str | None:
    """Why a generated data root cannot be read by this code (it was written by another version
    of the procedural generator), or None: real data, or data of the current generator."""
    from procedural import GENERATOR_VERSION

    version = (layout.generator or {}).get("generator_version", GENERATOR_VERSION)
    if version == GENERATOR_VERSION:
        return None
    archives = " --layout archives" if layout.kind == "archives" else ""
    return (
        f"{layout.root} was written by version {version} of the procedural generator, this code reads version "
        f"{GENERATOR_VERSION} (version 4 turned the world into ShapeNet's orientation): regenerate it, e.g. "
        f"rm -r {layout.root} && python make_dataset.py --root {layout.root}{archives} "
        "(with its --n_models, --n_views, --seed)"
    )


def write_default_data(root: str) -> None:
    """Generate the embedded dataset at root. Two processes may do it at once (two trainings
    started together): the second to finish finds the first one's dataset in place, and uses it."""
    import procedural

    try:
        procedural.write_dataset(root, n_models=EMBEDDED_MODELS)
    except OSError:  # FileExistsError, or ENOTEMPTY from the final rename: another process wrote it
        if not os.path.isfile(os.path.join(root, "embedded.json")):
            raise


def ensure_data(data_root: str | None) -> Layout:
    """The data root's layout; the embedded dataset is generated on first use, and regenerated
    (saying so) when it was written by another version of the generator or at another size
    (`EMBEDDED_MODELS`).

    Raises DatasetError if a root given by the user is missing, not an R2N2 layout, or written by
    another version of the generator."""

    root = os.path.abspath(data_root or DATA_ROOT)
    is_default = root == os.path.abspath(EMBEDDED_DATA_ROOT)
    if not os.path.exists(root) and is_default:
        print(f"embedded dataset not found: generating it in {root} (once)", file=sys.stderr)
        write_default_data(root)
    layout = detect_layout(root)
    stale = stale_generator_message(layout)
    resized = is_default and (layout.embedded or {}).get("n_models", EMBEDDED_MODELS) != EMBEDDED_MODELS
    if is_default and (stale or resized):
        why = (
            f"generator version {layout.generator.get('generator_version')}"
            if stale
            else f"{layout.embedded['n_models']} models, not {EMBEDDED_MODELS}"
        )
        print(f"embedded dataset {root} is stale ({why}): regenerating it", file=sys.stderr)
        shutil.rmtree(root)
        write_default_data(root)
        layout = detect_layout(root)
    elif stale:
        raise DatasetError(stale)
    if generated_without_record(layout):
        archives = " --layout archives" if layout.kind == "archives" else ""
        raise DatasetError(
            f"{root} holds shapes of this project's procedural generator but no record of it (embedded.json / "
            f".embedded.json): it was written by generator version 3 or older, not by R2N2; regenerate it, e.g. "
            f"rm -r {root} && python make_dataset.py --root {root}{archives} (with its --n_models, --seed)"
        )
    return layout


def shape_keys(entries: list[ShapeEntry]) -> list[str]:
    """ "synset/model_id" of each shape, sorted: a split's shapes, as checkpoints record them."""
    return sorted(f"{e.synset}/{e.model_id}" for e in entries)


def data_identity(dataset: "R2N2Dataset") -> dict:
    """What a split is, as a checkpoint records its training data: the root, the generator's
    record (None for real data), the split and a digest of its shapes (and views)."""
    digest = hashlib.sha1()
    for entry in sorted(dataset.entries, key=lambda e: (e.synset, e.model_id)):
        digest.update(f"{entry.synset}/{entry.model_id}/{entry.views}\n".encode())
    generator = dataset.layout.generator
    return {
        "root": dataset.layout.root,
        # the record without its timing, which differs between two writes of the same data
        "generator": {k: v for k, v in generator.items() if k != "seconds"} if generator else None,
        "split": dataset.split,
        "n_shapes": len(dataset.entries),
        "shapes_digest": digest.hexdigest()[:16],
    }


def describe(layout: Layout, split_source: str, cache: dict | None = None) -> str:
    """One line saying what a data root holds and how it is read (the cache, when given, tells
    how its split's ground truth was read)."""
    splits, _ = read_splits(layout)
    models = {(s, m): v for part in splits.values() for s, ms in part.items() for m, v in ms.items()}
    n_views = sum(len(v) for v in models.values())
    placement = {"centred": "centred grid", "bbox": "bbox-aligned to the OBJs"}[layout.voxel_placement]
    surfaces = "OBJ meshes" if layout.surfaces == "mesh" else "from voxels"
    extras = ""
    if cache is not None:
        if torch.isfinite(cache["placement_iou"]).any():
            placement += (
                f" (the centred grid agrees at IoU {float(cache['placement_iou'].nanmean()):.3f} on this split)"
            )
        if cache["surface_sources"].count("samples") == len(cache["surface_sources"]):
            surfaces += " (exact samples: pointcloud.npz)"
        extras = ", occupancy labels: " + ("exact (points.npz)" if cache["occ_points"].shape[1] else "from voxels")
    name = "embedded" if layout.embedded is not None else layout.kind
    return (
        f"R2N2 layout ({name}) at {layout.root}: {len(models)} models, {n_views} views, voxels: {placement}, "
        f"surfaces: {surfaces}{extras}, split: {split_source}"
    )


class R2N2Dataset(torch.utils.data.Dataset):
    """One item per (model, view) of a split.

    Args:
        data_root: an R2N2-layout folder (see `dataset_location.py`; None: the default root).
        split: "train", "val", "test" or "all".
        n_points: surface points per item (random subset of the cached samples; None: all).
        views: "all" views of each model, or "first" (one fixed view per model).
        use_cache: read the preprocessed cache (fast) or parse the raw files for every item.
        seed: offsets the per-item `points` subsets and seeds raw-mode surface sampling.
        return_occupancy: include occ_points (Q, 3) and occ_labels (Q,), the exact occupancy
            queries of points.npz (Q = 0 when the data has none).
        return_meshes: include verts/faces. Training loaders turn this off: points suffice,
            and dozens of small tensors per batch slow DataLoader workers down.

    Item keys: images (137, 137, 3) float; masks (137, 137) bool; voxels (32, 32, 32) float
    [z, y, x]; points, normals (n_points, 3) GT surface samples; verts (V, 3), faces (F, 3) long,
    the GT surface mesh (the OBJ, or the voxels' marching-cubes surface); R (3, 3); T (3,);
    K (4, 4); synset, model_id (str); view, shape_index (int).
    """

    def __init__(
        self,
        data_root: str | None = None,
        split: str = "train",
        n_points: int | None = None,
        views: str = "all",
        use_cache: bool = True,
        seed: int = 0,
        quiet: bool = False,
        return_meshes: bool = True,
        return_occupancy: bool = False,
    ):
        if views not in ("all", "first"):
            raise ValueError(f"views must be 'all' or 'first', got {views!r}")
        self.layout = ensure_data(data_root)
        self.split = split
        self.n_points = n_points
        self.use_cache = use_cache
        self.seed = seed
        self.return_meshes = return_meshes
        self.return_occupancy = return_occupancy
        self.entries, split_source = load_split(self.layout, split)
        if use_cache:
            self.cache = load_cache(self.layout, split, self.entries, quiet=quiet)
        if not quiet:
            print(describe(self.layout, split_source, self.cache if use_cache else None), file=sys.stderr)
        # Flat (shape index, position of the view in the shape's list) per item.
        self.items = [
            (m, k) for m, entry in enumerate(self.entries) for k in range(len(entry.views) if views == "all" else 1)
        ]
        # Row of each shape's first view in the cache's per-view tensors.
        self.view_offsets = np.cumsum([0] + [len(e.views) for e in self.entries])

    @property
    def surfaces(self) -> str:
        """Where the GT surface samples come from: "samples" (exact, pointcloud.npz), "mesh" (the
        OBJs) or "voxels" (the voxel grids' surface); the layout's when read without the cache."""
        if self.use_cache and len(set(self.cache["surface_sources"])) == 1:
            return self.cache["surface_sources"][0]
        return self.layout.surfaces

    def __len__(self) -> int:
        return len(self.items)

    def _point_window(self, index: int, n_total: int) -> torch.Tensor:
        """Rows of this item's point subset: a contiguous (wrapping) window of the cached
        samples. The samples are i.i.d. uniform on the surface, so any window is itself a
        uniform random subset; varying its start by item keeps items' subsets different."""
        n = min(self.n_points, n_total)
        start = (index * 7919 + self.seed * 104729) % n_total
        return (torch.arange(n) + start) % n_total

    def __getitem__(self, index: int) -> dict:
        return batch_to_device(collate_batch(self.__getitems__([index]), unbatch=True), "cpu")

    def __getitems__(self, indices: list[int]) -> dict:
        """A whole batch at once (DataLoader calls this when it exists): one gather per tensor
        from the memory-mapped cache instead of one small copy per item.

        Images stay uint8 and voxels bool until `batch_to_device`: 4x fewer bytes through
        worker shared memory and host-to-GPU copies."""
        shape_idx = [self.items[i][0] for i in indices]
        positions = [self.items[i][1] for i in indices]
        batch = (
            self._cached_batch(indices, shape_idx, positions)
            if self.use_cache
            else self._raw_batch(indices, shape_idx, positions)
        )
        if not self.return_meshes:
            del batch["verts"], batch["faces"]
        if self.return_occupancy:
            if not self.use_cache:
                raise ValueError("return_occupancy needs the cache")
            shapes = torch.tensor(shape_idx)
            batch["occ_points"], batch["occ_labels"] = (
                self.cache["occ_points"][shapes],
                self.cache["occ_labels"][shapes],
            )
        entries = [self.entries[m] for m in shape_idx]
        batch.update(
            K=R2N2_K.expand(len(indices), 4, 4).clone(),
            synset=[e.synset for e in entries],
            model_id=[e.model_id for e in entries],
            view=torch.tensor([e.views[k] for e, k in zip(entries, positions)]),
            shape_index=torch.tensor(shape_idx),
        )
        return batch

    def _cached_batch(self, indices: list[int], shape_idx: list[int], positions: list[int]) -> dict:
        """The batch's tensors gathered from the cache: rows of the per-view tensors, shapes of
        the per-shape ones, each item's window of the surface points."""
        c = self.cache
        rows = torch.tensor([int(self.view_offsets[m]) + k for m, k in zip(shape_idx, positions)])
        shapes = torch.tensor(shape_idx)
        points, normals = c["points"][shapes], c["normals"][shapes].float()  # (B, S, 3)
        if self.n_points is not None:
            windows = torch.stack([self._point_window(i, points.shape[1]) for i in indices])[..., None].expand(
                -1, -1, 3
            )
            points, normals = torch.gather(points, 1, windows), torch.gather(normals, 1, windows)
        verts_offsets, faces_offsets = c["verts_offsets"].tolist(), c["faces_offsets"].tolist()
        return {
            "images": c["images"][rows],
            "masks": c["masks"][rows],
            "R": c["R"][rows],
            "T": c["T"][rows],
            "voxels": c["voxels"][shapes],
            "points": points,
            "normals": normals,
            "verts": [c["verts"][verts_offsets[m] : verts_offsets[m + 1]] for m in shape_idx],
            "faces": [c["faces"][faces_offsets[m] : faces_offsets[m + 1]].long() for m in shape_idx],
        }

    def _raw_batch(self, indices: list[int], shape_idx: list[int], positions: list[int]) -> dict:
        """The same batch parsed from the raw files (slow; the cache's reference)."""
        shapes = []
        for i, m, k in zip(indices, shape_idx, positions):
            entry = self.entries[m]
            shape = read_shape(self.layout, ShapeEntry(entry.synset, entry.model_id, [entry.views[k]]), seed=self.seed)
            if self.n_points is not None:
                window = self._point_window(i, len(shape["points"]))
                shape["points"], shape["normals"] = shape["points"][window], shape["normals"][window]
            shapes.append(shape)
        per_view = ("images", "masks", "R", "T")
        batch = {
            key: torch.stack([s[key][0] if key in per_view else s[key] for s in shapes])
            for key in (*per_view, "voxels", "points", "normals")
        }
        batch["images"] = (batch["images"] * 255).round().to(torch.uint8)
        batch["voxels"] = batch["voxels"].bool()
        batch["verts"] = [s["verts"] for s in shapes]
        batch["faces"] = [s["faces"] for s in shapes]
        return batch


def collate_batch(items, unbatch: bool = False) -> dict:
    """DataLoader collate_fn. Accepts a batch dict from `__getitems__` as it is, or a list of
    item dicts (stacked; meshes and ids kept as lists). unbatch=True returns item 0 alone.
    Batch keys are the item keys; verts, faces, synset and model_id are lists."""
    if isinstance(items, dict):
        batch = items
    else:
        batch = {}
        for key in items[0]:
            values = [item[key] for item in items]
            batch[key] = (
                torch.stack(values) if isinstance(values[0], torch.Tensor) and key not in ("verts", "faces") else values
            )
    if unbatch:
        return {key: value[0] for key, value in batch.items()}
    return batch


def batch_to_device(batch: dict, device, non_blocking: bool = False) -> dict:
    """Move a batch (or item) to `device`; images become float in [0, 1], voxels float 0/1.

    The conversion happens after the copy, so a GPU receives uint8/bool tensors."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=non_blocking)
            if key == "images" and value.dtype == torch.uint8:
                value = value.float() / 255.0
            elif key in ("voxels", "occ_points"):
                value = value.float()
        elif isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
            value = [v.to(device, non_blocking=non_blocking) for v in value]
        out[key] = value
    return out
