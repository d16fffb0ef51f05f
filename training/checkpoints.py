"""Checkpoints on disk: where a run's folder and checkpoint are, and reading a checkpoint back.

    path = checkpoint_path(run_dir("vox"))                    # checkpoints/vox/checkpoint_vox.pth
    model, checkpoint = model_from_checkpoint(path, expected_type="vox")

A checkpoint is one dict (nanoGPT's): model, optimizer and scheduler state, step, the run's
flags (args), the model's own settings (model_args, enough to rebuild it) and the mean
training shape; `train_model.py` writes it through `atomic_io`, so it is whole or absent. What else a
run folder holds, and how it is replaced and recovered, is `training.run_folder`'s.
"""

import glob
import hashlib
import os
import pickle
import re

import torch

from model import ModelError, SingleViewto3D
from representations import build_model, complete_model_args, get

RUNS_DIR = "checkpoints"


class RunError(Exception):
    """A run cannot start or resume as asked; the message says why and what to do."""


def run_dir(model_type: str, out_dir: str | None = None) -> str:
    """A run's folder: `out_dir` when given, else checkpoints/<type> (train_model.py's default)."""
    return out_dir or os.path.join(RUNS_DIR, model_type)


SMOKE_RUNS_DIR = os.path.join(RUNS_DIR, "smoke")


def default_out_dir(model_type: str, profile: str) -> str:
    """A run's folder when --out_dir is left out: checkpoints/<type>, checkpoints/smoke/<type> for smoke runs."""
    return os.path.join(SMOKE_RUNS_DIR, model_type) if profile == "smoke" else run_dir(model_type)


def checkpoint_path(out_dir: str, model_type: str) -> str:
    """The checkpoint file of a run folder."""
    return os.path.join(out_dir, f"checkpoint_{model_type}.pth")


def best_checkpoint_path(ckpt_path: str) -> str:
    """Beside a run's last checkpoint, the one of its best validation: checkpoint_<type>.best.pth."""
    return ckpt_path[: -len(".pth")] + ".best.pth"


def file_digest(path: str) -> str:
    """The first 16 hex digits of a file's sha256: which exact checkpoint a result came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def load_checkpoint(path: str, expected_type: str | None = None, map_location="cpu") -> dict:
    """Read a training checkpoint, checking it is one; raises ModelError with a clear reason."""
    if not os.path.isfile(path):
        folder = os.path.dirname(path) or "."
        aside = sorted(glob.glob(os.path.join(glob.escape(folder), ".run.sv3d-aside-*[0-9a-f]")))
        if aside:  # a run replaced with --overwrite that stopped: its predecessor waits there
            raise ModelError(
                f"checkpoint {path} not found; an --overwrite run set the earlier run aside in {aside[0]}: if that "
                "run has stopped, the next train_model.py run into the folder puts it back (or move its files back)"
            )
        raise ModelError(f"checkpoint {path} not found")
    try:
        # weights_only: tensors, numbers, strings and containers only. A checkpoint is a pickle, and
        # unpickling anything else can run code; everything train_model.py writes is plain.
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "unsupported global" not in str(err).lower():  # not an object refused, just not a pickle
            raise ModelError(f"checkpoint {path} is unreadable or corrupt (UnpicklingError)") from None
        raise ModelError(
            f"checkpoint {path} holds Python objects besides tensors and plain values, which could run code "
            "when loaded: refused (train_model.py's checkpoints never do; re-save its state_dict if you trust it)"
        ) from None
    except Exception as err:
        raise ModelError(f"checkpoint {path} is unreadable or corrupt ({type(err).__name__})") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "model_args" not in checkpoint:
        raise ModelError(f"{path} is not a checkpoint of train_model.py (no model / model_args)")
    if not isinstance(checkpoint["model_args"], dict) or not isinstance(checkpoint["model"], dict):
        raise ModelError(f"{path} is not a checkpoint of train_model.py (model_args or model is not a dict)")
    found = checkpoint["model_args"].get("type")
    if expected_type is not None and found != expected_type:
        raise ModelError(f"checkpoint {path} holds a {found!r} model, not --type {expected_type!r}")
    return checkpoint


def checkpoint_model_args(checkpoint: dict) -> dict:
    """A checkpoint's model_args made complete (`representations.complete_model_args`: the
    settings of older versions for keys they predate), so a change of a default never changes what
    an old checkpoint builds."""
    return complete_model_args(checkpoint["model_args"])


def rebuild_model(checkpoint: dict, path: str) -> SingleViewto3D:
    """The model a loaded checkpoint holds, its weights in place; ModelError in one line when its
    model_args cannot build a model or its weights do not fit the model they build (a model
    layout of another version, a truncated state dict)."""
    try:
        model = build_model(checkpoint_model_args(checkpoint))
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError) as err:
        raise ModelError(f"{path}: its model_args cannot build a model ({type(err).__name__}: {err})") from None
    load_weights(model, checkpoint["model"], path)
    return model


def load_weights(model: torch.nn.Module, state: dict, path: str) -> None:
    """model.load_state_dict(state), or ModelError naming what is missing or does not fit."""
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        missing = [k for k in model.state_dict() if k not in state]
        unexpected = [k for k in state if k not in model.state_dict()]
        what = (
            f"missing {len(missing)} weights (e.g. {missing[0]})"
            if missing
            else f"{len(unexpected)} unknown weights (e.g. {unexpected[0]})"
            if unexpected
            else "weights of other shapes (" + str(err).split("size mismatch for ", 1)[-1].split("\n")[0][:160] + ")"
        )
        raise ModelError(
            f"{path}: its weights do not fit the model its model_args build: {what}; it was written by another "
            "version of model.py"
        ) from None


def model_from_checkpoint(path: str, expected_type: str | None = None, device="cpu") -> tuple[SingleViewto3D, dict]:
    """The model a checkpoint file holds, on `device` in eval mode, and the checkpoint; ModelError
    (one line) for any checkpoint that cannot rebuild its model."""
    checkpoint = load_checkpoint(path, expected_type)
    return rebuild_model(checkpoint, path).to(device).eval(), checkpoint


RESUME_KEYS = ("optimizer", "scheduler", "step", "args")


def check_resumable(checkpoint: dict, path: str) -> None:
    """ModelError (one line) when a checkpoint lacks what resuming its run needs, or holds it in
    another form than train_model.py writes (a dict made by hand)."""
    missing = [k for k in RESUME_KEYS if k not in checkpoint]
    if missing:
        raise ModelError(
            f"{path} cannot be resumed: it holds no {', '.join(missing)} (a model-only checkpoint); evaluate it, or "
            "start a new run"
        )
    args, step = checkpoint["args"], checkpoint["step"]
    wrong = []
    if not isinstance(args, dict):
        wrong.append(f"its args are a {type(args).__name__}, not the run's flags")
    elif not isinstance(args.get("max_iter"), int) or isinstance(args.get("max_iter"), bool):
        wrong.append("its args record no step budget (max_iter)")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        wrong.append(f"its step is {step!r}, not a step number")
    if not isinstance(checkpoint["optimizer"], dict) or not isinstance(checkpoint["scheduler"], dict):
        wrong.append("its optimizer or scheduler state is not one")
    if wrong:
        raise ModelError(f"{path} cannot be resumed: {'; '.join(wrong)} (not a checkpoint train_model.py wrote)")


def init_from_run(model: SingleViewto3D, init: str, profile: str = "cpu") -> str | None:
    """Start a new model from a trained run of the type its representation starts from
    (`Representation.init_from`, e.g. voxmesh from vox, as Mesh R-CNN starts from a trained voxel
    head). init: a checkpoint path, "auto" (that type's default run for the profile,
    checkpoints/<type>/ or checkpoints/smoke/<type>/, if there is one) or "none". Returns what was
    done in one line (None for a type that starts from nothing); raises ModelError when the
    checkpoint cannot be used."""
    representation = get(model.type)
    source_type = representation.init_from
    if source_type is None:
        return None
    path = checkpoint_path(default_out_dir(source_type, profile), source_type) if init == "auto" else init
    if init == "none" or (init == "auto" and not os.path.isfile(path)):
        return f"{model.type}: trained from scratch (no --init {source_type} checkpoint)"
    return representation.initialise(model, load_checkpoint(path, expected_type=source_type), path)


def step_checkpoint_path(ckpt_path: str, step: int) -> str:
    """checkpoint_<type>.stepNNNNNN.pth beside a run's last checkpoint (--keep_checkpoints)."""
    return ckpt_path[: -len(".pth")] + f".step{step:06d}.pth"


STEP_CHECKPOINT = re.compile(r"\.step\d{6}\.pth$")  # `step_checkpoint_path`'s names, nothing else
