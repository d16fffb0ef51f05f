"""Paired differences between evaluations of the same samples: how design choices are compared.

    python -m benchmarks.paired output/eval/vox_base_val_allviews output/eval/vox_cand_val_allviews ...

The first folder is the reference. For every other one, each metric's difference is taken sample
by sample on the samples both scored (same synset, model and view), and its mean is given with
its standard error: the two models saw the same images, so what the samples share (hard shapes,
easy views) cancels. The views of one model are not independent samples, so the standard error
is over models: each model's differences are averaged over its views first. thin_recall differs
on the samples whose GT has rods. The training cost comes from each checkpoint's run folder
(args.json: train_seconds over the steps). Not a test; for choosing designs on the val split
(`eval_model.py --split val --views all`).
"""

import csv
import json
import math
import os

from evaluation.metrics import F1_HEADLINE

METRICS = (("IoU_vox32", 3), (F1_HEADLINE, 1), ("thin_recall", 3), ("sil_iou", 3))  # (per_sample.csv column, digits)


def read_rows(folder: str) -> dict[tuple, dict]:
    """{(synset, model_id, view): row} of an evaluation folder's per_sample.csv, its columns spelled
    as `evaluation.metrics.metric_key` spells them (older files wrote "F1@0.050000")."""
    from common.legacy import canonical_metric_keys
    from evaluation.metrics import metric_key

    with open(os.path.join(folder, "per_sample.csv")) as f:
        return {
            (r["synset"], r["model_id"], r["view"]): canonical_metric_keys(r, metric_key) for r in csv.DictReader(f)
        }


def paired(reference: dict, candidate: dict, key: str) -> tuple[float, float, float, int]:
    """(candidate's mean, mean difference, its standard error over models, n samples) over the
    samples where both have a finite value of `key`."""
    by_model, values = {}, []
    for sample, row in candidate.items():
        if sample not in reference or key not in row:
            continue
        a, b = float(reference[sample][key]), float(row[key])
        if math.isfinite(a) and math.isfinite(b):
            by_model.setdefault(sample[:2], []).append(b - a)  # (synset, model_id)
            values.append(b)
    n = len(values)
    model_diffs = [sum(d) / len(d) for d in by_model.values()]
    if len(model_diffs) < 2:
        return float("nan"), float("nan"), float("nan"), n
    mean = sum(d for ds in by_model.values() for d in ds) / n  # the mean over samples, as the tables give
    centre = sum(model_diffs) / len(model_diffs)
    sd = math.sqrt(sum((d - centre) ** 2 for d in model_diffs) / (len(model_diffs) - 1))
    return sum(values) / n, mean, sd / math.sqrt(len(model_diffs)), n


def step_cost(folder: str) -> str:
    """Seconds per training step of the evaluated checkpoint's run, from its args.json."""
    with open(os.path.join(folder, "metrics.json")) as f:
        checkpoint = json.load(f).get("checkpoint")
    record = os.path.join(os.path.dirname(checkpoint or ""), "args.json")
    if not checkpoint or not os.path.isfile(record):
        return "-"
    with open(record) as f:
        run = json.load(f)
    steps = sum(entry["to_step"] - entry["from_step"] for entry in run["history"])
    return f"{run['train_seconds'] / max(steps, 1):.2f} x {steps}" if steps else "-"


def main(args):
    reference = read_rows(args.folders[0])
    header = ["run", "s/step x steps"] + [f"{key} (diff +- se)" for key, _ in METRICS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for folder in args.folders:
        rows = read_rows(folder)
        cells = [os.path.basename(os.path.normpath(folder)), step_cost(folder)]
        for key, digits in METRICS:
            value, diff, se, _ = paired(reference, rows, key)
            cells.append(
                f"{value:.{digits}f}"
                if folder == args.folders[0]
                else f"{value:.{digits}f} ({diff:+.{digits}f} +- {se:.{digits}f})"
            )
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    from common.cli import script_parser

    parser = script_parser(__file__, __doc__.splitlines()[0] + " Prints a table; writes nothing.")
    parser.add_argument("folders", nargs="+", help="evaluation folders; the first is the reference")
    main(parser.parse_args())
