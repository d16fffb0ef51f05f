"""Evaluate a trained model on the test split: F1 curves, metrics, a mean-shape baseline, visuals.

    python eval_model.py --type vox --load_checkpoint            # the run train_model.py wrote
    python eval_model.py --type mesh --checkpoint path/to/checkpoint_mesh.pth --tag long
    python eval_model.py --type vox --oracle                     # GT voxels through the same path
    python tools/compare_runs.py output/eval/vox output/eval/point         # several runs side by side

Protocol (the course's, made explicit in `evaluation/protocol.py`): every prediction and the GT are
compared in the object frame; `--n_points` points are sampled from the prediction and from the GT
mesh; precision / recall / F1 use nearest-neighbour distances both ways at thresholds 0.01..0.05
(the object's bounding-box diagonal is 1). One fixed view per model by default (`--views first`),
or every listed view (`--views all`).

Writes output/eval/<name>/ (the type, then every setting that differs from the default
evaluation, and --tag): metrics.json, per_sample.csv, eval_<type>.png, and for the
chosen samples <id>_gt.png (input), <id>_pred.gif, <id>_gt_mesh.gif plus gallery.png and the
interactive index.html (`reports.py`). The numbers are `evaluation/protocol.py`'s.
"""

import argparse
import hashlib
import json
import os
import time

import torch

from common.cli import default_device, fail, positive_float, positive_int, probability, resolve_device, script_parser
from common.paths import FolderBusy, lock_name, unlock_name
from dataset import R2N2Dataset, collate_batch, shape_keys
from dataset_location import EMBEDDED_DATA_ROOT
from evaluation.metrics import DEFAULT_THRESHOLDS, EMPTY_PREDICTION, MESHRCNN_THRESHOLDS, THIN_MIN_CELLS
from evaluation.protocol import (
    CAMERAS,
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
from evaluation.reports import publish, recover_results, temporary_folder, write_results, write_run_page, write_visuals
from evaluation.viewer import NoPlotlyJs
from geometry.frames import describe_frame_check
from model import ModelError
from r2n2.formats import DatasetError
from r2n2.ground_truth import N_SURFACE_POINTS
from representations import get as get_representation
from representations import names as type_names
from training.checkpoints import best_checkpoint_path, checkpoint_path, file_digest, model_from_checkpoint, run_dir


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Evaluate a single-view 3D model on a split. Writes output/eval/<name>/ (--results_dir; the name says "
        "every setting that differs from the default evaluation): metrics.json, per_sample.csv, the F1 plot, a "
        "gallery and an interactive page. The same evaluation run again (a retrained checkpoint at the same path "
        "included) replaces its own folder; another evaluation is never written over it.",
    )
    parser.add_argument("--type", default="vox", choices=type_names(), help="the model's type")
    parser.add_argument(
        "--load_checkpoint", action="store_true", help="evaluate <out_dir>/checkpoint_<type>.pth (train_model.py's run)"
    )
    parser.add_argument(
        "--best",
        action="store_true",
        help="with --load_checkpoint: the run's best checkpoint by its validation score (--selection_metric, "
        "F1@0.05 by default; checkpoint_<type>.best.pth), not its last",
    )
    parser.add_argument("--checkpoint", default=None, help="evaluate this checkpoint file")
    parser.add_argument(
        "--out_dir", default=None, help="training run folder (default: checkpoints/<type>, as train_model.py)"
    )
    parser.add_argument(
        "--oracle", action="store_true", help="evaluate the GT voxels as a vox prediction (alignment check)"
    )
    parser.add_argument(
        "--data_root",
        default=None,
        help="any R2N2-layout folder (default: the embedded data); the checkpoint may come from other data",
    )
    parser.add_argument("--split", default="test", help="train, val, test or all (every model)")
    parser.add_argument(
        "--views", default="first", choices=["first", "all"], help="one fixed view per model (default) or all"
    )
    parser.add_argument("--n_points", type=positive_int, default=5000, help="points sampled from prediction and GT")
    parser.add_argument(
        "--thresholds",
        type=positive_float,
        nargs="+",
        default=list(DEFAULT_THRESHOLDS),
        help="F1 distance thresholds (the object's bounding-box diagonal is 1)",
    )
    parser.add_argument(
        "--grid_res",
        type=positive_int,
        default=64,
        help="occupancy: marching-cubes grid resolution (above 32, refined coarse to fine from 32^3: Occupancy "
        "Networks' MISE)",
    )
    parser.add_argument(
        "--iso",
        type=probability,
        default=0.5,
        help="vox, occupancy: the probability at which surfaces are extracted and voxel IoU is read",
    )
    parser.add_argument(
        "--camera",
        default="known",
        type=camera_choice,
        choices=CAMERAS,
        help="what the model is told of each input view's camera: the data's metadata (known) or nothing (none, "
        "what a photo gets: a model that reads the image where points project guesses its camera; a viewer-frame "
        "model needs none, and is scored after turning its prediction into the object frame with the metadata's "
        "rotation); predicted is read as none",
    )
    parser.add_argument("--batch_size", type=positive_int, default=16, help="images per forward pass")
    parser.add_argument("--device", default=default_device(), help="cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=0, help="what the surface samples are drawn from")
    parser.add_argument("--no_baseline", action="store_true", help="skip the mean-shape baseline")
    parser.add_argument(
        "--no_frame_check",
        action="store_true",
        help="skip the frame check (the predictions also scored under the 4 turns about y and the mirrorings, to "
        "catch a data frame that differs from the model's)",
    )
    parser.add_argument("--vis_ids", type=int, nargs="*", default=None, help="sample indices to visualise")
    parser.add_argument(
        "--vis_freq", type=positive_int, default=None, help="visualise every k-th sample (default: 5 evenly spaced)"
    )
    parser.add_argument("--tag", default=None, help="suffix of the results folder")
    parser.add_argument("--results_dir", default="output/eval", help="where result folders go")
    return parser


def camera_choice(value: str) -> str:
    """--camera's value; "predicted", its earlier spelling, is "none" (the model's own guess)."""
    return "none" if value == "predicted" else value


def load_model_under_test(args) -> tuple[str, object, str | None, dict | None]:
    """(name, model or None for the oracle, checkpoint file, checkpoint) from the flags, or a
    one-line exit."""
    if args.iso != 0.5 and (args.oracle or not get_representation(args.type).iso_surface):
        takes = ", ".join(name for name in type_names() if get_representation(name).iso_surface)
        fail(f"--iso applies to the types whose surface is read off a probability grid ({takes}), not the oracle")
    if args.oracle:
        if not get_representation(args.type).has_oracle:
            takes = ", ".join(name for name in type_names() if get_representation(name).has_oracle)
            fail(f"--oracle evaluates the GT voxels as a voxel grid's prediction: use it with --type {takes}")
        return "oracle", None, None, None
    if args.best and not args.load_checkpoint:
        fail("--best picks the best checkpoint of the run in --out_dir: use it with --load_checkpoint")
    if args.checkpoint and args.load_checkpoint:
        fail("--checkpoint PATH and --load_checkpoint (the run in --out_dir) name two models: give one of them")
    if args.checkpoint:
        checkpoint_file = args.checkpoint
    elif args.load_checkpoint:
        checkpoint_file = checkpoint_path(run_dir(args.type, args.out_dir), args.type)
        checkpoint_file = best_checkpoint_path(checkpoint_file) if args.best else checkpoint_file
    else:
        fail("say which model: --load_checkpoint (the run in --out_dir), --checkpoint PATH, or --oracle")
    try:
        model, checkpoint = model_from_checkpoint(
            checkpoint_file, expected_type=args.type, device=resolve_device(args.device)
        )
    except ModelError as err:
        fail(str(err))
    return "model", model, checkpoint_file, checkpoint


def visual_ids(args, n_samples: int) -> list[int]:
    if args.vis_ids is not None:
        return list(args.vis_ids)  # checked against the split in `open_dataset`
    step = args.vis_freq or max(1, n_samples // 5)
    return list(range(0, n_samples, step))[: 5 if args.vis_freq is None else None]


def make_predictor(args, model):
    """predict_fn(batch) -> prediction dict of the model under test (or of the GT voxels, --oracle)."""
    if args.oracle:
        return lambda batch: predict_gt_voxels(batch, args.n_points)
    return lambda batch: predict(model, batch, args.n_points, args.grid_res, args.iso, args.camera)


def score(args, predict_fn, loader, device) -> tuple[list[dict], dict | None, float]:
    """Per-sample metrics of the predictor, the frame check (None with --no_frame_check) and the
    seconds it took."""
    start = time.time()
    torch.manual_seed(args.seed)
    frame_rows = None if args.no_frame_check else []
    rows = evaluate(predict_fn, loader, device, args.thresholds, args.iso, frame_rows=frame_rows)
    return rows, summarize_frame_check(frame_rows) if frame_rows else None, time.time() - start


def score_baseline(args, checkpoint, loader, device) -> tuple[dict | None, str | None]:
    """The mean training shape's summary on the same samples, and where the shape comes from."""
    if args.no_baseline:
        return None, None
    try:
        mean_voxels, source = baseline_voxels(checkpoint, args.data_root)
    except DatasetError as err:
        fail(str(err))
    constant = ConstantPredictor(args.type, mean_voxels, args.n_points, args.seed)
    torch.manual_seed(args.seed)
    return average(
        evaluate(lambda batch: constant.predict(batch, args.n_points), loader, device, args.thresholds)
    ), source


def print_summary(args, name: str, run_name: str, result: dict, out_dir: str, n_visuals: int, page: str | None) -> None:
    """The evaluation's lines on stdout: the F1 table, the other metrics, the frame check, the files."""
    summary, baseline = result["model"], result["mean_shape_baseline"]
    print(
        f"{run_name} on {args.split} of {result['data']}: {result['n_samples']} samples in "
        f"{result['eval_seconds']:.1f}s; GT surfaces: {result['gt_surfaces']}"
    )
    print(f"{'F1@':<22}" + "".join(f"{t:>8.2f}" for t in args.thresholds))
    print(f"{name:<22}" + "".join(f"{v:8.1f}" for v in f1_curve(summary, args.thresholds)))
    if baseline:
        print(f"{'mean-shape baseline':<22}" + "".join(f"{v:8.1f}" for v in f1_curve(baseline, args.thresholds)))
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
    print(f"camera told: {args.camera}; used: {result['camera_used']}")
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
        f"wrote {out_dir}/ (metrics.json, per_sample.csv, eval_{args.type}.png, gallery.png, {n_visuals} samples' "
        "PNG/GIFs)"
    )
    if page:
        print(f"interactive page: {page} ({os.path.getsize(page) / 1e6:.2f} MB, with plotly.min.js beside it)")


def path_slug(path: str) -> str:
    """A short name for a file or folder that two different paths never share: its own name and
    6 hex digits of its absolute path's hash."""
    path = os.path.abspath(path)
    return f"{os.path.basename(path)}-{hashlib.sha1(path.encode()).hexdigest()[:6]}"


def result_folder_name(args: argparse.Namespace, checkpoint_file: str | None, data_root: str) -> str:
    """<type>[_oracle][_<tag>], then whatever differs from the default evaluation (test split,
    first views, iso 0.5, 5000 points, the default thresholds, grid 64, seed 0, the run in
    checkpoints/<type>, the embedded data), so results of different settings, checkpoints or
    data do not share a folder; `check_result_folder` refuses the few names that could still
    meet (a --tag spelling another setting)."""
    parts = [args.type + ("_oracle" if args.oracle else "")] + ([args.tag] if args.tag else [])
    parts += [args.split] if args.split != "test" else []
    parts += ["allviews"] if args.views != "first" else []
    parts += [f"iso{args.iso:g}"] if args.iso != 0.5 else []
    parts += [f"n{args.n_points}"] if args.n_points != 5000 else []
    parts += (
        ["t" + "-".join(f"{t:g}" for t in args.thresholds)] if list(args.thresholds) != list(DEFAULT_THRESHOLDS) else []
    )
    parts += [f"grid{args.grid_res}"] if args.grid_res != 64 and get_representation(args.type).grid_resolution else []
    parts += [f"seed{args.seed}"] if args.seed != 0 else []
    parts += [f"camera-{args.camera}"] if args.camera != "known" else []
    parts += [f"batch{args.batch_size}"] if args.batch_size != 16 else []  # the batches decide the samples drawn
    parts += ["nobaseline"] if args.no_baseline else []
    parts += ["noframecheck"] if args.no_frame_check else []
    default_checkpoint = os.path.abspath(checkpoint_path(run_dir(args.type), args.type))
    if checkpoint_file and os.path.abspath(checkpoint_file) != default_checkpoint:
        name = os.path.basename(checkpoint_file)[: -len(".pth")] if checkpoint_file.endswith(".pth") else ""
        prefix = f"checkpoint_{args.type}"
        name = name[len(prefix) :] if name.startswith(prefix) else "-" + os.path.basename(checkpoint_file)
        parts.append("from-" + path_slug(os.path.dirname(checkpoint_file)) + name)
    if os.path.abspath(data_root) != os.path.abspath(EMBEDDED_DATA_ROOT):
        parts.append("on-" + path_slug(data_root))
    return "_".join(parts)


# What makes two evaluations' numbers different: a folder holding another value of any of these is not overwritten.
RESULT_IDENTITY = (
    "type",
    "oracle",
    "checkpoint",
    "data",
    "data_record",
    "split",
    "views",
    "iso",
    "n_points",
    "thresholds",
    "grid_res",
    "seed",
    "camera",
    "batch_size",
    "no_baseline",
    "no_frame_check",
)


def result_identity(measured: dict) -> dict:
    """The settings of an evaluation that decide its numbers (`RESULT_IDENTITY`), from metrics.json's fields
    (JSON's lists for tuples, so a value read back compares equal)."""
    return {k: json.loads(json.dumps(measured.get(k))) for k in RESULT_IDENTITY}


def check_result_folder(out_dir: str, measured: dict) -> None:
    """Refuse (one line) to write into a folder that holds the results of an evaluation with other
    settings: two different evaluations never overwrite each other. The same evaluation run again
    (a retrained checkpoint at the same path included) replaces its own results."""
    path = os.path.join(out_dir, "metrics.json")
    if not os.path.isfile(path):
        return
    try:
        with open(path) as f:
            found = result_identity(json.load(f))
    except (OSError, ValueError):
        found = None
    mine = result_identity(measured)
    # A file written before a setting was recorded is judged on the settings it records.
    differ = [k for k in RESULT_IDENTITY if found is None or (found[k] is not None and found[k] != mine[k])]
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


def what_was_measured(args, checkpoint_file: str | None, checkpoint: dict | None, dataset, model=None) -> dict:
    """The identity of a result, as metrics.json records it: what was scored, on what, how."""
    generator = dataset.layout.generator or {}
    return {
        "type": args.type,
        "oracle": args.oracle,
        "checkpoint": os.path.abspath(checkpoint_file) if checkpoint_file else None,
        "checkpoint_step": checkpoint.get("step") if checkpoint else None,
        "checkpoint_sha256": file_digest(checkpoint_file) if checkpoint_file else None,
        "data": dataset.layout.root,
        "generator_version": generator.get("generator_version"),
        # what the data is (seed, size, turn, viewpoints...), so a root regenerated in place is another evaluation
        "data_record": {k: v for k, v in generator.items() if k != "seconds"} or None,
        "split": args.split,
        "views": args.views,
        "iso": args.iso,
        "n_points": args.n_points,
        "thresholds": list(args.thresholds),
        "grid_res": args.grid_res,
        "seed": args.seed,
        "camera": args.camera,
        "camera_used": describe_camera(model, args.camera) if not args.oracle else "not read: the GT's own grid",
        "batch_size": args.batch_size,
        "no_baseline": args.no_baseline,
        "no_frame_check": args.no_frame_check,
        "gt_surfaces": GT_LABELS[dataset.surfaces],
        "train_overlap": training_overlap(checkpoint, dataset),
    }


def open_dataset(args) -> R2N2Dataset:
    """The evaluated split, or a one-line exit (also for --vis_ids outside it)."""
    if args.n_points > N_SURFACE_POINTS:
        fail(
            f"--n_points {args.n_points}: the ground truth holds {N_SURFACE_POINTS} surface samples per shape (the "
            f"cache's), so prediction and GT could not be compared at the same size; use at most {N_SURFACE_POINTS}"
        )
    try:
        dataset = R2N2Dataset(
            args.data_root, args.split, n_points=args.n_points, views=args.views, seed=args.seed, return_occupancy=True
        )  # exact labels, where the data has them: IoU against them
    except DatasetError as err:
        fail(str(err))
    outside = [i for i in args.vis_ids or [] if not 0 <= i < len(dataset)]
    if outside:
        fail(f"--vis_ids {' '.join(map(str, outside))}: the {args.split} split has samples 0 to {len(dataset) - 1}")
    return dataset


def main(args: argparse.Namespace) -> dict:

    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    name, model, checkpoint_file, checkpoint = load_model_under_test(args)
    dataset = open_dataset(args)
    run_name = result_folder_name(args, checkpoint_file, dataset.layout.root)
    out_dir = os.path.join(args.results_dir, run_name)
    measured = what_was_measured(args, checkpoint_file, checkpoint, dataset, model)
    os.makedirs(args.results_dir, exist_ok=True)
    for line in recover_results(args.results_dir):  # what evaluations killed halfway left
        print(line)
    lock = os.path.join(args.results_dir, f".{run_name}.lock")
    try:  # one evaluation of a name at a time; its folder is replaced whole, under this lock
        lock_name(lock, out_dir)
    except FolderBusy as err:
        fail(str(err))
    try:
        return evaluate_under_lock(args, device, name, model, checkpoint, dataset, run_name, out_dir, measured)
    finally:
        unlock_name(lock)


def evaluate_under_lock(args, device, name, model, checkpoint, dataset, run_name, out_dir, measured) -> dict:
    """Score the model and publish its folder (main holds the folder's lock)."""
    check_result_folder(out_dir, measured)  # before the work: a refused folder costs nothing
    cuda = device.type == "cuda"  # loader workers keep a GPU busy; on the CPU they would take its cores
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=False,
        collate_fn=collate_batch,
        num_workers=4 if cuda else 0,
        pin_memory=cuda,
    )
    predict_fn = make_predictor(args, model)
    rows, frame_report, eval_seconds = score(args, predict_fn, loader, device)
    baseline, baseline_source = score_baseline(args, checkpoint, loader, device)
    final_dir, out_dir = out_dir, temporary_folder(out_dir)  # written whole beside, then put in place
    try:
        return write_and_publish(args, name, run_name, measured, rows, frame_report, eval_seconds, baseline,
                                 baseline_source, predict_fn, dataset, device, out_dir, final_dir)  # fmt: skip
    except BaseException:
        import shutil

        shutil.rmtree(out_dir, ignore_errors=True)  # the half-written folder; the published one is untouched
        raise


def write_and_publish(
    args, name, run_name, measured, rows, frame_report, eval_seconds, baseline, baseline_source, predict_fn, dataset,
    device, out_dir, final_dir,
) -> dict:  # fmt: skip
    """Write an evaluation's files into out_dir (a temporary folder) and put it at final_dir whole."""
    import utils_vis

    result = {
        **measured,
        "mean_shape_from": baseline_source,
        "n_samples": len(rows),
        "model": average(rows),
        "mean_shape_baseline": baseline,
        "frame_check": frame_report,
        "eval_seconds": round(eval_seconds, 1),
        "args": vars(args),
    }
    write_results(out_dir, result, rows)
    gt_label = result["gt_surfaces"]
    curves = {name: f1_curve(result["model"], args.thresholds)}
    curves |= {"mean-shape baseline": f1_curve(baseline, args.thresholds)} if baseline else {}
    plot_path = os.path.join(out_dir, f"eval_{args.type}.png")
    utils_vis.plot_f1(
        plot_path, curves, args.thresholds, f"{run_name}: F1 on {args.split} ({len(rows)} samples)\nGT: {gt_label}"
    )
    ids = visual_ids(args, len(dataset))
    samples = write_visuals(
        predict_fn, dataset, ids, out_dir, device, title=f"{run_name}: input | prediction | GT ({gt_label})", rows=rows
    )
    try:
        page = write_run_page(out_dir, run_name, result, samples, plot_path)
    except NoPlotlyJs as err:  # metrics, plots and galleries are written either way
        page = None
        print(str(err))
    publish(out_dir, final_dir)
    page = os.path.join(final_dir, os.path.basename(page)) if page else None
    print_summary(args, name, run_name, result, final_dir, len(ids), page)
    return result


if __name__ == "__main__":
    try:
        main(get_args_parser().parse_args())
    except KeyboardInterrupt:
        fail("interrupted; the results folder is as it was (this evaluation's temporary folder is removed)")
