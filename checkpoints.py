"""Training runs on disk: where a run's folder and checkpoint are, and reading a checkpoint back.

    path = checkpoint_path(run_dir("vox"))                    # checkpoints/vox/checkpoint_vox.pth
    model, checkpoint = model_from_checkpoint(path, expected_type="vox")

A checkpoint is one dict (nanoGPT's): model, optimizer and scheduler state, step, the run's
flags (args), the model's own settings (model_args, enough to rebuild it) and the mean
training shape; `train_model.py` writes it through `atomic_io`, so it is whole or absent.
"""

import hashlib
import os
import pickle

import torch

from model import ModelError, SingleViewto3D, build_model

RUNS_DIR = "checkpoints"


def run_dir(model_type: str, out_dir: str | None = None) -> str:
    """A run's folder: `out_dir` when given, else checkpoints/<type> (train_model.py's default)."""
    return out_dir or os.path.join(RUNS_DIR, model_type)


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
        raise ModelError(f"checkpoint {path} not found")
    try:
        # weights_only: tensors, numbers, strings and containers only. A checkpoint is a pickle, and
        # unpickling anything else can run code; everything train_model.py writes is plain.
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" not in str(err):  # not an object refused, just not a pickle
            raise ModelError(f"checkpoint {path} is unreadable or corrupt (UnpicklingError)") from None
        raise ModelError(
            f"checkpoint {path} holds Python objects besides tensors and plain values, which could run code "
            "when loaded: refused (train_model.py's checkpoints never do; re-save its state_dict if you trust it)"
        ) from None
    except Exception as err:
        raise ModelError(f"checkpoint {path} is unreadable or corrupt ({type(err).__name__})") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "model_args" not in checkpoint:
        raise ModelError(f"{path} is not a checkpoint of train_model.py (no model / model_args)")
    found = checkpoint["model_args"].get("type")
    if expected_type is not None and found != expected_type:
        raise ModelError(f"checkpoint {path} holds a {found!r} model, not --type {expected_type!r}")
    return checkpoint


def checkpoint_model_args(checkpoint: dict) -> dict:
    """A checkpoint's model_args, with the settings of older versions for keys they predate
    (occupancy checkpoints before the feature volume used the global feature only), so a
    change of a default never changes what an old checkpoint builds."""
    model_args = dict(checkpoint["model_args"])
    if model_args.get("type") == "occupancy":
        model_args.setdefault("occ_grid", 0)
    for key, value in LEGACY_MODEL_ARGS.items():
        model_args.setdefault(key, value)
    return model_args


# What checkpoints written before a model argument existed were built with.
LEGACY_MODEL_ARGS = {"vox_decoder": "deconv", "vox_latent": "pooled", "vox_deep_supervision": False}
VOXEL_BRANCH_ARGS = ("arch", "image_size", "vox_decoder", "vox_channels", "vox_latent", "vox_deep_supervision")


def model_from_checkpoint(path: str, expected_type: str | None = None, device="cpu") -> tuple[SingleViewto3D, dict]:
    """The model a checkpoint file holds, on `device` in eval mode, and the checkpoint."""
    checkpoint = load_checkpoint(path, expected_type)
    model = build_model(checkpoint_model_args(checkpoint))
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), checkpoint


def init_voxel_branch(model: SingleViewto3D, init: str) -> str:
    """Start a voxmesh model's encoder and voxel branch from a trained vox checkpoint, as Mesh
    R-CNN starts from a trained voxel head: the refinement then learns on meaningful cubified
    meshes from its first step. init: a path, "auto" (the default vox run, if there is one) or
    "none" (train the voxel branch from scratch too). Returns what was done, in one line; raises
    ModelError when the checkpoint cannot be used."""
    path = checkpoint_path(run_dir("vox"), "vox") if init == "auto" else init
    if init == "none" or (init == "auto" and not os.path.isfile(path)):
        return "voxmesh: voxel branch trained from scratch (no --init vox checkpoint)"
    source = load_checkpoint(path, expected_type="vox")
    mine, theirs = model.model_args, checkpoint_model_args(source)
    differ = [k for k in VOXEL_BRANCH_ARGS if theirs[k] != mine[k]]
    if differ:
        raise ModelError(
            f"{path}: its encoder or voxel branch differs ("
            + ", ".join(f"{k} {theirs[k]} here {mine[k]}" for k in differ)
            + "); train voxmesh with the vox run's settings or pass --init none"
        )
    state = {k.replace("decoder.", "decoder.voxels.", 1): v for k, v in source["model"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("decoder.") and not k.startswith("decoder.voxels.") for k in missing), (
        missing,
        unexpected,
    )
    return f"voxmesh: encoder and voxel branch start from {path} (step {source['step']})"
