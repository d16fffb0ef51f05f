"""Writing files whole: a temporary file beside the target, then a rename.

    atomic_torch_save(checkpoint, "checkpoints/vox/checkpoint_vox.pth")
    atomic_write_json("output/eval/vox/metrics.json", result)

A crash, a kill or a full disk leaves either the old file or the new one, never half of one:
checkpoints, caches, split files and results are all written this way. Imports nothing of the
project.
"""

import contextlib
import json
import os
import uuid

import torch


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
    """A temporary path beside `path` to write to; renamed onto `path` when the block ends
    normally, removed when it raises. Unique to the call (two processes or threads writing the
    same file never share it); `suffix` ends it, for writers that choose the format by extension."""
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
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


def atomic_write_json(path: str, obj) -> str:
    return atomic_write_text(path, json.dumps(obj, indent=1) + "\n")
