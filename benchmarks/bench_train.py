"""Training throughput per type: the real DataLoader vs the same step on a batch already in memory.

    python -m benchmarks.bench_train                          # CPU, every type at its defaults
    python -m benchmarks.bench_train --types vox --vox_decoder deconv   # the transposed-convolution voxel decoder
    python -m benchmarks.bench_train --device cuda            # on a GPU: the gpu profile (batch 64, 137 px)
    python -m benchmarks.bench_train --types vox --against="--no-pixel_aligned --w_silhouette 0"  # the ratio

Not a test: prints seconds per step, images/s, the share of the step spent waiting for data,
measured as the training log measures it (the wait for the next batch, read, copied to the device
and augmented ahead in `training.sampler.prefetch`'s thread), and the step's GFLOP (forward and backward,
`torch.utils.flop_counter`). Settings are train_model.py's defaults for each type (its profile:
batch, image size, --amp), or the flags given.

--against FLAGS also times the step of another command line (say the previous default) in turn with
this one's, one step each, `--rounds` times, on one batch in memory each, and prints the ratio of
the medians: on a shared or throttled machine whose speed drifts by 10-20 % from one minute to
the next, a ratio of two separate runs is mostly that drift.
"""

import dataclasses
import shlex
import statistics
import time

import torch

from common.cli import default_device, positive_int, run_or_fail
from dataset import R2N2Dataset
from model import ModelError
from r2n2.formats import DatasetError
from representations import ReconstructionLoss, build_model, get, names
from train_model import get_args_parser
from training.checkpoints import init_from_run
from training.config import ConfigError, flags_for, resolve_config
from training.sampler import StepBatchSampler, prefetch
from training.setup import build_optimizer, step_loader
from training.trainer import Run, Trainer, TrainingData, configure_device


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(trainer, batches, args, device) -> tuple[float, float]:
    """(seconds per step, seconds per step waiting for the next prepared batch) over the
    batches (an iterator of prepared batches), after `args.warmup` steps: the waiting is what
    the training log calls data time."""
    start, waited, n = None, 0.0, 0
    iterator = iter(batches)
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            sync(device)
            start, waited = time.perf_counter(), 0.0
        t0 = time.perf_counter()
        batch = next(iterator)
        waited += time.perf_counter() - t0
        trainer.train_step(batch, i)
        n += i >= args.warmup
    sync(device)
    return (time.perf_counter() - start) / n, waited / n


def make_trainer(config, device) -> tuple[Trainer, str]:
    """train_model.py's step (prepare_batch, train_step) on a fresh model built from a resolved
    config as train_model.py builds it, without its logs; and a note on how the model starts. A
    type that starts from another's run starts from it (--init; voxmesh from vox: at random
    initialisation about 40 % of cells pass the threshold, some 97k faces per mesh, far more than
    a trained voxel branch gives, which would time another step than training's)."""
    torch.manual_seed(0)
    model = build_model(dict(config.model_args))
    try:
        note = init_from_run(model, config.init, config.profile) or ""
    except ModelError as err:
        raise SystemExit(f"bench_train: {config.run.type} --init: {err}") from None
    model = model.to(device).train()
    # train_model.py's settings: on CUDA TF32, channels-last weights and fused Adam.
    model = configure_device(model, device, compile=config.run.compile, deterministic=config.run.deterministic)
    run = Run("unused.pth", None, None, 0, 1, device)
    optimizer, scheduler, _ = build_optimizer(model, config, run)
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, out_dir="unused", val_freq=0))
    loss_fn = ReconstructionLoss(config.run.type, config.settings, config.loss)
    trainer = Trainer(model, optimizer, scheduler, loss_fn, config, run, TrainingData(None, {}))
    return trainer, note


def mesh_faces(trainer, batch) -> float:
    """voxmesh: the mean number of faces of the cubified meshes of a batch (what its step costs)."""
    with torch.no_grad():
        meshes = trainer.model(batch["images"]).aux["stages"][0]
    return float(meshes.num_faces_per_mesh().float().mean())


def step_gflop(trainer, batch, step: int = 0) -> float:
    """GFLOP of one training step (forward and backward) on a prepared batch, counted by
    torch.utils.flop_counter (matrix products and convolutions; PyTorch3D's ops are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        trainer.train_step(batch, step)
    return counter.get_total_flops() / 1e9


def main(args):
    given = {k: v for k, v in vars(args).items() if k not in ("types", "warmup", "steps", "against", "rounds")}
    device = torch.device(given.get("device", default_device()))
    torch.backends.cudnn.benchmark = True
    configs = [  # one command line for every type: each takes the shared flags and its own
        resolve_config({**flags_for(given, model_type), "type": model_type}, default_device=str(device))
        for model_type in args.types
    ]
    references = [against_config(args.against, config, device) for config in configs]
    # As train_model.py opens it; occupancy trains on points.npz's exact labels where the data has them.
    datasets = {
        labels: R2N2Dataset(
            configs[0].run.data_root, "train", n_points=None, return_meshes=False, return_occupancy=labels, quiet=labels
        )
        for labels in sorted({get(t).needs_occupancy_labels for t in args.types})
    }
    print(
        f"device {device}, {configs[0].run.num_workers} workers, augment {configs[0].run.augment}; each type at "
        "train_model.py's defaults"
    )
    columns = (
        ("batch", 5),
        ("image", 5),
        ("loader s/step", 14),
        ("in-memory s/step", 17),
        ("waited s/step", 14),
        ("images/s", 9),
        ("data share", 10),
        ("GFLOP/step", 10),
        ("TFLOP/s", 8),
        ("MFU", 6),
        ("peak GiB", 8),
    )
    peak_flops = device_peak_tflops(device, configs[0].run.amp)
    print(f"MFU: achieved TFLOP/s over the device's dense peak ({peak_flops[1]})")
    print(f"{'type':<10} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for config in configs:
        dataset = datasets[get(config.run.type).needs_occupancy_labels]
        bench_one(config, dataset, device, args, peak_flops[0])
    for config, reference in zip(configs, references):
        if reference is not None:
            dataset = datasets[get(config.run.type).needs_occupancy_labels]
            this, other = interleaved_medians([config, reference], dataset, device, args)
            print(
                f"{config.run.type}: median s/step in turn over {args.rounds} rounds: these flags {this:.3f}, "
                f"--against {args.against!r} {other:.3f}, ratio {this / other:.3f}",
                flush=True,
            )


def bench_one(config, dataset, device: torch.device, args, peak_tflops: float | None) -> None:
    """Time one type's step from the real loader and with one batch in memory; print its row."""
    model_type, batch_size = config.run.type, config.run.batch_size
    steps = args.warmup + args.steps
    trainer, note = make_trainer(config, device)
    if note:
        print(note, flush=True)
    loader = step_loader(dataset, StepBatchSampler(len(dataset), batch_size, 0, 0, steps), config.run, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with_loader, waited = time_steps(trainer, prefetch(loader, trainer.prepare_batch, 0), args, device)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    fixed = trainer.prepare_batch(next(iter(loader)), 0)
    in_memory, _ = time_steps(trainer, (dict(fixed) for _ in range(steps)), args, device)
    speed = batch_size / with_loader
    share = 100 * waited / with_loader
    gflop = step_gflop(trainer, dict(fixed))
    if "stages" in trainer.model(fixed["images"][:1]).aux:
        print(f"{model_type}: {mesh_faces(trainer, fixed):.0f} faces per cubified mesh on average", flush=True)
    achieved = gflop / with_loader / 1000  # TFLOP/s from the real loader
    mfu = f"{100 * achieved / peak_tflops:5.1f}%" if peak_tflops else "   - "
    print(
        f"{model_type:<10} {batch_size:5d} {config.model_args['image_size']:5d} {with_loader:14.3f} "
        f"{in_memory:17.3f} {waited:14.3f} {speed:9.1f} {share:9.1f}% {gflop:10.1f} {achieved:8.2f} {mfu:>6} "
        f"{peak:8.2f}",
        flush=True,
    )


# Dense peak TFLOP/s of the GPUs this project is run on (vendor data sheets; SXM parts): bf16 (--amp)
# and TF32 (float32 matmuls and convolutions on CUDA, `training.trainer.configure_device`).
PEAK_TFLOPS = {"H200": (989.4, 494.7), "H100": (989.4, 494.7), "A100": (312.0, 156.0), "L4": (121.0, 60.0)}


def against_config(flags: str | None, config, device: torch.device):
    """The resolved config of --against's flags for config's type (None without them): another whole
    command line over train_model.py's defaults, of which only the data and the device are config's.
    ConfigError for --type among them or another type's flag."""
    if flags is None:
        return None
    against = vars(get_args_parser().parse_args(shlex.split(flags)))
    if "type" in against:
        raise ConfigError("--against: leave --type out of its flags (each type of --types is timed against them)")
    given = {**against, "type": config.run.type, "data_root": config.run.data_root}
    return resolve_config(given, default_device=str(device))


def interleaved_medians(configs: list, dataset, device: torch.device, args) -> list[float]:
    """Median seconds per step of each config's training step, taken in turn (one step of each, then
    the next round), `args.rounds` rounds after `args.warmup` untimed ones, each on its own batch
    in memory: what drifts with the machine drifts in all of them alike."""
    trainers, batches = [], []
    for config in configs:
        trainer, _ = make_trainer(config, device)
        loader = step_loader(
            dataset, StepBatchSampler(len(dataset), config.run.batch_size, 0, 0, 1), config.run, device
        )
        trainers.append(trainer)
        batches.append(trainer.prepare_batch(next(iter(loader)), 0))
    times = [[] for _ in configs]
    for step in range(args.warmup + args.rounds):
        order = list(zip(trainers, batches, times))
        for trainer, batch, spent in order if step % 2 == 0 else order[::-1]:  # neither always first
            sync(device)
            start = time.perf_counter()
            trainer.train_step(dict(batch), step)
            sync(device)
            if step >= args.warmup:
                spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def device_peak_tflops(device: torch.device, amp: bool) -> tuple[float | None, str]:
    """(dense peak TFLOP/s of the device at the step's precision, what it is), (None, why) when unknown."""
    if device.type != "cuda":
        return None, "a CPU: no peak taken"
    name = torch.cuda.get_device_name(device)
    for key, (bf16, tf32) in PEAK_TFLOPS.items():
        if key in name:
            peak = bf16 if amp else tf32
            return peak, f"{name}: {peak:g} TFLOP/s dense {'bf16' if amp else 'TF32'}"
    return None, f"{name}: peak unknown"


def scratch_types() -> list[str]:
    """The registered types whose runs start from scratch (not from another type's run, `--init`)."""
    return [name for name in names() if get(name).init_from is None]


def get_parser():
    """train_model.py's own flags and defaults (batch, image size, loss weights, ...), so the
    benchmark times exactly the step a default training run takes, and the benchmark's."""
    parser = get_args_parser()
    parser.prog = "bench_train.py"
    parser.description = (
        "Time the training step of each type at train_model.py's defaults (or the flags given): seconds per step "
        "from the real loader and on a batch in memory, images/s, the share spent waiting for data, GFLOP, peak "
        "CUDA memory. Prints a table; writes nothing (the flags of train_model.py that name a run folder, "
        "checkpoints or validation have no effect here). --type is replaced by --types."
    )
    bench = parser.add_argument_group("benchmark")
    bench.add_argument(
        "--types", nargs="+", default=scratch_types(), choices=names(),
        help=f"the types timed, one row each (default: those that train from scratch, {' '.join(scratch_types())})",
    )  # fmt: skip
    bench.add_argument("--warmup", type=positive_int, default=2, help="untimed steps first (default: 2)")
    bench.add_argument("--steps", type=positive_int, default=8, help="timed steps (default: 8)")
    bench.add_argument(
        "--against", metavar="FLAGS", default=None,
        help="also time the step of these train_model.py flags in turn with this one's and print the ratio of the "
        "medians; FLAGS are another whole command line over train_model.py's defaults, of which only --data_root and "
        "--device are this one's (quote them: --against=\"--no-pixel_aligned --w_silhouette 0\"; default: no second "
        "command line)",
    )  # fmt: skip
    bench.add_argument(
        "--rounds", type=positive_int, default=12, help="--against: rounds of one step each (default: 12)"
    )
    return parser


if __name__ == "__main__":
    run_or_fail(main, get_parser().parse_args(), ConfigError, DatasetError)
