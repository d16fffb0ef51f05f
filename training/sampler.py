"""The batches of a run: which items each step takes, and batches prepared ahead of the step.

    sampler = StepBatchSampler(len(dataset), batch_size=32, seed=0, start_step=0, max_iter=450)
    for batch in prefetch(loader, prepare, start_step): ...

A step's batch is a function of (seed, step) only, so a resumed run sees what an uninterrupted
one would; `trainer.py` runs the loop over them.
"""

import queue
import threading

import torch


class StepBatchSampler(torch.utils.data.Sampler):
    """Batches for steps [start_step, max_iter): a deterministic function of (seed, step).

    Each epoch is a permutation of the dataset seeded by (seed, epoch); consecutive global
    batches of batch_size * world_size indices are cut from the concatenated epochs, and rank r
    takes its contiguous share, as DistributedSampler partitions an epoch. Every batch is full
    (no drop_last), and resuming at any step replays exactly the same batches.
    """

    def __init__(
        self,
        n_items: int,
        batch_size: int,
        seed: int,
        start_step: int,
        max_iter: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.n, self.batch_size, self.seed = n_items, batch_size, seed
        self.start_step, self.max_iter, self.rank, self.world_size = start_step, max_iter, rank, world_size

    def __len__(self) -> int:
        return max(0, self.max_iter - self.start_step)

    def _epoch(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))

    def __iter__(self):
        global_batch = self.batch_size * self.world_size
        cached_epoch, permutation = -1, None
        for step in range(self.start_step, self.max_iter):
            first = step * global_batch + self.rank * self.batch_size
            indices = []
            for position in range(first, first + self.batch_size):
                epoch, offset = divmod(position, self.n)
                if epoch != cached_epoch:
                    cached_epoch, permutation = epoch, self._epoch(epoch)
                indices.append(int(permutation[offset]))
            yield indices


def prefetch(loader, prepare, start_step: int, depth: int = 2):
    """The loader's batches, each passed through prepare(batch, step) in a background thread
    that keeps up to `depth` batches ready: reading, the copy to the device and augmentation
    overlap with the step before instead of delaying it. Batches come in order; an error in the
    thread is raised here."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    # The iterator is made here, not in the thread: the CUDA device is set per thread, and the
    # loader's pin-memory thread takes the device current where the iterator is made (under DDP a
    # thread's default, device 0, would give every rank a context on GPU 0).
    batches = iter(loader)

    def work():
        try:
            for step, batch in enumerate(batches, start_step):
                ready.put(prepare(batch, step))
        except BaseException as err:  # handed to the consumer, raised there
            ready.put(err)
        ready.put(done)

    threading.Thread(target=work, daemon=True, name="prefetch").start()
    while (item := ready.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item
