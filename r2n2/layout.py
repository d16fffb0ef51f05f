"""An R2N2 data root's layout, detected from its folders, and where each shape's files are.

    layout = detect_layout("DIR")            # course layout or the two R2N2 archives side by side
    paths = shape_paths(layout, entry)       # obj, exact samples, binvox, metadata, pngs of a ShapeEntry

Two layouts are read, detected from what DIR holds:

    course:   DIR/r2n2/ShapeNetRendering/<synset>/<model>/rendering/{00..23}.png, rendering_metadata.txt
              DIR/r2n2/ShapeNetVoxels/<synset>/<model>/model.binvox   (or r2n2/ShapeNetVox32/)
              DIR/shapenet/<synset>/<model>/model.obj                 (optional: ShapeNetCore v1)
              DIR/splits.json                                         (optional)
    archives: DIR/ShapeNetRendering/<synset>/<model>/rendering/...    (R2N2's ShapeNetRendering.tgz)
              DIR/ShapeNetVox32/<synset>/<model>/model.binvox         (R2N2's ShapeNetVox32.tgz)
              DIR/ShapeNetCore.v1/<synset>/<model>/model.obj          (optional)
              DIR/splits.json                                         (optional)

Which shapes form a split is `splits.py`'s; which root is read by default is `dataset_location`'s.
"""

import hashlib
import json
import os
import re
from dataclasses import dataclass

from r2n2.formats import DatasetError

VOXEL_DIRS = ("ShapeNetVoxels", "ShapeNetVox32")
# Where the generator's archives layout says how it was written: a hidden file, so the folder
# still holds what R2N2's two archives hold and reads as they do (the course layout uses embedded.json).
ARCHIVES_GENERATOR_FILE = ".embedded.json"


@dataclass
class ShapeEntry:
    """One shape of a split: its ShapeNet synset and model id, and the views of it used."""

    synset: str
    model_id: str
    views: list[int]


@dataclass
class Layout:
    """A data root's folders as detected. meshes / splits are None when absent."""

    root: str
    kind: str  # "course" or "archives"
    renderings: str
    voxels: str
    meshes: str | None
    splits: str | None
    embedded: dict | None = None  # embedded.json of a generated dataset (course layout)
    generator: dict | None = None  # how the procedural generator wrote this root (either layout), None for real data
    cache_dir: str = ""

    @property
    def surfaces(self) -> str:
        """Where ground-truth surfaces come from: "mesh" (the OBJs) or "voxels" (their surface)."""
        return "mesh" if self.meshes else "voxels"

    @property
    def voxel_placement(self) -> str:
        """How binvox grids are put in the object frame (see `r2n2.formats.binvox_centers`): the embedded
        data's grids are exact ("centred" reads them exactly); real ones are aligned to the OBJ's
        bounding box when there is one, as Mesh R-CNN does, else placed by R2N2's centred grid."""
        if self.embedded is not None or not self.meshes:
            return "centred"
        return "bbox"


def writable_cache_dir(root: str) -> str:
    """ROOT/.cache, or a per-root folder under ~/.cache when ROOT is read-only (a shared copy)."""
    local = os.path.join(root, ".cache")
    try:
        os.makedirs(local, exist_ok=True)
        if os.access(local, os.W_OK):
            return local
    except OSError:
        pass
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "single-view-3d", hashlib.sha1(root.encode()).hexdigest()[:12])


def detect_layout(data_root: str) -> Layout:
    """Find the layout of a data root, or raise DatasetError saying what was expected."""
    root = os.path.abspath(data_root)
    if not os.path.isdir(root):
        raise DatasetError(
            f"data root {root} does not exist: pass --data_root DIR holding the R2N2 data (docs/data.md), or create "
            "one with make_dataset.py --root DIR"
        )

    def first_dir(base: str, names) -> str | None:
        return next((os.path.join(base, n) for n in names if os.path.isdir(os.path.join(base, n))), None)

    if os.path.isdir(os.path.join(root, "r2n2", "ShapeNetRendering")):
        kind, base, meshes = "course", os.path.join(root, "r2n2"), first_dir(root, ["shapenet"])
    elif os.path.isdir(os.path.join(root, "ShapeNetRendering")):
        kind, base, meshes = "archives", root, first_dir(root, ["ShapeNetCore.v1", "shapenet"])
    else:
        raise DatasetError(
            f"data root {root} holds neither r2n2/ShapeNetRendering/ (the course layout) nor ShapeNetRendering/ (the "
            "R2N2 archives extracted side by side)"
        )
    voxels = first_dir(base, VOXEL_DIRS)
    if voxels is None:
        raise DatasetError(
            f"{os.path.join(base, 'ShapeNetRendering')} has no voxels beside it: extract ShapeNetVox32.tgz to "
            f"{os.path.join(base, 'ShapeNetVox32')}"
        )
    splits = os.path.join(root, "splits.json")
    embedded = read_json_if_any(os.path.join(root, "embedded.json"))
    generator = embedded or read_json_if_any(os.path.join(root, ARCHIVES_GENERATOR_FILE))
    return Layout(
        root,
        kind,
        os.path.join(base, "ShapeNetRendering"),
        voxels,
        meshes,
        splits if os.path.isfile(splits) else None,
        embedded,
        generator,
        writable_cache_dir(root),
    )


# Model ids of the procedural generator: md5("embedded-<seed>-<synset>-<index>") (procedural's shape_id,
# unchanged since its first version). Index 0 exists in every generated folder, so a few indices per
# seed find one whatever its size.
GENERATED_ID_SEEDS = range(1000)
GENERATED_ID_INDICES = range(4)


def generated_without_record(layout: Layout) -> bool:
    """Whether a root that carries no generator record holds shapes of this project's generator:
    generator versions up to 3 wrote R2N2's archives layout without one, and those files must not
    be read as real R2N2 data. Checks each synset's model ids against the first ids of seeds
    0..999 (about 4000 md5s a synset, a few ms)."""
    if layout.generator is not None or not os.path.isdir(layout.renderings):
        return False
    for synset in os.listdir(layout.renderings):
        folder = os.path.join(layout.renderings, synset)
        if not os.path.isdir(folder):
            continue
        ids = set(os.listdir(folder))
        for seed in GENERATED_ID_SEEDS:
            for index in GENERATED_ID_INDICES:
                if hashlib.md5(f"embedded-{seed}-{synset}-{index}".encode()).hexdigest() in ids:
                    return True
    return False


def read_json_if_any(path: str) -> dict | None:
    """A small JSON file's content, None when there is no such file (DatasetError if unreadable)."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise DatasetError(f"cannot read {path}: {err}") from None


def shape_paths(layout: Layout, entry: ShapeEntry) -> dict:
    """Paths of one shape's files: obj, and beside it the optional exact samples pointcloud.npz
    and points.npz (Occupancy Networks' files; all None without meshes), binvox, metadata, pngs
    (per view)."""
    render_dir = os.path.join(layout.renderings, entry.synset, entry.model_id, "rendering")
    mesh_dir = os.path.join(layout.meshes, entry.synset, entry.model_id) if layout.meshes else None
    return {
        "obj": os.path.join(mesh_dir, "model.obj") if mesh_dir else None,
        "pointcloud": os.path.join(mesh_dir, "pointcloud.npz") if mesh_dir else None,
        "points": os.path.join(mesh_dir, "points.npz") if mesh_dir else None,
        "binvox": os.path.join(layout.voxels, entry.synset, entry.model_id, "model.binvox"),
        "metadata": os.path.join(render_dir, "rendering_metadata.txt"),
        "pngs": [os.path.join(render_dir, f"{v:02d}.png") for v in entry.views],
    }


def listed_views(render_dir: str) -> list[int]:
    """View indices of a rendering folder: from renderings.txt when present, else its NN.png files."""
    listing = os.path.join(render_dir, "renderings.txt")
    if os.path.isfile(listing):
        with open(listing) as f:
            names = [line.strip() for line in f if line.strip()]
    else:
        names = sorted(os.listdir(render_dir)) if os.path.isdir(render_dir) else []
    return sorted(int(m.group(1)) for m in (re.fullmatch(r"(\d+)\.png", n) for n in names) if m)
