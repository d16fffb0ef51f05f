"""A dataset of generated shapes in the R2N2 / ShapeNet layout, written whole: files, splits, record.

    info = write_dataset("data/embedded", DatasetSpec(n_models=1000, n_views=4, seed=0))

Writes, for chairs (03001627), tables (04379243) and sofas (04256520), in the course layout
(`layout="archives"` writes R2N2's two archives instead, see `write_dataset`):

    ROOT/shapenet/<synset>/<model>/model.obj                 ShapeNet v1 style mesh
    ROOT/shapenet/<synset>/<model>/pointcloud.npz            exact surface samples and normals
    ROOT/shapenet/<synset>/<model>/points.npz                labelled occupancy queries (exact)
    ROOT/r2n2/ShapeNetRendering/<synset>/<model>/rendering/  00.png .. NN.png (137x137 RGBA)
                                                             rendering_metadata.txt
    ROOT/r2n2/ShapeNetVoxels/<synset>/<model>/model.binvox   32^3 solid occupancy
    ROOT/splits.json                                         {split: {synset: {model: [views]}}}
    ROOT/embedded.json                                       how this dataset was made
    ROOT/.manifest.json                                      every file written here, with its size

A dataset is built in a temporary folder beside its root and renamed into place whole. The
manifest is what may ever be deleted of it: replacing a dataset (`replace=True`) removes exactly
those files (and the readers' caches, `.cache/`), refuses a folder holding anything else, and
removes the old dataset only once the new one is in place; a process killed halfway leaves what
`recover` restores or removes.

Every shape is a union of analytic parts (`shapes.py`, `furniture.py`). That lets the voxels be
the exact solid (a point is inside if it is inside any part), not a guess from a non-watertight
mesh, and the same parts give the OBJ. Each shape's files are `shape_files.write_shape`'s; here
they are spread over worker processes, split and recorded. Output is deterministic for a seed.
"""

import json
import os
import shutil
import time

from common.atomic_io import fault_point
from common.ownership import claim, owned_name, release, sweep
from common.paths import aside_kind, rename_no_replace, replace_folder
from common.written import MARK_SUFFIX, differences, is_mark, marked, read_record, record_folder, remove_recorded
from r2n2.layout import ARCHIVES_GENERATOR_FILE
from r2n2.splits import split_counts

from .categories import SYNSETS, family_synset
from .shape_files import LAYOUTS, TURNS, VIEWPOINTS, write_shape
from .spec import DatasetSpec

# Bumped whenever the generator writes different files for the same seed; readers refuse data of
# another version (`default_data.ready_layout`). 4: the ShapeNet v1 orientation (front +x, width along z).
GENERATOR_VERSION = 4


def _worker(job):
    import torch

    torch.set_num_threads(1)
    root, synset, index, seed, n_views, layout, turn, viewpoints, family = job
    return synset, index, write_shape(root, synset, index, seed, n_views, layout, turn, viewpoints, family)


# Random assemblies (--assemblies) take shape indices from here on: their ids never meet the
# world's own, which stay what they are without them.
ASSEMBLY_INDEX = 1_000_000


def models_per_category(n_models: int) -> dict[str, int]:
    """{synset: models}: n_models shared out over the categories as evenly as possible."""
    synsets = list(SYNSETS)
    return {s: n_models // len(synsets) + (k < n_models % len(synsets)) for k, s in enumerate(synsets)}


def make_splits(synsets, per_cat, ids, families, n_views, holdout=(), holdout_report=(), extra=None) -> dict:
    """80/10/10 per category by shape index (`split_counts`); shapes of a held-out family go to
    the split "heldout" (`holdout`: the families designs are chosen on) or "heldout_report"
    (`holdout_report`: looked at once, for the final table) instead, so no shape of theirs is
    trained or tested on in-distribution. extra: {synset: [index]} of shapes for the train split
    only (random assemblies)."""
    splits = {"train": {}, "val": {}, "test": {}}
    held = {"heldout": set(holdout), "heldout_report": set(holdout_report)}
    for name, group in held.items():
        if group:
            splits[name] = {}
    for synset, n in zip(synsets, per_cat):
        kept = [i for i in range(n) if not any(families[(synset, i)] in group for group in held.values())]
        n_train, n_val, _ = split_counts(len(kept))
        for rank, i in enumerate(kept):
            split = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
            splits[split].setdefault(synset, {})[ids[(synset, i)]] = list(range(n_views))
        for i in sorted(set(range(n)) - set(kept)):
            name = next(name for name, group in held.items() if families[(synset, i)] in group)
            splits[name].setdefault(synset, {})[ids[(synset, i)]] = list(range(n_views))
        for i in (extra or {}).get(synset, []):
            splits["train"].setdefault(synset, {})[ids[(synset, i)]] = list(range(n_views))
    return splits


def check_request(root: str | None, spec: DatasetSpec) -> None:
    """ValueError or FileExistsError saying what is wrong with a request, before anything is written
    (root None: the folder is not checked)."""
    if spec.n_models < 1 or spec.views() < 1:
        raise ValueError("--n_models and --n_views must be at least 1")
    if spec.layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {spec.layout!r}")
    if spec.turn not in TURNS:
        raise ValueError(f"--turn must be one of {TURNS} degrees, got {spec.turn}")
    if spec.viewpoints not in VIEWPOINTS:
        raise ValueError(f"--viewpoints must be one of {VIEWPOINTS}, got {spec.viewpoints!r}")
    for family in (*spec.holdout, *spec.holdout_report):
        family_synset(family)  # ValueError naming the known families
    if set(spec.holdout) & set(spec.holdout_report):
        raise ValueError(f"--holdout and --holdout_report share {sorted(set(spec.holdout) & set(spec.holdout_report))}")
    if spec.assemblies < 0:
        raise ValueError("--assemblies must be 0 or more")
    if spec.assemblies and spec.layout != "course":
        raise ValueError("--assemblies needs the course layout: its split file keeps them in the train split")
    if root is not None and os.path.exists(root):
        raise FileExistsError(f"{root} already exists; remove it or choose another --root")


def write_shapes(jobs: list[tuple], workers: int, desc: str, quiet: bool) -> tuple[dict, dict]:
    """Run the shape jobs, in `workers` processes; ({(synset, index): shape id}, {...: family})."""
    import contextlib
    from multiprocessing import get_context

    from tqdm import tqdm

    ids, families = {}, {}
    pool = get_context("spawn").Pool(workers) if workers > 1 else contextlib.nullcontext()
    with tqdm(total=len(jobs), desc=desc, disable=quiet, unit="model") as bar, pool:
        results = pool.imap_unordered(_worker, jobs, chunksize=4) if workers > 1 else map(_worker, jobs)
        for synset, index, (shape_id, family) in results:
            ids[(synset, index)], families[(synset, index)] = shape_id, family
            bar.update()
            fault_point("a shape written")
    return ids, families


def dataset_record(spec: DatasetSpec) -> dict:
    """What embedded.json says of a dataset: the generator's version and the request (the
    second held-out group and the assemblies only when asked for, so records of data without
    them read as they always did)."""
    extras = {"holdout_report": list(spec.holdout_report)} if spec.holdout_report else {}
    extras.update({"assemblies": spec.assemblies} if spec.assemblies else {})
    return {
        **extras,
        "generator_version": GENERATOR_VERSION,
        "layout": spec.layout,
        "n_models": spec.n_models,
        "n_views": spec.views(),
        "seed": spec.seed,
        "categories": dict(SYNSETS),
        "holdout": list(spec.holdout),
        "voxel_frame": "centred",
        "object_frame": "ShapeNet v1: y up, front towards +x, width along z"
        + (f", then turned {spec.turn} degrees about y" if spec.turn else ""),
        "turn": spec.turn,
        "viewpoints": spec.viewpoints,
    }


def write_json(path: str, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def write_dataset(
    root: str,
    spec: DatasetSpec | None = None,
    workers: int | None = None,
    quiet: bool = False,
    replace: bool = False,
    **world,
) -> dict:
    """Write the dataset `spec` describes (or a `DatasetSpec` of the `world` keywords: n_models,
    n_views, seed, layout, ...) to `root` atomically (built in a temp folder, then renamed). With
    replace, an existing root is replaced (`check_replaceable`, `swap_in`); without, it is refused.

    `n_models` counts all categories together, split as evenly as possible. layout "course"
    writes the course layout with meshes, splits.json, families.json (each shape's family) and
    embedded.json (which tells readers the data is exact); "archives" writes only what R2N2's
    two archives hold (renderings with metadata and renderings.txt, centred 32^3 binvox grids;
    no meshes, no split file; only a hidden .embedded.json naming the generator version), a
    stand-in for the real download. `holdout` names families whose shapes form the split
    "heldout" (the shapes are the same as without it: each is drawn from its own seed), and
    `holdout_report` the split "heldout_report". `assemblies` adds that many random assemblies of
    boards, rods and tubes (`assemblies.py`) to the train split only, the world's own shapes
    unchanged. `turn` (degrees about y) writes every shape turned out of ShapeNet's frame, a
    fixture for the frame check. `viewpoints` "photo" renders every other view from photo height
    (0-20 degrees of elevation, `shape_files.sample_views`), the same shapes otherwise. Returns the
    dataset's description (embedded.json's).
    """
    spec = spec or DatasetSpec(**world)
    check_request(None if replace else root, spec)
    if replace and os.path.exists(root):
        check_replaceable(root)
    os.makedirs(os.path.dirname(os.path.abspath(root)), exist_ok=True)
    tmp = owned_name(os.path.abspath(root), "build", hidden=True)
    claim(tmp, "build")  # its proof first: a sweep removes it only when this process is provably gone
    os.makedirs(tmp)
    os.chmod(tmp, 0o777 & ~current_umask())
    start = time.time()
    try:
        jobs, extra = shape_jobs(tmp, spec)
        ids, families = write_shapes(
            jobs, workers or min(len(jobs), os.cpu_count() or 1), f"generating dataset in {root}", quiet
        )
        info = {**dataset_record(spec), "seconds": round(time.time() - start, 1)}
        write_records(tmp, spec, info, ids, families, extra)
        write_manifest(tmp)
        fault_point(f"dataset {root} written beside")
        if replace and os.path.exists(root):
            swap_in(tmp, root)
        else:
            rename_no_replace(tmp, root)  # refused if a dataset (or an empty folder) appeared there meanwhile
            release(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        release(tmp)
        raise
    return info


def shape_jobs(folder: str, spec: DatasetSpec) -> tuple[list[tuple], dict]:
    """`write_shapes`' jobs for a dataset written into folder: every shape of every category, then
    the random assemblies, given to the categories in turn; and {synset: the assemblies' indices}."""
    synsets, per_cat = list(SYNSETS), list(models_per_category(spec.n_models).values())
    common = (spec.seed, spec.views(), spec.layout, spec.turn, spec.viewpoints)
    jobs = [(folder, s, i, *common, None) for s, n in zip(synsets, per_cat) for i in range(n)]
    extra = {s: [] for s in synsets}
    for k in range(spec.assemblies):
        synset = synsets[k % len(synsets)]
        extra[synset].append(ASSEMBLY_INDEX + k)
        jobs.append((folder, synset, ASSEMBLY_INDEX + k, *common, "assembly"))
    return jobs, extra


def write_records(folder: str, spec: DatasetSpec, info: dict, ids: dict, families: dict, extra: dict) -> None:
    """The dataset's own files beside its shapes: in the course layout splits.json, families.json and
    embedded.json (info); in the archives layout only the hidden generator record."""
    if spec.layout != "course":
        write_json(os.path.join(folder, ARCHIVES_GENERATOR_FILE), info)
        return
    synsets, per_cat = list(SYNSETS), list(models_per_category(spec.n_models).values())
    splits = make_splits(synsets, per_cat, ids, families, spec.views(), spec.holdout, spec.holdout_report, extra)
    write_json(os.path.join(folder, "splits.json"), splits)
    write_json(os.path.join(folder, "families.json"), {ids[key]: families[key] for key in sorted(ids)})
    write_json(os.path.join(folder, "embedded.json"), info)


MANIFEST = ".manifest.json"  # `common.written`'s record of every file and folder the generator wrote


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_manifest(folder: str) -> None:
    """MANIFEST in folder: every file below it with its size and hash, and every folder: what a
    replacement may remove, and only while it is still as written (`common.written`)."""
    record_folder(folder, MANIFEST, {"generator_version": GENERATOR_VERSION})


def read_manifest(root: str) -> dict | None:
    """A dataset's manifest (`common.written.read_record`), None when it has none this project wrote."""
    return read_record(root, MANIFEST)


def readers_own(root: str):
    """rel -> whether a reader of the dataset wrote it (`r2n2.cache`, `r2n2.splits`): the .cache
    folder, the files in it that carry their own mark (`common.written.mark_written`) and still
    match it, and those marks."""

    from common.legacy import EARLIER_CACHE_FILES

    def own(rel: str) -> bool:
        if rel == ".cache":
            return True
        if os.path.dirname(rel) != ".cache":
            return False
        path = os.path.join(root, rel)
        if rel.endswith(MARK_SUFFIX):  # a mark: ours when it is one (its file may be gone first)
            return is_mark(path)
        return marked(path) or (
            EARLIER_CACHE_FILES.match(os.path.basename(rel)) and not os.path.exists(path + MARK_SUFFIX)
        )

    return own


def foreign_files(root: str) -> list[str]:
    """What under root the generator did not write as its manifest says, a phrase each (a file
    added or changed since, a folder added, a link), the readers' marked caches aside; every file
    when root has no manifest."""
    return differences(root, read_manifest(root), MANIFEST, readers_own(root))


class NotOurs(ValueError):
    """A folder holds what this project did not write (as its record says): `items` names each."""

    def __init__(self, message: str, items: list[str]):
        super().__init__(message)
        self.items = items


def check_replaceable(root: str) -> None:
    """NotOurs (a ValueError) saying why `root` may not be replaced: it has no manifest (a record
    alone grants nothing), or it holds what the generator did not write (each named in `items`)."""
    if read_manifest(root) is None:
        earlier = os.path.isfile(os.path.join(root, MANIFEST)) and not os.path.islink(os.path.join(root, MANIFEST))
        what = (
            f"its {MANIFEST} is of an earlier version (sizes only, which cannot prove a file unchanged)"
            if earlier
            else f"it has no {MANIFEST} (the record of the files make_dataset.py wrote there)"
        )
        raise NotOurs(f"{root}: {what}, so nothing in it is deleted: remove it yourself, or choose another --root", [])
    foreign = foreign_files(root)
    if foreign:
        raise NotOurs(
            f"{root} holds {len(foreign)} entries make_dataset.py did not write as recorded (listed above): not "
            "replaced; move them out, or choose another --root",
            foreign,
        )


def remove_written(root: str) -> list[str]:
    """Delete what root's manifest still describes and the readers' marked caches, then the folders
    left empty; returns what is left, a phrase each (never deleted)."""
    return remove_recorded(root, read_manifest(root), MANIFEST, readers_own(root))


def swap_in(tmp: str, root: str) -> None:
    """Put the complete dataset in tmp at root: root is checked again first (a file edited or added
    while the new one was built refuses the swap, NotOurs), then moved aside and deleted only once
    the new one is in place (`remove_written`); on an error in between, the old one is put back."""
    check_replaceable(root)
    left = replace_folder(tmp, root, remove_written, "dataset")
    if left:
        print(
            f"warning: kept beside {root}, not written by make_dataset.py as recorded: " + "; ".join(left), flush=True
        )


def recover(root: str) -> list[str]:
    """What a generation or replacement of root killed halfway left beside it, settled when its
    process is provably gone (`common.ownership.sweep`): a dataset moved aside is put back when
    root is missing (the new one never arrived), else deleted (`remove_written`); a half-written
    dataset being built is deleted. Returns a line per thing done."""
    parent, base = os.path.split(os.path.abspath(root))

    def settle_aside(path: str, proof: dict) -> str:
        target = os.path.join(parent, proof.get("target", base))
        if not os.path.lexists(target):
            rename_no_replace(path, target)
            return f"put back {target} from {path} (its replacement never finished)"
        left = remove_written(path)
        return f"removed {path}, a dataset replaced by a process that stopped" + (
            f" (kept, not written by make_dataset.py as recorded: {'; '.join(left)})" if left else ""
        )

    return sweep(parent, {aside_kind("dataset"): settle_aside})
