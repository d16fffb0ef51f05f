"""Train a single-view 3D reconstruction model.

    python train_model.py --type vox                       # default CPU budget on the embedded data
    python train_model.py --type point --n_points 2000
    python train_model.py --type mesh --w_chamfer 1.0 --w_smooth 0.1
    python train_model.py --type occupancy
    python train_model.py --type vox --load_checkpoint     # resume the run in --out_dir exactly
    python train_model.py --type vox --load_checkpoint --max_iter 900   # train it longer
    python train_model.py --type vox --overwrite           # start over, replacing the run in --out_dir
    torchrun --nproc_per_node 2 train_model.py --type vox  # DistributedDataParallel

    python train_model.py --type vox --profile smoke       # a 3-minute first run on a small set: not a result

The flags, the profile, the device and (on resume) the run's own record are resolved once into a
frozen config (`training.config.resolve_config`), printed, and saved in args.json beside the
checkpoints in <out_dir> (default checkpoints/<type>). A new run refuses a folder that already
holds a run of its type (nothing is lost by running the command twice). Defaults are sized for a
2-core CPU (the cpu profile), or for a GPU when --device is CUDA (docs/training.md).
"""

import common.startup

import argparse
import dataclasses

import torch

from common.cli import add_flags, default_device, fail, given_flags, resolve_device
from dataset import DatasetError, data_identity, mean_occupancy, shape_keys
from losses import LossConfig
from model import ModelError
from representations import ReconstructionLoss, get, names
from training.config import (
    PROFILES,
    VAL_FREQ_MIN,
    ConfigError,
    ModelFlags,
    RunConfig,
    TrainConfig,
    model_flag_defaults,
    resolve_config,
    type_flag_defaults,
    type_flags,
)
from training.resume import RunError
from training.run_folder import restore_aside
from training.setup import (
    build_loader,
    build_optimizer,
    build_run_model,
    make_monitor,
    prepare_run,
    resumed_checkpoint,
    set_earlier_run_aside,
)
from training.trainer import Trainer, TrainingData, TrainingError, configure_device

OPTIMISATION_FLAGS = (
    "lr", "max_iter", "profile", "batch_size", "num_workers", "augment", "data_root", "seed", "device", "amp",
    "compile", "data_on_device", "deterministic",
)  # fmt: skip
RUN_FLAGS = tuple(
    f.name for f in dataclasses.fields(RunConfig) if "help" in f.metadata and f.name not in OPTIMISATION_FLAGS
)  # the run on disk: its folder, resuming or replacing it, logs, validation, checkpoints


def get_args_parser() -> argparse.ArgumentParser:
    """The flags, grouped as the configs that hold them; a flag left out is absent from the parsed
    namespace (`common.cli.add_flags`), and its default is the config's."""
    parser = argparse.ArgumentParser(
        prog="train_model.py",
        description="Train a single-view 3D reconstruction model (the README's first command). Writes the run "
        "folder: checkpoint_<type>.pth (the last, to resume), checkpoint_<type>.best.pth (the best validation, "
        "for evaluation), args.json and tensorboard/; a new run refuses a folder holding a run unless --overwrite.",
    )
    add_flags(parser.add_argument_group("model"), ModelFlags, model_flag_defaults())
    add_type_flags(parser)
    add_flags(parser.add_argument_group("loss terms several types share"), LossConfig)
    per_profile = ", ".join(f"{name} {values['batch_size']}" for name, values in PROFILES.items())
    shown = {
        "max_iter": "per type and profile (cpu: "
        + ", ".join(f"{t} {get(t).max_iter['cpu']}" for t in names())
        + f"; smoke {PROFILES['smoke']['max_iter']})",
        "batch_size": f"per profile ({per_profile})",
        "num_workers": "per profile (" + ", ".join(f"{n} {v['num_workers']}" for n, v in PROFILES.items()) + ")",
        "amp": "per profile (off in each)",
        "device": default_device(),
        "data_root": "the embedded dataset (data/smoke for the smoke profile)",
        "out_dir": "checkpoints/<type> (checkpoints/smoke/<type> for the smoke profile)",
        "val_freq": f"max_iter // 10, at least {VAL_FREQ_MIN}",
    }
    add_flags(parser.add_argument_group("optimisation and data"), RunConfig, shown, only=OPTIMISATION_FLAGS)
    add_flags(parser.add_argument_group("run, logs and checkpoints"), RunConfig, shown, only=RUN_FLAGS)
    return parser


def add_type_flags(parser: argparse.ArgumentParser) -> None:
    """One flag group per registered type, from its settings (`representations.base.Settings`); a
    flag several types share (voxmesh's voxel branch has vox's) is in the first one's group, its
    help naming them all."""
    defaults, owners, added = type_flag_defaults(), type_flags(), set()
    for name in names():
        own = [f for f in get(name).settings.flag_names() if f not in added]
        if own:
            add_flags(parser.add_argument_group(f"--type {name}"), get(name).settings, defaults, own, owners)
            added.update(own)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags a command line gives, and only those (their defaults are the configs')."""
    return get_args_parser().parse_args(argv)


def resolve(args: argparse.Namespace) -> tuple[TrainConfig, dict | None, str]:
    """The run's frozen config (and the checkpoint it resumes, and its file) from the parsed flags,
    or a one-line exit."""
    given = given_flags(args)
    try:
        checkpoint, ckpt_path = resumed_checkpoint(given)
        config = resolve_config(given, checkpoint, default_device(), ckpt_path)
    except (ConfigError, RunError, ModelError) as err:
        fail(str(err))
    resolve_device(config.run.device)  # one line when the device cannot be used here
    return config, checkpoint, ckpt_path


def main(args: argparse.Namespace) -> dict:
    config, checkpoint, ckpt_path = resolve(args)
    try:
        run = prepare_run(config, checkpoint, ckpt_path)
        if run.is_main:
            print(config.describe(), flush=True)
        model, optimizer, scheduler, start_step = build_model_and_optimizer(config, run)
        dataset, loader, validator = build_loader(config, run, start_step)
    except (RunError, ModelError, DatasetError) as err:
        fail(str(err))
    loss_fn = ReconstructionLoss(config.run.type, config.settings, config.loss)
    identity = {**data_identity(dataset), "train_shapes": shape_keys(dataset.entries)}
    data = TrainingData(mean_train_voxels(run, dataset), identity)
    trainer = Trainer(model, optimizer, scheduler, loss_fn, config, run, data)
    losses = train(trainer, config, run, loader, start_step, validator, len(dataset))
    step = start_step + len(losses)
    if run.world_size > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if run.is_main:
        print(trainer.summary(step, losses))
    return {"step": step, "losses": losses, "checkpoint": run.ckpt_path}


def build_model_and_optimizer(config: TrainConfig, run) -> tuple:
    """(model on the device, wrapped in DDP under torchrun; optimizer; scheduler; the start step)."""
    model = build_run_model(config, run)
    model = configure_device(model, run.device, config.run.compile, config.run.deterministic)
    optimizer, scheduler, start_step = build_optimizer(model, config, run)
    if run.world_size > 1:
        # Gradients as views of DDP's buckets: no copy, and no "grad strides do not match bucket
        # view" warning for the channels-last weights (`configure_device`).
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[run.device.index] if run.device.type == "cuda" else None, gradient_as_bucket_view=True
        )
    return model, optimizer, scheduler, start_step


def mean_train_voxels(run, dataset):
    """The mean training shape, kept in the checkpoint: evaluation compares the model with it on any
    data, also data it was not trained on (evaluation.protocol.baseline_voxels). Only rank 0 writes
    checkpoints, so only rank 0 computes it (None elsewhere)."""
    if not run.is_main:
        return None
    stored = (run.checkpoint or {}).get("mean_train_voxels")
    return stored if stored is not None else mean_occupancy(dataset.cache["voxels"])


def train(trainer: Trainer, config: TrainConfig, run, loader, start_step: int, validator, n_images: int) -> list[float]:
    """The run on disk, then trainer.fit: an earlier run set aside (--overwrite), the logs and the
    record started. Its failures in one line: a non-finite loss or an interrupt names the last
    checkpoint, and a run replacing another that stops before its first checkpoint, in setup or
    in training, puts the earlier one back."""
    c = config.run
    if run.is_main and run.checkpoint is None and c.overwrite:
        try:
            run.aside = set_earlier_run_aside(config)
        except (KeyboardInterrupt, OSError) as err:  # set_aside_run put back what it had moved
            fail(
                ("interrupted" if isinstance(err, KeyboardInterrupt) else f"could not move a file ({err})")
                + f" while setting the earlier run aside; it is back in {c.out_dir}"
            )
    try:
        trainer.monitor = make_monitor(config, run, start_step, validator)
        if run.is_main:
            trainer.write_record()
            print(
                f"training {c.type} on {run.device} x{run.world_size}: {n_images} train images, "
                f"steps {start_step}..{c.max_iter}, batch {c.batch_size}" + (", bf16 autocast" if c.amp else ""),
                flush=True,
            )
        return trainer.fit(loader, start_step)
    except BaseException as err:
        if run.aside:  # stopped before its first checkpoint: the run it was to replace comes back
            restore_aside(c.out_dir, run.aside, c.type)
            print(f"--overwrite: the earlier run is back in {c.out_dir} (this one stopped before its first checkpoint)")
        if isinstance(err, TrainingError):
            if not run.is_main:  # every rank stops at the same step; rank 0 says why
                raise SystemExit(2) from None
            fail(str(err))
        if isinstance(err, KeyboardInterrupt):
            last = f"{run.ckpt_path} (step {run.last_saved})" if run.last_saved is not None else "none written"
            fail(f"interrupted; last checkpoint: {last}")
        raise


if __name__ == "__main__":
    common.startup.ready()
    main(parse_args())
