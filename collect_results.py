"""Gather the small, committable results of reproduce.sh into output/results/.

    python collect_results.py [--seconds N]

Copies each type's F1 plot and gallery, two sample GIFs per type, the comparison plot, the
mesh study and the interpretation figures, and writes output/results/results.md: F1 at every
threshold for each model and its mean-shape baseline, the oracle, training and eval times.
"""

import argparse
import json
import os
import shutil

TYPES = ("vox", "point", "mesh", "occupancy")


def copy(src: str, dst_dir: str, name: str | None = None) -> str | None:
    if not os.path.exists(src):
        return None
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, name or os.path.basename(src))
    shutil.copyfile(src, dst)
    return dst


def train_seconds(model_type: str) -> float | None:
    """Wall time of the training run, from its args.json and checkpoint timestamps."""
    run = os.path.join("checkpoints", model_type)
    args, ckpt = os.path.join(run, "args.json"), os.path.join(run, f"checkpoint_{model_type}.pth")
    if os.path.exists(args) and os.path.exists(ckpt):
        return os.path.getmtime(ckpt) - os.path.getmtime(args)
    return None


def main(args: argparse.Namespace) -> None:
    out = args.out
    lines = ["| type | | " + " | ".join(f"F1@{t:.2f}" for t in (0.01, 0.02, 0.03, 0.04, 0.05)) + " | IoU 32^3 | Chamfer-L2 | train s | eval s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model_type in TYPES:
        folder = os.path.join("output", "eval", model_type)
        metrics_path = os.path.join(folder, "metrics.json")
        if not os.path.exists(metrics_path):
            continue
        result = json.load(open(metrics_path))
        thresholds = result["thresholds"]
        for label, summary in (("model", result["model"]), ("mean-shape baseline", result["mean_shape_baseline"])):
            if summary is None:
                continue
            f1 = " | ".join(f"{summary['F1@%f' % t]:.1f}" for t in thresholds)
            iou = f"{summary['IoU_vox32']:.3f}" if "IoU_vox32" in summary else "-"
            seconds = train_seconds(model_type) if label == "model" else None
            times = f"{seconds:.0f} | {result['eval_seconds']:.0f}" if seconds is not None else "- | -"
            lines.append(f"| {model_type} | {label} | {f1} | {iou} | {summary['ChamferL2']:.4f} | {times} |")
        dst = os.path.join(out, model_type)
        copy(os.path.join(folder, f"eval_{model_type}.png"), dst)
        copy(os.path.join(folder, "gallery.png"), dst)
        for sample in ("0", "40"):
            for suffix in ("_gt.png", "_pred.gif", "_gt_mesh.gif"):
                copy(os.path.join(folder, sample + suffix), dst)
    oracle = os.path.join("output", "eval", "vox_oracle", "metrics.json")
    if os.path.exists(oracle):
        result = json.load(open(oracle))
        f1 = " | ".join(f"{result['model']['F1@%f' % t]:.1f}" for t in result["thresholds"])
        lines.append(f"| vox | oracle (GT voxels) | {f1} | {result['model']['IoU_vox32']:.3f} | {result['model']['ChamferL2']:.4f} | - | {result['eval_seconds']:.0f} |")
    copy(os.path.join("output", "eval", "compare_f1.png"), out)
    copy(os.path.join("output", "study", "mesh_study.png"), out)
    copy(os.path.join("output", "study", "mesh_study.md"), out)
    for name in ("feat_map=up2_16.png", "feat_map=up3_32.png", "saliency.png", "views.png"):
        copy(os.path.join("output", "interpretation", name), os.path.join(out, "interpretation"))
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
