"""Writing files whole: a temporary file beside the target, then a rename; and what a killed writer leaves.

    atomic_torch_save(checkpoint, "checkpoints/vox/checkpoint_vox.pth")
    atomic_write_json("output/eval/vox/metrics.json", result)
    removed = sweep_orphans("checkpoints/vox")      # temporary files of processes that are gone

A crash, a kill or a full disk leaves either the old file or the new one, never half of one:
checkpoints, caches, split files and results are all written this way. A temporary name carries
its writer's process id (`<name>.tmp-<pid>-<hex>`), so a later run can tell the leftovers of a
process that is gone from a file being written now, and remove them (`sweep_orphans`).

`fault_point` is where a test stops a process on purpose: with R2N2_FAULT_AT=N in the environment
the N-th point reached kills the process (R2N2_FAULT_SIGNAL: KILL, the default, or INT); every
file written whole is one, before and after its rename. Imports nothing of the project.
"""

import contextlib
import json
import math
import os
import re
import shutil
import signal
import uuid

import torch

_FAULT = {"count": 0}
# `<name>.tmp-<pid>-<hex>[suffix]`, `<name>.stale-<pid>` (a folder moved aside until its successor
# is whole) and `.tmp-dataset-<pid>-<rest>` (a dataset being generated).
ORPHAN_PATTERNS = (
    re.compile(r"^.+\.tmp-(?P<pid>\d+)-[0-9a-f]{8}(\..*)?$"),
    re.compile(r"^.+\.stale-(?P<pid>\d+)$"),
    re.compile(r"^\.tmp-dataset-(?P<pid>\d+)-.+$"),
)


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


def pid_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine (a process that is gone left what it wrote)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def orphan_pid(name: str) -> int | None:
    """The writer's process id in a temporary or moved-aside name (`ORPHAN_PATTERNS`), or None."""
    for pattern in ORPHAN_PATTERNS:
        match = pattern.match(name)
        if match:
            return int(match.group("pid"))
    return None


def sweep_orphans(folder: str) -> list[str]:
    """Remove what processes that are gone left in `folder` while writing (temporary files and
    folders, folders moved aside), and return their paths; a file of a process still running is
    kept. Only names this code makes are touched (`ORPHAN_PATTERNS`)."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        pid = orphan_pid(name)
        if pid is None or pid_alive(pid):
            continue
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
    """A temporary path beside `path` to write to; renamed onto `path` when the block ends
    normally, removed when it raises. Unique to the call (two processes or threads writing the
    same file never share it); `suffix` ends it, for writers that choose the format by extension."""
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"
    try:
        yield tmp
        fault_point(f"before renaming {path}")
        os.replace(tmp, path)
        fault_point(f"after renaming {path}")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
