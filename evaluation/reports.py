"""What an evaluation writes besides its numbers: metrics files, the F1 plot, galleries, GIFs and its page.

    write_results(out_dir, result, rows)                     # metrics.json, per_sample.csv
    samples = write_visuals(predict_fn, dataset, [0, 20], out_dir, device, title, rows)
    page = write_run_page(out_dir, "vox", result, samples, plot_path)

The numbers themselves come from `evaluation/protocol.py`; this module only draws and writes them.
Every figure says which ground truth it was scored against (`evaluation.protocol.GT_LABELS`).
"""

import csv
import html
import os
import re

import numpy as np
import torch

from common.atomic_io import atomic_path, atomic_write_json, orphan_pid, pid_alive
from common.paths import replace_folder
from dataset import batch_to_device, collate_batch
from evaluation.metrics import f1_key


def render_prediction(pred: dict, i: int, color) -> np.ndarray:
    """Turntable frames of sample i of a prediction in evaluation form: its mesh, or its points
    when it has none (display only: big meshes are decimated)."""
    import utils_vis

    if pred["meshes"] is None:
        return utils_vis.render_points_turntable(pred["points"][i].cpu(), color)
    mesh = pred["meshes"][i]
    return utils_vis.render_mesh_turntable(mesh.verts_packed().cpu(), mesh.faces_packed().cpu(), color)


def display_shape(pred: dict, i: int) -> dict:
    """Sample i of a prediction in evaluation form as a shape for display: a mesh's verts and faces,
    or its points when it has no mesh."""
    if pred["meshes"] is None:
        return {"points": pred["points"][i].cpu()}
    mesh = pred["meshes"][i]
    return {"verts": mesh.verts_packed().cpu(), "faces": mesh.faces_packed().cpu()}


VISUAL_SUFFIXES = ("_gt.png", "_pred.gif", "_gt_mesh.gif")


def clear_visuals(out_dir: str) -> None:
    """Remove the per-sample pictures an earlier evaluation left in out_dir (<id>_gt.png,
    <id>_pred.gif, <id>_gt_mesh.gif, gallery.png)."""
    if not os.path.isdir(out_dir):
        return
    for name in os.listdir(out_dir):
        stem = name.split("_", 1)[0]
        if name == "gallery.png" or (stem.isdigit() and name[len(stem) :] in VISUAL_SUFFIXES):
            os.remove(os.path.join(out_dir, name))


def write_visuals(
    predict_fn, dataset, ids: list[int], out_dir: str, device, title: str | None = None, rows: list[dict] | None = None
) -> list[dict]:
    """<id>_gt.png, <id>_pred.gif, <id>_gt_mesh.gif per sample, and gallery.png (rows of
    input | prediction at two angles | GT at the same angles). Returns the samples for the
    interactive page (`viewer.write_page`), with each sample's metrics from `rows`."""
    import utils_vis
    from evaluation import viewer

    clear_visuals(out_dir)  # a re-run never leaves an earlier model's pictures beside its own
    gallery, samples = [], []
    for i in ids:
        batch = batch_to_device(collate_batch(dataset.__getitems__([i])), device)
        with torch.no_grad():
            pred = predict_fn(batch)
        image = (batch["images"][0].cpu().numpy() * 255).astype(np.uint8)
        pred_frames = render_prediction(pred, 0, utils_vis.PRED_COLOR)
        gt_frames = utils_vis.render_mesh_turntable(
            batch["verts"][0].cpu(), batch["faces"][0].cpu(), utils_vis.GT_COLOR
        )
        utils_vis.save_png(os.path.join(out_dir, f"{i}_gt.png"), image)
        utils_vis.save_gif(os.path.join(out_dir, f"{i}_pred.gif"), pred_frames)
        utils_vis.save_gif(os.path.join(out_dir, f"{i}_gt_mesh.gif"), gt_frames)
        k = len(pred_frames) // 8  # a second angle, 45 degrees round
        image_resized = utils_vis.resize_image(image, pred_frames.shape[1])
        gallery.append(
            np.concatenate([image_resized, pred_frames[0], pred_frames[k], gt_frames[0], gt_frames[k]], axis=1)
        )
        metrics = rows[i] if rows else {}
        samples.append(
            {
                "id": i,
                "synset": batch["synset"][0],
                "model_id": batch["model_id"][0],
                "view": int(batch["view"][0]),
                "image": viewer.image_payload(image),
                "f1": metrics.get(f1_key(0.05)),
                "chamfer": metrics.get("ChamferL2"),
                "prediction": viewer.shape_payload(display_shape(pred, 0)),
                "ground_truth": viewer.shape_payload({"verts": batch["verts"][0], "faces": batch["faces"][0]}),
            }
        )
    if gallery:
        utils_vis.save_png(os.path.join(out_dir, "gallery.png"), np.concatenate(gallery, axis=0), title=title)
    return samples


def sample_caption(sample: dict) -> str:
    f1 = f"F1@0.05 {sample['f1']:.1f}" if sample.get("f1") is not None else "F1@0.05 -"
    chamfer = (
        f"Chamfer-L2 {sample['chamfer']:.4f}"
        if sample.get("chamfer") is not None and np.isfinite(sample["chamfer"])
        else "Chamfer-L2 -"
    )
    return f"sample {sample['id']}: {sample['synset']}/{sample['model_id']} view {sample['view']}, {f1}, {chamfer}"


def write_run_page(out_dir: str, run_name: str, result: dict, samples: list[dict], plot_path: str) -> str:
    """index.html of an evaluation: F1 curve, table (model vs mean shape), then each sample's
    input beside its prediction and GT in 3D; samples.json keeps the shapes for --compare."""
    import imageio.v3 as iio

    from evaluation import viewer

    thresholds = result["thresholds"]
    columns = [f"F1@{t:.2f}" for t in thresholds] + [
        "IoU 32^3 (vs GT voxels)",
        "IoU (vs exact labels)",
        "Chamfer-L2",
        "normal cons.",
        "Mesh R-CNN F1@0.3",
        "thin_recall",
        "sil_iou (GT's)",
    ]

    def values(summary):
        keys = ("IoU_vox32", "IoU_labels", "ChamferL2", "NormalConsistency", "MeshRCNN_F1@0.3", "thin_recall")
        silhouette = f"{summary['sil_iou']:.3f} ({summary['sil_iou_gt']:.3f})" if "sil_iou" in summary else float("nan")
        return [summary[f1_key(t)] for t in thresholds] + [summary.get(k, float("nan")) for k in keys] + [silhouette]

    table = [("model" if not result["oracle"] else "oracle", values(result["model"]))]
    if result["mean_shape_baseline"]:
        table.append(("mean shape", values(result["mean_shape_baseline"])))
    header = (
        f"<p>{result['n_samples']} samples of the {html.escape(result['split'])} split of "
        f"{html.escape(result['data'])} "
        f"({html.escape(result['views'])} views); GT: {html.escape(result['gt_surfaces'])}; checkpoint: "
        f"{html.escape(str(result['checkpoint']))}.</p>"
        + viewer.summary_table(columns, table)
        + f'<img src="{viewer.image_payload(iio.imread(plot_path)[..., :3])}" alt="F1 curve" width="440">'
    )
    shown = [
        {
            "image": s["image"],
            "caption": sample_caption(s),
            "shapes": [
                ("prediction", s["prediction"], viewer.COLOURS["prediction"]),
                ("ground truth", s["ground_truth"], viewer.COLOURS["ground truth"]),
            ],
        }
        for s in samples
    ]
    atomic_write_json(os.path.join(out_dir, "samples.json"), {"run": run_name, "samples": samples})
    return viewer.write_page(out_dir, f"{run_name}: {result['split']} split", header, shown)


# What an evaluation writes into its folder (`write_results`, `write_visuals`, `write_run_page`): an
# earlier evaluation's folder it replaces loses these and nothing else.
RESULT_FILES = re.compile(
    r"^(metrics\.json|per_sample\.csv|eval_\w+\.png|gallery\.png|index\.html|samples\.json|plotly\.min\.js|"
    r"\d+_gt\.png|\d+_pred\.gif|\d+_gt_mesh\.gif)$"
)


def temporary_folder(out_dir: str) -> str:
    """A fresh folder beside out_dir to write an evaluation into (`publish`), named by this process."""
    import uuid

    tmp = f"{out_dir}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.makedirs(tmp)
    return tmp


def remove_results(folder: str) -> list[str]:
    """Delete an evaluation's own files in folder (`RESULT_FILES`), then the folder if empty;
    returns what is left (files an evaluation did not write, kept)."""
    for name in os.listdir(folder):
        if RESULT_FILES.match(name):
            os.remove(os.path.join(folder, name))
    left = os.listdir(folder)
    if not left:
        os.rmdir(folder)
    return left


def publish(tmp: str, out_dir: str) -> None:
    """Put the complete evaluation in tmp at out_dir: an earlier evaluation there (the same one,
    `check_result_folder` made sure) is moved aside first and removed after (`remove_results`); on
    an error in between it is put back."""
    left = replace_folder(tmp, out_dir, remove_results, "results")
    if left:
        print(f"warning: {out_dir}.stale-{os.getpid()} keeps {len(left)} files an evaluation did not write")


def recover_results(results_dir: str) -> list[str]:
    """What evaluations killed halfway left in results_dir, settled: their temporary folders
    removed, a folder moved aside put back when its successor never arrived, else removed. Returns
    a line per thing done."""
    done = []
    for name in sorted(os.listdir(results_dir)) if os.path.isdir(results_dir) else []:
        path = os.path.join(results_dir, name)
        pid = orphan_pid(name)
        if pid is None or pid_alive(pid) or not os.path.isdir(path):
            continue
        if ".stale-" in name:
            target = path[: path.rindex(".stale-")]
            if not os.path.exists(target):
                os.rename(path, target)
                done.append(f"put back {target} (the evaluation replacing it stopped)")
                continue
            left = remove_results(path)
            done.append(
                f"removed {path}, replaced by a later evaluation" + (f" ({len(left)} files kept)" if left else "")
            )
        else:
            import shutil

            shutil.rmtree(path, ignore_errors=True)  # a temporary folder: all an evaluation's own
            done.append(f"removed {path}, an evaluation that stopped halfway")
    return done


def read_results(path: str) -> dict:
    """A metrics.json, its summaries' keys spelled as today (`common.legacy.canonical_metric_keys`: files
    written before spelled them "F1@0.050000")."""
    import json

    from common.legacy import canonical_metric_keys
    from evaluation.metrics import metric_key

    with open(path) as f:
        result = json.load(f)
    for key in ("model", "mean_shape_baseline"):
        if isinstance(result.get(key), dict):
            result[key] = canonical_metric_keys(result[key], metric_key)
    return result


def write_results(out_dir: str, result: dict, rows: list[dict]) -> None:
    """metrics.json and per_sample.csv, each written whole through a temporary file."""
    atomic_write_json(os.path.join(out_dir, "metrics.json"), result)
    with atomic_path(os.path.join(out_dir, "per_sample.csv")) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
