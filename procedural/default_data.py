"""The data root made ready: the embedded dataset generated on first use, and generated data that
this code cannot read, or that is another world than the one asked for, refused.

    layout = ready_layout(None)          # the default root (data/embedded), generated if absent
    layout = ready_layout("DIR")         # any R2N2-layout folder, checked

Real R2N2 data is only detected (`dataset_location.detect_layout`); only the default root is
ever written or replaced, and only when it carries this generator's record.
"""

import os
import sys

from common.legacy import upgrade_data_record
from dataset_location import (
    DATA_ROOT,
    EMBEDDED_DATA_ROOT,
    EMBEDDED_MODELS,
    SMOKE_DATA_ROOT,
    SMOKE_MODELS,
    detect_layout,
)
from r2n2.formats import DatasetError
from r2n2.layout import Layout, generated_without_record

from .spec import DEFAULT_WORLD
from .writer import GENERATOR_VERSION, recover, write_dataset


def stale_generator_message(layout: Layout) -> str | None:
    """Why a generated data root cannot be read by this code (it was written by another version
    of the procedural generator), or None: real data, or data of the current generator."""
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


def generated_worlds() -> dict[str, int]:
    """The roots the scripts generate on first use, and their sizes: the default root (the embedded
    dataset) and the smoke profile's small one."""
    return {os.path.abspath(EMBEDDED_DATA_ROOT): EMBEDDED_MODELS, os.path.abspath(SMOKE_DATA_ROOT): SMOKE_MODELS}


def write_default_data(root: str, n_models: int = EMBEDDED_MODELS) -> None:
    """Generate the default world at root. Two processes may do it at once (two trainings
    started together): the second to finish finds the first one's dataset in place, and uses it."""
    try:
        write_dataset(root, n_models=n_models)
    except OSError:  # FileExistsError, or ENOTEMPTY from the final rename: another process wrote it
        if not os.path.isfile(os.path.join(root, "embedded.json")):
            raise


# What the default root holds: the default world (make_dataset.py's defaults), EMBEDDED_MODELS models.


def default_root_mismatch(layout: Layout, n_models: int = EMBEDDED_MODELS) -> str | None:
    """Why a generated root's data is not the default world of n_models models (another generator
    version, size, seed, turn, ...), or None; real data (no record) is never judged."""
    record = layout.embedded
    if record is None:
        return None
    if stale_generator_message(layout):
        return f"generator version {record.get('generator_version')}"
    if record.get("n_models") != n_models:
        return f"{record.get('n_models')} models, not {n_models}"
    other = {k: upgrade_data_record(record).get(k) for k in DEFAULT_WORLD}
    differ = [f"{k} {other[k]}" for k in DEFAULT_WORLD if other[k] != DEFAULT_WORLD[k]]
    return ", ".join(differ) + " (not the default world)" if differ else None


def ready_layout(data_root: str | None) -> Layout:
    """The data root's layout; the embedded dataset (and the smoke profile's) is generated on first
    use. A generated root that holds another world than the one asked for (another version of the
    generator, another size (`EMBEDDED_MODELS`), seed, turn or viewpoints) is never regenerated in
    place: refused, naming the command that replaces it. What a generation killed halfway left
    beside a generated root is settled first (`writer.recover`).

    Raises DatasetError if a root given by the user is missing, not an R2N2 layout, or written by
    another version of the generator."""
    root = os.path.abspath(data_root or DATA_ROOT)
    n_models = generated_worlds().get(root)  # None: a root the user names, never written here
    if n_models:
        for line in recover(root):
            print(line, file=sys.stderr)
    if not os.path.exists(root) and n_models:
        print(f"embedded dataset not found: generating it in {root} ({n_models} models, once)", file=sys.stderr)
        write_default_data(root, n_models)
    layout = detect_layout(root)
    stale = stale_generator_message(layout)
    why = default_root_mismatch(layout, n_models) if n_models else None
    if why:
        raise DatasetError(
            f"{root} holds another dataset than the scripts' default ({why}): it is not regenerated in place; "
            f"replace it with `python make_dataset.py --root {root} --n_models {n_models} --replace_stale`, or point "
            "R2N2_EMBEDDED_ROOT at another folder"
        )
    if stale:
        raise DatasetError(stale)
    if generated_without_record(layout):
        archives = " --layout archives" if layout.kind == "archives" else ""
        raise DatasetError(
            f"{root} holds shapes of this project's procedural generator but no record of it (embedded.json / "
            f".embedded.json): it was written by generator version 3 or older, not by R2N2; regenerate it, e.g. "
            f"rm -r {root} && python make_dataset.py --root {root}{archives} (with its --n_models, --seed)"
        )
    return layout
