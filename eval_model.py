"""Evaluate a trained model on the test split: F1 curves, metrics, a mean-shape baseline, visuals.

    python eval_model.py --type vox --load_checkpoint            # the run train_model.py wrote
    python eval_model.py --type mesh --checkpoint path/to/checkpoint_mesh.pth --tag long
    python eval_model.py --type vox --oracle                     # GT voxels through the same path
    python eval_model.py --compare output/eval/vox output/eval/point output/eval/mesh output/eval/occupancy

Protocol (the course's, made explicit in `evaluation.py`): every prediction and the GT are
compared in the object frame; `--n_points` points are sampled from the prediction and from the GT
mesh; precision / recall / F1 use nearest-neighbour distances both ways at thresholds 0.01..0.05
(the object's bounding-box diagonal is 1). One fixed view per model by default (`--views first`),
or every listed view (`--views all`).

Writes output/eval/<type>[_<tag>]/: metrics.json, per_sample.csv, eval_<type>.png, and for the
chosen samples <id>_gt.png (input), <id>_pred.gif, <id>_gt_mesh.gif plus gallery.png.
"""

import argparse
import csv
import html
import json
import os
import time

import numpy as np
import torch

from cli import atomic_write_json, default_device, fail, positive_int, probability, resolve_device
from dataset import R2N2Dataset, batch_to_device, collate_batch
from evaluation import ISO_TYPES, ConstantPredictor, average, baseline_voxels, evaluate, predict, predict_gt_voxels, summarize_frame_check
from frames import describe_frame_check
from metrics import DEFAULT_THRESHOLDS, compute_sampling_metrics  # noqa: F401 (the course's name, kept importable here)
from model import TYPES, ModelError, model_from_checkpoint
from r2n2 import DatasetError


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("Evaluate a single-view to 3D model", add_help=True)
    parser.add_argument("--type", default="vox", choices=TYPES)
    parser.add_argument("--load_checkpoint", action="store_true", help="evaluate <out_dir>/checkpoint_<type>.pth (train_model.py's run)")
    parser.add_argument("--checkpoint", default=None, help="evaluate this checkpoint file")
    parser.add_argument("--out_dir", default=None, help="training run folder (default: checkpoints/<type>, as train_model.py)")
    parser.add_argument("--oracle", action="store_true", help="evaluate the GT voxels as a vox prediction (alignment check)")
    parser.add_argument("--data_root", default=None, help="any R2N2-layout folder (default: the embedded data); the checkpoint may come from other data")
    parser.add_argument("--split", default="test", help="train, val, test or all (every model)")
    parser.add_argument("--views", default="first", choices=["first", "all"], help="one fixed view per model (default) or all")
    parser.add_argument("--n_points", type=positive_int, default=5000, help="points sampled from prediction and GT")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(DEFAULT_THRESHOLDS))
    parser.add_argument("--grid_res", type=positive_int, default=64,
                        help="occupancy: marching-cubes grid resolution (above 32, refined coarse to fine from 32^3: Occupancy Networks' MISE)")
    parser.add_argument("--iso", type=probability, default=0.5,
                        help="vox, occupancy: the probability at which surfaces are extracted and voxel IoU is read")
    parser.add_argument("--batch_size", type=positive_int, default=16)
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no_baseline", action="store_true", help="skip the mean-shape baseline")
    parser.add_argument("--no_frame_check", action="store_true",
                        help="skip the frame check (the predictions also scored under the 4 turns about y and the mirrorings, to catch a data frame that differs from the model's)")
    parser.add_argument("--vis_ids", type=int, nargs="*", default=None, help="sample indices to visualise")
    parser.add_argument("--vis_freq", type=positive_int, default=None, help="visualise every k-th sample (default: 5 evenly spaced)")
    parser.add_argument("--tag", default=None, help="suffix of the results folder")
    parser.add_argument("--results_dir", default="output/eval")
    parser.add_argument("--compare", nargs="+", default=None, metavar="RUN_DIR", help="plot these result folders' F1 curves together and exit")
    parser.add_argument("--compare_out", default="output/eval/compare_f1.png")
    return parser


# What the GT surfaces are, as every table and figure says it.
GT_LABELS = {"samples": "exact surface samples (pointcloud.npz)", "mesh": "OBJ meshes",
             "voxels": "voxel surfaces (no OBJ: marching cubes of the 32^3 grids)"}


def f1_curve(summary: dict, thresholds) -> list[float]:
    return [summary["F1@%f" % t] for t in thresholds]


def render_prediction(model_type: str, pred: dict, i: int, color) -> np.ndarray:
    """Turntable frames of sample i of a prediction (display only: big meshes are decimated)."""
    import utils_vis

    if model_type == "point":
        return utils_vis.render_points_turntable(pred["points"][i].cpu(), color)
    mesh = pred["meshes"][i]
    return utils_vis.render_mesh_turntable(mesh.verts_packed().cpu(), mesh.faces_packed().cpu(), color)


def display_shape(model_type: str, pred: dict, i: int) -> dict:
    """Sample i of a prediction as a shape for display: points, or a mesh's verts and faces."""
    if model_type == "point":
        return {"points": pred["points"][i].cpu()}
    mesh = pred["meshes"][i]
    return {"verts": mesh.verts_packed().cpu(), "faces": mesh.faces_packed().cpu()}


def write_visuals(model_type: str, predict_fn, dataset, ids: list[int], out_dir: str, device, title: str | None = None,
                  rows: list[dict] | None = None) -> list[dict]:
    """<id>_gt.png, <id>_pred.gif, <id>_gt_mesh.gif per sample, and gallery.png (rows of
    input | prediction at two angles | GT at the same angles). Returns the samples for the
    interactive page (`viewer.write_page`), with each sample's metrics from `rows`."""
    import utils_vis
    import viewer

    gallery, samples = [], []
    for i in ids:
        batch = batch_to_device(collate_batch(dataset.__getitems__([i])), device)
        with torch.no_grad():
            pred = predict_fn(batch)
        image = (batch["images"][0].cpu().numpy() * 255).astype(np.uint8)
        pred_frames = render_prediction(model_type, pred, 0, utils_vis.PRED_COLOR)
        gt_frames = utils_vis.render_mesh_turntable(batch["verts"][0].cpu(), batch["faces"][0].cpu(), utils_vis.GT_COLOR)
        utils_vis.save_png(os.path.join(out_dir, f"{i}_gt.png"), image)
        utils_vis.save_gif(os.path.join(out_dir, f"{i}_pred.gif"), pred_frames)
        utils_vis.save_gif(os.path.join(out_dir, f"{i}_gt_mesh.gif"), gt_frames)
        k = len(pred_frames) // 8  # a second angle, 45 degrees round
        image_resized = utils_vis.resize_image(image, pred_frames.shape[1])
        gallery.append(np.concatenate([image_resized, pred_frames[0], pred_frames[k], gt_frames[0], gt_frames[k]], axis=1))
        metrics = rows[i] if rows else {}
        samples.append({
            "id": i, "synset": batch["synset"][0], "model_id": batch["model_id"][0], "view": int(batch["view"][0]),
            "image": viewer.image_payload(image),
            "f1": metrics.get("F1@0.050000"), "chamfer": metrics.get("ChamferL2"),
            "prediction": viewer.shape_payload(display_shape(model_type, pred, 0)),
            "ground_truth": viewer.shape_payload({"verts": batch["verts"][0], "faces": batch["faces"][0]}),
        })
    if gallery:
        utils_vis.save_png(os.path.join(out_dir, "gallery.png"), np.concatenate(gallery, axis=0), title=title)
    return samples


def sample_caption(sample: dict) -> str:
    f1 = f"F1@0.05 {sample['f1']:.1f}" if sample.get("f1") is not None else "F1@0.05 -"
    chamfer = f"Chamfer-L2 {sample['chamfer']:.4f}" if sample.get("chamfer") is not None and np.isfinite(sample["chamfer"]) else "Chamfer-L2 -"
    return f"sample {sample['id']}: {sample['synset']}/{sample['model_id']} view {sample['view']}, {f1}, {chamfer}"


def write_run_page(out_dir: str, run_name: str, result: dict, samples: list[dict], plot_path: str) -> str:
    """index.html of an evaluation: F1 curve, table (model vs mean shape), then each sample's
    input beside its prediction and GT in 3D; samples.json keeps the shapes for --compare."""
    import imageio.v3 as iio

    import viewer

    thresholds = result["thresholds"]
    columns = [f"F1@{t:.2f}" for t in thresholds] + ["IoU 32^3", "Chamfer-L2", "normal cons."]

    def values(summary):
        return [summary["F1@%f" % t] for t in thresholds] + [summary.get(k, float("nan")) for k in ("IoU_vox32", "ChamferL2", "NormalConsistency")]

    table = [("model" if not result["oracle"] else "oracle", values(result["model"]))]
    if result["mean_shape_baseline"]:
        table.append(("mean shape", values(result["mean_shape_baseline"])))
    header = (f"<p>{result['n_samples']} samples of the {html.escape(result['split'])} split of {html.escape(result['data'])} "
              f"({html.escape(result['views'])} views); GT: {html.escape(result['gt_surfaces'])}; checkpoint: {html.escape(str(result['checkpoint']))}.</p>"
              + viewer.summary_table(columns, table) + f'<img src="{viewer.image_payload(iio.imread(plot_path)[..., :3])}" alt="F1 curve" width="440">')
    shown = [{"image": s["image"], "caption": sample_caption(s),
              "shapes": [("prediction", s["prediction"], viewer.COLOURS["prediction"]), ("ground truth", s["ground_truth"], viewer.COLOURS["ground truth"])]}
             for s in samples]
    atomic_write_json(os.path.join(out_dir, "samples.json"), {"run": run_name, "samples": samples})
    return viewer.write_page(out_dir, f"{run_name}: {result['split']} split", header, shown)


def compare_runs(run_dirs: list[str], out_path: str) -> tuple[str, str | None]:
    """The runs' F1 curves in one plot (out_path), and compare.html beside it: each sample the
    runs share (same model and view), its input, every run's prediction and the GT in 3D."""
    import imageio.v3 as iio

    import utils_vis
    import viewer

    curves, thresholds, runs = {}, None, []
    for run in run_dirs:
        path = os.path.join(run, "metrics.json")
        if not os.path.isfile(path):
            fail(f"--compare {run}: no metrics.json there (run eval_model.py first)")
        with open(path) as f:
            result = json.load(f)
        thresholds = result["thresholds"]
        name = os.path.basename(os.path.normpath(run))
        curves[name] = f1_curve(result["model"], thresholds)
        samples_path = os.path.join(run, "samples.json")
        if os.path.isfile(samples_path):
            with open(samples_path) as f:
                runs.append((name, result, {(s["model_id"], s["view"]): s for s in json.load(f)["samples"]}))
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    utils_vis.plot_f1(out_path, curves, thresholds, "F1 vs threshold")
    common = sorted(set.intersection(*(set(samples) for _, _, samples in runs)), key=lambda key: runs[0][2][key]["id"]) if runs else []
    if not common:
        return out_path, None
    palette = ["#f08c40", "#3aa57a", "#b45ad2", "#d2a03c", "#e05a6e", "#8c8c8c"]
    shown = []
    for key in common:
        first = runs[0][2][key]
        shapes = [(f"{name} (F1@0.05 {s[key]['f1']:.1f})", s[key]["prediction"], palette[k % len(palette)]) for k, (name, _, s) in enumerate(runs)]
        shown.append({"image": first["image"], "caption": f"{first['synset']}/{first['model_id']} view {first['view']}",
                      "shapes": shapes + [("ground truth", first["ground_truth"], viewer.COLOURS["ground truth"])]})
    table = viewer.summary_table([f"F1@{t:.2f}" for t in thresholds], [(name, f1_curve(result["model"], thresholds)) for name, result, _ in runs])
    header = table + f'<img src="{viewer.image_payload(iio.imread(out_path)[..., :3])}" alt="F1 curves" width="440">'
    page = viewer.write_page(folder, "Comparison: " + ", ".join(name for name, _, _ in runs), header, shown, name="compare.html")
    return out_path, page


def load_model_under_test(args) -> tuple[str, object, str | None, dict | None]:
    """(name, model or None for the oracle, checkpoint file, checkpoint) from the flags, or a
    one-line exit."""
    if args.iso != 0.5 and (args.oracle or args.type not in ISO_TYPES):
        fail("--iso applies to vox and occupancy models (not the oracle, point, mesh or voxmesh, whose surfaces are not read off a probability grid)")
    if args.oracle:
        if args.type != "vox":
            fail("--oracle evaluates GT voxels through the vox path: use it with --type vox")
        return "oracle", None, None, None
    if args.checkpoint:
        checkpoint_file = args.checkpoint
    elif args.load_checkpoint:
        checkpoint_file = os.path.join(args.out_dir or os.path.join("checkpoints", args.type), f"checkpoint_{args.type}.pth")
    else:
        fail("say which model: --load_checkpoint (the run in --out_dir), --checkpoint PATH, or --oracle")
    try:
        model, checkpoint = model_from_checkpoint(checkpoint_file, expected_type=args.type, device=resolve_device(args.device))
    except ModelError as err:
        fail(str(err))
    return "model", model, checkpoint_file, checkpoint


def write_results(out_dir: str, result: dict, rows: list[dict]) -> None:
    """metrics.json and per_sample.csv, each written whole through a temporary file."""
    atomic_write_json(os.path.join(out_dir, "metrics.json"), result)
    tmp = os.path.join(out_dir, "per_sample.csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, os.path.join(out_dir, "per_sample.csv"))


def visual_ids(args, n_samples: int) -> list[int]:
    if args.vis_ids is not None:
        return [i for i in args.vis_ids if 0 <= i < n_samples]
    step = args.vis_freq or max(1, n_samples // 5)
    return list(range(0, n_samples, step))[: 5 if args.vis_freq is None else None]


def main(args: argparse.Namespace) -> dict:
    import utils_vis

    if args.compare:
        path, page = compare_runs(args.compare, args.compare_out)
        print(f"wrote {path}" + (f" and the interactive page {page}" if page else " (no shared visualised samples: no comparison page)"))
        return {"compare": path, "page": page}
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    name, model, checkpoint_file, checkpoint = load_model_under_test(args)
    try:
        dataset = R2N2Dataset(args.data_root, args.split, n_points=args.n_points, views=args.views, seed=args.seed)
    except DatasetError as err:
        fail(str(err))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False, collate_fn=collate_batch)

    if args.oracle:
        predict_fn = lambda batch: predict_gt_voxels(batch, args.n_points)  # noqa: E731
    else:
        predict_fn = lambda batch: predict(args.type, model, batch, args.n_points, args.grid_res, args.iso)  # noqa: E731

    start = time.time()
    torch.manual_seed(args.seed)
    frame_rows = None if args.no_frame_check else []
    rows = evaluate(predict_fn, loader, device, args.thresholds, args.iso, frame_rows=frame_rows)
    eval_seconds = time.time() - start
    frame_report = summarize_frame_check(frame_rows) if frame_rows else None
    summary = average(rows)

    baseline, baseline_source = None, None
    if not args.no_baseline:
        try:
            mean_voxels, baseline_source = baseline_voxels(checkpoint, args.data_root)
        except DatasetError as err:
            fail(str(err))
        constant = ConstantPredictor(args.type, mean_voxels, args.n_points, args.seed)
        torch.manual_seed(args.seed)
        baseline = average(evaluate(lambda batch: constant.predict(batch, args.n_points), loader, device, args.thresholds))

    run_name = args.type + ("_oracle" if args.oracle else "") + (f"_{args.tag}" if args.tag else "")
    out_dir = os.path.join(args.results_dir, run_name)
    os.makedirs(out_dir, exist_ok=True)
    result = {
        "type": args.type,
        "checkpoint": checkpoint_file,
        "oracle": args.oracle,
        "data": dataset.layout.root,
        "split": args.split,
        "views": args.views,
        "gt_surfaces": GT_LABELS[dataset.surfaces],
        "mean_shape_from": baseline_source,
        "n_samples": len(rows),
        "thresholds": args.thresholds,
        "model": summary,
        "mean_shape_baseline": baseline,
        "frame_check": frame_report,
        "eval_seconds": round(eval_seconds, 1),
        "args": vars(args),
    }
    write_results(out_dir, result, rows)
    curves = {name: f1_curve(summary, args.thresholds)}
    if baseline:
        curves["mean-shape baseline"] = f1_curve(baseline, args.thresholds)
    gt_label = GT_LABELS[dataset.surfaces]
    utils_vis.plot_f1(os.path.join(out_dir, f"eval_{args.type}.png"), curves, args.thresholds, f"{run_name}: F1 on {args.split} ({len(rows)} samples)\nGT: {gt_label}")

    ids = visual_ids(args, len(dataset))
    samples = write_visuals("vox" if args.oracle else args.type, predict_fn, dataset, ids, out_dir, device,
                            title=f"{run_name}: input | prediction | GT ({gt_label})", rows=rows)
    page = write_run_page(out_dir, run_name, result, samples, os.path.join(out_dir, f"eval_{args.type}.png"))

    header = "".join(f"{t:>8.2f}" for t in args.thresholds)
    print(f"{run_name} on {args.split} of {dataset.layout.root}: {len(rows)} samples in {eval_seconds:.1f}s; GT surfaces: {gt_label}")
    print(f"{'F1@':<22}{header}")
    print(f"{name:<22}" + "".join(f"{v:8.1f}" for v in f1_curve(summary, args.thresholds)))
    if baseline:
        print(f"{'mean-shape baseline':<22}" + "".join(f"{v:8.1f}" for v in f1_curve(baseline, args.thresholds)))
    extras = {k: v for k, v in summary.items() if k in ("ChamferL2", "IoU_vox32", "NormalConsistency")}
    print("model " + ", ".join(f"{k} {v:.4f}" for k, v in extras.items()))
    if baseline:
        print("baseline " + ", ".join(f"{k} {baseline[k]:.4f}" for k in extras if k in baseline))
    if frame_report:
        print(describe_frame_check(frame_report[frame_report["decided_on"]]))
    print(f"wrote {out_dir}/ (metrics.json, per_sample.csv, eval_{args.type}.png, gallery.png, {len(ids)} samples' PNG/GIFs)")
    print(f"interactive page: {page} ({os.path.getsize(page) / 1e6:.2f} MB, with plotly.min.js beside it)")
    return result


if __name__ == "__main__":
    main(get_args_parser().parse_args())
