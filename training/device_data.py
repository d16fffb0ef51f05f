"""A train split held on the training device, each step's batch gathered there: no loader workers, no copies.

    loader = DeviceLoader(dataset, sampler, torch.device("cuda"))   # batches of `StepBatchSampler`'s indices
    for batch in loader: ...                                         # the keys `R2N2Dataset.__getitems__` gives

On a GPU a step of the vox model takes milliseconds; reading, collating and copying its batch
from host memory (worker processes, pinned buffers) takes as long, and the GPU waits. The split's
cache is a few hundred MB for the embedded data (uint8 images, bool masks and grids), so it goes to
the GPU once and each batch is a handful of index operations there. `fits_on_device` says whether
a split does (a real R2N2 split of all 13 classes, 59 GB of images, does not: its loader stays the
worker one). The batches are the same as `R2N2Dataset.__getitems__` gives, item for item (tested).
"""

import torch

# The share of the device's free memory a split's cache may take (the rest is the run's).
DEVICE_SHARE = 0.3


def cache_bytes(dataset, with_occupancy: bool) -> int:
    """Bytes of the tensors `DeviceLoader` puts on the device."""
    keys = DeviceLoader.KEYS + (("occ_points", "occ_labels") if with_occupancy else ())
    return sum(dataset.cache[k].numel() * dataset.cache[k].element_size() for k in keys)


def fits_on_device(dataset, device: torch.device, with_occupancy: bool) -> bool:
    """Whether the split's cache fits in DEVICE_SHARE of the device's free memory (a CPU: always)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return cache_bytes(dataset, with_occupancy) <= DEVICE_SHARE * free


class DeviceLoader:
    """Batches of the sampler's indices (lists, one per step), gathered from the split's cache copied
    to `device` once. Yields what `R2N2Dataset.__getitems__` yields for those indices, but without
    the GT meshes and the ids' strings (training reads neither), every tensor on the device."""

    KEYS = ("images", "masks", "R", "T", "voxels", "points", "normals")

    def __init__(self, dataset, sampler, device: torch.device, with_occupancy: bool = False):
        from r2n2.formats import R2N2_K

        self.dataset, self.sampler, self.device = dataset, sampler, device
        cache = dataset.cache
        keys = self.KEYS + (("occ_points", "occ_labels") if with_occupancy else ())
        self.tensors = {k: cache[k].to(device) for k in keys}
        items = torch.tensor(dataset.items, dtype=torch.long)  # (N, 2): shape, position of the view
        offsets = torch.as_tensor(dataset.view_offsets[:-1], dtype=torch.long)
        self.shape_of = items[:, 0].to(device)
        self.row_of = (offsets[items[:, 0]] + items[:, 1]).to(device)  # the view's row in per-view tensors
        views = [entry.views for entry in dataset.entries]
        self.view_of = torch.tensor([views[m][k] for m, k in dataset.items], dtype=torch.long).to(device)
        self.K = R2N2_K.to(device)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for indices in self.sampler:
            yield self.batch(indices)

    def batch(self, indices: list[int]) -> dict:
        """The batch of these items (`R2N2Dataset.__getitems__`'s tensors), gathered on the device."""
        t = self.tensors
        index = torch.as_tensor(indices, dtype=torch.long).to(self.device, non_blocking=True)
        rows, shapes = self.row_of[index], self.shape_of[index]
        points, normals = t["points"][shapes], t["normals"][shapes].float()
        n_points = self.dataset.n_points
        if n_points is not None:  # each item's window of the samples (`R2N2Dataset._point_window`)
            total = points.shape[1]
            n = min(n_points, total)
            start = (index * 7919 + self.dataset.seed * 104729) % total
            window = ((torch.arange(n, device=self.device)[None] + start[:, None]) % total)[..., None].expand(-1, -1, 3)
            points, normals = torch.gather(points, 1, window), torch.gather(normals, 1, window)
        batch = {
            "images": t["images"][rows],
            "masks": t["masks"][rows],
            "R": t["R"][rows],
            "T": t["T"][rows],
            "voxels": t["voxels"][shapes],
            "points": points,
            "normals": normals,
            "K": self.K.expand(len(indices), 4, 4).clone(),
            "view": self.view_of[index],
            "shape_index": shapes,
        }
        if "occ_points" in t:
            batch["occ_points"], batch["occ_labels"] = t["occ_points"][shapes], t["occ_labels"][shapes]
        return batch
