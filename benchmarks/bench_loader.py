"""Items/s of a training DataLoader: parsing raw files per item vs the preprocessed cache.

    python -m benchmarks.bench_loader [--data_root DIR] [--batch_size 32] [--num_workers 0 2]

Not a test: it prints items/s per mode (the cache, docs/data.md, is why training waits so little
for its data). Each mode iterates a shuffled DataLoader over the train split with the settings a
training run uses (no GT meshes in the batch).
"""

import time

import torch

from dataset import R2N2Dataset, collate_batch


def items_per_second(dataset, batch_size: int, num_workers: int, max_items: int) -> float:
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        collate_fn=collate_batch,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=False,
    )
    # Steady state: the clock starts after the first batch, so worker start-up is not counted.
    n, start = 0, None
    for batch in loader:
        if start is None:
            start = time.perf_counter()
            continue
        n += len(batch["images"])
        if n >= max_items:
            break
    return n / (time.perf_counter() - start)


def main(args):
    start = time.perf_counter()
    cached = R2N2Dataset(args.data_root, "train", n_points=args.n_points, return_meshes=False)
    print(f"cache ready in {time.perf_counter() - start:.1f}s ({len(cached)} train items)")
    raw = R2N2Dataset(args.data_root, "train", n_points=args.n_points, use_cache=False, return_meshes=False)
    for workers in args.num_workers:
        rate_raw = items_per_second(raw, args.batch_size, workers, args.raw_items)
        rate_cache = items_per_second(cached, args.batch_size, workers, len(cached) - args.batch_size)
        print(
            f"{workers} workers, batch {args.batch_size}: raw files {rate_raw:8.1f} items/s | cache {rate_cache:8.1f} "
            f"items/s | {rate_cache / rate_raw:5.1f}x"
        )


if __name__ == "__main__":
    from common.cli import script_parser

    parser = script_parser(__file__, __doc__.split("\n")[0] + " Prints a table; writes nothing.")
    parser.add_argument("--data_root", default=None, help="an R2N2-layout folder (default: the embedded data)")
    parser.add_argument("--batch_size", type=int, default=32, help="items per batch")
    parser.add_argument("--num_workers", type=int, nargs="+", default=[0, 2], help="DataLoader workers, each timed")
    parser.add_argument("--n_points", type=int, default=1000, help="surface points per item")
    parser.add_argument("--raw_items", type=int, default=320, help="items read from the raw files (slow)")
    from common.cli import run_or_fail
    from r2n2.formats import DatasetError

    run_or_fail(main, parser.parse_args(), DatasetError)
