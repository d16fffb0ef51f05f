"""Evaluate a trained model on the test split: F1 curves, metrics, a mean-shape baseline, visuals.

    python eval_model.py --type vox --load_checkpoint            # the run train_model.py wrote
    python eval_model.py --type mesh --checkpoint path/to/checkpoint_mesh.pth --tag long
    python eval_model.py --type vox --oracle                     # GT voxels through the same path
    python eval_model.py --compare output/eval/vox output/eval/point output/eval/mesh output/eval/occupancy

Protocol (the course's, made explicit): every prediction and the GT are compared in the object
frame. Vox and occupancy predictions become meshes by marching cubes at probability 0.5, mesh
predictions are sampled, point predictions are used as they are; `--n_points` points are sampled
from the prediction and from the GT mesh; precision / recall / F1 use nearest-neighbour
distances both ways at thresholds 0.01..0.05 (the object's bounding-box diagonal is 1).
One fixed view per model by default (`--views first`), or every listed view (`--views all`).

Writes output/eval/<type>[_<tag>]/: metrics.json, per_sample.csv, eval_<type>.png, and for the
chosen samples <id>_gt.png (input), <id>_pred.gif, <id>_gt_mesh.gif plus gallery.png.
"""

import argparse
import csv
import json
import os
import time

import numpy as np
import torch

from dataset import DatasetError, R2N2Dataset, batch_to_device, collate_batch, voxels_to_meshes
from metrics import DEFAULT_THRESHOLDS, compute_sampling_metrics, masked_mean, nearest_neighbours, precision_recall_f1, voxel_iou  # noqa: F401 (course name)
from model import TYPES, ModelError, model_from_checkpoint
from train_model import fail


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("Evaluate a single-view to 3D model", add_help=True)
    parser.add_argument("--type", default="vox", choices=TYPES)
    parser.add_argument("--load_checkpoint", action="store_true", help="evaluate <out_dir>/checkpoint_<type>.pth (train_model.py's run)")
    parser.add_argument("--checkpoint", default=None, help="evaluate this checkpoint file")
    parser.add_argument("--out_dir", default=None, help="training run folder (default: checkpoints/<type>, as train_model.py)")
    parser.add_argument("--oracle", action="store_true", help="evaluate the GT voxels as a vox prediction (alignment check)")
    parser.add_argument("--data_root", default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--views", default="first", choices=["first", "all"], help="one fixed view per model (default) or all")
    parser.add_argument("--n_points", type=int, default=5000, help="points sampled from prediction and GT")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(DEFAULT_THRESHOLDS))
    parser.add_argument("--grid_res", type=int, default=32, help="occupancy: grid resolution for marching cubes")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no_baseline", action="store_true", help="skip the mean-shape baseline")
    parser.add_argument("--vis_ids", type=int, nargs="*", default=None, help="sample indices to visualise")
    parser.add_argument("--vis_freq", type=int, default=None, help="visualise every k-th sample (default: 5 evenly spaced)")
    parser.add_argument("--tag", default=None, help="suffix of the results folder")
    parser.add_argument("--results_dir", default="output/eval")
    parser.add_argument("--compare", nargs="+", default=None, metavar="RUN_DIR", help="plot these result folders' F1 curves together and exit")
    parser.add_argument("--compare_out", default="output/eval/compare_f1.png")
    return parser


# --------------------------------------------------------------------------------------------
# Predictions as the common currency: points (+ normals), an optional voxel grid, a mesh
# --------------------------------------------------------------------------------------------


def sample_meshes(meshes, n_points: int):
    """(points (B, n, 3), normals (B, n, 3), lengths (B,)) from a Meshes batch; empty meshes
    get length 0 (they score 0, they do not crash)."""
    from pytorch3d.ops import sample_points_from_meshes

    # From faces_list: when every mesh of a batch is empty, Meshes' per-mesh counts are empty.
    faces_counts = torch.tensor([len(f) for f in meshes.faces_list()], device=meshes.device)
    B = len(faces_counts)
    lengths = (faces_counts > 0).long() * n_points
    points = torch.zeros(B, n_points, 3, device=meshes.device)
    normals = torch.zeros(B, n_points, 3, device=meshes.device)
    nonempty = torch.nonzero(lengths > 0)[:, 0]
    if len(nonempty):
        p, n = sample_points_from_meshes(meshes[nonempty.tolist()], n_points, return_normals=True)
        points[nonempty], normals[nonempty] = p, n
    return points, normals, lengths


def predicted_meshes(model, images: torch.Tensor, grid_res: int):
    """The surfaces a vox / occupancy / mesh model predicts for images (B, H, W, 3).

    Returns (Meshes batch, grid): grid is the (B, R, R, R) occupancy probabilities the vox and
    occupancy surfaces were extracted from (marching cubes at 0.5), None for the mesh model.
    """
    if model.type == "vox":
        grid = torch.sigmoid(model(images).float())
    elif model.type == "occupancy":
        grid = model.occupancy_grid(images, resolution=grid_res)
    else:
        return model.decoder.to_meshes(model(images).float()), None
    return voxels_to_meshes(grid, 0.5), grid


def mesh_prediction(meshes, voxels, n_points: int) -> dict:
    """A prediction given as surfaces, in evaluation form (see `predict`)."""
    points, normals, lengths = sample_meshes(meshes, n_points)
    return {"points": points, "normals": normals, "lengths": lengths, "voxels": voxels, "meshes": meshes}


def predict(model_type: str, model, batch: dict, args) -> dict:
    """Predictions of a batch in evaluation form.

    Returns points (B, n, 3), lengths (B,), normals (B, n, 3) or None, voxels (B, 32, 32, 32)
    probabilities or None, meshes (a Meshes batch) or None.
    """
    images = batch["images"]
    if model_type == "point":
        points = model(images).float()
        lengths = torch.full((len(points),), points.shape[1], device=points.device)
        return {"points": points, "lengths": lengths, "normals": None, "voxels": None, "meshes": None}
    meshes, grid = predicted_meshes(model, images, args.grid_res)
    if model_type == "occupancy" and args.grid_res != 32:
        grid = model.occupancy_grid(images, resolution=32)  # IoU is reported at 32^3 for every type
    return mesh_prediction(meshes, grid, args.n_points)


class ConstantPredictor(torch.nn.Module):
    """The mean training shape, as a prediction of the given type for every image."""

    def __init__(self, model_type: str, mean_voxels: torch.Tensor, n_points: int, seed: int):
        super().__init__()
        self.type = model_type
        self.mean_voxels = mean_voxels  # (32, 32, 32) probabilities
        mesh = voxels_to_meshes(mean_voxels[None], 0.5)
        self.mesh_verts, self.mesh_faces = mesh.verts_list()[0], mesh.faces_list()[0]
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.points = sample_meshes(mesh, n_points)[0][0]
        torch.random.set_rng_state(generator_state)

    def predict(self, batch: dict, args) -> dict:
        from pytorch3d.structures import Meshes

        B = len(batch["images"])
        device = batch["images"].device
        if self.type == "point":
            points = self.points.to(device).expand(B, -1, -1)
            return {"points": points, "lengths": torch.full((B,), points.shape[1], device=device), "normals": None, "voxels": None, "meshes": None}
        meshes = Meshes([self.mesh_verts.to(device)] * B, [self.mesh_faces.to(device)] * B)
        voxels = self.mean_voxels.to(device).expand(B, -1, -1, -1) if self.type in ("vox", "occupancy") else None
        return mesh_prediction(meshes, voxels, args.n_points)


def normal_consistency(normals_pred, idx_pred, normals_gt, idx_gt, pred_lengths) -> torch.Tensor:
    """Mean |cos| between each point's normal and its nearest neighbour's, both ways: (B,).
    idx_pred (B, N) indexes gt, idx_gt (B, M) indexes pred (from `nearest_neighbours`)."""
    cos_pred = (normals_pred * torch.gather(normals_gt, 1, idx_pred[..., None].expand(-1, -1, 3))).sum(-1).abs()
    cos_gt = (normals_gt * torch.gather(normals_pred, 1, idx_gt[..., None].expand(-1, -1, 3))).sum(-1).abs()
    score = 0.5 * (masked_mean(cos_pred, pred_lengths) + cos_gt.mean(1))
    return torch.where(pred_lengths > 0, score, torch.zeros_like(score))


@torch.no_grad()
def evaluate(predict_fn, loader, args, device) -> list[dict]:
    """Per-sample metrics of a predictor over the loader; predict_fn(batch) -> prediction dict.

    One nearest-neighbour query each way per batch serves F1, Chamfer and normal consistency."""
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes

    rows = []
    for batch in loader:
        batch = batch_to_device(batch, device)
        pred = predict_fn(batch)
        gt_meshes = Meshes(batch["verts"], batch["faces"])
        points_gt, normals_gt = sample_points_from_meshes(gt_meshes, args.n_points, return_normals=True)
        lengths = pred["lengths"]
        dists_pred, idx_pred, dists_gt, idx_gt = nearest_neighbours(pred["points"], points_gt, lengths)
        metrics = precision_recall_f1(dists_pred, dists_gt, lengths, args.thresholds)
        chamfer = masked_mean(dists_pred.square(), lengths) + dists_gt.square().mean(1)
        metrics["ChamferL2"] = torch.where(lengths > 0, chamfer, torch.full_like(chamfer, float("nan")))
        if pred["voxels"] is not None:
            metrics["IoU_vox32"] = voxel_iou(pred["voxels"] >= 0.5, batch["voxels"] >= 0.5)
        if pred["normals"] is not None:
            metrics["NormalConsistency"] = normal_consistency(pred["normals"], idx_pred, normals_gt, idx_gt, lengths)
        for i in range(len(points_gt)):
            row = {"synset": batch["synset"][i], "model_id": batch["model_id"][i], "view": int(batch["view"][i]), "n_pred_points": int(lengths[i])}
            row.update({k: float(v[i]) for k, v in metrics.items()})
            rows.append(row)
    return rows


def average(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k not in ("synset", "model_id", "view", "n_pred_points")]
    out = {}
    for k in keys:
        values = np.array([r[k] for r in rows], dtype=float)
        out[k] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return out


def mean_training_voxels(args) -> torch.Tensor:
    """The average training occupancy grid (32, 32, 32): the mean shape of the train split."""
    train = R2N2Dataset(args.data_root, "train", views="first", quiet=True)
    return train.cache["voxels"].float().mean(0)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def f1_curve(summary: dict, thresholds) -> list[float]:
    return [summary["F1@%f" % t] for t in thresholds]


def plot_f1(path: str, curves: dict, thresholds, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=110)
    for label, values in curves.items():
        style = "--" if "baseline" in label else "-"
        ax.plot(thresholds, values, style, marker="o", label=label)
    ax.set_xlabel("threshold (object diagonal = 1)")
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def render_prediction(model_type: str, pred: dict, i: int, color) -> np.ndarray:
    import utils_vis

    if model_type == "point":
        return utils_vis.render_points_turntable(pred["points"][i].cpu(), color)
    mesh = pred["meshes"][i]
    return utils_vis.render_mesh_turntable(mesh.verts_packed().cpu(), mesh.faces_packed().cpu(), color)


def write_visuals(model_type: str, predict_fn, dataset, ids: list[int], out_dir: str, device) -> list[str]:
    """<id>_gt.png, <id>_pred.gif, <id>_gt_mesh.gif per sample, and gallery.png (rows of
    input | prediction at two angles | GT at the same angles)."""
    import utils_vis

    rows, written = [], []
    for i in ids:
        batch = batch_to_device(collate_batch(dataset.__getitems__([i])), device)
        with torch.no_grad():
            pred = predict_fn(batch)
        image = (batch["images"][0].cpu().numpy() * 255).astype(np.uint8)
        pred_frames = render_prediction(model_type, pred, 0, utils_vis.PRED_COLOR)
        gt_frames = utils_vis.render_mesh_turntable(batch["verts"][0].cpu(), batch["faces"][0].cpu(), utils_vis.GT_COLOR)
        written.append(utils_vis.save_png(os.path.join(out_dir, f"{i}_gt.png"), image))
        written.append(utils_vis.save_gif(os.path.join(out_dir, f"{i}_pred.gif"), pred_frames))
        written.append(utils_vis.save_gif(os.path.join(out_dir, f"{i}_gt_mesh.gif"), gt_frames))
        size = pred_frames.shape[1]
        image_resized = torch.nn.functional.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(size, size), mode="bilinear")[0]
        image_resized = image_resized.permute(1, 2, 0).clamp(0, 255).byte().numpy()
        k = len(pred_frames) // 8  # a second angle, 45 degrees round
        rows.append(np.concatenate([image_resized, pred_frames[0], pred_frames[k], gt_frames[0], gt_frames[k]], axis=1))
    if rows:
        written.append(utils_vis.save_png(os.path.join(out_dir, "gallery.png"), np.concatenate(rows, axis=0)))
    return written


def compare_runs(run_dirs: list[str], out_path: str) -> str:
    curves, thresholds = {}, None
    for run in run_dirs:
        path = os.path.join(run, "metrics.json")
        if not os.path.isfile(path):
            fail(f"--compare {run}: no metrics.json there (run eval_model.py first)")
        with open(path) as f:
            result = json.load(f)
        thresholds = result["thresholds"]
        curves[os.path.basename(os.path.normpath(run))] = f1_curve(result["model"], thresholds)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    plot_f1(out_path, curves, thresholds, "F1 vs threshold")
    return out_path


# --------------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> dict:
    if args.compare:
        path = compare_runs(args.compare, args.compare_out)
        print(f"wrote {path}")
        return {"compare": path}
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        fail(f"--device {args.device}: CUDA is not available; use --device cpu")
    if args.n_points < 1 or args.batch_size < 1:
        fail("--n_points and --batch_size must be at least 1")

    # The model under test.
    checkpoint_file = None
    if args.oracle:
        if args.type != "vox":
            fail("--oracle evaluates GT voxels through the vox path: use it with --type vox")
        name, model = "oracle", None
    else:
        if args.checkpoint:
            checkpoint_file = args.checkpoint
        elif args.load_checkpoint:
            checkpoint_file = os.path.join(args.out_dir or os.path.join("checkpoints", args.type), f"checkpoint_{args.type}.pth")
        else:
            fail("say which model: --load_checkpoint (the run in --out_dir), --checkpoint PATH, or --oracle")
        try:
            model, checkpoint = model_from_checkpoint(checkpoint_file, expected_type=args.type, device=device)
        except ModelError as err:
            fail(str(err))
        name = "model"

    try:
        dataset = R2N2Dataset(args.data_root, args.split, views=args.views, seed=args.seed)
    except DatasetError as err:
        fail(str(err))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False, collate_fn=collate_batch)

    if args.oracle:
        predict_fn = lambda batch: predict_gt_voxels(batch, args)  # noqa: E731
    else:
        predict_fn = lambda batch: predict(args.type, model, batch, args)  # noqa: E731

    start = time.time()
    torch.manual_seed(args.seed)
    rows = evaluate(predict_fn, loader, args, device)
    eval_seconds = time.time() - start
    summary = average(rows)

    baseline = None
    if not args.no_baseline:
        constant = ConstantPredictor(args.type, mean_training_voxels(args), args.n_points, args.seed)
        torch.manual_seed(args.seed)
        baseline = average(evaluate(lambda batch: constant.predict(batch, args), loader, args, device))

    run_name = args.type + ("_oracle" if args.oracle else "") + (f"_{args.tag}" if args.tag else "")
    out_dir = os.path.join(args.results_dir, run_name)
    os.makedirs(out_dir, exist_ok=True)
    result = {
        "type": args.type,
        "checkpoint": checkpoint_file,
        "oracle": args.oracle,
        "split": args.split,
        "views": args.views,
        "n_samples": len(rows),
        "thresholds": args.thresholds,
        "model": summary,
        "mean_shape_baseline": baseline,
        "eval_seconds": round(eval_seconds, 1),
        "args": vars(args),
    }
    tmp = os.path.join(out_dir, "metrics.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "metrics.json"))
    with open(os.path.join(out_dir, "per_sample.csv.tmp"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(os.path.join(out_dir, "per_sample.csv.tmp"), os.path.join(out_dir, "per_sample.csv"))
    curves = {name: f1_curve(summary, args.thresholds)}
    if baseline:
        curves["mean-shape baseline"] = f1_curve(baseline, args.thresholds)
    plot_f1(os.path.join(out_dir, f"eval_{args.type}.png"), curves, args.thresholds, f"{run_name}: F1 on {args.split} ({len(rows)} samples)")

    # Visuals.
    if args.vis_ids is not None:
        ids = [i for i in args.vis_ids if 0 <= i < len(dataset)]
    else:
        step = args.vis_freq or max(1, len(dataset) // 5)
        ids = list(range(0, len(dataset), step))[: 5 if args.vis_freq is None else None]
    vis_type = "vox" if args.oracle else args.type
    write_visuals(vis_type, predict_fn, dataset, ids, out_dir, device)

    header = "".join(f"{t:>8.2f}" for t in args.thresholds)
    print(f"{run_name} on {args.split}: {len(rows)} samples in {eval_seconds:.1f}s")
    print(f"{'F1@':<22}{header}")
    print(f"{name:<22}" + "".join(f"{v:8.1f}" for v in f1_curve(summary, args.thresholds)))
    if baseline:
        print(f"{'mean-shape baseline':<22}" + "".join(f"{v:8.1f}" for v in f1_curve(baseline, args.thresholds)))
    extras = {k: v for k, v in summary.items() if k in ("ChamferL2", "IoU_vox32", "NormalConsistency")}
    print("model " + ", ".join(f"{k} {v:.4f}" for k, v in extras.items()))
    if baseline:
        print("baseline " + ", ".join(f"{k} {baseline[k]:.4f}" for k in extras if k in baseline))
    print(f"wrote {out_dir}/ (metrics.json, per_sample.csv, eval_{args.type}.png, gallery.png, {len(ids)} samples' PNG/GIFs)")
    return result


def predict_gt_voxels(batch: dict, args) -> dict:
    """The oracle: GT voxels as if predicted, through the exact vox evaluation path."""
    voxels = batch["voxels"].float()
    return mesh_prediction(voxels_to_meshes(voxels, 0.5), voxels, args.n_points)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
