"""The R2N2 Dataset: one item per (shape, view) of a split, served from the split's cache.

    dataset = R2N2Dataset(data_root=None, split="train", n_points=1000)   # the embedded data
    loader = DataLoader(dataset, batch_size=32, collate_fn=collate_batch)
    batch = batch_to_device(next(iter(loader)), "cuda")

Any R2N2-layout folder works (the course layout or the two R2N2 archives, detected by
`dataset_location.detect_layout`); opening one prints a line saying what was found. Files are
read by `r2n2/ground_truth.py` and cached by `r2n2/cache.py`; every convention (object frame,
voxel order [z, y, x], cameras, images) is `r2n2/formats.py`'s. The embedded dataset is
generated on first use (`procedural.ready_layout`); this module only reads.
"""

import hashlib
import sys

import numpy as np
import torch

import procedural
from r2n2.cache import load_cache
from r2n2.formats import R2N2_K, DatasetError  # noqa: F401 (DatasetError: what every reader raises, importable from here)
from r2n2.ground_truth import read_shape
from r2n2.layout import Layout, ShapeEntry
from r2n2.splits import load_split, read_splits


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


def mean_occupancy(voxels: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """The mean of M bool grids (M, D, H, W) as (D, H, W) float, summed chunk by chunk in integers
    (no M x D x H x W float copy: 4 GB at 30k shapes); equal to voxels.float().mean(0)."""
    total = torch.zeros(voxels.shape[1:], dtype=torch.int64)
    for start in range(0, len(voxels), chunk):
        total += voxels[start : start + chunk].sum(0)
    return total.float() / len(voxels)


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
        self.layout = procedural.ready_layout(data_root)  # the embedded data generated on first use
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
