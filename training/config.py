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

from common.flags import flag
from dataset_location import SMOKE_DATA_ROOT
from evaluation.metrics import DEFAULT_THRESHOLDS, f1_key
from losses import LossConfig
from r2n2.ground_truth import N_SURFACE_POINTS
from representations import COMMON_MODEL_ARGS, default_model_args, get, names
from training.augment import AUGMENT_LEVELS
from training.checkpoints import RunError, checkpoint_model_args, default_out_dir

# Defaults per machine, for the flags left out. cpu: a 2-core CPU (measured). gpu: one CUDA GPU, the
# course's setting (R2N2's full 137 px images, batch 64, loader workers to keep up). bf16 autocast
# is off there: on an H200 bench_train timed every type's step slower with it (vox 0.023 s against
# 0.018 s with the loader; benchmarks/gpu_check.sh, docs/training.md), and memory is no constraint
# (1-3.5 GiB a run).
# smoke: a first run in three to five minutes on 2 cores, on a small generated set of its own: it
# shows the pipeline works, its numbers are not results. Each type's step budget and image size for cpu and gpu are
# its representation's (`Representation.max_iter`, `.image_size`).
PROFILES = {
    "cpu": {"batch_size": 32, "num_workers": 0, "amp": False},
    "gpu": {"batch_size": 64, "num_workers": 4, "amp": False},
    "smoke": {"batch_size": 16, "num_workers": 0, "amp": False, "max_iter": 150, "image_size": 64},
}
VAL_FREQ_MIN = 25  # the default --val_freq is max_iter // 10, but at least this
SELECTION_METRICS = tuple(f1_key(t) for t in DEFAULT_THRESHOLDS)  # every type's validation has them


@dataclass(frozen=True)
class ModelFlags:
    """The flags that say what the network is; the model's own arguments (model_args) follow from
    them and the type's defaults (`representations.default_model_args`)."""

    type: str = flag("vox", "what the model predicts", choices=names)
    arch: str = flag(None, "the image encoder", choices=("resnet18",))
    pretrained: str | None = flag(None, "local ImageNet ResNet18 weights (.pth); left out: trained from scratch")
    image_size: int | None = flag(None, "encoder input resolution; images are resized to it", "positive_int")
    vox_decoder: str | None = flag(None, "vox, voxmesh: the voxel decoder (model.py)", choices=("subpixel", "deconv"))
    vox_latent: str | None = flag(
        None, "vox, voxmesh (subpixel decoder): the pooled feature and the encoder's last feature map (spatial) "
        "or the pooled feature only", choices=("spatial", "pooled"),
    )  # fmt: skip
    vox_pixel_head: str | None = flag(
        None, "vox, voxmesh (pixel-aligned): how each 32^3 sub-cell's own image features reach its logit: a small "
        "MLP per sub-cell (mlp) or channels of the 3x3x3 sub-cell convolution (conv, 1.3x the step)",
        choices=("mlp", "conv"),
    )  # fmt: skip
    vox_frame: str | None = flag(
        None, "vox, voxmesh (pixel-aligned): predict the grid on the object's axes (object; at test time the camera "
        "comes from the metadata or the camera head) or on the input camera's axes (viewer: no camera needed; "
        "evaluation turns it back with the metadata)", choices=("object", "viewer"),
    )  # fmt: skip
    vox_camera_head: str | None = flag(
        None, "vox, voxmesh (pixel-aligned): the camera head that guesses a camera for images without one: a small "
        "MLP on the pooled feature (mlp) or a wider one that also reads the last feature map, with in-bin azimuth "
        "offsets (spatial)", choices=("mlp", "spatial"),
    )  # fmt: skip
    occ_grid: int | None = flag(
        None, "occupancy: also decode a feature volume of this resolution and sample it at each query "
        "(Convolutional Occupancy Networks); 0: the global image feature only (Occupancy Networks)", "int",
        choices=(0, 8, 16, 32),
    )  # fmt: skip
    pixel_aligned: bool | None = flag(
        None, "vox, voxmesh, occupancy: each output cell (each query) also reads the image where it projects in "
        "the input view, with a camera head for images without a camera", action="boolean",
    )  # fmt: skip
    init: str = flag(
        "auto", "a type that starts from another type's run (voxmesh from vox): that run's checkpoint; auto: "
        "checkpoints/<that type>/ if present; none: from scratch",
    )  # fmt: skip


# The model flags that are model arguments, and what the help shows as their default.
MODEL_ARG_FLAGS = (
    "arch", "image_size", "vox_decoder", "vox_latent", "vox_pixel_head", "vox_frame", "vox_camera_head", "occ_grid",
)  # fmt: skip


def model_flag_defaults() -> dict:
    """What --help shows as each model flag's default: the first type's that has the argument."""
    sizes = ", ".join(f"{name} {get(name).image_size['cpu']}" for name in names())
    shown = {"arch": COMMON_MODEL_ARGS["arch"], "image_size": f"per type and profile (cpu: {sizes}; gpu 137)"}
    for name in names():
        for key, value in default_model_args(name).items():
            if key in MODEL_ARG_FLAGS and key not in shown:
                shown[key] = value
            if key.endswith("pixel_aligned"):
                shown.setdefault("pixel_aligned", {})[name] = value
    if "pixel_aligned" in shown:
        shown["pixel_aligned"] = ", ".join(f"{t} {'on' if v else 'off'}" for t, v in shown["pixel_aligned"].items())
    return shown


def pixel_aligned_arg(model_args: dict) -> str | None:
    """The model argument --pixel_aligned sets for a type (vox_pixel_aligned, occ_pixel_aligned), or None."""
    return next((key for key in model_args if key.endswith("pixel_aligned")), None)


@dataclass(frozen=True)
class RunConfig:
    """How a run trains, watches and records itself. None: decided when the config is resolved
    (by the profile, or from max_iter, or the type)."""

    type: str
    lr: float = flag(1e-3, "Adam's learning rate, on a cosine schedule over the run", "positive_float")
    max_iter: int | None = flag(
        None, "training steps (when resuming, the run's own; a different value stretches its cosine schedule)",
        "positive_int",
    )  # fmt: skip
    profile: str = flag(
        "auto", "defaults sized for a machine (training.config.PROFILES: batch, image size, steps, workers, --amp); "
        "auto: gpu when --device is CUDA, else cpu; smoke: a 3-minute first run on a small generated set",
        choices=("auto", "cpu", "gpu", "smoke"),
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
    compile: bool = flag(
        False, "torch.compile the encoder and the decoders that compile (CUDA: faster steps after a warm-up)",
        action="store_true",
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
        "F1@0.05", "the validation score the best checkpoint is chosen by", choices=SELECTION_METRICS
    )


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run is: its model's arguments, its loss, how it runs, and how the model starts."""

    model_args: MappingProxyType
    loss: LossConfig
    run: RunConfig
    pretrained: str | None = None
    init: str = "auto"
    profile: str = "cpu"  # the profile resolved (auto made cpu or gpu)
    given: tuple = field(default_factory=tuple)  # the flags the command line gave
    schedule_note: str | None = None  # a resume with another --max_iter: how the schedule changes

    def flags(self) -> dict:
        """The run's settings as one flat dict of flag names (args.json, checkpoint["args"])."""
        values = {k: v for k, v in dataclasses.asdict(self.run).items()}
        values.update({k: v for k, v in dataclasses.asdict(self.loss).items() if k != "type"})
        values.update({k: self.model_args[k] for k in MODEL_ARG_FLAGS if k in self.model_args})
        pixel_key = pixel_aligned_arg(self.model_args)
        values.update(pretrained=self.pretrained, init=self.init, profile=self.profile)
        values.update({"pixel_aligned": self.model_args[pixel_key]} if pixel_key else {})
        return values

    def describe(self) -> str:
        """The resolved config in a few lines: what train_model.py prints before the run."""
        run, loss = self.run, self.loss
        model = ", ".join(f"{k} {v}" for k, v in self.model_args.items() if k != "type")
        losses = ", ".join(f"{f.name} {getattr(loss, f.name)}" for f in dataclasses.fields(loss) if f.name != "type")
        given = " ".join(f"--{name}" for name in self.given) or "none"
        return "\n".join(
            [
                f"config ({self.profile} profile; flags given: {given}):",
                f"  model {run.type}: {model}",
                f"  loss: {losses}",
                f"  run: {run.max_iter} steps of {run.batch_size}, lr {run.lr}, seed {run.seed}, augment "
                f"{run.augment}, amp {run.amp}, device {run.device}, workers {run.num_workers}, data "
                f"{run.data_root or 'embedded'}",
                f"  folder {run.out_dir}: checkpoint every {run.save_freq} steps, log every {run.log_freq}, validate "
                f"every {run.val_freq} (best by {run.selection_metric})",
            ]
        )


class ConfigError(Exception):
    """Flags that cannot make a run; the message says which and what to do."""


def profile_name(profile: str, device: str) -> str:
    """The profile the flags ask for: auto picks gpu for a CUDA device."""
    return ("gpu" if device.startswith("cuda") else "cpu") if profile == "auto" else profile


def resolve_config(
    given: dict, checkpoint: dict | None = None, default_device: str = "cpu", checkpoint_file: str = ""
) -> TrainConfig:
    """The frozen config of a run from the flags given ({name: value}, only those the command line
    named), the run's checkpoint when resuming (read from checkpoint_file, named in messages), and
    the device used when --device is left out. Pure: it reads no file. Raises ConfigError (flags
    that cannot make a run) or RunError (a resume the run's record refuses), each in one line."""
    from training.resume import restore_run_flags, resume_max_iter

    values = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    values.update({f.name: f.default for f in dataclasses.fields(LossConfig)})
    values.update({f.name: f.default for f in dataclasses.fields(ModelFlags)})
    values.update(device=default_device)
    model_type = given.get("type", values["type"])
    representation = get(model_type)
    values.update(given)
    schedule_note = None
    if checkpoint is not None:  # the run's own flags back; a flag given with another value is refused
        recorded = {**checkpoint, "args": {**checkpoint.get("args", {}), **model_flags_of(checkpoint)}}
        values, _ = restore_run_flags(values, recorded, set(given), checkpoint_file)
        values["max_iter"], schedule_note = resume_max_iter(given.get("max_iter"), checkpoint, checkpoint_file)
    values["type"] = model_type
    profile = profile_name(values["profile"], values["device"])
    defaults = PROFILES[profile]
    for key in ("batch_size", "num_workers", "amp"):
        if values[key] is None:
            values[key] = defaults[key]
    if values["max_iter"] is None:
        values["max_iter"] = defaults.get("max_iter") or representation.max_iter[profile]
    if values["image_size"] is None:
        values["image_size"] = defaults.get("image_size") or representation.image_size[profile]
    if values["val_freq"] is None:  # about 10 validations a run, whatever its length
        values["val_freq"] = max(VAL_FREQ_MIN, values["max_iter"] // 10)
    if values["out_dir"] is None:
        values["out_dir"] = default_out_dir(model_type, profile)
    if profile == "smoke" and values["data_root"] is None:
        values["data_root"] = SMOKE_DATA_ROOT
    loss = LossConfig(**{f.name: values[f.name] for f in dataclasses.fields(LossConfig)})
    if checkpoint is not None:
        model_args = checkpoint_model_args(checkpoint)
    else:
        model_args, loss = new_model_args(representation, values, loss, given)
    if representation.uses_surface_samples and loss.n_points > N_SURFACE_POINTS:
        raise ConfigError(
            f"--n_points {loss.n_points}: the ground truth holds {N_SURFACE_POINTS} surface samples per shape, so "
            f"the Chamfer terms would compare {loss.n_points} points with {N_SURFACE_POINTS}; use at most "
            f"{N_SURFACE_POINTS}"
        )
    run = RunConfig(**{f.name: values[f.name] for f in dataclasses.fields(RunConfig)})
    return TrainConfig(
        MappingProxyType(dict(model_args)),
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
    flags = {k: model_args[k] for k in MODEL_ARG_FLAGS if k in model_args}
    pixel_key = pixel_aligned_arg(model_args)
    return {**flags, "pixel_aligned": model_args[pixel_key]} if pixel_key else flags


def new_model_args(representation, values: dict, loss: LossConfig, given: dict) -> tuple[dict, LossConfig]:
    """A new run's model arguments from its flags, and its loss (deep supervision needs coarse heads:
    a decoder without them trains with --w_aux 0, and records it)."""
    own = default_model_args(representation.name)
    overrides = {k: values[k] for k in MODEL_ARG_FLAGS if k in own and values.get(k) is not None}
    pixel_key = pixel_aligned_arg(own)
    if values.get("pixel_aligned") is not None:
        if pixel_key is None:
            raise ConfigError(
                f"--pixel_aligned: the {representation.name} decoder reads no pixels where points project"
            )
        overrides[pixel_key] = values["pixel_aligned"]
    if "n_points" in own:
        overrides["n_points"] = loss.n_points
    if own.get("vox_decoder", overrides.get("vox_decoder")) is not None and "vox_deep_supervision" in own:
        if overrides.get("vox_decoder", own["vox_decoder"]) == "deconv" and loss.w_aux > 0:
            if "w_aux" in given:
                raise ConfigError(
                    "--w_aux needs --vox_decoder subpixel: the deconv decoder has no coarse outputs to supervise"
                )
            loss = dataclasses.replace(loss, w_aux=0.0)
        overrides["vox_deep_supervision"] = loss.w_aux > 0
        if overrides.get("vox_decoder", own["vox_decoder"]) == "deconv":  # it reads no pixels: recorded off
            if values.get("pixel_aligned"):
                raise ConfigError("--pixel_aligned needs --vox_decoder subpixel: the deconv decoder reads no pixels")
            overrides["vox_pixel_aligned"] = False
    if "vox_frame" in own and not overrides.get("vox_pixel_aligned", own.get("vox_pixel_aligned")):
        if values.get("vox_frame") == "viewer":
            raise ConfigError("--vox_frame viewer needs --pixel_aligned: the grid is placed by where its cells project")
        overrides["vox_frame"] = "object"  # a model that reads no pixels needs no camera: its frame is the object's
    return default_model_args(representation.name, **overrides), loss


__all__ = ["ConfigError", "PROFILES", "RunConfig", "RunError", "TrainConfig", "resolve_config"]
