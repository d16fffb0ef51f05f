"""Resuming a training run: its own flags restored, its step budget, its cosine schedule stretched.

    note = existing_run_message(path, out_dir, "vox")          # why a new run may not start here
    restore_run_flags(args, checkpoint, given, path)           # the run's flags back, or a one-line refusal
    max_iter, note = resume_max_iter(requested, checkpoint, path)
    lr = stretch_schedule(optimizer, scheduler, max_iter, step)

`train_model.py --load_checkpoint` continues a run exactly where it stopped; these are the
decisions it takes on the way.
"""

import math
import os
import time

from common.legacy import upgrade_run_flags
from dataset_location import DATA_ROOT, EMBEDDED_DATA_ROOT, EMBEDDED_MODELS
from model import ModelError
from procedural import GENERATOR_VERSION
from training.checkpoints import RunError, load_checkpoint


def existing_run_message(ckpt_path: str, out_dir: str, model_type: str, files: list[str] | None = None) -> str:
    """The refusal line for a new run whose folder already holds a run (its checkpoint, or other
    files of an earlier run: `checkpoints.run_files`)."""
    try:
        found = load_checkpoint(ckpt_path, expected_type=model_type)
        progress = f" at step {found['step']} of {found['args'].get('max_iter', '?')}"
    except (ModelError, KeyError, TypeError, AttributeError):
        progress = ""
    if os.path.exists(ckpt_path) or not files:
        held = os.path.basename(ckpt_path)
    else:  # an earlier run's other files: its best checkpoint, logs, ...
        held = "files of an earlier run: " + ", ".join(os.path.basename(p) for p in files)
    resume = "resume it with --load_checkpoint, " if os.path.exists(ckpt_path) else ""
    return (
        f"{out_dir} already holds a {model_type} run ({held}{progress}): {resume}start over with --overwrite (it is "
        "replaced), or pass another --out_dir"
    )


# Flags that do not change what a run computes (how it is watched, where it runs, how fast data
# arrives) may differ on resume; --max_iter may too, on purpose (`resume_max_iter`). The actions
# and the run's identity (--type, --out_dir) are not part of the run's record.
MAY_DIFFER_ON_RESUME = {
    "max_iter",
    "num_workers",
    "log_freq",
    "save_freq",
    "keep_checkpoints",
    "device",
    "val_freq",
    "profile",
    "compile",
    "data_on_device",
    "deterministic",
}
NOT_RECORDED = {"type", "out_dir", "load_checkpoint", "overwrite", "init", "pretrained"}


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


def restore_run_flags(flags: dict, checkpoint: dict, given: set[str], ckpt_path: str) -> tuple[dict, list[str]]:
    """The flags with the run's own training flags (checkpoint["args"]) put back. A flag given on
    this command line with another value than the run's raises RunError naming both, except the
    ones in MAY_DIFFER_ON_RESUME. Returns (the flags, the names restored from the run)."""
    stored = upgrade_run_flags(checkpoint.get("args", {}))  # what a record predates, as it trained then
    flags, restored = dict(flags), []
    for flag, value in stored.items():
        if flag in NOT_RECORDED or flag in MAY_DIFFER_ON_RESUME or flag not in flags:
            continue
        current = flags[flag]
        if flag in given and current != value:
            raise RunError(
                f"--{flag} {current} differs from the run's --{flag} {recorded(flag, value)} ({ckpt_path}): a "
                "resumed run keeps "
                f"its own flags; drop --{flag}, or start a new run (--overwrite, or another --out_dir)"
            )
        if current != value:
            restored.append(flag)
        flags[flag] = value
    return flags, restored


def recorded(flag: str, value) -> str:
    """A run's recorded flag value as a message names it: a flag it left out, by what that meant."""
    if value is not None:
        return str(value)
    return f"left out (the default data: {EMBEDDED_DATA_ROOT})" if flag == "data_root" else "left out"


def resume_max_iter(requested: int | None, checkpoint: dict, ckpt_path: str) -> tuple[int, str | None]:
    """The run's step budget when resuming, and a note if it changes the plan (RunError when the
    run is already past it).

    Without --max_iter a resumed run keeps its own budget. A different --max_iter stretches (or
    shrinks) the cosine schedule on purpose: from the resume step on, the learning rate follows
    the cosine of the new length, as if the run had been planned with it."""
    planned, step = checkpoint["args"]["max_iter"], checkpoint["step"]
    if requested is None or requested == planned:
        return planned, None
    if requested <= step:
        raise RunError(
            f"--max_iter {requested}: {ckpt_path} is already at step {step}; give a larger --max_iter to train longer"
        )
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


def stored_data(checkpoint: dict) -> dict:
    """The training data a checkpoint records (`dataset.data_identity`); older checkpoints
    recorded the root only."""
    data = checkpoint.get("data")
    return {"root": data} if isinstance(data, str) else dict(data or {})


def check_resume_data(checkpoint: dict, data_root: str | None, ckpt_path: str) -> None:
    """Before the data is opened (which generates the embedded data when it is missing): the resumed run
    reads the root it trained on, at the size it trained on. Raises RunError naming both."""
    stored = stored_data(checkpoint)
    root_now = os.path.abspath(data_root or DATA_ROOT)
    if stored.get("root") and os.path.abspath(stored["root"]) != root_now:
        raise RunError(
            f"{ckpt_path} trained on {stored['root']}, this resume would read {root_now} (R2N2_DATA_ROOT / "
            "R2N2_EMBEDDED_ROOT?): resume with the run's data, or start a new run"
        )
    generator = stored.get("generator") or {}
    is_default = root_now == os.path.abspath(EMBEDDED_DATA_ROOT)
    if is_default and generator.get("generator_version", GENERATOR_VERSION) != GENERATOR_VERSION:
        raise RunError(
            f"{ckpt_path} trained on data of generator version {generator['generator_version']}, this code writes "
            f"version {GENERATOR_VERSION} (the default data is another world now): start a new run"
        )
    if is_default and generator.get("n_models", EMBEDDED_MODELS) != EMBEDDED_MODELS:
        raise RunError(
            f"{ckpt_path} trained on {generator['n_models']} embedded models, R2N2_EMBEDDED_MODELS asks for "
            f"{EMBEDDED_MODELS} (another world): resume with R2N2_EMBEDDED_MODELS="
            f"{generator['n_models']}, or start a new run"
        )


def check_resume_shapes(checkpoint: dict, identity: dict, ckpt_path: str) -> None:
    """After the train split is opened: it is the one the run trained on (the generator's record
    and the digest of its shapes). Raises RunError naming both."""
    stored = stored_data(checkpoint)
    for key, what in (("generator", "generator record"), ("shapes_digest", "train shapes (digest)")):
        if key in stored and stored[key] != identity[key]:
            raise RunError(
                f"the train split's {what} differs from the one {ckpt_path} trained on ({identity[key]} now, "
                f"{stored[key]} then): the data changed since; resume on the run's data, or start a new run"
            )


def check_resume_world_size(checkpoint: dict, world_size: int, ckpt_path: str) -> None:
    """A resumed run keeps its number of processes: the global batch is batch_size x world_size and
    the step's samples follow from it, so another count would change the batch and replay samples."""
    stored = checkpoint.get("world_size")
    if stored is not None and stored != world_size:
        raise RunError(
            f"{ckpt_path} trained on {stored} process(es), this resume has {world_size}: the global batch and the "
            f"samples of each step would change; resume with torchrun --nproc_per_node {stored}"
            + (" (or without torchrun)" if stored == 1 else "")
        )
