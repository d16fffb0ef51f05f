"""Where the data lives: the data root, its R2N2 layout (detected), its splits and each model's files.

    layout = detect_layout("DIR")            # course layout or the two R2N2 archives side by side
    entries = load_split(layout, "train")    # [ModelEntry(synset, model_id, views)]
    print(layout.describe())                 # "R2N2 layout (archives): 6 models, 144 views, ..."

Two layouts are read, detected from what DIR holds:

    course:   DIR/r2n2/ShapeNetRendering/<synset>/<model>/rendering/{00..23}.png, rendering_metadata.txt
              DIR/r2n2/ShapeNetVoxels/<synset>/<model>/model.binvox   (or r2n2/ShapeNetVox32/)
              DIR/shapenet/<synset>/<model>/model.obj                 (optional: ShapeNetCore v1)
              DIR/splits.json                                         (optional)
    archives: DIR/ShapeNetRendering/<synset>/<model>/rendering/...    (R2N2's ShapeNetRendering.tgz)
              DIR/ShapeNetVox32/<synset>/<model>/model.binvox         (R2N2's ShapeNetVox32.tgz)
              DIR/ShapeNetCore.v1/<synset>/<model>/model.obj          (optional)
              DIR/splits.json                                         (optional)

splits.json is {split: {synset: {model_id: [view indices]}}}. Without one, a split is made from
the model ids (`generated_splits`) and written to the cache folder. The split "all" is every
model. The course kit's three names (`R2N2_PATH`, `SHAPENET_PATH`, `SPLITS_PATH`) are kept for
code ported from it. The default root holds the embedded procedural dataset, generated on
first use; `--data_root DIR` or the environment variable `R2N2_DATA_ROOT` picks another.
"""

import hashlib
import json
import os
import re
from dataclasses import dataclass, field

from r2n2 import DatasetError

REPO_DIR = os.path.dirname(os.path.abspath(__file__))

# The embedded dataset is generated here (git-ignored) the first time a script needs it.
EMBEDDED_DATA_ROOT = os.path.join(REPO_DIR, "data", "embedded")
DATA_ROOT = os.environ.get("R2N2_DATA_ROOT", EMBEDDED_DATA_ROOT)

R2N2_PATH = os.path.join(DATA_ROOT, "r2n2")
SHAPENET_PATH = os.path.join(DATA_ROOT, "shapenet")
SPLITS_PATH = os.path.join(DATA_ROOT, "splits.json")

VOXEL_DIRS = ("ShapeNetVoxels", "ShapeNetVox32")
# Where the generator's archives layout says how it was written: a hidden file, so the folder
# still holds what R2N2's two archives hold and reads as they do (the course layout uses embedded.json).
ARCHIVES_GENERATOR_FILE = ".embedded.json"
SPLIT_NAMES = ("train", "val", "test")


@dataclass
class ModelEntry:
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
    notes: list[str] = field(default_factory=list)  # facts found while reading, for describe()

    @property
    def surfaces(self) -> str:
        """Where ground-truth surfaces come from: "mesh" (the OBJs) or "voxels" (their surface)."""
        return "mesh" if self.meshes else "voxels"

    @property
    def voxel_placement(self) -> str:
        """How binvox grids are put in the object frame (see `r2n2.binvox_centers`): the embedded
        data's grids are exact ("centred" reads them exactly); real ones are aligned to the OBJ's
        bounding box when there is one, as Mesh R-CNN does, else placed by R2N2's centred grid."""
        if self.embedded is not None or not self.meshes:
            return "centred"
        return "bbox"


def data_paths(data_root: str | None = None) -> dict[str, str]:
    """The three course paths under `data_root` (default: `DATA_ROOT`)."""
    root = os.path.abspath(data_root or DATA_ROOT)
    return {"root": root, "r2n2": os.path.join(root, "r2n2"), "shapenet": os.path.join(root, "shapenet"), "splits": os.path.join(root, "splits.json")}


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


def detect_layout(data_root: str | None) -> Layout:
    """Find the layout of a data root, or raise DatasetError saying what was expected."""
    root = os.path.abspath(data_root or DATA_ROOT)
    if not os.path.isdir(root):
        raise DatasetError(f"data root {root} does not exist: pass --data_root DIR holding the R2N2 data (see the README), or create one with make_dataset.py --root DIR")

    def first_dir(base: str, names) -> str | None:
        return next((os.path.join(base, n) for n in names if os.path.isdir(os.path.join(base, n))), None)

    if os.path.isdir(os.path.join(root, "r2n2", "ShapeNetRendering")):
        kind, base, meshes = "course", os.path.join(root, "r2n2"), first_dir(root, ["shapenet"])
    elif os.path.isdir(os.path.join(root, "ShapeNetRendering")):
        kind, base, meshes = "archives", root, first_dir(root, ["ShapeNetCore.v1", "shapenet"])
    else:
        raise DatasetError(f"data root {root} holds neither r2n2/ShapeNetRendering/ (the course layout) nor ShapeNetRendering/ (the R2N2 archives extracted side by side)")
    voxels = first_dir(base, VOXEL_DIRS)
    if voxels is None:
        raise DatasetError(f"{os.path.join(base, 'ShapeNetRendering')} has no voxels beside it: extract ShapeNetVox32.tgz to {os.path.join(base, 'ShapeNetVox32')}")
    splits = os.path.join(root, "splits.json")
    embedded = read_json_if_any(os.path.join(root, "embedded.json"))
    generator = embedded or read_json_if_any(os.path.join(root, ARCHIVES_GENERATOR_FILE))
    return Layout(root, kind, os.path.join(base, "ShapeNetRendering"), voxels, meshes, splits if os.path.isfile(splits) else None,
                  embedded, generator, writable_cache_dir(root))


def read_json_if_any(path: str) -> dict | None:
    """A small JSON file's content, None when there is no such file (DatasetError if unreadable)."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise DatasetError(f"cannot read {path}: {err}") from None


def model_files(layout: Layout, entry: ModelEntry) -> dict:
    """Paths of one model's files: obj, and beside it the optional exact samples pointcloud.npz
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


def split_counts(n: int) -> tuple[int, int, int]:
    """(train, val, test) sizes of one category of n models: 80/10/10, test first so tiny
    datasets still get a test model, train keeps at least one."""
    if n <= 1:
        return n, 0, 0
    n_test = max(1, round(0.1 * n))
    n_val = round(0.1 * n) if n - n_test >= 3 else 0
    return n - n_test - n_val, n_val, n_test


def generated_splits(layout: Layout) -> dict:
    """A deterministic split of every rendered model: per synset, models sorted by the md5 of
    their id; the first 10% test, the next 10% val, the rest train (`split_counts`). Every
    listed view is used. Renderings without voxels stop with the file named."""
    splits = {name: {} for name in SPLIT_NAMES}
    for synset in sorted(os.listdir(layout.renderings)):
        synset_dir = os.path.join(layout.renderings, synset)
        if not os.path.isdir(synset_dir):
            continue
        models = {}
        for model_id in sorted(os.listdir(synset_dir)):
            render_dir = os.path.join(synset_dir, model_id, "rendering")
            views = listed_views(render_dir)
            if not views:
                raise DatasetError(f"model folder {os.path.join(synset_dir, model_id)} has no renderings (expected rendering/00.png ...)")
            binvox = os.path.join(layout.voxels, synset, model_id, "model.binvox")
            if not os.path.isfile(binvox):
                raise DatasetError(f"renderings {render_dir} have no voxels: {binvox} is missing")
            models[model_id] = views
        order = sorted(models, key=lambda m: hashlib.md5(m.encode()).hexdigest())
        n_train, n_val, n_test = split_counts(len(order))
        for i, model_id in enumerate(order):
            name = "test" if i < n_test else "val" if i < n_test + n_val else "train"
            splits[name].setdefault(synset, {})[model_id] = models[model_id]
    if not any(splits[name] for name in SPLIT_NAMES):
        raise DatasetError(f"{layout.renderings} holds no <synset>/<model>/rendering/ folders")
    return splits


def read_splits(layout: Layout) -> tuple[dict, str]:
    """(splits, where they come from): the data root's splits.json, or the generated split,
    written once to the cache folder (atomically) so it can be inspected and reused."""
    if layout.splits:
        try:
            with open(layout.splits) as f:
                return json.load(f), layout.splits
        except (OSError, ValueError) as err:
            raise DatasetError(f"cannot read split file {layout.splits}: {err}") from None
    path = os.path.join(layout.cache_dir, "generated_splits.json")
    splits = generated_splits(layout)
    os.makedirs(layout.cache_dir, exist_ok=True)
    text = json.dumps(splits, indent=1, sort_keys=True)
    if not os.path.isfile(path) or open(path).read() != text:
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return splits, f"generated by model id ({path})"


def load_split(layout: Layout, split: str) -> tuple[list[ModelEntry], str]:
    """(models of a split, checked to exist on disk; where the split comes from). "all" is
    every model of every split (views merged)."""
    splits, source = read_splits(layout)
    if split != "all" and split not in splits:
        raise DatasetError(f"split {split!r} not in {source} (it has {sorted(splits)}; 'all' is every model)")
    merged: dict[tuple[str, str], set] = {}
    for name in splits if split == "all" else [split]:
        for synset, models in splits[name].items():
            for model_id, views in models.items():
                merged.setdefault((synset, model_id), set()).update(int(v) for v in views)
    entries = [ModelEntry(synset, model_id, sorted(views)) for (synset, model_id), views in sorted(merged.items())]
    missing = []
    for entry in entries:
        files = model_files(layout, entry)
        missing += [p for p in (files["obj"], files["binvox"], files["metadata"], *files["pngs"]) if p and not os.path.exists(p)]
    if missing:
        raise DatasetError(f"{source} names {len(missing)} missing file(s), e.g. {missing[0]}")
    if not entries:
        raise DatasetError(f"split {split!r} of {source} is empty; --split all uses every model")
    return entries, source
