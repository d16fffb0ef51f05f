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

import numpy as np
import torch

from common.atomic_io import atomic_path, atomic_write_json
from common.ownership import claim, owned_name, sweep
from common.paths import aside_kind, rename_no_replace, replace_folder
from common.written import differences, read_record, record_folder, remove_recorded
from dataset import batch_to_device, collate_batch
from evaluation.metrics import F1_HEADLINE, f1_key


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


def write_visuals(
    predict_fn, dataset, ids: list[int], out_dir: str, device, title: str | None = None, rows: list[dict] | None = None
) -> list[dict]:
    """<id>_gt.png, <id>_pred.gif, <id>_gt_mesh.gif per sample, and gallery.png (rows of
    input | prediction at two angles | GT at the same angles). Returns the samples for the
    interactive page (`viewer.write_page`), with each sample's metrics from `rows`. out_dir is an
    evaluation's own fresh folder (`temporary_folder`): nothing of an earlier one is in it."""
    import utils_vis
    from evaluation import viewer

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
    f1 = f"{F1_HEADLINE} {sample['f1']:.1f}" if sample.get("f1") is not None else f"{F1_HEADLINE} -"
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


RECORD = ".sv3d-written.json"  # `common.written`'s record of every file an evaluation wrote in its folder


def temporary_folder(out_dir: str) -> str:
    """A fresh folder beside out_dir to write an evaluation into (`publish`): a name no user picks,
    with its proof (`common.ownership`: a sweep removes it only once this process is gone)."""
    tmp = owned_name(out_dir, "tmp")
    claim(tmp, "tmp")
    os.makedirs(tmp)
    return tmp


def folder_problems(out_dir: str) -> list[str]:
    """Why out_dir may not be replaced by an evaluation, a phrase each: it is no folder, holds no
    record of what an evaluation wrote there (written by hand, or by an earlier version that kept
    none), or holds what the record does not describe (a file added or edited since, a folder, a
    link). Empty: it may be replaced."""
    if os.path.islink(out_dir) or not os.path.isdir(out_dir):
        return [f"{out_dir} is not a folder an evaluation wrote"]
    record = read_record(out_dir, RECORD)
    if record is None:
        return [f"{out_dir} holds no record of an evaluation's files ({RECORD})"]
    return differences(out_dir, record, RECORD)


def remove_results(folder: str) -> list[str]:
    """Delete what an evaluation's record in folder still describes, then the folder if empty;
    returns what is left, a phrase each (never deleted)."""
    return remove_recorded(folder, read_record(folder, RECORD), RECORD)


def publish(tmp: str, out_dir: str) -> None:
    """Put the complete evaluation in tmp at out_dir: its files recorded first (`common.written`);
    an earlier evaluation there is checked again (a file added or edited while this one ran
    refuses it: ValueError, the folder left as it is), moved aside, put back on an error, and
    removed after (`remove_results`)."""
    record_folder(tmp, RECORD)
    if os.path.exists(out_dir):
        problems = folder_problems(out_dir)
        if problems:
            raise ValueError(f"{out_dir} changed while this evaluation ran: " + "; ".join(problems))
    left = replace_folder(tmp, out_dir, remove_results, "results")
    if left:
        print(f"warning: kept beside {out_dir}, not written by an evaluation as recorded: " + "; ".join(left))


def recover_results(results_dir: str) -> list[str]:
    """What evaluations killed halfway left in results_dir, settled when their process is provably
    gone (`common.ownership.sweep`): their temporary folders removed, a folder moved aside put
    back when its successor never arrived, else removed. Returns a line per thing done."""

    def settle_aside(path: str, proof: dict) -> str:
        target = os.path.join(results_dir, proof.get("target", ""))
        if proof.get("target") and not os.path.lexists(target):
            rename_no_replace(path, target)
            return f"put back {target} (the evaluation replacing it stopped)"
        left = remove_results(path)
        return f"removed {path}, replaced by a later evaluation" + (f" (kept: {'; '.join(left)})" if left else "")

    return sweep(results_dir, {aside_kind("results"): settle_aside})


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
