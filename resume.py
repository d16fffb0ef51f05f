"""Resuming a training run: its own flags restored, its step budget, its cosine schedule stretched.

    note = existing_run_message(path, out_dir, "vox")          # why a new run may not start here
    restore_run_flags(args, checkpoint, given, path)           # the run's flags back, or a one-line refusal
    max_iter, note = resume_max_iter(requested, checkpoint, path)
    lr = stretch_schedule(optimizer, scheduler, max_iter, step)

`train_model.py --load_checkpoint` continues a run exactly where it stopped; these are the
decisions it takes on the way.
"""

import argparse
import math
import os
import time

from checkpoints import load_checkpoint
from cli import fail
from model import ModelError


def existing_run_message(ckpt_path: str, out_dir: str, model_type: str) -> str:
    """The refusal line for a new run whose folder already holds a checkpoint."""
    try:
        found = load_checkpoint(ckpt_path, expected_type=model_type)
        progress = f" at step {found['step']} of {found['args'].get('max_iter', '?')}"
    except (ModelError, KeyError, TypeError):
        progress = ""
    return (
        f"{out_dir} already holds a {model_type} run ({os.path.basename(ckpt_path)}{progress}): resume it with "
        "--load_checkpoint, "
        "start over with --overwrite (it is replaced), or pass another --out_dir"
    )


# Flags that do not change what a run computes (how it is watched, where it runs, how fast data
# arrives) may differ on resume; --max_iter may too, on purpose (`resume_max_iter`). The actions
# and the run's identity (--type, --out_dir) are not part of the run's record.
MAY_DIFFER_ON_RESUME = {"max_iter", "num_workers", "log_freq", "save_freq", "keep_checkpoints", "device", "val_freq"}
NOT_RECORDED = {"type", "out_dir", "load_checkpoint", "overwrite", "init", "pretrained"}


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


def history_entry(checkpoint: dict | None, given: set[str]) -> dict:
    """The run record's entry for this start or resume (the checkpoint resumed, or None): the
    steps it covers (`to_step` and `seconds` grow as it trains) and the flags it was given."""
    start_step = checkpoint["step"] if checkpoint else 0
    return {
        "event": "resume" if checkpoint else "start",
        "from_step": start_step,
        "to_step": start_step,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "given": sorted(given),
        "seconds": 0.0,
    }


# The values of flags a run's checkpoint predates: what those runs computed with.
LEGACY_FLAGS = {"w_dice": 0.0, "w_aux": 0.0, "vox_decoder": "deconv", "vox_latent": "pooled"}


def restore_run_flags(args: argparse.Namespace, checkpoint: dict, given: set[str], ckpt_path: str) -> list[str]:
    """Put the run's own training flags (checkpoint["args"]) back into `args`. A flag given on
    this command line with another value than the run's stops with one line naming both, except
    the ones in MAY_DIFFER_ON_RESUME. Returns the flags restored from the run (for the log)."""
    stored = {**LEGACY_FLAGS, **checkpoint.get("args", {})}
    restored = []
    for flag, value in stored.items():
        if flag in NOT_RECORDED or flag in MAY_DIFFER_ON_RESUME or not hasattr(args, flag):
            continue
        current = getattr(args, flag)
        if flag in given and current != value:
            fail(
                f"--{flag} {current} differs from the run's --{flag} {value} ({ckpt_path}): a resumed run keeps "
                f"its own flags; drop --{flag}, or start a new run (--overwrite, or another --out_dir)"
            )
        if current != value:
            restored.append(flag)
        setattr(args, flag, value)
    return restored


def resume_max_iter(requested: int | None, checkpoint: dict, ckpt_path: str) -> tuple[int, str | None]:
    """The run's step budget when resuming, and a note if it changes the plan.

    Without --max_iter a resumed run keeps its own budget. A different --max_iter stretches (or
    shrinks) the cosine schedule on purpose: from the resume step on, the learning rate follows
    the cosine of the new length, as if the run had been planned with it."""
    planned, step = checkpoint["args"]["max_iter"], checkpoint["step"]
    if requested is None or requested == planned:
        return planned, None
    if requested <= step:
        fail(f"--max_iter {requested}: {ckpt_path} is already at step {step}; give a larger --max_iter to train longer")
    return (
        requested,
        f"--max_iter {requested} differs from the run's {planned}: the cosine schedule now ends at step {requested}",
    )


def stretch_schedule(optimizer, scheduler, max_iter: int, step: int) -> float:
    """Give a loaded CosineAnnealingLR a new length: T_max = max_iter and each group's lr set to
    the closed-form cosine value at `step`, from which the scheduler's recursive update goes on.
    Returns the new learning rate (of the first group)."""
    scheduler.T_max = max_iter
    for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs):
        group["lr"] = scheduler.eta_min + (base_lr - scheduler.eta_min) * (1 + math.cos(math.pi * step / max_iter)) / 2
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
    return optimizer.param_groups[0]["lr"]
