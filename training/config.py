"""A training run's settings, resolved once into frozen configs before the run starts.

    given = {"type": "vox", "max_iter": 100}                     # the flags a command line gave
    config = resolve_config(given, checkpoint=None, default_device="cpu")
    config.run.max_iter, config.loss.w_dice, config.model_args["image_size"]

Where a value comes from, in order (a later one wins): the field's default here (`RunConfig`,
`ModelFlags`, `losses.LossConfig`; a model argument's default is its representation's), the
profile's (`PROFILES`: the machine's batch, workers, autocast; the type's budget and image size),
on resume the run's own recorded settings (`resume.restore_run_flags`), and the flags given. Each
default is in one place, which the flag's --help shows (`common.cli.flag`). The result is frozen;
train_model.py prints it and saves it in args.json and every checkpoint (`TrainConfig.flags`),
which is what a resume compares.
"""

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType

from common.flags import ConfigError, flag
from dataset_location import SMOKE_DATA_ROOT
from evaluation.metrics import DEFAULT_THRESHOLDS, F1_HEADLINE, f1_key
from losses import LossConfig
from r2n2.ground_truth import N_SURFACE_POINTS
from representations import COMMON_MODEL_ARGS, DEFAULT_TYPE, Settings, default_model_args, get, names
from training.augment import AUGMENT_LEVELS
from training.checkpoints import RunError, checkpoint_model_args, default_out_dir

# Defaults per machine, for the flags left out. cpu: a 2-core CPU (measured). gpu: one CUDA GPU, the
# course's setting (R2N2's full 137 px images, batch 64, loader workers to keep up). bf16 autocast
# is off there: on an H200 bench_train timed every type's step slower with it (vox 0.023 s against
# 0.018 s with the loader; benchmarks/gpu_check.sh, docs/training.md), and memory is no constraint
# (1-3.5 GiB a run).
# gpu_fast: prepared for a GPU kept busy (issue: the GPU nearly idle at batch 64), not yet measured on
# one: batch 256 with the learning rate scaled by sqrt(256 / 64) and a quarter of gpu's steps (the
# same epochs), the train split held on the GPU (`training.device_data`), torch.compile.
# benchmarks/gpu_check.sh times and scores it beside gpu; docs/training.md says what was measured.
# smoke: a first run in three to five minutes on 2 cores, on a small generated set of its own: it
# shows the pipeline works, its numbers are not results. Each type's step budget and image size for cpu and gpu are
# its representation's (`Representation.max_iter`, `.image_size`); a profile's "steps_of" names the
# profile whose budget and image size it takes, its steps scaled by "step_scale".
PROFILES = {
    "cpu": {"batch_size": 32, "num_workers": 0, "amp": False},
    "gpu": {"batch_size": 64, "num_workers": 4, "amp": False},
    "gpu_fast": {
        "batch_size": 256,
        "num_workers": 0,
        "amp": False,
        "lr": 2e-3,
        "data_on_device": True,
        "compile": True,
        "steps_of": "gpu",
        "step_scale": 0.25,
    },
    "smoke": {"batch_size": 16, "num_workers": 0, "amp": False, "max_iter": 150, "image_size": 64},
}
DEFAULT_LR = 1e-3  # Adam's, at the cpu and gpu profiles' batches
VAL_FREQ_MIN = 25  # the default --val_freq is max_iter // 10, but at least this
SELECTION_METRICS = tuple(f1_key(t) for t in DEFAULT_THRESHOLDS)  # every type's validation has them


@dataclass(frozen=True)
class ModelFlags:
    """The flags every type's network has; a type's own model arguments are its settings'
    (`representations.base.Settings`, model fields)."""

    type: str = flag(DEFAULT_TYPE, "what the model predicts", choices=names)
    arch: str = flag(None, "the image encoder", choices=("resnet18",))
    pretrained: str | None = flag(None, "local ImageNet ResNet18 weights (.pth); left out: trained from scratch")
    image_size: int | None = flag(None, "encoder input resolution; images are resized to it", "positive_int")
    init: str = flag(
        "auto", "a type that starts from another type's run (voxmesh from vox): that run's checkpoint; auto: "
        "checkpoints/<that type>/ if present; none: from scratch",
    )  # fmt: skip


# The common model flags that are model arguments.
COMMON_MODEL_FLAGS = ("arch", "image_size")


def type_flags() -> dict[str, list[str]]:
    """{flag name: the registered types whose settings have it}, in registration order: a flag two
    types share (voxmesh's voxel branch has vox's settings; --pixel_aligned is vox's and occupancy's)
    is one flag."""
    owners: dict[str, list[str]] = {}
    for name in names():
        for flag_name in get(name).settings.flag_names():
            owners.setdefault(flag_name, []).append(name)
    return owners


def type_flag_defaults() -> dict:
    """What --help shows as each type flag's default: the value, or each type's where they differ."""
    shown = {}
    for flag_name, owners in type_flags().items():
        values = {t: next(f.default for f in get(t).settings.fields() if f.name == flag_name) for t in owners}
        distinct = {repr(v) for v in values.values()}
        shown[flag_name] = (
            next(iter(values.values()))
            if len(distinct) == 1
            else ", ".join(f"{t} {shown_value(v)}" for t, v in values.items())
        )
    return shown


def shown_value(value) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def model_flag_defaults() -> dict:
    """What --help shows as the common model flags' defaults."""
    sizes = ", ".join(f"{name} {get(name).image_size['cpu']}" for name in names())
    return {"arch": COMMON_MODEL_ARGS["arch"], "image_size": f"per type and profile (cpu: {sizes}; gpu 137)"}


@dataclass(frozen=True)
class RunConfig:
    """How a run trains, watches and records itself. None: decided when the config is resolved
    (by the profile, or from max_iter, or the type)."""

    type: str
    lr: float | None = flag(
        None, "Adam's learning rate, on a cosine schedule over the run (left out: 0.001, or the profile's)",
        "positive_float",
    )  # fmt: skip
    max_iter: int | None = flag(
        None, "training steps (when resuming, the run's own; a different value stretches its cosine schedule)",
        "positive_int",
    )  # fmt: skip
    profile: str = flag(
        "auto", "defaults sized for a machine (training.config.PROFILES: batch, image size, steps, workers, --amp); "
        "auto: gpu when --device is CUDA, else cpu; smoke: a 3-minute first run on a small generated set",
        choices=tuple(["auto", *PROFILES]),
    )  # fmt: skip
    batch_size: int | None = flag(None, "images per step", "positive_int")
    num_workers: int | None = flag(None, "DataLoader worker processes", "non_negative_int")
    augment: str = flag(
        "light", "image augmentation (training/augment.py): light = colour jitter, blur, noise; full = also "
        "zoom/shift and random backgrounds, for photos; none", choices=tuple(AUGMENT_LEVELS),
    )  # fmt: skip
    data_root: str | None = flag(None, "an R2N2-layout folder: the course layout or the two R2N2 archives")
    seed: int = flag(0, "what every random draw of the run derives from", "int")
    device: str | None = flag(None, "cpu, cuda, cuda:N")
    amp: bool | None = flag(
        None, "bf16 autocast of the network (losses, coordinates and PyTorch3D's ops stay float32)",
        action="boolean",
    )  # fmt: skip
    compile: bool | None = flag(
        None, "torch.compile the encoder and the decoders that compile (CUDA: faster steps after a warm-up; left out: "
        "the profile's, on for gpu_fast)", action="boolean",
    )  # fmt: skip
    data_on_device: bool | None = flag(
        None, "hold the train split on the training device and gather each batch there (training/device_data.py; "
        "left out: the profile's, on for gpu_fast where the split fits)", action="boolean",
    )  # fmt: skip
    deterministic: bool = flag(
        False, "CUDA: deterministic kernels where PyTorch has them (no cudnn autotuning); PyTorch3D's atomicAdd "
        "backward passes stay non-deterministic. The CPU is always deterministic", action="store_true",
    )  # fmt: skip
    out_dir: str | None = flag(None, "the run folder")
    load_checkpoint: bool = flag(False, "resume the run in --out_dir (its checkpoint_<type>.pth)", action="store_true")
    overwrite: bool = flag(
        False, "start a new run even if --out_dir holds one of this type (replaced once the new one is ready)",
        action="store_true",
    )  # fmt: skip
    save_freq: int = flag(200, "steps between checkpoints (and at the last step)", "positive_int")
    keep_checkpoints: bool = flag(
        False, "also keep checkpoint_<type>.stepNNNNNN.pth at every --save_freq, a whole copy of the last "
        "checkpoint (with Adam's moments, to resume from that step by copying it to checkpoint_<type>.pth): "
        "352 MB each for the default vox model (docs/training.md)", action="store_true",
    )  # fmt: skip
    log_freq: int = flag(50, "steps between log lines (on CUDA, between reads of the losses)", "positive_int")
    val_freq: int | None = flag(
        None, "steps between validations on a fixed val subset, which keep the best checkpoint "
        "(checkpoint_<type>.best.pth); 0: never", "non_negative_int",
    )  # fmt: skip
    selection_metric: str = flag(
        F1_HEADLINE, "the validation score the best checkpoint is chosen by", choices=SELECTION_METRICS
    )


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run is: its model's arguments, its type's settings and the shared loss settings,
    how it runs, and how the model starts."""

    model_args: MappingProxyType
    settings: Settings  # the type's own (`representations.base.Settings`), validated
    loss: LossConfig  # the settings several types share
    run: RunConfig
    pretrained: str | None = None
    init: str = "auto"
    profile: str = "cpu"  # the profile resolved (auto made cpu or gpu)
    given: tuple = field(default_factory=tuple)  # the flags the command line gave
    schedule_note: str | None = None  # a resume with another --max_iter: how the schedule changes

    def flags(self) -> dict:
        """The run's settings as one flat dict of flag names (args.json, checkpoint["args"])."""
        values = {k: v for k, v in dataclasses.asdict(self.run).items()}
        values.update(dataclasses.asdict(self.loss))
        values.update({name: getattr(self.settings, name) for name in self.settings.flag_names()})
        values.update({k: self.model_args[k] for k in COMMON_MODEL_FLAGS if k in self.model_args})
        values.update(pretrained=self.pretrained, init=self.init, profile=self.profile)
        return values

    def describe(self) -> str:
        """The resolved config in a few lines: what train_model.py prints before the run."""
        run = self.run
        model = ", ".join(f"{k} {v}" for k, v in self.model_args.items() if k != "type")
        own = [f.name for f in self.settings.fields(model=False)]
        losses = ", ".join(f"{name} {getattr(self.settings, name)}" for name in own)
        shared = ", ".join(f"{f.name} {getattr(self.loss, f.name)}" for f in dataclasses.fields(self.loss))
        given = " ".join(f"--{name}" for name in self.given) or "none"
        return "\n".join(
            [
                f"config ({self.profile} profile; flags given: {given}):",
                f"  model {run.type}: {model}",
                f"  loss: {losses + '; ' if losses else ''}{shared}",
                f"  run: {run.max_iter} steps of {run.batch_size}, lr {run.lr}, seed {run.seed}, augment "
                f"{run.augment}, amp {run.amp}, device {run.device}, workers {run.num_workers}, data "
                f"{run.data_root or 'embedded'}",
                f"  folder {run.out_dir}: checkpoint every {run.save_freq} steps, log every {run.log_freq}, validate "
                f"every {run.val_freq} (best by {run.selection_metric})",
            ]
        )


def profile_name(profile: str, device: str) -> str:
    """The profile the flags ask for: auto picks gpu for a CUDA device."""
    return ("gpu" if device.startswith("cuda") else "cpu") if profile == "auto" else profile


def config_defaults(representation) -> dict:
    """Every flag's default for a run of a type: the run's, the shared loss's, the common model
    flags' and the type's own settings'."""
    values = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    values.update({f.name: f.default for f in dataclasses.fields(LossConfig)})
    values.update({f.name: f.default for f in dataclasses.fields(ModelFlags)})
    values.update({f.name: f.default for f in representation.settings.fields()})
    return values


def flags_for(given: dict, model_type: str) -> dict:
    """The flags of `given` that `model_type` takes: the shared ones and its own (a benchmark passing
    one command line to every type drops the others' settings)."""
    own = set(get(model_type).settings.flag_names())
    return {name: value for name, value in given.items() if name in own or not type_flags().get(name)}


def check_flags_belong(given: dict, model_type: str) -> None:
    """ConfigError (one line) for a flag given that another type has and this one does not."""
    own = set(get(model_type).settings.flag_names())
    for name in given:
        owners = type_flags().get(name)
        if owners and name not in own:
            raise ConfigError(f"--{name} is a setting of {', '.join(owners)}, not of --type {model_type}: leave it out")


def resolve_config(
    given: dict, checkpoint: dict | None = None, default_device: str = "cpu", checkpoint_file: str = ""
) -> TrainConfig:
    """The frozen config of a run from the flags given ({name: value}, only those the command line
    named), the run's checkpoint when resuming (read from checkpoint_file, named in messages), and
    the device used when --device is left out. Pure: it reads no file. Raises ConfigError (flags
    that cannot make a run) or RunError (a resume the run's record refuses), each in one line."""
    from training.resume import restore_run_flags, resume_max_iter

    model_type = given.get("type", ModelFlags.type)
    representation = get(model_type)
    check_flags_belong(given, model_type)
    values = config_defaults(representation)
    values.update(device=default_device)
    values.update(given)
    schedule_note = None
    if checkpoint is not None:  # the run's own flags back; a flag given with another value is refused
        recorded = {**checkpoint, "args": {**checkpoint.get("args", {}), **model_flags_of(checkpoint)}}
        values, _ = restore_run_flags(values, recorded, set(given), checkpoint_file)
        values["max_iter"], schedule_note = resume_max_iter(given.get("max_iter"), checkpoint, checkpoint_file)
    values["type"] = model_type
    profile = profile_name(values["profile"], values["device"])
    defaults = PROFILES[profile]
    own = {"lr": DEFAULT_LR, "compile": False, "data_on_device": False}  # where a profile does not say
    for key in ("batch_size", "num_workers", "amp", "lr", "compile", "data_on_device"):
        if values[key] is None:
            values[key] = defaults.get(key, own.get(key))
    budget_of = defaults.get("steps_of", profile)  # the profile whose budget and image size it takes
    if values["max_iter"] is None:
        steps = defaults.get("max_iter") or representation.max_iter[budget_of]
        values["max_iter"] = max(1, round(steps * defaults.get("step_scale", 1.0)))
    if values["image_size"] is None:
        values["image_size"] = defaults.get("image_size") or representation.image_size[budget_of]
    if values["val_freq"] is None:  # about 10 validations a run, whatever its length
        values["val_freq"] = max(VAL_FREQ_MIN, values["max_iter"] // 10)
    if values["out_dir"] is None:
        values["out_dir"] = default_out_dir(model_type, profile)
    if profile == "smoke" and values["data_root"] is None:
        values["data_root"] = SMOKE_DATA_ROOT
    loss = LossConfig(**{f.name: values[f.name] for f in dataclasses.fields(LossConfig)})
    settings = representation.settings(**{f.name: values[f.name] for f in representation.settings.fields()})
    if checkpoint is None:
        settings = settings.validate(frozenset(given))
        model_args = default_model_args(
            model_type, **{k: values[k] for k in COMMON_MODEL_FLAGS}, **representation.model_args(settings, loss)
        )
    else:  # the run's model is what it is: its model settings are read off it
        model_args = checkpoint_model_args(checkpoint)
        own = {f.name: model_args[f.name] for f in settings.fields(model=True) if f.name in model_args}
        settings = dataclasses.replace(settings, **own)
    if representation.uses_surface_samples and loss.n_points > N_SURFACE_POINTS:
        raise ConfigError(
            f"--n_points {loss.n_points}: the ground truth holds {N_SURFACE_POINTS} surface samples per shape, so "
            f"the Chamfer terms would compare {loss.n_points} points with {N_SURFACE_POINTS}; use at most "
            f"{N_SURFACE_POINTS}"
        )
    run = RunConfig(**{f.name: values[f.name] for f in dataclasses.fields(RunConfig)})
    return TrainConfig(
        MappingProxyType(dict(model_args)),
        settings,
        loss,
        run,
        values["pretrained"],
        values["init"],
        profile,
        tuple(sorted(given)),
        schedule_note,
    )


def model_flags_of(checkpoint: dict) -> dict:
    """The model flags a run was trained with, read off its model (its completed model_args: a
    record predating a flag says what the model was built with, and a type without the argument
    records nothing)."""
    model_args = checkpoint_model_args(checkpoint)
    own = set(get(model_args["type"]).settings.flag_names())
    return {k: v for k, v in model_args.items() if k in COMMON_MODEL_FLAGS or k in own}


__all__ = ["ConfigError", "PROFILES", "RunConfig", "RunError", "TrainConfig", "resolve_config"]
