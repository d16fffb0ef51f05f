"""Writing files whole: a temporary file beside the target, then a rename; and what a killed writer leaves.

    atomic_torch_save(checkpoint, "checkpoints/vox/checkpoint_vox.pth")
    atomic_write_json("output/eval/vox/metrics.json", result)
    removed = sweep_orphans("checkpoints/vox")      # temporary files of processes that are gone

A crash, a kill or a full disk leaves either the old file or the new one, never half of one:
checkpoints, caches, split files and results are all written this way. A temporary file has a
name no user would choose and a proof of its writer beside it (`common.ownership`), so a later run
removes the leftovers of a process that is provably gone, and nothing else (`sweep_orphans`).

`fault_point` is where a test stops a process on purpose: with R2N2_FAULT_AT=N in the environment
the N-th point reached kills the process (R2N2_FAULT_SIGNAL: KILL, the default, or INT); every
file written whole is one, before and after its rename. Imports nothing of the project.
"""

import contextlib
import json
import math
import os
import signal

import torch

_FAULT = {"count": 0}


def fault_point(name: str = "") -> None:
    """Count one point of a process's work; stop the process at the one R2N2_FAULT_AT names (the
    fault-injection test's hook: nothing happens unless it is set)."""
    at = os.environ.get("R2N2_FAULT_AT")
    if not at:
        return
    _FAULT["count"] += 1
    if os.environ.get("R2N2_FAULT_LOG"):  # every point reached, for the sweep to count them
        with contextlib.suppress(OSError), open(os.environ["R2N2_FAULT_LOG"], "a") as log:
            log.write(f"{os.getpid()} {_FAULT['count']} {name}\n")
    if _FAULT["count"] == int(at):
        sig = signal.SIGINT if os.environ.get("R2N2_FAULT_SIGNAL", "KILL") == "INT" else signal.SIGKILL
        os.kill(os.getpid(), sig)


def sweep_orphans(folder: str, settle: dict | None = None) -> list[str]:
    """What processes that are provably gone left in `folder` while writing, settled
    (`common.ownership.sweep`): only entries this project claimed; returns a line per thing done."""
    from common.ownership import sweep

    return sweep(folder, settle)


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
    """A temporary path beside `path` to write to; renamed onto `path` when the block ends
    normally, removed when it raises. Unique to the call (two processes or threads writing the
    same file never share it); `suffix` ends it, for writers that choose the format by extension."""
    from common.ownership import claim, owned_name, release

    tmp = owned_name(path, "tmp") + suffix
    claim(tmp, "tmp")  # its proof first: a sweep removes it only if this process is provably gone
    try:
        yield tmp
        fault_point(f"before renaming {path}")
        os.replace(tmp, path)
        fault_point(f"after renaming {path}")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        release(tmp)


def atomic_torch_save(obj, path: str) -> None:
    """torch.save through `atomic_path`."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def atomic_write_text(path: str, text: str) -> str:
    """Write a text file through `atomic_path`. Returns the path."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
    return path


def finite_or_none(obj):
    """obj with every non-finite float made None: JSON has no NaN or Infinity (Python's json writes
    them as bare words that other readers refuse)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def atomic_write_json(path: str, obj) -> str:
    """Write standard JSON through `atomic_path` (non-finite numbers as null: `finite_or_none`)."""
    return atomic_write_text(path, json.dumps(finite_or_none(obj), indent=1, allow_nan=False) + "\n")
