"""A training run's settings as typed configs: what `train_model.py`'s flags become below it.

    config = RunConfig(type="vox", out_dir="checkpoints/vox", max_iter=450, seed=0, augment="light")
    trainer = Trainer(model, optimizer, scheduler, ReconstructionLoss(LossConfig("vox")), config, run, ...)

The model's own settings are `model.default_model_args`'s dict (checkpoints store it to rebuild
the model); the loss's are `losses.LossConfig`. A checkpoint also keeps the command line's flags
as a plain dict, so a resumed run restores them (`resume.restore_run_flags`).
"""

from dataclasses import dataclass, fields


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
