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
import re
import shutil
import tempfile
import time

from common.atomic_io import fault_point, pid_alive
from common.paths import replace_folder
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
    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-dataset-{os.getpid()}-", dir=parent)
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's 0700 would keep a shared data root from its readers
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
            os.rename(tmp, root)  # refused if another process put a dataset there meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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


MANIFEST = ".manifest.json"
# What the readers write into a dataset (`r2n2.cache`, `r2n2.splits`): a split's cache and the
# generated split, under .cache/ (and their temporary names while they are written).
CACHE_FILES = re.compile(r"^(\w+-[0-9a-f]{16}\.pt|generated_splits\.json)(\.tmp-\d+-[0-9a-f]{8})?$")


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_manifest(folder: str) -> None:
    """MANIFEST in folder: every file below it with its size, the list of what may be deleted."""
    files = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            files[os.path.relpath(path, folder)] = os.path.getsize(path)
    write_json(os.path.join(folder, MANIFEST), {"generator_version": GENERATOR_VERSION, "files": files})


def read_manifest(root: str) -> dict | None:
    """{relative path: size} of a dataset's manifest, or None when it has none (or an unreadable one)."""
    try:
        with open(os.path.join(root, MANIFEST)) as f:
            files = json.load(f)["files"]
        files = {str(k): int(v) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    # A record grants deletion: names that leave root ("../x", "/x", "a/../../x") are never its.
    return {
        k: v
        for k, v in files.items()
        if not os.path.isabs(k) and os.path.normpath(k) == k and ".." not in k.split(os.sep)
    }


def inside(root: str, path: str) -> bool:
    """Whether path, its links followed, lies inside root (a linked folder may lead elsewhere)."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def foreign_files(root: str) -> list[str]:
    """The files under root this generator did not write (not in its manifest, or of another size)
    and the readers' cache did not either; every file when root has no manifest."""
    manifest = read_manifest(root) or {}
    foreign = []
    for base, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(base, name), root)
            if rel == MANIFEST and manifest:
                continue
            if os.path.dirname(rel) == ".cache" and CACHE_FILES.match(name):
                continue
            if manifest.get(rel) != os.path.getsize(os.path.join(base, name)):
                foreign.append(rel)
    return sorted(foreign)


def check_replaceable(root: str) -> None:
    """ValueError saying why `root` may not be replaced: it has no manifest (a record alone grants
    nothing), or it holds files the generator did not write (named)."""
    if read_manifest(root) is None:
        raise ValueError(
            f"{root} has no {MANIFEST} (the list of the files make_dataset.py wrote there), so nothing in it is "
            "deleted: remove it yourself, or choose another --root"
        )
    foreign = foreign_files(root)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ValueError(
            f"{root} holds files make_dataset.py did not write ({shown}): not replaced; move them out, or choose "
            "another --root"
        )


def remove_written(root: str) -> list[str]:
    """Delete the files of root's manifest and the readers' cache, then the folders left empty;
    returns what is left (files nobody here wrote, kept)."""
    manifest = read_manifest(root) or {}
    for rel in [*manifest, MANIFEST]:
        path = os.path.join(root, rel)
        if os.path.isfile(path) and not os.path.islink(path) and inside(root, path):
            os.remove(path)
    cache = os.path.join(root, ".cache")
    for name in os.listdir(cache) if os.path.isdir(cache) and inside(root, cache) else []:
        if CACHE_FILES.match(name):
            os.remove(os.path.join(cache, name))
    for base, _, _ in sorted(os.walk(root), key=lambda entry: -entry[0].count(os.sep)):
        try:
            os.rmdir(base)  # only when empty
        except OSError:
            pass
    left = []
    for base, _, names in os.walk(root):
        left += [os.path.relpath(os.path.join(base, n), root) for n in names]
    return left


def swap_in(tmp: str, root: str) -> None:
    """Put the complete dataset in tmp at root, the old one moved aside first and deleted only once
    the new one is in place (`remove_written`); on an error in between, the old one is put back."""
    left = replace_folder(tmp, root, remove_written, "dataset")
    if left:
        print(f"warning: {root}.stale-{os.getpid()} keeps {len(left)} files make_dataset.py did not write", flush=True)


def recover(root: str) -> list[str]:
    """What a generation or replacement of root killed halfway left, settled: a dataset moved aside
    by a process that is gone is put back when root is missing (the new one never arrived), else
    deleted (`remove_written`); a half-written temporary dataset of a process that is gone is
    deleted. Returns a line per thing done."""
    parent, base = os.path.split(os.path.abspath(root))
    done = []
    try:
        names = os.listdir(parent)
    except OSError:
        return done
    for name in sorted(names):
        path = os.path.join(parent, name)
        stale = re.match(re.escape(base) + r"\.stale-(\d+)$", name)
        if stale and not pid_alive(int(stale.group(1))):
            if not os.path.exists(root):
                os.rename(path, root)
                done.append(f"put back {root} from {path} (its replacement never finished)")
            else:
                left = remove_written(path)
                done.append(
                    f"removed {path}, a dataset replaced by a process that stopped"
                    + (f" ({len(left)} files kept)" if left else "")
                )
        temporary = re.match(r"\.tmp-dataset-(\d+)-", name)
        if temporary and not pid_alive(int(temporary.group(1))) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"removed {path}, a dataset whose generation stopped halfway")
    return done
