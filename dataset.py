"""R2N2 ShapeNet data in the course layout: locating a split, reading its models, the cache, the Dataset.

    dataset = R2N2Dataset(data_root=None, split="train", n_points=1000)   # the embedded data
    loader = DataLoader(dataset, batch_size=32, collate_fn=collate_batch)
    batch = batch_to_device(next(iter(loader)), "cuda")

Layout under a data root (the real R2N2 data and the embedded dataset alike):

    r2n2/ShapeNetRendering/<synset>/<model>/rendering/{00..NN}.png   137x137 RGBA views
    r2n2/ShapeNetRendering/<synset>/<model>/rendering/rendering_metadata.txt
                                                   one line per view: azim elev yaw dist_ratio fov
    r2n2/ShapeNetVoxels/<synset>/<model>/model.binvox   (or r2n2/ShapeNetVox32/, PyTorch3D's name)
    shapenet/<synset>/<model>/model.obj
    splits.json                                    {split: {synset: {model_id: [view indices]}}}

The file formats and every convention (object frame, voxel order [z, y, x], cameras, images)
are `r2n2.py`'s. `voxel_align="auto"` picks "header" for the embedded dataset and "bbox" (Mesh
R-CNN / PyTorch3D's placement) otherwise. The embedded dataset is generated on first use
(`embedded_dataset.generate`).
"""

import hashlib
import json
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch

from geometry import sample_surface
from r2n2 import R2N2_K, DatasetError, prepare_image, r2n2_camera, read_binvox, read_mesh, read_metadata, read_png, voxels_object_frame

N_SURFACE_POINTS = 5000  # surface samples per model kept in the cache
CACHE_VERSION = 1
VOXEL_DIRS = ("ShapeNetVoxels", "ShapeNetVox32")


# --------------------------------------------------------------------------------------------
# Locating a dataset and its split
# --------------------------------------------------------------------------------------------


@dataclass
class ModelEntry:
    synset: str
    model_id: str
    views: list[int]


def ensure_data(data_root: str | None) -> dict[str, str]:
    """Resolve the data root; generate the embedded dataset on first use.

    Returns `dataset_location.data_paths` for it. Raises DatasetError if a root given by the
    user is missing or incomplete.
    """
    from dataset_location import EMBEDDED_DATA_ROOT, data_paths

    paths = data_paths(data_root)
    if not os.path.exists(paths["root"]) and os.path.abspath(paths["root"]) == os.path.abspath(EMBEDDED_DATA_ROOT):
        from embedded_dataset import generate

        print(f"embedded dataset not found: generating it in {paths['root']} (once)", file=sys.stderr)
        generate(paths["root"])
    if not os.path.isdir(paths["root"]):
        raise DatasetError(f"data root {paths['root']} does not exist: pass --data_root DIR holding r2n2/, shapenet/ and splits.json, or create one with make_dataset.py --root DIR")
    for key, what in (("r2n2", "folder"), ("shapenet", "folder"), ("splits", "file")):
        if not os.path.exists(paths[key]):
            raise DatasetError(f"data root {paths['root']} has no {os.path.basename(paths[key])} {what}: expected r2n2/, shapenet/ and splits.json")
    paths["voxels"] = next((os.path.join(paths["r2n2"], d) for d in VOXEL_DIRS if os.path.isdir(os.path.join(paths["r2n2"], d))), "")
    if not paths["voxels"]:
        raise DatasetError(f"{paths['r2n2']} has neither ShapeNetVoxels/ nor ShapeNetVox32/")
    paths["renderings"] = os.path.join(paths["r2n2"], "ShapeNetRendering")
    return paths


def default_voxel_align(paths: dict[str, str]) -> str:
    info = os.path.join(paths["root"], "embedded.json")
    if os.path.exists(info):
        with open(info) as f:
            return json.load(f).get("voxel_frame", "bbox")
    return "bbox"


def load_split(paths: dict[str, str], split: str) -> list[ModelEntry]:
    """Models of a split, checked to exist on disk."""
    try:
        with open(paths["splits"]) as f:
            splits = json.load(f)
    except (OSError, ValueError) as err:
        raise DatasetError(f"cannot read split file {paths['splits']}: {err}") from None
    if split not in splits:
        raise DatasetError(f"split {split!r} not in {paths['splits']} (it has {sorted(splits)})")
    entries, missing = [], []
    for synset, models in sorted(splits[split].items()):
        for model_id, views in sorted(models.items()):
            entry = ModelEntry(synset, model_id, [int(v) for v in views])
            for path in model_files(paths, entry)[:3]:
                if not os.path.exists(path):
                    missing.append(path)
            entries.append(entry)
    if missing:
        raise DatasetError(f"{paths['splits']} names {len(missing)} missing file(s), e.g. {missing[0]}")
    if not entries:
        raise DatasetError(f"split {split!r} of {paths['splits']} is empty")
    return entries


def model_files(paths: dict[str, str], entry: ModelEntry) -> list[str]:
    """obj, binvox, metadata, then one PNG per view."""
    render_dir = os.path.join(paths["renderings"], entry.synset, entry.model_id, "rendering")
    return [
        os.path.join(paths["shapenet"], entry.synset, entry.model_id, "model.obj"),
        os.path.join(paths["voxels"], entry.synset, entry.model_id, "model.binvox"),
        os.path.join(render_dir, "rendering_metadata.txt"),
    ] + [os.path.join(render_dir, f"{v:02d}.png") for v in entry.views]


# --------------------------------------------------------------------------------------------
# Reading one model from raw files
# --------------------------------------------------------------------------------------------


def read_model(paths: dict[str, str], entry: ModelEntry, voxel_align: str, n_surface: int = N_SURFACE_POINTS, seed: int = 0) -> dict:
    """Parse one model's files: mesh, voxels, surface samples, and its listed views."""
    obj, binvox, metadata, *pngs = model_files(paths, entry)
    verts, faces = read_mesh(obj)
    voxels = voxels_object_frame(*read_binvox(binvox), verts, voxel_align)
    cameras = read_metadata(metadata)
    images, masks, Rs, Ts = [], [], [], []
    for view, png in zip(entry.views, pngs):
        if view >= len(cameras):
            raise DatasetError(f"view {view} of {entry.model_id} has no line in {metadata}")
        raw = read_png(png)
        try:
            images.append(prepare_image(raw))
        except ValueError as err:
            raise DatasetError(f"cannot use image {png}: {err}") from None
        alpha = raw[..., -1] if raw.ndim == 3 and raw.shape[2] in (2, 4) else np.full(raw.shape[:2], 255, np.uint8)
        masks.append(torch.from_numpy(np.ascontiguousarray(alpha)) > 127)
        R, T = r2n2_camera(*cameras[view])
        Rs.append(R)
        Ts.append(T)
    seed = int(hashlib.md5(f"{seed}-{entry.model_id}".encode()).hexdigest()[:8], 16)
    return {
        "verts": verts,
        "faces": faces,
        "voxels": voxels,
        "points": sample_surface(verts, faces, n_surface, seed),
        "images": torch.stack(images),
        "masks": torch.stack(masks),
        "R": torch.stack(Rs),
        "T": torch.stack(Ts),
    }


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------


def cache_key(paths: dict[str, str], split: str, entries: list[ModelEntry], voxel_align: str) -> str:
    """Hash of everything the cache depends on: format, settings, and each source file's
    size and modification time, so an edited file triggers a rebuild."""
    digest = hashlib.sha1(f"{CACHE_VERSION}|{split}|{voxel_align}|{N_SURFACE_POINTS}".encode())
    for entry in entries:
        digest.update(f"{entry.synset}/{entry.model_id}/{entry.views}".encode())
        for path in model_files(paths, entry):
            try:
                st = os.stat(path)
                digest.update(f"{st.st_size}/{st.st_mtime_ns}".encode())
            except OSError:
                digest.update(b"missing")
    return digest.hexdigest()[:16]


def build_cache(paths: dict[str, str], split: str, entries: list[ModelEntry], voxel_align: str, out_path: str, quiet: bool = False) -> None:
    """Parse every file of the split once and save one tensor dict, atomically."""
    from tqdm import tqdm

    models = []
    for entry in tqdm(entries, desc=f"caching {split} split", unit="model", disable=quiet):
        models.append(read_model(paths, entry, voxel_align))
    verts_counts = torch.tensor([len(m["verts"]) for m in models])
    faces_counts = torch.tensor([len(m["faces"]) for m in models])
    views_counts = torch.tensor([len(m["images"]) for m in models])
    cache = {
        "version": CACHE_VERSION,
        "synsets": [e.synset for e in entries],
        "model_ids": [e.model_id for e in entries],
        "views": torch.tensor([v for e in entries for v in e.views]),
        "view_model": torch.repeat_interleave(torch.arange(len(entries)), views_counts),
        "images": (torch.cat([m["images"] for m in models]) * 255).round().to(torch.uint8),  # (Nv, 137, 137, 3)
        "masks": torch.cat([m["masks"] for m in models]),  # (Nv, 137, 137) bool
        "R": torch.cat([m["R"] for m in models]),
        "T": torch.cat([m["T"] for m in models]),
        "voxels": torch.stack([m["voxels"] for m in models]).to(torch.bool),  # (M, 32, 32, 32)
        "points": torch.stack([m["points"] for m in models]),  # (M, S, 3)
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


def load_cache(paths: dict[str, str], split: str, entries: list[ModelEntry], voxel_align: str, cache_dir: str | None = None, quiet: bool = False) -> dict:
    """The split's cache, built first if missing or stale. Tensors are memory-mapped.

    entries: the split's models, from `load_split`; voxel_align: "header" or "bbox"."""
    key = cache_key(paths, split, entries, voxel_align)
    cache_dir = cache_dir or os.path.join(paths["root"], ".cache")
    path = os.path.join(cache_dir, f"{split}-{key}.pt")
    if not os.path.exists(path):
        build_cache(paths, split, entries, voxel_align, path, quiet=quiet)
        for name in os.listdir(cache_dir):  # drop stale caches of this split
            if name.startswith(f"{split}-") and name != os.path.basename(path):
                os.remove(os.path.join(cache_dir, name))
    try:
        return torch.load(path, mmap=True, weights_only=True)
    except Exception as err:
        raise DatasetError(f"cache {path} is unreadable ({err}); delete it to rebuild") from None


# --------------------------------------------------------------------------------------------
# The Dataset
# --------------------------------------------------------------------------------------------


class R2N2Dataset(torch.utils.data.Dataset):
    """One item per (model, view) of a split.

    Args:
        data_root: folder holding r2n2/, shapenet/ and splits.json (None: the default root).
        split: "train", "val" or "test".
        n_points: surface points per item (random subset of the cached samples; None: all).
        views: "all" views of each model, or "first" (one fixed view per model).
        use_cache: read the preprocessed cache (fast) or parse the raw files for every item.
        voxel_align: "auto", "header" or "bbox" (see the module docstring).
        seed: offsets the per-item `points` subsets and seeds raw-mode surface sampling.
        return_meshes: include verts/faces. Training loaders turn this off: points suffice,
            and dozens of small tensors per batch slow DataLoader workers down.

    Item keys: images (137, 137, 3) float; masks (137, 137) bool; voxels (32, 32, 32) float
    [z, y, x]; points (n_points, 3); verts (V, 3); faces (F, 3) long; R (3, 3); T (3,); K (4, 4);
    synset, model_id (str); view, model_index (int).
    """

    def __init__(
        self,
        data_root: str | None = None,
        split: str = "train",
        n_points: int | None = None,
        views: str = "all",
        use_cache: bool = True,
        voxel_align: str = "auto",
        seed: int = 0,
        quiet: bool = False,
        return_meshes: bool = True,
    ):
        if views not in ("all", "first"):
            raise ValueError(f"views must be 'all' or 'first', got {views!r}")
        self.paths = ensure_data(data_root)
        self.split = split
        self.n_points = n_points
        self.use_cache = use_cache
        self.seed = seed
        self.return_meshes = return_meshes
        self.voxel_align = default_voxel_align(self.paths) if voxel_align == "auto" else voxel_align
        self.entries = load_split(self.paths, split)
        if use_cache:
            self.cache = load_cache(self.paths, split, self.entries, self.voxel_align, quiet=quiet)
        # Flat (model index, position of the view in the model's list) per item.
        self.items = [
            (m, k) for m, entry in enumerate(self.entries) for k in range(len(entry.views) if views == "all" else 1)
        ]
        # Row of each model's first view in the cache's per-view tensors.
        self.view_offsets = np.cumsum([0] + [len(e.views) for e in self.entries])

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
        model_idx = [self.items[i][0] for i in indices]
        entries = [self.entries[m] for m in model_idx]
        positions = [self.items[i][1] for i in indices]
        if self.use_cache:
            c = self.cache
            rows = torch.tensor([int(self.view_offsets[m]) + k for m, k in zip(model_idx, positions)])
            models = torch.tensor(model_idx)
            points = c["points"][models]  # (B, S, 3)
            if self.n_points is not None:
                windows = torch.stack([self._point_window(i, points.shape[1]) for i in indices])
                points = torch.gather(points, 1, windows[..., None].expand(-1, -1, 3))
            verts_offsets, faces_offsets = c["verts_offsets"].tolist(), c["faces_offsets"].tolist()
            batch = {
                "images": c["images"][rows],
                "masks": c["masks"][rows],
                "R": c["R"][rows],
                "T": c["T"][rows],
                "voxels": c["voxels"][models],
                "points": points,
                "verts": [c["verts"][verts_offsets[m] : verts_offsets[m + 1]] for m in model_idx],
                "faces": [c["faces"][faces_offsets[m] : faces_offsets[m + 1]].long() for m in model_idx],
            }
        else:
            models = []
            for i, entry, k in zip(indices, entries, positions):
                model = read_model(self.paths, ModelEntry(entry.synset, entry.model_id, [entry.views[k]]), self.voxel_align, seed=self.seed)
                if self.n_points is not None:
                    model["points"] = model["points"][self._point_window(i, len(model["points"]))]
                models.append(model)
            batch = {key: torch.stack([m[key][0] if key in ("images", "masks", "R", "T") else m[key] for m in models]) for key in ("images", "masks", "R", "T", "voxels", "points")}
            batch["images"] = (batch["images"] * 255).round().to(torch.uint8)
            batch["voxels"] = batch["voxels"].bool()
            batch["verts"] = [m["verts"] for m in models]
            batch["faces"] = [m["faces"] for m in models]
        if not self.return_meshes:
            del batch["verts"], batch["faces"]
        batch.update(
            K=R2N2_K.expand(len(indices), 4, 4).clone(),
            synset=[e.synset for e in entries],
            model_id=[e.model_id for e in entries],
            view=torch.tensor([e.views[k] for e, k in zip(entries, positions)]),
            model_index=torch.tensor(model_idx),
        )
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
            batch[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) and key not in ("verts", "faces") else values
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
            elif key == "voxels":
                value = value.float()
        elif isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
            value = [v.to(device, non_blocking=non_blocking) for v in value]
        out[key] = value
    return out
