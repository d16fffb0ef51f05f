"""An evaluation's and a reconstruction's settings, resolved once into frozen configs, as training's are.

    config = resolve_eval_config({"load_checkpoint": True, "views": "all"})   # the flags a command line gave
    name = result_folder_name(config, checkpoint_file, data_root)            # vox_allviews, ...
    config = resolve_reconstruct_config({"images": ["a.jpg"], "checkpoint": "c.pth"})

Each field is also its script's flag (`common.flags.flag`), its default here only. The model's
type is the checkpoint's: --type may be left out, and one that disagrees is refused
(`with_checkpoint_type`). An evaluation's result folder is named by the settings that differ from
these defaults (`result_folder_name`), and what decides its numbers is its identity
(`RESULT_IDENTITY`, in metrics.json).
"""

import dataclasses
import hashlib
import os
from dataclasses import dataclass

from common.flags import ConfigError, flag
from evaluation.metrics import DEFAULT_THRESHOLDS
from evaluation.protocol import CAMERAS
from geometry.grids import ISO
from representations import get, names

# Occupancy's marching-cubes grid in evaluation and reconstruction (refined coarse to fine from
# 32^3, Occupancy Networks' MISE); validation reads it at 32^3 (`training.validation`).
GRID_RES = 64
# A photo's camera: the vox model's K likeliest guesses, kept by how they fit the photo's mask
# (`representations.vox.camera_search`; docs/photos.md says what it gains).
CAMERA_SEARCH = 4


def camera_value(value: str) -> str:
    """--camera's value; "predicted", its earlier spelling, is "none" (the model guesses)."""
    return "none" if value == "predicted" else value


@dataclass(frozen=True)
class EvalConfig:
    """What eval_model.py scores and how (see the script's --help)."""

    type: str | None = flag(
        None, "the model's type; left out: the checkpoint's (one that disagrees is refused)", choices=names
    )
    load_checkpoint: bool = flag(
        False, "evaluate <out_dir>/checkpoint_<type>.pth (train_model.py's run)", action="store_true"
    )
    best: bool = flag(
        False, "with --load_checkpoint: the run's best checkpoint by its validation score (--selection_metric, "
        "F1@0.05 by default; checkpoint_<type>.best.pth), not its last", action="store_true",
    )  # fmt: skip
    checkpoint: str | None = flag(None, "evaluate this checkpoint file")
    out_dir: str | None = flag(
        None, "training run folder (left out: checkpoints/<type>, as train_model.py; the type's own, or the default "
        "type's when --type is left out)",
    )  # fmt: skip
    oracle: bool = flag(False, "evaluate the GT voxels as a vox prediction (alignment check)", action="store_true")
    data_root: str | None = flag(
        None, "any R2N2-layout folder (left out: the embedded data); the checkpoint may come from other data"
    )
    split: str = flag("test", "train, val, test or all (every model)")
    views: str = flag("first", "one fixed view per model (first) or all", choices=("first", "all"))
    n_points: int = flag(5000, "points sampled from prediction and GT", "positive_int")
    thresholds: tuple = flag(
        DEFAULT_THRESHOLDS, "F1 distance thresholds (the object's bounding-box diagonal is 1)", "positive_float",
        nargs="+",
    )  # fmt: skip
    grid_res: int = flag(
        GRID_RES, "an implicit type: marching-cubes grid resolution (above 32, refined coarse to fine from 32^3: "
        "Occupancy Networks' MISE)", "positive_int",
    )  # fmt: skip
    iso: float = flag(
        ISO,
        "a type that predicts occupancy: the probability at which surfaces are extracted and voxel IoU is read",
        "probability",
    )
    camera: str = flag(
        CAMERAS[0], "what the model is told of each input view's camera: the data's metadata (known) or nothing "
        "(none, what a photo gets: a model that reads the image where points project guesses its camera; a "
        "viewer-frame model needs none, and is scored after turning its prediction into the object frame with the "
        "metadata's rotation); predicted is read as none", choices=CAMERAS + ("predicted",),
    )  # fmt: skip
    camera_search: int | None = flag(
        None, "with --camera none, a model that can (vox) tries its camera head's K likeliest azimuths and keeps the "
        "camera whose prediction's silhouette fits the image's own mask best (the image's alpha, a photo's mask; no "
        f"metadata); 0: its head's guess; left out: {CAMERA_SEARCH} told no camera, as reconstruct.py does",
        "non_negative_int",
    )  # fmt: skip
    clean: bool = flag(
        False, "score each predicted mesh's largest connected parts only (loose fragments removed, as reconstruct.py "
        "--clean writes them)", action="store_true",
    )  # fmt: skip
    batch_size: int = flag(16, "images per forward pass", "positive_int")
    device: str | None = flag(None, "cpu, cuda, cuda:N (left out: cuda when present)")
    seed: int = flag(0, "what the surface samples are drawn from", "int")
    no_baseline: bool = flag(False, "skip the mean-shape baseline", action="store_true")
    no_frame_check: bool = flag(
        False, "skip the frame check (the predictions also scored under the 4 turns about y and the mirrorings, to "
        "catch a data frame that differs from the model's)", action="store_true",
    )  # fmt: skip
    vis_ids: tuple | None = flag(None, "sample indices to visualise", "int", nargs="*")
    vis_freq: int | None = flag(None, "visualise every k-th sample (left out: 5 evenly spaced)", "positive_int")
    tag: str | None = flag(None, "suffix of the results folder (letters, digits, '.', '_', '-')")
    results_dir: str = flag("output/eval", "where result folders go")


def resolve_eval_config(given: dict, default_device: str = "cpu") -> EvalConfig:
    """The frozen config from the flags a command line gave (only those); ConfigError (one line)
    for flags that cannot go together. The model's type is settled with its checkpoint
    (`with_checkpoint_type`)."""
    values = {f.name: f.default for f in dataclasses.fields(EvalConfig)}
    values.update(device=default_device)
    values.update(given)
    for key in ("thresholds", "vis_ids"):
        values[key] = tuple(values[key]) if values[key] is not None else None
    values["camera"] = camera_value(values["camera"])
    config = EvalConfig(**values)
    if config.tag is not None and not safe_name(config.tag):
        raise ConfigError(f"--tag {config.tag!r}: use letters, digits, '.', '_' and '-' only (it names a folder)")
    if config.best and not config.load_checkpoint:
        raise ConfigError("--best picks the best checkpoint of the run in --out_dir: use it with --load_checkpoint")
    if config.checkpoint and config.load_checkpoint:
        raise ConfigError(
            "--checkpoint PATH and --load_checkpoint (the run in --out_dir) name two models: give one of them"
        )
    if not (config.checkpoint or config.load_checkpoint or config.oracle):
        raise ConfigError("say which model: --load_checkpoint (the run in --out_dir), --checkpoint PATH, or --oracle")
    if config.camera_search and config.camera != "none":
        raise ConfigError("--camera_search chooses among a model's own camera guesses: use it with --camera none")
    if config.oracle:
        config = dataclasses.replace(config, camera_search=config.camera_search or 0)
    if config.type is not None and not config.oracle:
        check_iso(config.iso, config.type)
    if config.oracle:
        config = dataclasses.replace(config, type=config.type or next(n for n in names() if get(n).has_oracle))
        if not get(config.type).has_oracle:
            takes = ", ".join(name for name in names() if get(name).has_oracle)
            raise ConfigError(
                f"--oracle evaluates the GT voxels as a voxel grid's prediction: use it with --type {takes}"
            )
        check_iso(config.iso, config.type, oracle=True)
    return config


def safe_name(text: str) -> bool:
    """A name that stays one folder name: letters, digits, '.', '_', '-', not starting with '.'."""
    return bool(text) and not text.startswith(".") and all(c.isalnum() or c in "._-" for c in text)


def check_iso(iso: float, model_type: str, oracle: bool = False) -> None:
    """ConfigError when --iso is given for a type whose surface is not read off a probability grid."""
    if iso != ISO and (oracle or not get(model_type).iso_surface):
        takes = ", ".join(name for name in names() if get(name).iso_surface)
        raise ConfigError(
            f"--iso applies to the types whose surface is read off a probability grid ({takes}), not "
            + ("the oracle" if oracle else f"a {model_type} model")
        )


def with_checkpoint_type(config, found: str):
    """The config with the model's type read off its checkpoint; ConfigError when --type named another."""
    if config.type is not None and config.type != found:
        raise ConfigError(f"the checkpoint holds a {found!r} model, not --type {config.type!r}: leave --type out")
    if config.camera_search and not get(found).searches_camera:
        raise ConfigError(f"--camera_search: a {found} model has no camera to search; leave it out")
    config = dataclasses.replace(config, type=found)
    check_iso(config.iso, found)
    return config


def with_camera_search(config, model):
    """The config with --camera_search resolved on the model itself: left out, CAMERA_SEARCH for a
    model told no camera that can search one (`can_search_camera`), else 0; given to a model that
    cannot (a viewer-frame model needs no camera), ConfigError."""
    can = can_search_camera(model)
    check_search_size(config.camera_search)
    if config.camera_search and not can:
        raise ConfigError(
            "--camera_search: this model has no camera to search (a viewer-frame model needs none; a model "
            "without pixel-aligned features reads none); leave it out"
        )
    search = config.camera_search if config.camera_search is not None else default_camera_search(config.camera, can)
    return dataclasses.replace(config, camera_search=search)


def check_search_size(camera_search: int | None) -> None:
    """ConfigError for more hypotheses than the camera head has azimuth bins (each is tried once)."""
    from networks.camera import CameraHead

    if camera_search is not None and camera_search > CameraHead.AZIMUTH_BINS:
        raise ConfigError(
            f"--camera_search {camera_search}: the camera head has {CameraHead.AZIMUTH_BINS} azimuths to try; give at "
            f"most {CameraHead.AZIMUTH_BINS}"
        )


def can_search_camera(model) -> bool:
    """Whether told no camera, the model chooses among its camera head's guesses: a type whose
    `predict` searches, an object-frame model with a camera head."""
    return (
        get(model.type).searches_camera
        and getattr(model, "camera_head", None) is not None
        and getattr(model, "frame", "object") == "object"
    )


def default_camera_search(camera: str, can_search: bool) -> int:
    """--camera_search left out: CAMERA_SEARCH for a model told no camera that can search its
    camera (what reconstruct.py does with a photo), else 0."""
    return CAMERA_SEARCH if camera == "none" and can_search else 0


# What decides an evaluation's numbers, in metrics.json: a folder holding another value of any of
# these is another evaluation's. Each one that differs from its default also names the folder.
RESULT_IDENTITY = (
    "type", "oracle", "checkpoint", "data", "data_record", "split", "views", "iso", "n_points", "thresholds",
    "grid_res", "seed", "camera", "camera_search", "clean", "batch_size", "no_baseline", "no_frame_check",
)  # fmt: skip

# How a setting that differs from its default is spelled in the folder's name.
NAME_PARTS = {
    "split": lambda v: v,
    "views": lambda v: "allviews" if v == "all" else f"views{v}",
    "iso": lambda v: f"iso{v:g}",
    "n_points": lambda v: f"n{v}",
    "thresholds": lambda v: "t" + "-".join(f"{t:g}" for t in v),
    "grid_res": lambda v: f"grid{v}",
    "seed": lambda v: f"seed{v}",
    "camera": lambda v: f"camera-{v}",
    "camera_search": lambda v: f"search{v}",
    "clean": lambda v: "clean",
    "batch_size": lambda v: f"batch{v}",  # the batches decide the samples drawn
    "no_baseline": lambda v: "nobaseline",
    "no_frame_check": lambda v: "noframecheck",
}


def path_slug(path: str) -> str:
    """A short name for a file or folder that two different paths never share: its own name and
    6 hex digits of its absolute path's hash."""
    path = os.path.abspath(path)
    return f"{os.path.basename(path)}-{hashlib.sha1(path.encode()).hexdigest()[:6]}"


def result_folder_name(config: EvalConfig, checkpoint_file: str | None, default_checkpoint: str, data_root: str) -> str:
    """<type>[_oracle][_<tag>], then each setting of `NAME_PARTS` that differs from its default
    (grid_res only for a type read at a grid resolution), the checkpoint when it is not the
    type's default run's (default_checkpoint), the data when it is not the embedded data
    (data_root: None for it), so results of different settings, checkpoints or data do not share
    a folder."""
    defaults = {f.name: f.default for f in dataclasses.fields(EvalConfig)}
    # The default search of the type's default model (an object-frame vox model searches told no
    # camera); a model that cannot search is named _search0 when told no camera.
    defaults["camera_search"] = default_camera_search(config.camera, get(config.type).searches_camera)
    parts = [config.type + ("_oracle" if config.oracle else "")] + ([config.tag] if config.tag else [])
    for key, spell in NAME_PARTS.items():
        value = getattr(config, key)
        if key == "grid_res" and not get(config.type).grid_resolution:
            continue
        if value != defaults[key]:
            parts.append(spell(value))
    if checkpoint_file and os.path.abspath(checkpoint_file) != os.path.abspath(default_checkpoint):
        name = os.path.basename(checkpoint_file)[: -len(".pth")] if checkpoint_file.endswith(".pth") else ""
        prefix = f"checkpoint_{config.type}"
        name = name[len(prefix) :] if name.startswith(prefix) else "-" + os.path.basename(checkpoint_file)
        parts.append("from-" + path_slug(os.path.dirname(checkpoint_file)) + name)
    if data_root is not None:
        parts.append("on-" + path_slug(data_root))
    return "_".join(parts)


@dataclass(frozen=True)
class ReconstructConfig:
    """What reconstruct.py makes of which images (see the script's --help)."""

    images: tuple = flag((), "image files (PNG, JPG, ...) and folders of them", nargs="+", positional=True)
    checkpoint: str = flag(None, "a checkpoint written by train_model.py (its type is the checkpoint's)", required=True)
    out: str = flag("output/reconstruct", "output folder")
    mask: tuple | None = flag(
        None, "the object's mask (white or opaque = object), one per image in order; left out: an image's alpha, a "
        "<name>_mask.png beside it, or an automatic mask of a plain background", nargs="+", metavar="FILE",
    )  # fmt: skip
    plain: bool = flag(
        False, "use each image as it is (alpha over white, resized), without mask or framing", action="store_true"
    )
    grid_res: int = flag(
        GRID_RES, "an implicit type: marching-cubes grid resolution (coarse to fine from 32^3)", "positive_int"
    )
    iso: float = flag(
        ISO, "a type that predicts occupancy: the probability at which the surface is extracted", "probability"
    )
    clean: bool = flag(
        False, "keep only the prediction's largest connected part (loose fragments removed; "
        "docs/photos.md says what it costs)", action="store_true",
    )  # fmt: skip
    camera_search: int = flag(
        CAMERA_SEARCH, "a vox model tries its camera head's K likeliest azimuths and keeps the camera whose "
        "prediction's silhouette fits the photo's mask best; 0: its head's guess alone", "non_negative_int",
    )  # fmt: skip
    device: str | None = flag(None, "cpu, cuda, cuda:N (left out: cuda when present)")
    no_gif: bool = flag(False, "no turntable GIFs", action="store_true")


def resolve_reconstruct_config(given: dict, default_device: str = "cpu") -> ReconstructConfig:
    """The frozen config from the flags given; the model's type and --iso's check come with its checkpoint."""
    values = {f.name: f.default for f in dataclasses.fields(ReconstructConfig)}
    values.update(device=default_device)
    values.update(given)
    values["images"] = tuple(values["images"])
    values["mask"] = tuple(values["mask"]) if values["mask"] is not None else None
    check_search_size(values["camera_search"])
    return ReconstructConfig(**values)
