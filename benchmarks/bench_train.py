"""Training throughput per type: the real DataLoader vs the same step on a batch already in memory.

    python benchmarks/bench_train.py                       # CPU, every type
    python benchmarks/bench_train.py --device cuda --amp   # on a GPU, bf16 autocast

Not a test: prints images/s and the share of the step spent waiting for data. Settings are
train_model.py's defaults (batch 32, image_size 64, cache, num_workers 0 on CPU).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from dataset import R2N2Dataset, batch_to_device, collate_batch  # noqa: E402
from model import SingleViewto3D  # noqa: E402
from train_model import default_num_workers, get_args_parser  # noqa: E402
from training import StepBatchSampler, compute_loss  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(model, optimizer, batches, args, device) -> float:
    """Seconds per step over the batches (an iterator), after `args.warmup` steps."""
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.amp)
    start, n = None, 0
    for i, batch in enumerate(batches):
        if i == args.warmup:
            sync(device)
            start = time.perf_counter()
        batch = batch_to_device(batch, device, non_blocking=device.type == "cuda")
        with autocast:
            loss, _ = compute_loss(model, batch, args)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n += i >= args.warmup
    sync(device)
    return (time.perf_counter() - start) / n


def main(args):
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    dataset = R2N2Dataset(args.data_root, "train", n_points=None, return_meshes=False)  # as train_model.py
    workers = args.num_workers if args.num_workers is not None else default_num_workers(args.device)
    steps = args.warmup + args.steps
    print(
        f"device {device}{' amp' if args.amp else ''}, batch {args.batch_size}, image_size {args.image_size}, "
        f"{workers} workers"
    )
    print(f"{'type':<10} {'loader s/step':>14} {'in-memory s/step':>17} {'images/s':>9} {'data share':>10}")
    for model_type in args.types:
        args.type = model_type
        torch.manual_seed(0)
        model = SingleViewto3D(model_type, image_size=args.image_size, n_points=args.n_points).to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_sampler=StepBatchSampler(len(dataset), args.batch_size, 0, 0, steps),
            num_workers=workers,
            collate_fn=collate_batch,
            pin_memory=device.type == "cuda",
        )
        with_loader = time_steps(model, optimizer, iter(loader), args, device)
        fixed = next(iter(loader))
        in_memory = time_steps(model, optimizer, (fixed for _ in range(steps)), args, device)
        share = max(0.0, with_loader - in_memory) / with_loader
        print(
            f"{model_type:<10} {with_loader:14.3f} {in_memory:17.3f} {args.batch_size / with_loader:9.1f} "
            f"{100 * share:9.1f}%",
            flush=True,
        )


if __name__ == "__main__":
    # train_model.py's own flags and defaults (batch, image size, loss weights, ...), so the
    # benchmark times exactly the step a default training run takes.
    parser = get_args_parser()
    parser.prog = "bench_train.py"
    parser.add_argument("--types", nargs="+", default=["vox", "point", "mesh", "occupancy"])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    main(parser.parse_args())
