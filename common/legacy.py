"""Files written by earlier versions, read as this version writes them: every compatibility rule, in one place.

    model_args = upgrade_model_args(checkpoint["model_args"], known)   # a checkpoint's model, as built then
    flags = upgrade_run_flags(checkpoint["args"])                       # a run's record, as it trained then
    row = canonical_metric_keys(row, metric_key)                        # "F1@0.050000" -> "F1@0.05"
    record = upgrade_data_record(record)                                # a dataset's generator record

Each rule says what a file that predates a setting meant by its absence, by the setting's name (a
type's settings are its own: a rule applies to a checkpoint whose type has that setting). A
change of a default never changes what an old file builds, trains or reads as.
"""

import re

# Model arguments a checkpoint predates: what its model was built with. vox and voxmesh: the first
# vox models had the transposed-convolution decoder on the pooled feature, no deep supervision, no
# pixel-aligned features; pixel-aligned models before the sub-cell MLP fed each sub-cell's features
# to the sub-cell convolution; every model before the viewer frame predicted on the object's axes,
# with the small camera head; every subpixel decoder before --no-vox_refine refined its 16^3
# volume, and none predicted the visible surface (--vox_surface). occupancy: before its feature
# volume, the global feature only.
MODEL_ARGS_BEFORE = {
    "vox_decoder": "deconv",
    "vox_latent": "pooled",
    "vox_deep_supervision": False,
    "pixel_aligned": False,
    "vox_pixel_head": "conv",
    "frame": "object",
    "camera_head": "mlp",
    "vox_refine": True,
    "vox_surface": False,
    "occ_grid": 0,
}
# Model arguments renamed since: the old name and the new.
MODEL_ARGS_RENAMED = {
    "vox_pixel_aligned": "pixel_aligned",
    "occ_pixel_aligned": "pixel_aligned",
    "vox_frame": "frame",
    "vox_camera_head": "camera_head",
}

# Training flags a run's record predates: what the run trained with (a resume restores them).
RUN_FLAGS_BEFORE = {
    "w_dice": 0.0,
    "w_aux": 0.0,
    "w_thin": 0.0,
    "w_silhouette": 0.0,
    "w_camera": 0.0,
    "sil_rays": 48,
    "sil_samples": 64,
}

# A run record (args.json) written before runs listed the TensorBoard files they wrote: those named
# as TensorBoard's SummaryWriter names its own were the run's.
EARLIER_EVENT_FILES = re.compile(r"^events\.out\.tfevents\.")

# A reader's cache in a dataset's .cache/ written before caches carried their mark
# (`common.written.mark_written`): named as `r2n2.cache` and `r2n2.splits` name theirs.
EARLIER_CACHE_FILES = re.compile(r"^(\w+-[0-9a-f]{16}\.pt|generated_splits\.json)$")

# An evaluation's metrics.json written before it recorded a setting: what that evaluation used.
RESULT_RECORD_BEFORE = {"camera": "known", "batch_size": 16, "camera_search": 0, "clean": False}

# A generated dataset's record (embedded.json) written before an option of the generator existed.
DATA_RECORD_BEFORE = {"viewpoints": "r2n2", "holdout_report": [], "assemblies": 0}


def upgrade_model_args(model_args: dict, known) -> dict:
    """A checkpoint's model_args as this version names them: renamed keys under their new names,
    the values of `MODEL_ARGS_BEFORE` for the keys among `known` (the type's model arguments) that
    it lacks, keys its type no longer has (other types' arguments, which early checkpoints held)
    dropped. Keys still missing after this take their defaults (the caller's)."""
    renamed = {MODEL_ARGS_RENAMED.get(k, k): v for k, v in model_args.items()}
    before = {k: v for k, v in MODEL_ARGS_BEFORE.items() if k in known}
    return {**before, **{k: v for k, v in renamed.items() if k in known or k == "type"}}


def upgrade_run_flags(flags: dict) -> dict:
    """A run's recorded flags (checkpoint["args"], args.json) with those it predates filled in
    (`RUN_FLAGS_BEFORE`)."""
    return {**RUN_FLAGS_BEFORE, **flags}


def upgrade_data_record(record: dict) -> dict:
    """A generated dataset's record with the options it predates filled in (`DATA_RECORD_BEFORE`)."""
    return {**DATA_RECORD_BEFORE, **record}


def canonical_metric_keys(summary: dict, metric_key) -> dict:
    """A summary or per-sample row read from a results file, its thresholded keys ("F1@0.050000" in
    early files) spelled as metric_key(name, threshold) spells them today."""
    out = {}
    for key, value in summary.items():
        name, at, threshold = key.partition("@")
        try:
            out[metric_key(name, float(threshold)) if at else key] = value
        except ValueError:  # "F1@0.05/turned" and the like
            out[key] = value
    return out
