"""A run set up from its resolved config: its folder claimed, its model, optimizer, data and logs made.

    config = resolve_config(given, checkpoint)                # training/config.py
    run = prepare_run(config, checkpoint, ckpt_path)          # the folder locked, the process group
    model = build_run_model(config, run)
    optimizer, scheduler, start_step = build_optimizer(model, config, run)
    dataset, loader, validator = build_loader(config, run, start_step)

Each step raises an exception that says what is wrong (RunError, ModelError, DatasetError, in
one line); train_model.py turns it into the one-line exit. Nothing here writes a run's files
before the run is ready: an --overwrite clears the earlier run last (`clear_earlier_run`).
"""

import os

import torch

from common.paths import unsafe_root
from dataset import DatasetError, R2N2Dataset, collate_batch, data_identity
from model import ModelError
from representations import build_model, get
from training.checkpoints import (
    RunError,
    check_resumable,
    checkpoint_path,
    default_out_dir,
    init_from_run,
    load_checkpoint,
    rebuild_model,
)
from training.config import ConfigError, ModelFlags, TrainConfig
from training.device_data import DeviceLoader, fits_on_device
from training.monitor import Monitor
from training.resume import (
    check_resume_data,
    check_resume_shapes,
    check_resume_world_size,
    existing_run_message,
    history_entry,
    stretch_schedule,
)
from training.run_folder import RunLock, foreign_checkpoints, recover_run, run_files, run_type_of, set_aside_run
from training.sampler import StepBatchSampler
from training.trainer import Run, load_optimizer_state, setup_distributed
from training.validation import open_validator


def check_writable_dir(path: str, what: str) -> None:
    """Create `path` if needed and prove a file can be written there, or RunError naming it."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise RunError(f"{what} {path} is not writable ({err.strerror})") from None


def resumed_checkpoint(given: dict) -> tuple[dict | None, str]:
    """The checkpoint --load_checkpoint resumes (None for a new run) and its file; ModelError in one
    line when it cannot be resumed."""
    model_type = given.get("type", ModelFlags.type)
    path = checkpoint_path(given.get("out_dir") or default_out_dir(model_type, given.get("profile", "")), model_type)
    if not given.get("load_checkpoint"):
        return None, path
    if given.get("overwrite"):
        raise ConfigError(
            "--load_checkpoint resumes the run in --out_dir and --overwrite replaces it: give one of them"
        )
    checkpoint = load_checkpoint(path, expected_type=model_type)
    check_resumable(checkpoint, path)
    return checkpoint, path


def claim_run_folder(config: TrainConfig, ckpt_path: str, resuming: bool, is_main: bool) -> None:
    """Make --out_dir this run's: writable and locked (one training process per folder), not
    another type's run, and, for a new run, free of an earlier run's files unless --overwrite asks
    to replace them (`clear_earlier_run` does, once the new run is ready). Only the main process
    writes or locks."""
    out_dir, model_type = config.run.out_dir, config.run.type
    if is_main:
        reason = unsafe_root(out_dir)
        if reason:
            raise RunError(f"--out_dir: {reason}")
        check_writable_dir(out_dir, "--out_dir")
        RunLock(out_dir).acquire()  # released when the process exits
        for line in recover_run(out_dir, model_type):  # what a run killed halfway left here
            print(line, flush=True)
    other = run_type_of(out_dir)
    if other not in (None, model_type):
        raise RunError(f"{out_dir} holds a {other} run (args.json): train --type {model_type} into another --out_dir")
    if resuming:
        return
    foreign = foreign_checkpoints(out_dir, model_type)
    if foreign:  # a new run would write over them
        raise RunError(
            f"{out_dir} holds {', '.join(os.path.basename(p) for p in foreign)}, not listed by a run's record there "
            "(args.json) as written: move them, or use another --out_dir"
        )
    earlier = run_files(out_dir, model_type)
    if earlier and not config.run.overwrite:
        raise RunError(existing_run_message(ckpt_path, out_dir, model_type, earlier))


def set_earlier_run_aside(config: TrainConfig) -> str | None:
    """--overwrite: move the earlier run's files aside (`checkpoints.set_aside_run`), once the new
    run's model, optimizer and data are ready and just before it writes anything; they are removed
    when the new run has written its first checkpoint and put back if it stops first. Returns the
    folder they are in (None: there was no earlier run)."""
    aside, moved = set_aside_run(config.run.out_dir, config.run.type)
    if moved:
        print(
            f"--overwrite: the earlier run's {', '.join(os.path.basename(p) for p in moved)} set aside in {aside}, "
            "removed once this run's first checkpoint is written, put back if it stops before",
            flush=True,
        )
    return aside


def prepare_run(config: TrainConfig, checkpoint: dict | None, ckpt_path: str) -> Run:
    """The run the config asks for: a new one (refused if its folder holds one, unless --overwrite)
    or the one in --out_dir resumed; then the process group under torchrun."""
    history = list(checkpoint.get("history", [])) if checkpoint else []
    schedule_note = config.schedule_note
    if checkpoint is not None:
        check_resume_data(checkpoint, config.run.data_root, ckpt_path)
        check_resume_world_size(checkpoint, int(os.environ.get("WORLD_SIZE", "1")), ckpt_path)
    history.append(history_entry(checkpoint, set(config.given)))
    claim_run_folder(config, ckpt_path, resuming=checkpoint is not None, is_main=os.environ.get("RANK", "0") == "0")
    rank, world_size, device = setup_distributed(torch.device(config.run.device))
    resumed_step = checkpoint["step"] if checkpoint else None
    return Run(ckpt_path, checkpoint, schedule_note, rank, world_size, device, resumed_step, history)


def build_run_model(config: TrainConfig, run: Run) -> torch.nn.Module:
    """The model: the checkpoint's own when resuming, so flags need not be repeated; a type that
    starts from another type's run (voxmesh from vox) starts from it (--init)."""
    torch.manual_seed(config.run.seed)
    if run.checkpoint is not None:
        return rebuild_model(run.checkpoint, run.ckpt_path).to(run.device)
    model = build_model(dict(config.model_args), pretrained=config.pretrained)
    try:
        note = init_from_run(model, config.init, config.profile)
    except ModelError as err:
        raise ModelError(f"--init: {err}") from None
    if note and run.is_main:
        print(note, flush=True)
    return model.to(run.device)


def build_optimizer(model: torch.nn.Module, config: TrainConfig, run: Run) -> tuple[torch.optim.Optimizer, object, int]:
    """Adam with a cosine schedule over the run; restored (and maybe stretched) when resuming.
    Returns (optimizer, scheduler, the step training starts at)."""
    max_iter = config.run.max_iter
    # Fused Adam (one kernel for every parameter): on CUDA, and on a CPU too, where the default's
    # per-tensor loop took 0.12 s of a vox step on 2 cores and the fused one 0.02 s (docs/training.md).
    optimizer = torch.optim.Adam(model.parameters(), lr=config.run.lr, fused=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_iter)
    if run.checkpoint is None:
        return optimizer, scheduler, 0
    try:
        load_optimizer_state(optimizer, run.checkpoint["optimizer"])
        scheduler.load_state_dict(run.checkpoint["scheduler"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise RunError(
            f"{run.ckpt_path}: its optimizer or scheduler state does not fit this model ({err}); start a new run"
        ) from None
    start_step = run.checkpoint["step"]
    note = run.schedule_note
    if note:
        lr_now = stretch_schedule(optimizer, scheduler, max_iter, start_step)
        note += f"; learning rate at step {start_step} is now {lr_now:.2e}"
    if run.is_main:
        print(
            f"resuming {run.ckpt_path} at step {start_step} of {max_iter}" + (f" ({note})" if note else ""), flush=True
        )
    return optimizer, scheduler, start_step


def open_train_split(config: TrainConfig, run: Run) -> tuple[R2N2Dataset, tuple]:
    """The train split with every cached surface point (each step draws its own subset:
    `Representation.targets`). Under torchrun, rank 0 opens it first (generating the embedded data
    and building the cache if needed) while the other ranks wait, so no two processes write the
    same folder; rank 0 also opens the val split (its cache) before the others go on, so no rank
    waits in a collective while a cache is built. A bad data root stops every rank with the same
    one line. Returns the split and (validator or None, what was opened: `open_validator`)."""
    data_root = config.run.data_root

    def open_split(quiet: bool) -> R2N2Dataset | str:
        try:
            return R2N2Dataset(
                data_root,
                "train",
                n_points=None,
                return_meshes=False,
                seed=config.run.seed,
                quiet=quiet,
                return_occupancy=get(config.run.type).needs_occupancy_labels,
            )
        except DatasetError as err:
            return str(err)

    if run.world_size > 1 and not run.is_main:
        torch.distributed.barrier()  # rank 0 has prepared the data and both caches
    dataset = open_split(quiet=not run.is_main)
    validator = (None, "")
    if run.is_main and not isinstance(dataset, str):  # the val split's cache too, while the others still wait
        validator = open_validator(data_root) if config.run.val_freq > 0 else (None, "no validation (--val_freq 0)")
    if run.world_size > 1 and run.is_main:
        torch.distributed.barrier()
    if isinstance(dataset, str):
        raise DatasetError(dataset)
    if run.checkpoint is not None:
        check_resume_shapes(run.checkpoint, data_identity(dataset), run.ckpt_path)
    return dataset, validator


def build_loader(
    config: TrainConfig, run: Run, start_step: int
) -> tuple[R2N2Dataset, torch.utils.data.DataLoader, tuple]:
    """The train split, the loader of the batches of steps [start_step, max_iter) and rank 0's
    validator (`open_train_split`)."""
    dataset, validator = open_train_split(config, run)
    c = config.run
    sampler = StepBatchSampler(len(dataset), c.batch_size, c.seed, start_step, c.max_iter, run.rank, run.world_size)
    return dataset, step_loader(dataset, sampler, c, run.device, say=run.is_main), validator


def step_loader(dataset: R2N2Dataset, sampler, c, device: torch.device, say: bool = True):
    """The batches of the sampler's steps: the split held on the device with --data_on_device
    (when it fits), else torch's DataLoader with the run's workers (what train_model.py and
    benchmarks/bench_train.py read)."""
    occupancy = get(c.type).needs_occupancy_labels
    if c.data_on_device and fits_on_device(dataset, device, occupancy):
        return DeviceLoader(dataset, sampler, device, occupancy)
    if c.data_on_device and say:
        print(f"--data_on_device: the train split does not fit on {device}: read by the loader instead", flush=True)
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=c.num_workers,
        collate_fn=collate_batch,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
        prefetch_factor=4 if c.num_workers > 0 else None,
    )


def make_monitor(config: TrainConfig, run: Run, start_step: int, opened_validator: tuple) -> Monitor | None:
    """Rank 0's logs (TensorBoard, validation), None on the other ranks. A resumed run keeps
    its best val score so far."""
    if not run.is_main:
        return None
    validator, note = opened_validator
    print(f"{note}" + (f" every {config.run.val_freq} steps" if validator else ""), flush=True)
    return Monitor(config.run, start_step, validator, (run.checkpoint or {}).get("best"))
