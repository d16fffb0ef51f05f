"""Compare evaluated runs: their F1 curves in one plot and their predictions side by side in one page.

    python -m tools.compare_runs output/eval/vox output/eval/point --out output/eval/compare/compare_f1.png

Each RUN_DIR is a folder `eval_model.py` wrote (metrics.json, samples.json). The page shows each
sample the runs share (same shape and view): its input, every run's prediction and the GT in 3D.
"""

import argparse
import json
import os

from common.cli import fail, script_parser
from evaluation.protocol import f1_curve
from evaluation.reports import read_results


def run_label(result: dict, folder_name: str, taken) -> str:
    """A run's name in the plot and page: <type>[_oracle][_<tag>], or its folder's name when two
    runs would share that."""
    tag = (result.get("args") or {}).get("tag")
    label = result["type"] + ("_oracle" if result.get("oracle") else "") + (f"_{tag}" if tag else "")
    return folder_name if label in taken else label


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__, "Compare evaluated runs: F1 curves in one plot (--out) and a page of their shared samples."
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="result folders of eval_model.py")
    parser.add_argument(
        "--out", default="output/eval/compare_f1.png", help="the plot; compare.html is written beside it"
    )
    return parser


def compare_runs(run_dirs: list[str], out_path: str) -> tuple[str, str | None]:
    """The runs' F1 curves in one plot (out_path), and compare.html beside it: each sample the
    runs share (same model and view), its input, every run's prediction and the GT in 3D."""
    import imageio.v3 as iio

    import utils_vis
    from evaluation import viewer

    curves, thresholds, runs = {}, None, []
    for run in run_dirs:
        path = os.path.join(run, "metrics.json")
        if not os.path.isfile(path):
            fail(f"--compare {run}: no metrics.json there (run eval_model.py first)")
        result = read_results(path)
        if thresholds is not None and [round(t, 6) for t in result["thresholds"]] != [round(t, 6) for t in thresholds]:
            fail(
                f"{run} was evaluated at thresholds {result['thresholds']}, the runs before it at {thresholds}: "
                "one plot needs one set of thresholds (re-run eval_model.py with the same --thresholds)"
            )
        thresholds = result["thresholds"]
        name = run_label(result, os.path.basename(os.path.normpath(run)), curves)
        overlap = result.get("train_overlap") or {}
        if overlap.get("shapes"):
            print(
                f"warning: {run}: {overlap['shapes']} of its {overlap['of']} shapes are training shapes of its "
                "checkpoint"
            )
        curves[name] = f1_curve(result["model"], thresholds)
        samples_path = os.path.join(run, "samples.json")
        if os.path.isfile(samples_path):
            with open(samples_path) as f:
                runs.append((name, result, {(s["model_id"], s["view"]): s for s in json.load(f)["samples"]}))
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    utils_vis.plot_f1(out_path, curves, thresholds, "F1 vs threshold")
    common = (
        sorted(set.intersection(*(set(samples) for _, _, samples in runs)), key=lambda key: runs[0][2][key]["id"])
        if runs
        else []
    )
    if not common:
        return out_path, None
    palette = ["#f08c40", "#3aa57a", "#b45ad2", "#d2a03c", "#e05a6e", "#8c8c8c"]
    shown = []
    for key in common:
        first = runs[0][2][key]
        shapes = [
            (f"{name} (F1@0.05 {s[key]['f1']:.1f})", s[key]["prediction"], palette[k % len(palette)])
            for k, (name, _, s) in enumerate(runs)
        ]
        shown.append(
            {
                "image": first["image"],
                "caption": f"{first['synset']}/{first['model_id']} view {first['view']}",
                "shapes": shapes + [("ground truth", first["ground_truth"], viewer.COLOURS["ground truth"])],
            }
        )
    table = viewer.summary_table(
        [f"F1@{t:.2f}" for t in thresholds], [(name, f1_curve(result["model"], thresholds)) for name, result, _ in runs]
    )
    header = table + f'<img src="{viewer.image_payload(iio.imread(out_path)[..., :3])}" alt="F1 curves" width="440">'
    try:
        page = viewer.write_page(
            folder, "Comparison: " + ", ".join(name for name, _, _ in runs), header, shown, name="compare.html"
        )
    except viewer.NoPlotlyJs as err:  # the plot is written either way
        print(str(err))
        page = None
    return out_path, page


def main(args: argparse.Namespace) -> dict:
    path, page = compare_runs(args.runs, args.out)
    print(
        f"wrote {path}"
        + (f" and the interactive page {page}" if page else " (no shared visualised samples: no comparison page)")
    )
    return {"compare": path, "page": page}


if __name__ == "__main__":
    main(get_args_parser().parse_args())
