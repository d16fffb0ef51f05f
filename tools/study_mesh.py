"""Hyper-parameter study of the mesh model: train and evaluate several loss weightings.

    python -m tools.study_mesh                                    # w_chamfer 1.0, 0.8, 0.6 at w_smooth 0.1
    python -m tools.study_mesh --w_chamfer 1.0 --w_smooth 0.01 0.1 1.0 --max_iter 800

Each setting is trained with train_model.py into checkpoints/study/<name> (replacing an earlier
study's run) and evaluated with
eval_model.py (tag <name>); then output/study/mesh_study.png shows the same test samples for
every setting side by side, and output/study/mesh_study.md the table of F1@0.05.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from common.cli import non_negative_float, positive_float, positive_int, script_parser
from dataset_location import REPO_DIR
from evaluation.metrics import f1_key
from training.checkpoints import RUNS_DIR


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "The mesh loss-weight study: a mesh run per setting into checkpoints/study/, evaluated into --out; a "
        "rerun replaces both.",
    )
    parser.add_argument(
        "--w_chamfer", type=positive_float, nargs="+", default=[1.0, 0.8, 0.6], help="Chamfer weights tried"
    )
    parser.add_argument("--w_smooth", type=non_negative_float, nargs="+", default=[0.1], help="smoothing weights tried")
    parser.add_argument("--max_iter", type=positive_int, default=200, help="training steps per setting")
    parser.add_argument("--vis_ids", type=int, nargs="+", default=[0, 20, 40, 60, 80], help="test samples drawn")
    parser.add_argument("--data_root", default=None, help="an R2N2-layout folder (default: the embedded data)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: train_model.py's)")
    parser.add_argument("--out", default="output/study", help="the study's evaluations and table")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more train_model.py flags")
    return parser


def run(cmd: list[str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        sys.exit(f"error: command failed: {' '.join(cmd)}")


def results_folder(args: argparse.Namespace, name: str) -> str:
    """The folder eval_model.py wrote for setting `name`: mesh_<name>, followed by what differs
    from a default evaluation (the study's own checkpoint, maybe another data root)."""
    import glob

    found = sorted(
        glob.glob(os.path.join(args.out, "eval", f"mesh_{name}_from-*"))
        + glob.glob(os.path.join(args.out, "eval", f"mesh_{name}"))
    )
    if len(found) != 1:
        where = os.path.join(args.out, "eval")
        sys.exit(f"error: expected one result folder of setting {name} in {where}, found {len(found)}")
    return found[0]


def train_and_evaluate(args: argparse.Namespace, wc: float, ws: float, common: list[str]) -> tuple:
    """Train one setting into checkpoints/study/<name>, evaluate it; (name, wc, ws, F1@0.05,
    normal consistency, training seconds)."""
    name = f"wc{wc:g}_ws{ws:g}"
    folder = os.path.join(RUNS_DIR, "study", name)
    start = time.time()
    weights = ["--w_chamfer", str(wc), "--w_smooth", str(ws)]
    run(
        [
            sys.executable,
            os.path.join(REPO_DIR, "train_model.py"),
            "--type",
            "mesh",
            *weights,
            "--max_iter",
            str(args.max_iter),
            "--out_dir",
            folder,
            "--overwrite",
            *common,
            *args.extra,
        ]
    )
    train_seconds = time.time() - start
    results = ["--results_dir", os.path.join(args.out, "eval"), "--vis_ids", *map(str, args.vis_ids), "--no_baseline"]
    run(
        [
            sys.executable,
            os.path.join(REPO_DIR, "eval_model.py"),
            "--type",
            "mesh",
            "--load_checkpoint",
            "--out_dir",
            folder,
            "--tag",
            name,
            *results,
            *common,
        ]
    )
    with open(os.path.join(results_folder(args, name), "metrics.json")) as f:
        model = json.load(f)["model"]
    return name, wc, ws, model[f1_key(0.05)], model["NormalConsistency"], train_seconds


def study_figure(args: argparse.Namespace, names: list[str]) -> str:
    """One figure: a row per sample, a column per setting (front view of each prediction GIF),
    the input first and the GT last."""
    import imageio.v3 as iio

    import utils_vis

    def front_views(folder: str, suffix: str) -> np.ndarray:
        return np.concatenate(
            [iio.imread(os.path.join(folder, f"{i}{suffix}"))[2][..., :3] for i in args.vis_ids], axis=0
        )

    columns = [front_views(results_folder(args, name), "_pred.gif") for name in names]
    first = results_folder(args, names[0])
    inputs = []
    for i in args.vis_ids:
        image = iio.imread(os.path.join(first, f"{i}_gt.png"))[..., :3]
        size = columns[0].shape[1]
        idx = (np.arange(size) * image.shape[0] / size).astype(int)
        inputs.append(image[idx][:, idx])
    figure = np.concatenate([np.concatenate(inputs, axis=0), *columns, front_views(first, "_gt_mesh.gif")], axis=1)
    return utils_vis.save_png(os.path.join(args.out, "mesh_study.png"), figure)


def main(args: argparse.Namespace) -> None:
    common = (["--data_root", args.data_root] if args.data_root else []) + (
        ["--device", args.device] if args.device else []
    )
    rows = [train_and_evaluate(args, wc, ws, common) for wc in args.w_chamfer for ws in args.w_smooth]
    path = study_figure(args, [row[0] for row in rows])
    table = ["| setting | w_chamfer | w_smooth | F1@0.05 | normal consistency | train s |", "|---|---|---|---|---|---|"]
    table += [f"| {n} | {wc:g} | {ws:g} | {f1:.1f} | {nc:.3f} | {s:.0f} |" for n, wc, ws, f1, nc, s in rows]
    columns_note = "Figure columns: input, " + ", ".join(r[0] for r in rows) + ", GT."
    with open(os.path.join(args.out, "mesh_study.md"), "w") as f:
        f.write("\n".join(table) + "\n\n" + columns_note + "\n")
    print("\n".join(table))
    print(f"wrote {path} ({columns_note}) and {os.path.join(args.out, 'mesh_study.md')}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
