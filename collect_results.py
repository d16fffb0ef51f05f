"""Gather the small, committable results of reproduce.sh into output/results/.

    python collect_results.py [--seconds N]

Copies each type's F1 plot, gallery, two sample GIFs and interactive page (index.html, with one
shared plotly.min.js), the comparison plot and page, the occupancy learning curve, the held-out
family results, the mesh study, the interpretation figures and a figure of the embedded
dataset's families, and writes output/results/results.md: F1 at every threshold for each model
and its mean-shape baseline, the oracle, training and eval times.
"""

import argparse
import glob
import json
import os
import re
import shutil

from checkpoints import run_dir
from metrics import DEFAULT_THRESHOLDS as THRESHOLDS
from model import TYPES


def copy(src: str, dst_dir: str, name: str | None = None) -> str | None:
    if not os.path.exists(src):
        return None
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, name or os.path.basename(src))
    shutil.copyfile(src, dst)
    return dst


def copy_page(src: str, dst_dir: str, name: str = "index.html") -> str | None:
    """Copy an interactive page into a subfolder of the results, pointing it at the one
    plotly.min.js of output/results/ (copied there once) instead of its own copy."""
    if not os.path.exists(src):
        return None
    results = os.path.dirname(os.path.abspath(dst_dir))
    copy(os.path.join(os.path.dirname(src), "plotly.min.js"), results)
    os.makedirs(dst_dir, exist_ok=True)
    text = open(src).read().replace('<script src="plotly.min.js">', '<script src="../plotly.min.js">')
    with open(os.path.join(dst_dir, name), "w") as f:
        f.write(text)
    return os.path.join(dst_dir, name)


def train_seconds(run: str, model_type: str) -> float | None:
    """Wall time of a training run, from its args.json and checkpoint timestamps."""
    args, ckpt = os.path.join(run, "args.json"), os.path.join(run, f"checkpoint_{model_type}.pth")
    if os.path.exists(args) and os.path.exists(ckpt):
        return os.path.getmtime(ckpt) - os.path.getmtime(args)
    return None


def table_rows(name: str, result: dict, seconds: float | None) -> list[str]:
    rows = []
    for label, summary in (("model", result["model"]), ("mean-shape baseline", result["mean_shape_baseline"])):
        if summary is None:
            continue
        f1 = " | ".join(f"{summary['F1@%f' % t]:.1f}" for t in result["thresholds"])
        iou = f"{summary['IoU_vox32']:.3f}" if "IoU_vox32" in summary else "-"
        times = f"{seconds:.0f} | {result['eval_seconds']:.0f}" if label == "model" and seconds is not None else "- | -"
        rows.append(f"| {name} | {label} | {f1} | {iou} | {summary['ChamferL2']:.4f} | {times} |")
    return rows


def learning_curve(out: str) -> list[str]:
    """F1@0.01 and F1@0.05 of the occupancy run's kept checkpoints against training steps."""
    points = []
    for path in glob.glob(os.path.join("output", "eval", "occupancy_step*", "metrics.json")):
        step = int(re.search(r"occupancy_step(\d+)", path).group(1))
        model = json.load(open(path))["model"]
        points.append((step, model["F1@0.010000"], model["F1@0.050000"]))
    if not points:
        return []
    points.sort()
    import utils_vis

    steps = [p[0] for p in points]
    path = os.path.join(out, "occupancy_curve.png")
    utils_vis.plot_curves(
        path,
        steps,
        {"F1@0.01": [p[1] for p in points], "F1@0.05": [p[2] for p in points]},
        "training step",
        "occupancy: F1 on the test split (64^3 extraction) during training",
    )
    return ["", "| occupancy step | F1@0.01 | F1@0.05 |", "|---|---|---|"] + [
        f"| {s} | {a:.1f} | {b:.1f} |" for s, a, b in points
    ]


def main(args: argparse.Namespace) -> None:
    out = args.out
    header = (
        "| type | | " + " | ".join(f"F1@{t:.2f}" for t in THRESHOLDS) + " | IoU 32^3 | Chamfer-L2 | train s | eval s |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model_type in TYPES:
        folder = os.path.join("output", "eval", model_type)
        if not os.path.exists(os.path.join(folder, "metrics.json")):
            continue
        result = json.load(open(os.path.join(folder, "metrics.json")))
        lines += table_rows(model_type, result, train_seconds(run_dir(model_type), model_type))
        dst = os.path.join(out, model_type)
        copy(os.path.join(folder, f"eval_{model_type}.png"), dst)
        copy(os.path.join(folder, "gallery.png"), dst)
        copy_page(os.path.join(folder, "index.html"), dst)
        for sample in ("0", "40"):
            for suffix in ("_gt.png", "_pred.gif", "_gt_mesh.gif"):
                copy(os.path.join(folder, sample + suffix), dst)
    oracle = os.path.join("output", "eval", "vox_oracle", "metrics.json")
    if os.path.exists(oracle):
        result = json.load(open(oracle))
        f1 = " | ".join(f"{result['model']['F1@%f' % t]:.1f}" for t in result["thresholds"])
        lines.append(
            f"| vox | oracle (GT voxels) | {f1} | {result['model']['IoU_vox32']:.3f} | "
            f"{result['model']['ChamferL2']:.4f} | - | {result['eval_seconds']:.0f} |"
        )
    lines += learning_curve(out)
    transfer = []
    for split in ("test", "heldout"):
        path = os.path.join("output", "eval", f"vox_holdout_{split}", "metrics.json")
        if os.path.exists(path):
            transfer += table_rows(f"vox, {split} split", json.load(open(path)), None)
            copy(
                os.path.join(os.path.dirname(path), "gallery.png"), os.path.join(out, "holdout"), f"gallery_{split}.png"
            )
    if transfer:
        lines += [
            "",
            "Held-out families (trained without cantilever chairs and folding X-leg tables; every view):",
            header,
            lines[1],
        ] + transfer
    copy(os.path.join("output", "eval", "compare", "compare_f1.png"), out)
    copy_page(os.path.join("output", "eval", "compare", "compare.html"), os.path.join(out, "compare"), "index.html")
    copy(os.path.join("output", "study", "mesh_study.png"), out)
    copy(os.path.join("output", "study", "mesh_study.md"), out)
    for name in ("feat_map=up2_16.png", "feat_map=up3_32.png", "saliency.png", "views.png"):
        copy(os.path.join("output", "interpretation", name), os.path.join(out, "interpretation"))
    if os.path.exists(os.path.join("data", "embedded", "families.json")):
        import utils_vis

        utils_vis.families_figure(os.path.join("data", "embedded"), os.path.join(out, "dataset_samples.png"))
    text = "\n".join(lines) + "\n"
    if args.seconds:
        text += f"\nEnd-to-end time of reproduce.sh: {args.seconds / 60:.1f} min.\n"
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="output/results")
    parser.add_argument("--seconds", type=int, default=None)
    main(parser.parse_args())
