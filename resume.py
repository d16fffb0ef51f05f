"""Resuming a training run: refusing to replace one, its step budget, its cosine schedule stretched.

    note = existing_run_message(path, out_dir, "vox")          # why a new run may not start here
    max_iter, note = resume_max_iter(requested, checkpoint, path)
    lr = stretch_schedule(optimizer, scheduler, max_iter, step)

`train_model.py --load_checkpoint` continues a run exactly where it stopped; these are the
decisions it takes on the way.
"""

import math
import os

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
