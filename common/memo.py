"""Bool grids computed once per key (an image, a shape) and kept for the rest of a run, as packed bits.

    memo = GridMemo()
    grids = memo.get(keys, compute, device)      # compute(rows) -> {name: (n, ...) bool} for the missing keys

A training run sees each image many times; what depends on the image alone (a GT grid turned into
its view, a shape's rod cells) need not be computed at every step. On a 2-core CPU that saves a
tenth of a step; on CUDA it costs nothing to recompute, and `get` is not used there.
"""

from collections.abc import Callable

import numpy as np
import torch


class GridMemo:
    """{key: {name: packed bits}}; at most max_items keys (past it, the rest are computed each time)."""

    def __init__(self, max_items: int = 200_000):
        self.max_items = max_items
        self.memo: dict = {}

    def get(self, keys: list, compute: Callable[[list[int]], dict], device) -> dict[str, torch.Tensor]:
        """{name: (len(keys), ...) bool on device}: the grids of each key, compute(rows) called once
        for the rows whose keys are not kept yet (its values: (len(rows), ...) bool tensors)."""
        missing = [i for i, key in enumerate(keys) if key not in self.memo]
        fresh = compute(missing) if missing else {}
        for j, i in enumerate(missing):
            if len(self.memo) < self.max_items:
                self.memo[keys[i]] = {name: pack(grid[j]) for name, grid in fresh.items()}
        if any(key not in self.memo for key in keys):  # past the cap: the whole batch computed
            return {name: grid.to(device) for name, grid in compute(list(range(len(keys)))).items()}
        names = self.memo[keys[0]].keys()
        return {name: torch.stack([unpack(*self.memo[key][name]) for key in keys]).to(device) for name in names}


def pack(grid: torch.Tensor) -> tuple[np.ndarray, tuple]:
    return np.packbits(grid.bool().cpu().numpy()), tuple(grid.shape)


def unpack(bits: np.ndarray, shape: tuple) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool))
