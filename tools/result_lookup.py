"""Which evaluation in output/eval is the result of a checkpoint: the standard protocol's, of the
checkpoint as it is now, on the data asked for (what tools/collect_results.py tabulates).

    result = require_result(load_results(), "vox", "checkpoints/vox/checkpoint_vox.pth")
"""

import dataclasses
import glob
import os

from common.cli import fail
from dataset_location import EMBEDDED_DATA_ROOT
from evaluation.reports import read_results
from representations import get as get_representation
from representations import names as representation_names
from training.checkpoints import file_digest


def load_results(results_dir: str = os.path.join("output", "eval")) -> list[dict]:
    """Every metrics.json under results_dir, each with its folder ("folder"): the evaluations' own
    folders only, never a temporary or set-aside one a killed evaluation left (`common.ownership`)."""
    from common.ownership import EARLIER_NAMES, OWNED_NAME

    found = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*", "metrics.json"))):
        name = os.path.basename(os.path.dirname(path))
        if OWNED_NAME.search(name) or any(p.match(name) for p in EARLIER_NAMES):
            continue
        found.append({**read_results(path), "folder": os.path.dirname(path)})
    return found


def find_result(
    results: list[dict],
    model_type: str,
    checkpoint: str | None,
    split: str = "test",
    views: str = "first",
    data_root: str = EMBEDDED_DATA_ROOT,
    camera: str = "known",
) -> dict | None:
    """The result of exactly this checkpoint file (by content: its sha256, so an older result
    of a retrained run does not count), on this split, views and data, at iso 0.5, the model told
    `camera` ("known": the metadata's; "none": nothing, as a photo); None if there is none.
    checkpoint None: the oracle."""
    from common.legacy import RESULT_RECORD_BEFORE

    digest = file_digest(checkpoint) if checkpoint else None
    for result in results:
        told = {**RESULT_RECORD_BEFORE, **result}["camera"]
        if (result.get("type"), result.get("oracle"), result.get("split"), result.get("views"), result.get("iso")) != (
            model_type,
            checkpoint is None,
            split,
            views,
            0.5,
        ) or not standard_protocol(result):
            continue
        if told != camera:
            continue
        if (
            os.path.abspath(result.get("data", "")) == os.path.abspath(data_root)
            and result.get("checkpoint_sha256") == digest
        ):
            return result
    return None


def standard_protocol(result: dict) -> bool:
    """Whether an evaluation used the protocol the tables publish: the default thresholds (the
    columns' labels), 5000 points, implicit functions extracted at 64^3, seed 0, on shapes the
    checkpoint records it never trained on (eval_model.py's defaults, `EvalConfig`)."""
    from common.legacy import RESULT_RECORD_BEFORE
    from evaluation.config import EvalConfig

    default = {field.name: field.default for field in dataclasses.fields(EvalConfig)}
    result = {**RESULT_RECORD_BEFORE, **result}  # what an older result used where it did not say
    return (
        [round(t, 6) for t in result.get("thresholds", [])] == [round(t, 6) for t in default["thresholds"]]
        and result.get("n_points") == default["n_points"]
        and (
            result.get("type") not in representation_names()
            or not get_representation(result["type"]).grid_resolution
            or result.get("grid_res") == default["grid_res"]
        )
        and result.get("seed") == default["seed"]
        and result.get("camera_search") == default_search(result)
        and result.get("clean") == default["clean"]
        and result.get("batch_size") == default["batch_size"]  # the batches decide the samples drawn
        # never a number on shapes the model trained on, nor one whose overlap is unknown (the oracle has no training)
        and (result.get("oracle") or (result.get("train_overlap") or {}).get("shapes", 1) == 0)
    )


def default_search(result: dict) -> int | None:
    """The --camera_search an evaluation of this result's type and camera takes by default."""
    from evaluation.config import default_camera_search

    if result.get("type") not in representation_names():
        return None
    return default_camera_search(
        {"camera": "known", **result}["camera"], get_representation(result["type"]).searches_camera
    )


def require_result(results: list[dict], model_type: str, checkpoint: str, **where) -> dict:
    """`find_result`, or exit with one line saying which evaluation to run."""
    result = find_result(results, model_type, checkpoint, **where)
    if result is None:
        split = where.get("split", "test")
        command = f"eval_model.py --type {model_type} --checkpoint {checkpoint} --split {split}"
        views = " --views all" if where.get("views") == "all" else ""
        fail(f"no {split}-split result of {checkpoint} (as it is now) in output/eval: run {command}{views}")
    return result
