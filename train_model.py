"""Train a single-view 3D reconstruction model.

    python train_model.py --type vox                       # default CPU budget on the embedded data
    python train_model.py --type point --n_points 2000
    python train_model.py --type mesh --w_chamfer 1.0 --w_smooth 0.1
    python train_model.py --type occupancy
    python train_model.py --type vox --load_checkpoint     # resume the run in --out_dir exactly
    python train_model.py --type vox --load_checkpoint --max_iter 900   # train it longer
    python train_model.py --type vox --overwrite           # start over, replacing the run in --out_dir
    torchrun --nproc_per_node 2 train_model.py --type vox  # DistributedDataParallel

Checkpoints go to <out_dir>/checkpoint_<type>.pth (default out_dir: checkpoints/<type>), with
args.json beside them. A new run refuses a folder that already holds a checkpoint of its type
(nothing is lost by running the command twice). Defaults are sized for a 2-core CPU (see the
README to scale up on a GPU).
"""

import argparse
import os

import torch

from common.cli import (
    check_writable_dir,
    default_device,
    fail,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    resolve_device,
)
from dataset import DatasetError, R2N2Dataset, collate_batch, data_identity, mean_occupancy, shape_keys
from losses import LossConfig, ReconstructionLoss
from model import TYPES, ModelError, SingleViewto3D, default_model_args
from r2n2.ground_truth import N_SURFACE_POINTS
from training.checkpoints import (
    RunLock,
    check_resumable,
    checkpoint_model_args,
    checkpoint_path,
    clear_run,
    init_voxel_branch,
    load_checkpoint,
    rebuild_model,
    run_dir,
    run_files,
    run_type_of,
)
from training.config import PROFILES, RunConfig, profile_defaults
from training.monitor import Monitor
from training.resume import (
    RunError,
    check_resume_data,
    check_resume_shapes,
    check_resume_world_size,
    existing_run_message,
    history_entry,
    restore_run_flags,
    resume_max_iter,
    stretch_schedule,
)
from training.sampler import StepBatchSampler
from training.trainer import Run, Trainer, TrainingError, configure_cuda, load_optimizer_state, setup_distributed
from training.validation import open_validator

CPU_IMAGE_SIZE = PROFILES["cpu"]["image_size"]


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """What the network is: type, encoder, input size and each decoder's own settings."""
    group = parser.add_argument_group("model")
    group.add_argument("--type", default="vox", choices=TYPES)
    group.add_argument("--arch", default="resnet18", choices=["resnet18"])
    group.add_argument(
        "--pretrained", default=None, help="local ImageNet ResNet18 weights (.pth); default: train from scratch"
    )
    group.add_argument(
        "--image_size",
        type=positive_int,
        default=None,
        help="encoder input resolution; images are resized to it (default: per type, sized for a 2-core CPU: "
        f"{CPU_IMAGE_SIZE}; gpu 137, the R2N2 size)",
    )
    group.add_argument(
        "--vox_decoder",
        default="subpixel",
        choices=["subpixel", "deconv"],
        help="vox, voxmesh: the voxel decoder (model.py): subpixel (default) or deconv, the earlier one",
    )
    group.add_argument(
        "--vox_latent",
        default="spatial",
        choices=["spatial", "pooled"],
        help="vox, voxmesh (subpixel decoder): the image feature the decoder starts from: the pooled feature and the "
        "encoder's last feature map (spatial, default) or the pooled feature only",
    )
    group.add_argument(
        "--n_points",
        type=positive_int,
        default=1000,
        help="predicted points (point type) and sampled points per Chamfer term",
    )
    group.add_argument(
        "--n_queries", type=positive_int, default=1024, help="occupancy: query points per image per step"
    )
    group.add_argument(
        "--occ_grid",
        type=int,
        default=0,
        choices=[0, 8, 16, 32],
        help="occupancy: also decode a feature volume of this resolution and sample it at each query (Convolutional "
        "Occupancy Networks); 0: the global image feature only, as Occupancy Networks (default)",
    )
    group.add_argument(
        "--init",
        default="auto",
        help="voxmesh: start encoder and voxel branch from this vox checkpoint ('auto': "
        "checkpoints/vox/checkpoint_vox.pth if present; 'none')",
    )


def add_loss_flags(parser: argparse.ArgumentParser) -> None:
    """The loss: each term's weight (0 turns a regulariser off) and the voxel BCE's balance."""
    group = parser.add_argument_group("loss")
    group.add_argument("--w_chamfer", type=positive_float, default=1.0, help="the data term: must be > 0")
    group.add_argument(
        "--w_smooth", type=non_negative_float, default=0.1, help="mesh: Laplacian smoothing of the ico-sphere"
    )
    group.add_argument(
        "--w_normal",
        type=non_negative_float,
        default=1e-3,
        help="voxmesh: normal loss (1 - |cos| to the nearest GT normal)",
    )
    group.add_argument(
        "--w_edge", type=non_negative_float, default=0.2, help="voxmesh: edge-length loss, as Mesh R-CNN"
    )
    group.add_argument(
        "--pos_weight",
        type=positive_float,
        default=3.0,
        help="vox, voxmesh: weight of occupied voxels in the BCE; ~5%% of the grid is occupied and plain BCE "
        "(--pos_weight 1) under-fills thin parts",
    )
    group.add_argument(
        "--w_dice",
        type=non_negative_float,
        default=1.0,
        help="vox, voxmesh: weight of the soft Dice loss beside the BCE (losses.dice_loss)",
    )
    group.add_argument(
        "--w_thin",
        type=non_negative_float,
        default=0.25,
        help="vox, voxmesh: weight of the thin loss (losses.thin_loss): BCE on the GT's rod-like cells "
        "(legs, rails), which should be occupied, and on the empty cells beside them",
    )
    group.add_argument(
        "--w_aux",
        type=non_negative_float,
        default=0.5,
        help="vox, voxmesh (subpixel decoder): deep supervision, the weight of the same loss at 8^3 and 16^3; 0 "
        "builds no coarse heads",
    )


def add_optimisation_flags(parser: argparse.ArgumentParser) -> None:
    """How it is trained: schedule, batches, data, augmentation, seed, device."""
    group = parser.add_argument_group("optimisation and data")
    group.add_argument("--lr", type=positive_float, default=1e-3)
    group.add_argument(
        "--max_iter",
        type=positive_int,
        default=None,
        help="training steps (default: per type, sized for a 2-core CPU; when resuming, the run's own; a different "
        "value stretches its cosine schedule)",
    )
    group.add_argument(
        "--profile",
        default="auto",
        choices=["auto", "cpu", "gpu"],
        help="defaults sized for a machine (PROFILES: batch, image size, steps, workers, --amp); auto: gpu when "
        "--device is CUDA, else cpu. Flags given explicitly win",
    )
    group.add_argument("--batch_size", type=positive_int, default=None, help="default: the profile's (cpu 32, gpu 64)")
    group.add_argument(
        "--num_workers",
        type=non_negative_int,
        default=None,
        help="DataLoader workers (default: the profile's: cpu 0, gpu 4)",
    )
    group.add_argument(
        "--augment",
        default="light",
        choices=["none", "light", "full"],
        help="image augmentation (augment.py): light = colour jitter, blur, noise (default); full = also zoom/shift "
        "and random backgrounds, for photos; none",
    )
    group.add_argument(
        "--data_root",
        default=None,
        help="an R2N2-layout folder: the course layout or the two R2N2 archives (default: the embedded dataset)",
    )
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--device", default=default_device())
    group.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast of the network (losses, coordinates and PyTorch3D's ops stay float32); default: the "
        "profile's (off in both: slower on an H200 at batch 64, docs/training.md)",
    )
    group.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the encoder and the decoders that compile (CUDA: faster steps after a warm-up)",
    )
    group.add_argument(
        "--deterministic",
        action="store_true",
        help="CUDA: deterministic kernels where PyTorch has them (no cudnn autotuning); PyTorch3D's atomicAdd "
        "backward passes stay non-deterministic, so a resumed CUDA run matches an uninterrupted one only closely. "
        "The CPU is always deterministic",
    )


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The run on disk: its folder, resuming or replacing it, logging, validation, checkpoints."""
    group = parser.add_argument_group("run, logs and checkpoints")
    group.add_argument("--out_dir", default=None, help="run folder (default: checkpoints/<type>)")
    group.add_argument("--load_checkpoint", action="store_true", help="resume from <out_dir>/checkpoint_<type>.pth")
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run even if <out_dir> already holds a checkpoint of this type (it is replaced)",
    )
    group.add_argument("--save_freq", type=positive_int, default=200)
    group.add_argument(
        "--keep_checkpoints",
        action="store_true",
        help="also keep checkpoint_<type>.stepNNNNNN.pth at every --save_freq (learning curves)",
    )
    group.add_argument("--log_freq", type=positive_int, default=50)
    group.add_argument(
        "--val_freq",
        type=non_negative_int,
        default=None,
        help="score the model on a fixed subset of the val split every N steps and keep the best checkpoint "
        "(checkpoint_<type>.best.pth); default max_iter // 10 (at least 25); 0: never",
    )


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("Train a single-view to 3D model", add_help=True)
    add_model_flags(parser)
    add_loss_flags(parser)
    add_optimisation_flags(parser)
    add_run_flags(parser)
    return parser


VAL_FREQ_MIN = 25  # the default --val_freq is max_iter // 10, but at least this


def apply_profile(args: argparse.Namespace, resuming: bool) -> None:
    """Fill the flags left out (None) from the profile (`training.config.profile_defaults`)."""
    vars(args).update(profile_defaults(vars(args), resuming))


def claim_run_folder(args: argparse.Namespace, ckpt_path: str, resuming: bool, is_main: bool) -> None:
    """Make --out_dir this run's: writable and locked (one training process per folder), not
    another type's run, and, for a new run, free of an earlier run's files unless --overwrite asks
    to replace them (`clear_earlier_run` does, once the new run is ready). Only the main process
    writes or locks."""
    if is_main:
        check_writable_dir(args.out_dir, "--out_dir")
        try:
            RunLock(args.out_dir).acquire()  # released when the process exits
        except RunError as err:
            fail(str(err))
    other = run_type_of(args.out_dir)
    if other not in (None, args.type):
        fail(f"{args.out_dir} holds a {other} run (args.json): train --type {args.type} into another --out_dir")
    if resuming:
        return
    earlier = run_files(args.out_dir, args.type)
    if earlier and not args.overwrite:
        fail(existing_run_message(ckpt_path, args.out_dir, args.type, earlier))


def clear_earlier_run(args: argparse.Namespace) -> None:
    """--overwrite: remove the earlier run's files (`checkpoints.clear_run`), once the new run's
    model, optimizer and data are ready and just before it writes anything, so a run that fails
    to start leaves the earlier one as it was."""
    removed = clear_run(args.out_dir, args.type)
    if removed:
        print(f"--overwrite: removed the earlier run's {', '.join(os.path.basename(p) for p in removed)}", flush=True)


def prepare_run(args: argparse.Namespace) -> Run:
    """The run the flags ask for: a new one (refused if its folder holds one, unless --overwrite)
    or the one in --out_dir resumed (--load_checkpoint); then the process group under torchrun."""
    args.out_dir = run_dir(args.type, args.out_dir)
    if args.load_checkpoint and args.overwrite:
        fail("--load_checkpoint resumes the run in --out_dir and --overwrite replaces it: give one of them")
    if args.n_points > N_SURFACE_POINTS and args.type in ("point", "mesh", "voxmesh"):
        fail(
            f"--n_points {args.n_points}: the ground truth holds {N_SURFACE_POINTS} surface samples per shape, so the "
            f"Chamfer terms would compare {args.n_points} points with {N_SURFACE_POINTS}"
            f"; use at most {N_SURFACE_POINTS}"
        )
    given = vars(args).pop("given", None)
    given = set(given) if given is not None else changed_from_defaults(args)
    ckpt_path = checkpoint_path(args.out_dir, args.type)
    checkpoint, schedule_note, history = None, None, []
    if args.load_checkpoint:
        try:
            checkpoint = load_checkpoint(ckpt_path, expected_type=args.type)
            check_resumable(checkpoint, ckpt_path)
        except ModelError as err:
            fail(str(err))
        try:
            flags, _ = restore_run_flags(vars(args), checkpoint, given, ckpt_path)
            vars(args).update(flags)
            args.max_iter, schedule_note = resume_max_iter(args.max_iter, checkpoint, ckpt_path)
            check_resume_data(checkpoint, args.data_root, ckpt_path)
        except RunError as err:
            fail(str(err))
        history = list(checkpoint.get("history", []))
    apply_profile(args, resuming=checkpoint is not None)
    if checkpoint is None and args.vox_decoder == "deconv" and args.w_aux > 0:
        # The earlier decoder has no coarse heads: deep supervision does not apply, and the run
        # records what it trains with.
        if "w_aux" in given:
            fail("--w_aux needs --vox_decoder subpixel: the deconv decoder has no coarse outputs to supervise")
        args.w_aux = 0.0
    if args.val_freq is None:  # about 10 validations a run, whatever its length (every rank knows it)
        args.val_freq = max(VAL_FREQ_MIN, args.max_iter // 10)
    history.append(history_entry(checkpoint, given))
    if checkpoint is not None:
        try:
            check_resume_world_size(checkpoint, int(os.environ.get("WORLD_SIZE", "1")), ckpt_path)
        except RunError as err:
            fail(str(err))
    claim_run_folder(args, ckpt_path, resuming=checkpoint is not None, is_main=os.environ.get("RANK", "0") == "0")
    rank, world_size, device = setup_distributed(resolve_device(args.device))
    resumed_step = checkpoint["step"] if checkpoint else None
    return Run(ckpt_path, checkpoint, schedule_note, rank, world_size, device, resumed_step, history)


def loss_config(args: argparse.Namespace) -> LossConfig:
    """The loss the flags ask for (`losses.LossConfig`)."""
    return LossConfig(
        args.type,
        n_points=args.n_points,
        n_queries=args.n_queries,
        w_chamfer=args.w_chamfer,
        w_smooth=args.w_smooth,
        w_normal=args.w_normal,
        w_edge=args.w_edge,
        pos_weight=args.pos_weight,
        w_dice=args.w_dice,
        w_aux=args.w_aux,
        w_thin=args.w_thin,
    )


def model_args_from_flags(args: argparse.Namespace) -> dict:
    """The model_args (`model.default_model_args`) a new run's flags ask for."""
    return default_model_args(
        args.type,
        arch=args.arch,
        image_size=args.image_size,
        n_points=args.n_points,
        occ_grid=args.occ_grid,
        vox_decoder=args.vox_decoder,
        vox_latent=args.vox_latent,
        vox_deep_supervision=args.w_aux > 0,
    )


def make_model(args: argparse.Namespace, run: Run) -> tuple[torch.nn.Module, dict]:
    """The model (and its model_args): the checkpoint's own when resuming, so flags need not be
    repeated; a voxmesh model's voxel branch may start from a vox run (--init)."""
    checkpoint = run.checkpoint
    try:
        if checkpoint is not None:
            model_args = checkpoint_model_args(checkpoint)
            if args.type == "point" and model_args["n_points"] != args.n_points:
                fail(
                    f"checkpoint {run.ckpt_path} predicts {model_args['n_points']} points but --n_points is "
                    f"{args.n_points}"
                )
        else:
            model_args = model_args_from_flags(args)
        torch.manual_seed(args.seed)
        if checkpoint is not None:
            model = rebuild_model(checkpoint, run.ckpt_path).to(run.device)
        else:
            model = SingleViewto3D(pretrained=args.pretrained, **model_args).to(run.device)
    except ModelError as err:
        fail(str(err))
    if checkpoint is None and args.type == "voxmesh":
        try:
            note = init_voxel_branch(model, args.init)
        except ModelError as err:
            fail(f"--init: {err}")
        if run.is_main:
            print(note, flush=True)
    return model, model_args


def build_optimizer(
    model: torch.nn.Module, args: argparse.Namespace, run: Run
) -> tuple[torch.optim.Optimizer, object, int]:
    """Adam with a cosine schedule over the run; restored (and maybe stretched) when resuming.
    Returns (optimizer, scheduler, the step training starts at)."""
    # Fused Adam on CUDA (one kernel for every parameter); the CPU keeps the default, bit for bit.
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, fused=True if run.device.type == "cuda" else None)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.max_iter)
    if run.checkpoint is None:
        return optimizer, scheduler, 0
    try:
        load_optimizer_state(optimizer, run.checkpoint["optimizer"])
        scheduler.load_state_dict(run.checkpoint["scheduler"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        fail(f"{run.ckpt_path}: its optimizer or scheduler state does not fit this model ({err}); start a new run")
    start_step = run.checkpoint["step"]
    note = run.schedule_note
    if note:
        lr_now = stretch_schedule(optimizer, scheduler, args.max_iter, start_step)
        note += f"; learning rate at step {start_step} is now {lr_now:.2e}"
    if run.is_main:
        print(
            f"resuming {run.ckpt_path} at step {start_step} of {args.max_iter}" + (f" ({note})" if note else ""),
            flush=True,
        )
    return optimizer, scheduler, start_step


def open_train_split(args: argparse.Namespace, run: Run) -> tuple[R2N2Dataset, tuple]:
    """The train split with every cached surface point (each step draws its own subset:
    `losses.ReconstructionLoss`). Under torchrun, rank 0 opens it first (generating the embedded data
    and building the cache if needed) while the other ranks wait, so no two processes write the
    same folder; rank 0 also opens the val split (its cache) before the others go on, so no rank
    waits in a collective while a cache is built. A bad data root stops every rank with the same
    one line. Returns the split and (validator or None, what was opened: `open_validator`)."""

    def open_split(quiet: bool) -> R2N2Dataset | str:
        try:
            return R2N2Dataset(
                args.data_root,
                "train",
                n_points=None,
                return_meshes=False,
                seed=args.seed,
                quiet=quiet,
                return_occupancy=args.type == "occupancy",
            )
        except DatasetError as err:
            return str(err)

    if run.world_size > 1 and not run.is_main:
        torch.distributed.barrier()  # rank 0 has prepared the data and both caches
    dataset = open_split(quiet=not run.is_main)
    validator = (None, "")
    if run.is_main and not isinstance(dataset, str):  # the val split's cache too, while the others still wait
        validator = (
            open_validator(args.data_root, args.type) if args.val_freq > 0 else (None, "no validation (--val_freq 0)")
        )
    if run.world_size > 1 and run.is_main:
        torch.distributed.barrier()
    if isinstance(dataset, str):
        fail(dataset)
    if run.checkpoint is not None:
        try:
            check_resume_shapes(run.checkpoint, data_identity(dataset), run.ckpt_path)
        except RunError as err:
            fail(str(err))
    return dataset, validator


def build_loader(
    args: argparse.Namespace, run: Run, start_step: int
) -> tuple[R2N2Dataset, torch.utils.data.DataLoader, tuple]:
    """The train split, the loader of the batches of steps [start_step, max_iter) and rank 0's
    validator (`open_train_split`)."""
    dataset, validator = open_train_split(args, run)
    sampler = StepBatchSampler(
        len(dataset), args.batch_size, args.seed, start_step, args.max_iter, run.rank, run.world_size
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=args.num_workers,
        collate_fn=collate_batch,
        pin_memory=run.device.type == "cuda",
        persistent_workers=False,
        prefetch_factor=4 if args.num_workers > 0 else None,
    )
    return dataset, loader, validator


def make_monitor(args: argparse.Namespace, run: Run, start_step: int, opened_validator: tuple) -> Monitor | None:
    """Rank 0's logs (TensorBoard, validation), None on the other ranks. A resumed run keeps
    its best val score so far."""
    if not run.is_main:
        return None
    validator, note = opened_validator
    print(f"{note}" + (f" every {args.val_freq} steps" if validator else ""), flush=True)
    return Monitor(RunConfig.from_flags(vars(args)), start_step, validator, (run.checkpoint or {}).get("best"))


def main(args: argparse.Namespace) -> dict:
    run = prepare_run(args)
    model, model_args = make_model(args, run)
    model = configure_cuda(model, run.device, args.compile, args.deterministic)
    optimizer, scheduler, start_step = build_optimizer(model, args, run)
    if run.world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[run.device.index] if run.device.type == "cuda" else None
        )
    dataset, loader, validator = build_loader(args, run, start_step)
    # The mean training shape, kept in the checkpoint: evaluation compares the model with it on
    # any data, also data it was not trained on (see evaluation.baseline_voxels). Only rank 0
    # writes checkpoints, so only rank 0 computes it.
    resumed = run.checkpoint or {}
    mean_train_voxels = None
    if run.is_main:
        mean_train_voxels = resumed.get("mean_train_voxels")
        if mean_train_voxels is None:
            mean_train_voxels = mean_occupancy(dataset.cache["voxels"])
    if run.is_main and run.checkpoint is None and args.overwrite:
        clear_earlier_run(args)
    monitor = make_monitor(args, run, start_step, validator)
    trainer = Trainer(
        model,
        optimizer,
        scheduler,
        ReconstructionLoss(loss_config(args)),
        RunConfig.from_flags(vars(args)),
        run,
        model_args,
        mean_train_voxels,
        {**data_identity(dataset), "train_shapes": shape_keys(dataset.entries)},
        dict(vars(args)),
        monitor,
    )
    if run.is_main:
        trainer.write_record()
        print(
            f"training {args.type} on {run.device} x{run.world_size}: {len(dataset)} train images, "
            f"steps {start_step}..{args.max_iter}, batch {args.batch_size}" + (", bf16 autocast" if args.amp else ""),
            flush=True,
        )
    try:
        losses = trainer.fit(loader, start_step)
    except TrainingError as err:
        if not run.is_main:  # every rank stops at the same step; rank 0 says why
            raise SystemExit(2) from None
        fail(str(err))
    step = start_step + len(losses)
    if run.world_size > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if run.is_main:
        print(trainer.summary(step, losses))
    return {"step": step, "losses": losses, "checkpoint": run.ckpt_path}


def given_flags(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """The flags a command line gives explicitly (whatever their value): it is parsed again by a
    copy of `parser` whose defaults are all suppressed, so only given flags appear."""
    probe = argparse.ArgumentParser(add_help=False)
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        if action.nargs == 0:  # store_true and the like
            probe.add_argument(
                *action.option_strings, dest=action.dest, action="store_const", const=True, default=argparse.SUPPRESS
            )
        else:
            probe.add_argument(*action.option_strings, dest=action.dest, nargs=action.nargs, default=argparse.SUPPRESS)
    known, _ = probe.parse_known_args(argv)
    return set(vars(known))


def changed_from_defaults(args: argparse.Namespace) -> set[str]:
    """The flags whose value differs from the parser's default: what counts as given when `args`
    did not come from `parse_args` (a flag given with its default value cannot be told apart)."""
    defaults = vars(get_args_parser().parse_args([]))
    return {flag for flag, value in vars(args).items() if flag in defaults and value != defaults[flag]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags of a command line, with `given`: the ones it names explicitly (resume checks them)."""
    parser = get_args_parser()
    args = parser.parse_args(argv)
    args.given = sorted(given_flags(parser, argv))
    return args


if __name__ == "__main__":
    main(parse_args())
