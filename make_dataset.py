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

import argparse
import json
import os
import time

from common.cli import fail, non_negative_int, positive_int, script_parser
from procedural import write_dataset


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Generate the embedded procedural dataset in the R2N2 / ShapeNet layout, into --root (refused if it "
        "exists, unless --replace_stale).",
    )
    parser.add_argument(
        "--root", type=str, default=None, help="output folder (default: the embedded data root of dataset_location.py)"
    )
    parser.add_argument(
        "--n_models",
        type=positive_int,
        default=1000,
        help="models over all categories (default 1000: about 333 per category)",
    )
    parser.add_argument(
        "--n_views",
        type=positive_int,
        default=None,
        help="rendered views per model (default 4; 24, as R2N2, with --layout archives)",
    )
    parser.add_argument(
        "--layout",
        default="course",
        choices=["course", "archives"],
        help="course: the course layout with meshes and splits.json; archives: exactly what R2N2's ShapeNetRendering "
        "+ ShapeNetVox32 archives hold (no meshes, no split file, centred binvox grids)",
    )
    parser.add_argument("--seed", type=int, default=0, help="a shape's identity is (seed, category, index)")
    parser.add_argument(
        "--holdout",
        nargs="*",
        default=[],
        metavar="FAMILY",
        help="shape families whose models go to a split 'heldout' (never trained on), e.g. cantilever folding_x",
    )
    parser.add_argument(
        "--holdout_report",
        nargs="*",
        default=[],
        metavar="FAMILY",
        help="a second group of held-out families, in a split 'heldout_report' (looked at once, for the final "
        "table), e.g. rocking trestle chaise",
    )
    parser.add_argument(
        "--assemblies",
        type=non_negative_int,
        default=0,
        help="also write this many random assemblies of boards, rods and tubes, to the train split only "
        "(procedural/assemblies.py); the world's own shapes stay the same (default 0)",
    )
    parser.add_argument(
        "--turn",
        type=int,
        default=0,
        choices=[0, 90, 180, 270],
        help="write every model turned by this many degrees about y, out of ShapeNet's frame: a fixture for "
        "eval_model.py's frame check (default 0)",
    )
    parser.add_argument(
        "--viewpoints",
        default="r2n2",
        choices=["r2n2", "photo"],
        help="r2n2: every view from 25-30 degrees of elevation, as R2N2 (default); photo: every other view from "
        "0-20 degrees, the height product and phone photos are taken from (for reconstruct.py on photos)",
    )
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
    request = request_of(args)
    try:  # the request is checked before anything is kept, replaced or written
        check_request(request)
    except (FileExistsError, ValueError) as err:
        fail(str(err))
    check_root(root, request)
    replace = replace_or_keep(root, request, args.replace_stale)
    if replace is None:
        return
    start = time.time()
    info = write(root, request, args.workers, replace)
    print(
        f"wrote {info['n_models']} models"
        + (f" and {args.assemblies} random assemblies (train split)" if args.assemblies else "")
        + f" x {info['n_views']} views ({args.layout} layout) to {root} in {time.time() - start:.1f}s"
    )


def request_of(args: argparse.Namespace) -> dict:
    """The dataset the flags ask for, as its record states it."""
    return {
        "n_models": args.n_models,
        "n_views": args.n_views or (24 if args.layout == "archives" else 4),
        "seed": args.seed,
        "layout": args.layout,
        "holdout": list(args.holdout),
        "holdout_report": list(args.holdout_report),
        "assemblies": args.assemblies,
        "turn": args.turn,
        "viewpoints": args.viewpoints,
    }


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
        fail(str(err))
    print(
        f"{root} holds another dataset or one of an older generator: replacing it (only the files "
        "make_dataset.py wrote there, once the new one is complete)",
        flush=True,
    )
    return True


def write(root: str, request: dict, workers: int | None, replace: bool) -> dict:
    """`procedural.write_dataset` of the request; its errors as one line each. Returns its record."""
    r = request
    try:
        return write_dataset(
            root, r["n_models"], r["n_views"], r["seed"], workers, layout=r["layout"], holdout=r["holdout"],
            holdout_report=r["holdout_report"], assemblies=r["assemblies"], turn=r["turn"],
            viewpoints=r["viewpoints"], replace=replace,
        )  # fmt: skip
    except ValueError as err:  # a folder that may not be replaced, said why
        fail(str(err))
    except (FileExistsError, IsADirectoryError, NotADirectoryError) as err:  # the final rename found a folder there
        fail(f"{root} was written by another process while this one generated (it is kept): {err.strerror}")
    except OSError as err:  # a missing parent, no permission, a full disk: nothing half-written is left
        fail(f"cannot write {err.filename or root}: {err.strerror}")
    except KeyboardInterrupt:
        fail(f"interrupted; {root} is as it was (the partial dataset beside it is removed)")


def check_request(request: dict) -> None:
    """The generator's own check of the flags (`procedural.writer.check_request`), the folder aside."""
    from procedural import check_request as check

    keys = ("n_models", "n_views", "layout", "holdout", "turn", "viewpoints", "holdout_report", "assemblies")
    check(None, **{k: request[k] for k in keys})


if __name__ == "__main__":
    main(get_args_parser().parse_args())
