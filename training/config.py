"""A training run's settings as typed configs: what `train_model.py`'s flags become below it.

    config = RunConfig(type="vox", out_dir="checkpoints/vox", max_iter=450, seed=0, augment="light")
    trainer = Trainer(model, optimizer, scheduler, ReconstructionLoss(LossConfig("vox")), config, run, ...)

The model's own settings are `model.default_model_args`'s dict (checkpoints store it to rebuild
the model); the loss's are `losses.LossConfig`. A checkpoint also keeps the command line's flags
as a plain dict, so a resumed run restores them (`resume.restore_run_flags`).
"""

from dataclasses import dataclass, fields

# Steps of the default budget at batch 32 on a 2-core CPU: 8 to 25 minutes a type, by machine (docs/training.md).
DEFAULT_MAX_ITER = {"vox": 450, "point": 800, "mesh": 800, "occupancy": 1200, "voxmesh": 300}
# vox (and voxmesh, which starts from a vox run) at 128 px: a leg 2-3 px wide in a 137 px rendering
# is about one pixel at 64 (docs/vox_design.md); the others keep 64.
DEFAULT_IMAGE_SIZE = {"vox": 128, "point": 64, "mesh": 64, "occupancy": 64, "voxmesh": 128}

# Defaults per machine, for the flags left out. cpu: a 2-core CPU (measured). gpu: one CUDA GPU, the
# course's setting (R2N2's full 137 px images, batch 64, loader workers to keep up). bf16 autocast
# is off there: on an H200 every type's step was slower with it (vox 0.018 s against 0.015 s, voxmesh
# 0.090 against 0.064; benchmarks/gpu_check.sh, docs/training.md), the casts outweighing the
# arithmetic at this size, and memory is no constraint (1-3.5 GiB a run).
PROFILES = {
    "cpu": {
        "batch_size": 32,
        "num_workers": 0,
        "amp": False,
        "max_iter": DEFAULT_MAX_ITER,
        "image_size": DEFAULT_IMAGE_SIZE,
    },
    "gpu": {
        "batch_size": 64,
        "num_workers": 4,
        "amp": False,
        "max_iter": {"vox": 10000, "point": 10000, "mesh": 10000, "occupancy": 20000, "voxmesh": 5000},
        "image_size": {t: 137 for t in DEFAULT_IMAGE_SIZE},
    },
}


def profile_name(profile: str, device: str) -> str:
    """The profile the flags ask for: auto picks gpu for a CUDA device."""
    return ("gpu" if device.startswith("cuda") else "cpu") if profile == "auto" else profile


def profile_defaults(flags: dict, resuming: bool) -> dict:
    """The values of the flags left out (None) from the profile the flags name (profile, device,
    type): {flag: value}. A resumed run's computing flags come from its checkpoint instead
    (`resume.restore_run_flags`); only the loader's workers are the profile's."""
    profile = PROFILES[profile_name(flags["profile"], flags["device"])]
    values = {"num_workers": profile["num_workers"]} if flags.get("num_workers") is None else {}
    if resuming:
        return values
    for flag in ("batch_size", "amp"):
        if flags.get(flag) is None:
            values[flag] = profile[flag]
    for flag in ("max_iter", "image_size"):
        if not flags.get(flag):
            values[flag] = profile[flag][flags["type"]]
    return values


@dataclass
class RunConfig:
    """How a run trains, watches and records itself.

    type: the model type (its logs and tqdm say it); out_dir: the run folder; max_iter: the step
    budget; seed: what every step's random draws derive from (`trainer.step_seed`); augment:
    `augment.AUGMENT_LEVELS`' key; amp: bf16 autocast of the network; save_freq: steps between
    checkpoints; keep_checkpoints: also keep one per save, named by its step; log_freq: steps
    between log lines (and, on CUDA, between reads of the losses); val_freq: steps between
    validations (0: none)."""

    type: str
    out_dir: str
    max_iter: int
    seed: int = 0
    augment: str = "light"
    amp: bool = False
    save_freq: int = 200
    keep_checkpoints: bool = False
    log_freq: int = 50
    val_freq: int = 0

    @classmethod
    def from_flags(cls, flags: dict) -> "RunConfig":
        """The config of a flags dict (train_model.py's, as vars(args)): its matching keys."""
        return cls(**{f.name: flags[f.name] for f in fields(cls) if f.name in flags})
