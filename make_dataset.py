"""Generate the embedded procedural dataset in the R2N2 / ShapeNet layout.

    python make_dataset.py --root data/embedded --n_models 1000 --n_views 4 --seed 0
    python make_dataset.py --root data/r2n2_like --layout archives --n_models 30 --seed 1   # what R2N2's download holds
    python make_dataset.py --root data/holdout --holdout cantilever folding_x     # families never trained on
    python make_dataset.py --root data/turned --layout archives --n_models 30 --seed 1 --turn 90   # another frame
    python make_dataset.py --root data/photo --viewpoints photo      # every other view from photo height

A thin command line over `procedural.write_dataset` (what is written, and how, is described
there). Scripts generate the default dataset on first use, so running this by hand is needed
only for another root, size or seed. Fixtures get a seed of their own (--seed 1): a shape's
identity is (seed, category, index), so a seed-0 fixture would hold the default model's training
shapes (eval_model.py would say so).
"""

import common.startup

import argparse
import json
import os
import time

from common.cli import add_flags, fail, positive_int, script_parser
from procedural import DatasetSpec, write_dataset


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Generate the embedded procedural dataset in the R2N2 / ShapeNet layout, into --root (refused if it "
        "exists, unless --replace_stale).",
    )
    parser.add_argument(
        "--root", type=str, default=None, help="output folder (default: the embedded data root of dataset_location.py)"
    )
    add_flags(parser, DatasetSpec)
    parser.add_argument(
        "--replace_stale",
        action="store_true",
        help="if --root exists: keep it when it holds this very dataset from the current generator, else replace "
        "it: the new one is built beside, the old one removed once it is in place, file by file from its manifest "
        "(a folder holding anything make_dataset.py did not write is refused)",
    )
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    return parser


def generator_record(root: str) -> dict | None:
    """The record this project's generator leaves in a dataset it wrote (embedded.json, or
    .embedded.json in the archives layout), None when `root` holds none: then this project did
    not write it (real data, or any other folder) and it is never deleted."""
    from r2n2.layout import ARCHIVES_GENERATOR_FILE

    for name in ("embedded.json", ARCHIVES_GENERATOR_FILE):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            try:
                with open(path) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                return None
            return info if isinstance(info, dict) and "generator_version" in info else None
    return None


def written_as_asked(record: dict, request: dict) -> bool:
    """Whether a generator record describes the dataset `request` asks for, by the current generator."""
    from common.legacy import upgrade_data_record
    from procedural import GENERATOR_VERSION

    record = upgrade_data_record(record)  # written before the options existed
    return record.get("generator_version") == GENERATOR_VERSION and all(record.get(k) == v for k, v in request.items())


def main(args: argparse.Namespace) -> None:
    from dataset_location import EMBEDDED_DATA_ROOT

    root = args.root or EMBEDDED_DATA_ROOT
    spec = spec_of(args)
    try:  # the request is checked before anything is kept, replaced or written
        check_request(spec)
    except (FileExistsError, ValueError) as err:
        fail(str(err))
    request = spec.request()
    check_root(root, request)
    replace = replace_or_keep(root, request, args.replace_stale)
    if replace is None:
        return
    start = time.time()
    info = write(root, spec, args.workers, replace)
    print(
        f"wrote {info['n_models']} models"
        + (f" and {spec.assemblies} random assemblies (train split)" if spec.assemblies else "")
        + f" x {info['n_views']} views ({spec.layout} layout) to {root} in {time.time() - start:.1f}s"
    )


def spec_of(args: argparse.Namespace) -> DatasetSpec:
    """The dataset the flags ask for (a flag left out: the spec's default)."""
    given = {k: v for k, v in vars(args).items() if k in DatasetSpec.__dataclass_fields__}
    return DatasetSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})


def check_root(root: str, request: dict) -> None:
    """Refuse a root this request may not be written to (the default root for another world, an
    unsafe path), then settle what a generation killed halfway left beside it."""
    from common.paths import unsafe_root
    from dataset_location import EMBEDDED_DATA_ROOT
    from procedural import DEFAULT_WORLD, recover

    is_default = os.path.abspath(root) == os.path.abspath(EMBEDDED_DATA_ROOT)
    if is_default and any(request[k] != v for k, v in DEFAULT_WORLD.items()):
        fail(
            f"{root} is the default root, which holds the default world (the scripts regenerate anything else "
            "there): give this dataset its own --root"
        )
    reason = unsafe_root(root)
    if reason:
        fail(f"--root: {reason}; nothing was written")
    for line in recover(root):  # what a generation killed halfway left beside the root
        print(line)


def replace_or_keep(root: str, request: dict, replace_stale: bool) -> bool | None:
    """Whether root is to be replaced (True) or written new (False); None: it already holds this
    dataset, kept. A folder there is refused unless --replace_stale and make_dataset.py wrote it."""
    from procedural import check_replaceable

    if not os.path.exists(root):
        return False
    if not replace_stale:
        fail(f"{root} already exists: --replace_stale replaces a dataset make_dataset.py wrote there, or choose "
             "another --root")  # fmt: skip
    record = generator_record(root)
    if record is not None and written_as_asked(record, request):
        print(f"{root} already holds this dataset, written by the current generator: kept")
        return None
    try:
        check_replaceable(root)  # before saying so: a folder it may not replace is refused first
    except ValueError as err:
        fail_naming(err)
    print(
        f"{root} holds another dataset or one of an older generator: replacing it (only the files "
        "make_dataset.py wrote there, once the new one is complete)",
        flush=True,
    )
    return True


def fail_naming(err: ValueError) -> None:
    """A refusal to replace a folder: each entry it names on a line of its own, then the one-line error."""
    import sys

    for item in getattr(err, "items", []):
        print(f"  {item}", file=sys.stderr)
    fail(str(err))


def write(root: str, spec: DatasetSpec, workers: int | None, replace: bool) -> dict:
    """`procedural.write_dataset` of the request; its errors as one line each. Returns its record."""
    try:
        return write_dataset(root, spec, workers, replace=replace)
    except ValueError as err:  # a folder that may not be replaced (checked again at the swap), said why
        fail_naming(err)
    except (FileExistsError, IsADirectoryError, NotADirectoryError) as err:  # the final rename found a folder there
        fail(f"{root} was written by another process while this one generated (it is kept): {err.strerror}")
    except OSError as err:  # a missing parent, no permission, a full disk: nothing half-written is left
        fail(f"cannot write {err.filename or root}: {err.strerror}")
    except KeyboardInterrupt:
        record = generator_record(root) if os.path.isdir(root) else None
        if replace and record is not None and written_as_asked(record, spec.request()):
            fail(
                f"interrupted after the new dataset was put in place: {root} holds it, complete; what is left of the "
                "one it replaced is settled by the next make_dataset.py or script that reads it"
            )
        fail(f"interrupted; {root} is as it was (the partial dataset beside it is removed)")


def check_request(spec: DatasetSpec) -> None:
    """The generator's own check of the flags (`procedural.writer.check_request`), the folder aside."""
    from procedural import check_request as check

    check(None, spec)


if __name__ == "__main__":
    common.startup.ready()
    main(get_args_parser().parse_args())
