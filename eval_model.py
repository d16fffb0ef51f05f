"""Evaluate a trained model on the test split: F1 curves, metrics, a mean-shape baseline, visuals.

    python eval_model.py --load_checkpoint                       # the default type's run train_model.py wrote
    python eval_model.py --checkpoint path/to/checkpoint_mesh.pth --tag long   # the type is the checkpoint's
    python eval_model.py --load_checkpoint --camera none         # what a model does without the images' cameras
    python eval_model.py --oracle                                # GT voxels through the same path
    python -m tools.compare_runs output/eval/vox output/eval/point         # several runs side by side

Protocol (the course's, made explicit in `evaluation/protocol.py`): every prediction and the GT are
compared in the object frame; `--n_points` points are sampled from the prediction and from the GT
mesh; precision / recall / F1 use nearest-neighbour distances both ways at thresholds 0.01..0.05
(the object's bounding-box diagonal is 1). One fixed view per model by default (`--views first`),
or every listed view (`--views all`).

The flags are resolved once into a frozen `evaluation.config.EvalConfig` (each default there);
the model's type is its checkpoint's. Writes output/eval/<name>/ (the type, then every setting
that differs from the default evaluation, and --tag): metrics.json, per_sample.csv, eval_<type>.png, and for the
chosen samples <id>_gt.png (input), <id>_pred.gif, <id>_gt_mesh.gif plus gallery.png and the
interactive index.html (`reports.py`). The numbers are `evaluation/protocol.py`'s.
"""

import common.startup

import argparse
import dataclasses
import json
import os
import time

import torch

from common.cli import add_flags, default_device, fail, given_flags, resolve_device, script_parser
from common.flags import ConfigError
from common.legacy import RESULT_RECORD_BEFORE
from common.paths import FolderBusy, lock_name, unlock_name
from dataset import R2N2Dataset, collate_batch, shape_keys
from dataset_location import EMBEDDED_DATA_ROOT
from evaluation.config import (
    RESULT_IDENTITY,
    EvalConfig,
    resolve_eval_config,
    result_folder_name,
    with_camera_search,
    with_checkpoint_type,
)
from evaluation.metrics import EMPTY_PREDICTION, MESHRCNN_THRESHOLDS, THIN_MIN_CELLS
from evaluation.protocol import (
    GT_LABELS,
    ConstantPredictor,
    average,
    baseline_voxels,
    describe_camera,
    evaluate,
    f1_curve,
    predict,
    predict_gt_voxels,
    summarize_frame_check,
)
from evaluation.reports import (
    folder_problems,
    publish,
    recover_results,
    temporary_folder,
    write_results,
    write_run_page,
    write_visuals,
)
from evaluation.viewer import NoPlotlyJs
from geometry.frames import describe_frame_check
from model import ModelError
from r2n2.formats import DatasetError
from r2n2.ground_truth import N_SURFACE_POINTS
from representations import DEFAULT_TYPE
from training.checkpoints import (
    best_checkpoint_path,
    checkpoint_path,
    file_digest,
    load_checkpoint,
    model_from_checkpoint,
    run_dir,
)
from training.run_folder import run_type_of


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Evaluate a single-view 3D model on a split. Writes output/eval/<name>/ (--results_dir; the name says "
        "every setting that differs from the default evaluation): metrics.json, per_sample.csv, the F1 plot, a "
        "gallery and an interactive page. The same evaluation run again (a retrained checkpoint at the same path "
        "included) replaces its own folder; another evaluation is never written over it.",
    )
    add_flags(parser, EvalConfig)
    return parser


def resolve(args: argparse.Namespace) -> EvalConfig:
    """The frozen config of the flags given, or a one-line exit."""
    try:
        return resolve_eval_config(given_flags(args), default_device())
    except ConfigError as err:
        fail(str(err))


def checkpoint_file_of(config: EvalConfig) -> str:
    """The checkpoint the flags name: --checkpoint, or --load_checkpoint's run (its last or --best),
    whose type is --type's, the run folder's (its args.json) or the default type's."""
    if config.checkpoint:
        return config.checkpoint
    folder = config.out_dir
    model_type = config.type or (run_type_of(folder) if folder else None) or DEFAULT_TYPE
    path = checkpoint_path(run_dir(model_type, folder), model_type)
    return best_checkpoint_path(path) if config.best else path


def load_model_under_test(config: EvalConfig) -> tuple[EvalConfig, str, object, str | None, dict | None]:
    """(the config with the model's type, name, model or None for the oracle, checkpoint file,
    checkpoint), or a one-line exit."""
    if config.oracle:
        return config, "oracle", None, None, None
    checkpoint_file = checkpoint_file_of(config)
    try:
        found = load_checkpoint(checkpoint_file)["model_args"].get("type")
        config = with_checkpoint_type(config, found)
        model, checkpoint = model_from_checkpoint(checkpoint_file, device=resolve_device(config.device))
        config = with_camera_search(config, model)
    except (ModelError, ConfigError) as err:
        fail(str(err))
    return config, "model", model, checkpoint_file, checkpoint


def visual_ids(config: EvalConfig, n_samples: int) -> list[int]:
    if config.vis_ids is not None:
        return list(config.vis_ids)  # checked against the split in `open_dataset`
    step = config.vis_freq or max(1, n_samples // 5)
    return list(range(0, n_samples, step))[: 5 if config.vis_freq is None else None]


def make_predictor(config: EvalConfig, model):
    """predict_fn(batch) -> prediction dict of the model under test (or of the GT voxels, --oracle)."""
    if config.oracle:
        return lambda batch: predict_gt_voxels(batch, config.n_points)
    if config.camera != "known" and getattr(model, "camera_head", None) is None:
        fail(
            f"--camera {config.camera}: this {config.type} model reads no camera (no pixels where points project): its "
            "scores are the same with or without one; leave --camera out"
        )
    return lambda batch: predict(
        model, batch, config.n_points, config.grid_res, config.iso, config.camera, config.clean, config.camera_search
    )


def score(config: EvalConfig, predict_fn, loader, device) -> tuple[list[dict], dict | None, float]:
    """Per-sample metrics of the predictor, the frame check (None with --no_frame_check) and the
    seconds it took."""
    start = time.time()
    torch.manual_seed(config.seed)
    frame_rows = None if config.no_frame_check else []
    rows = evaluate(predict_fn, loader, device, config.thresholds, config.iso, frame_rows=frame_rows)
    return rows, summarize_frame_check(frame_rows) if frame_rows else None, time.time() - start


def score_baseline(config: EvalConfig, checkpoint, loader, device) -> tuple[dict | None, str | None]:
    """The mean training shape's summary on the same samples, and where the shape comes from."""
    if config.no_baseline:
        return None, None
    try:
        mean_voxels, source = baseline_voxels(checkpoint, config.data_root)
    except DatasetError as err:
        fail(str(err))
    constant = ConstantPredictor(config.type, mean_voxels, config.n_points, config.seed)
    torch.manual_seed(config.seed)
    rows = evaluate(lambda batch: constant.predict(batch, config.n_points), loader, device, config.thresholds)
    return average(rows), source


def print_summary(
    config: EvalConfig, name: str, run_name: str, result: dict, out_dir: str, n_visuals: int, page: str | None
) -> None:
    """The evaluation's lines on stdout: the F1 table, the other metrics, the frame check, the files."""
    summary, baseline = result["model"], result["mean_shape_baseline"]
    print(
        f"{run_name} on {config.split} of {result['data']}: {result['n_samples']} samples in "
        f"{result['eval_seconds']:.1f}s; GT surfaces: {result['gt_surfaces']}"
    )
    print(f"{'F1@':<22}" + "".join(f"{t:>8.2f}" for t in config.thresholds))
    print(f"{name:<22}" + "".join(f"{v:8.1f}" for v in f1_curve(summary, config.thresholds)))
    if baseline:
        print(f"{'mean-shape baseline':<22}" + "".join(f"{v:8.1f}" for v in f1_curve(baseline, config.thresholds)))
    extras = {
        k: v
        for k, v in summary.items()
        if k in ("ChamferL2", "IoU_vox32", "IoU_labels", "NormalConsistency", "thin_recall", "sil_iou")
    }
    print("model " + ", ".join(f"{k} {v:.4f}" for k, v in extras.items()))
    if baseline:
        print("baseline " + ", ".join(f"{k} {baseline[k]:.4f}" for k in extras if k in baseline))
    print(
        f"thin_recall: the share of the GT's rod-like cells (legs, rails, spindles) covered, over the "
        f"{summary['thin_recall_samples']} of {result['n_samples']} samples with at least {THIN_MIN_CELLS} of them"
    )
    print(f"camera told: {config.camera}; used: {result['camera_used']}")
    if "sil_iou" in summary:
        print(
            "sil_iou: the prediction's silhouette in the input view against the image's mask, "
            f"{summary['sil_iou']:.3f}; the GT's own as the type represents it, {summary['sil_iou_gt']:.3f} "
            "(its ceiling): "
            f"{summary['sil_iou'] / max(summary['sil_iou_gt'], 1e-9):.3f} of it"
        )
    if summary["n_empty"]:
        print(
            f"{summary['n_empty']} of {result['n_samples']} predictions are empty: each scores F1 0 and the Chamfer of "
            f"{EMPTY_PREDICTION}, counted in the means"
        )
    meshrcnn = ", ".join(f"F1@{t:g} {summary[f'MeshRCNN_F1@{t:g}']:.1f}" for t in MESHRCNN_THRESHOLDS)
    print(
        f"Mesh R-CNN's protocol (each GT's longest bounding-box edge scaled to 10): {meshrcnn}, "
        f"Chamfer-L2 {summary['MeshRCNN_ChamferL2']:.4f}"
    )
    if result["frame_check"]:
        print(describe_frame_check(result["frame_check"][result["frame_check"]["decided_on"]]))
    overlap = describe_overlap(result["train_overlap"], result["checkpoint"])
    if overlap:
        print(overlap)
    print(
        f"wrote {out_dir}/ (metrics.json, per_sample.csv, eval_{config.type}.png, gallery.png, {n_visuals} samples' "
        "PNG/GIFs)"
    )
    if page:
        print(f"interactive page: {page} ({os.path.getsize(page) / 1e6:.2f} MB, with plotly.min.js beside it)")


def result_identity(measured: dict) -> dict:
    """The settings of an evaluation that decide its numbers (`RESULT_IDENTITY`), from metrics.json's fields
    (JSON's lists for tuples, so a value read back compares equal)."""
    return {k: json.loads(json.dumps(measured.get(k))) for k in RESULT_IDENTITY}


def check_result_folder(out_dir: str, measured: dict) -> None:
    """Refuse (one line) to write into a folder that is not an evaluation this project wrote as its
    record says (`evaluation.reports.folder_problems`: written by hand or by an earlier version,
    or holding a file added or edited since), or that holds the results of an evaluation with
    other settings: two different evaluations never overwrite each other, and nothing else is ever
    emptied. The same evaluation run again (a retrained checkpoint at the same path included)
    replaces its own results."""
    if not os.path.lexists(out_dir):
        return
    problems = folder_problems(out_dir)
    if problems:
        fail(
            f"{out_dir} is not replaced, nothing in it is removed: " + "; ".join(problems) + ". Move it away, or give "
            "--tag NAME (or another --results_dir)"
        )
    try:
        with open(os.path.join(out_dir, "metrics.json")) as f:
            found = json.load(f)
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict):
        fail(f"{out_dir}/metrics.json is not an evaluation's: not replaced; give --tag NAME (or another --results_dir)")
    mine = result_identity(measured)
    found = result_identity({**RESULT_RECORD_BEFORE, **found})  # what an older result used where it is silent
    # A file written before a setting was recorded is judged on the settings it records.
    differ = [k for k in RESULT_IDENTITY if found[k] is not None and found[k] != mine[k]]
    if differ:
        fail(
            f"{out_dir} holds the results of another evaluation ({', '.join(differ)} differ): not overwritten; give "
            "--tag NAME (or another --results_dir) to keep both"
        )


def training_overlap(checkpoint: dict | None, dataset) -> dict | None:
    """How many of the evaluated shapes the checkpoint trained on ({"shapes": n, "of": m}), from
    the train shapes it records; None when it records none (the oracle, older checkpoints)."""
    train = (checkpoint or {}).get("train_shapes")
    if train is None:
        return None
    evaluated = shape_keys(dataset.entries)
    return {"shapes": len(set(train) & set(evaluated)), "of": len(evaluated)}


def describe_overlap(overlap: dict | None, checkpoint: dict | None) -> str | None:
    """The printout's line about training shapes among the evaluated ones (None: nothing to say)."""
    if overlap is None:
        return None if checkpoint is None else "the checkpoint records no training shapes: overlap with them unknown"
    if overlap["shapes"] == 0:
        return None
    return (
        f"WARNING: {overlap['shapes']} of the {overlap['of']} evaluated shapes are training shapes of this checkpoint: "
        "these numbers are not held out (metrics.json: train_overlap)"
    )


def what_was_measured(config: EvalConfig, checkpoint_file: str | None, checkpoint: dict | None, dataset, model) -> dict:
    """The identity of a result, as metrics.json records it: what was scored, on what, how, and
    what the model was told of the camera."""
    generator = dataset.layout.generator or {}
    return {
        "type": config.type,
        "oracle": config.oracle,
        "checkpoint": os.path.abspath(checkpoint_file) if checkpoint_file else None,
        "checkpoint_step": checkpoint.get("step") if checkpoint else None,
        "checkpoint_sha256": file_digest(checkpoint_file) if checkpoint_file else None,
        "data": dataset.layout.root,
        "generator_version": generator.get("generator_version"),
        # what the data is (seed, size, turn, viewpoints...), so a root regenerated in place is another evaluation
        "data_record": {k: v for k, v in generator.items() if k != "seconds"} or None,
        "split": config.split,
        "views": config.views,
        "iso": config.iso,
        "n_points": config.n_points,
        "thresholds": list(config.thresholds),
        "grid_res": config.grid_res,
        "seed": config.seed,
        "camera": config.camera,
        "camera_used": describe_camera(model, config.camera, config.camera_search)
        if not config.oracle
        else "not read: the GT's own grid",
        "clean": config.clean,
        "camera_search": config.camera_search,
        "batch_size": config.batch_size,
        "no_baseline": config.no_baseline,
        "no_frame_check": config.no_frame_check,
        "gt_surfaces": GT_LABELS[dataset.surfaces],
        "train_overlap": training_overlap(checkpoint, dataset),
    }


def open_dataset(config: EvalConfig) -> R2N2Dataset:
    """The evaluated split, or a one-line exit (also for --vis_ids outside it)."""
    if config.n_points > N_SURFACE_POINTS:
        fail(
            f"--n_points {config.n_points}: the ground truth holds {N_SURFACE_POINTS} surface samples per shape (the "
            f"cache's), so prediction and GT could not be compared at the same size; use at most {N_SURFACE_POINTS}"
        )
    try:
        dataset = R2N2Dataset(
            config.data_root, config.split, n_points=config.n_points, views=config.views, seed=config.seed,
            return_occupancy=True,
        )  # fmt: skip  # exact labels, where the data has them: IoU against them
    except DatasetError as err:
        fail(str(err))
    outside = [i for i in config.vis_ids or [] if not 0 <= i < len(dataset)]
    if outside:
        fail(f"--vis_ids {' '.join(map(str, outside))}: the {config.split} split has samples 0 to {len(dataset) - 1}")
    return dataset


@dataclasses.dataclass
class Evaluation:
    """One evaluation under way: its config, the model under test and what it is scored on, and
    where its results go (run_name, out_dir)."""

    config: EvalConfig
    name: str  # "model" or "oracle"
    model: object
    checkpoint: dict | None
    dataset: R2N2Dataset
    run_name: str
    out_dir: str
    measured: dict


def main(args: argparse.Namespace) -> dict:
    config = resolve(args)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    config, name, model, checkpoint_file, checkpoint = load_model_under_test(config)
    dataset = open_dataset(config)
    default_checkpoint = checkpoint_path(run_dir(config.type), config.type)
    embedded = os.path.abspath(dataset.layout.root) == os.path.abspath(EMBEDDED_DATA_ROOT)
    run_name = result_folder_name(
        config, checkpoint_file, default_checkpoint, None if embedded else dataset.layout.root
    )
    out_dir = os.path.join(config.results_dir, run_name)
    measured = what_was_measured(config, checkpoint_file, checkpoint, dataset, model)
    evaluation = Evaluation(config, name, model, checkpoint, dataset, run_name, out_dir, measured)
    os.makedirs(config.results_dir, exist_ok=True)
    for line in recover_results(config.results_dir):  # what evaluations killed halfway left
        print(line)
    lock = os.path.join(config.results_dir, f".{run_name}.lock")
    try:  # one evaluation of a name at a time; its folder is replaced whole, under this lock
        lock_name(lock, out_dir)
    except FolderBusy as err:
        fail(str(err))
    try:
        return evaluate_under_lock(evaluation, device)
    finally:
        unlock_name(lock)


def evaluate_under_lock(evaluation: Evaluation, device) -> dict:
    """Score the model and publish its folder (main holds the folder's lock)."""
    config = evaluation.config
    check_result_folder(evaluation.out_dir, evaluation.measured)  # before the work: a refused folder costs nothing
    cuda = device.type == "cuda"  # loader workers keep a GPU busy; on the CPU they would take its cores
    loader = torch.utils.data.DataLoader(
        evaluation.dataset,
        batch_size=config.batch_size,
        shuffle=False,
        collate_fn=collate_batch,
        num_workers=4 if cuda else 0,
        pin_memory=cuda,
    )
    predict_fn = make_predictor(config, evaluation.model)
    rows, frame_report, eval_seconds = score(config, predict_fn, loader, device)
    baseline, baseline_source = score_baseline(config, evaluation.checkpoint, loader, device)
    result = {
        **evaluation.measured,
        "mean_shape_from": baseline_source,
        "n_samples": len(rows),
        "model": average(rows),
        "mean_shape_baseline": baseline,
        "frame_check": frame_report,
        "eval_seconds": round(eval_seconds, 1),
        "args": dataclasses.asdict(config),
    }
    out_dir = temporary_folder(evaluation.out_dir)  # written whole beside, then put in place
    try:
        return write_and_publish(evaluation, result, rows, predict_fn, device, out_dir)
    except BaseException:
        import shutil

        from common.ownership import release

        shutil.rmtree(out_dir, ignore_errors=True)  # the half-written folder; the published one is untouched
        release(out_dir)
        raise


def write_and_publish(evaluation: Evaluation, result: dict, rows: list[dict], predict_fn, device, out_dir: str) -> dict:
    """Write an evaluation's files into out_dir (a temporary folder) and put it at its folder whole."""
    import utils_vis

    config, run_name = evaluation.config, evaluation.run_name
    write_results(out_dir, result, rows)
    gt_label = result["gt_surfaces"]
    curves = {evaluation.name: f1_curve(result["model"], config.thresholds)}
    baseline = result["mean_shape_baseline"]
    curves |= {"mean-shape baseline": f1_curve(baseline, config.thresholds)} if baseline else {}
    plot_path = os.path.join(out_dir, f"eval_{config.type}.png")
    utils_vis.plot_f1(
        plot_path, curves, config.thresholds, f"{run_name}: F1 on {config.split} ({len(rows)} samples)\nGT: {gt_label}"
    )
    ids = visual_ids(config, len(evaluation.dataset))
    samples = write_visuals(
        predict_fn, evaluation.dataset, ids, out_dir, device, title=f"{run_name}: input | prediction | GT ({gt_label})",
        rows=rows,
    )  # fmt: skip
    try:
        page = write_run_page(out_dir, run_name, result, samples, plot_path)
    except NoPlotlyJs as err:  # metrics, plots and galleries are written either way
        page = None
        print(str(err))
    try:
        publish(out_dir, evaluation.out_dir)
    except ValueError as err:  # the folder changed while this evaluation ran: left as it is
        fail(f"{err}: not replaced; give --tag NAME (or another --results_dir)")
    except OSError as err:  # another process took the name meanwhile, or the disk refused: nothing moved
        fail(f"could not put the results at {evaluation.out_dir} ({err.strerror or err}); run it again")
    page = os.path.join(evaluation.out_dir, os.path.basename(page)) if page else None
    print_summary(config, evaluation.name, run_name, result, evaluation.out_dir, len(ids), page)
    return result


if __name__ == "__main__":
    common.startup.ready()
    try:
        main(get_args_parser().parse_args())
    except KeyboardInterrupt:
        fail("interrupted; the results folder is as it was (this evaluation's temporary folder is removed)")
