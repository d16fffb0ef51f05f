"""Gather the small, committable results of reproduce.sh into output/results/.

    python -m tools.collect_results [--seconds N]

Copies each type's F1 plot, gallery, two sample GIFs and interactive page (index.html, with one
shared plotly.min.js), the comparison plot and page, the occupancy learning curve, the held-out
family results, the mesh study, the interpretation figures and a figure of the embedded
dataset's families, and writes docs/results.md (--doc): F1 at every threshold for each model
and its mean-shape baseline, the oracle, training and eval times.
"""

import argparse
import json
import os
import shutil

from dataset_location import EMBEDDED_DATA_ROOT, REPO_DIR
from evaluation.metrics import DEFAULT_THRESHOLDS as THRESHOLDS
from evaluation.metrics import F1_HEADLINE, f1_key
from representations import DEFAULT_TYPE
from representations import get as get_representation
from representations import names as representation_names
from tools.result_lookup import find_result, load_results, require_result
from training.checkpoints import RUNS_DIR, checkpoint_path, run_dir

HOLDOUT_DATA_ROOT = os.path.join(REPO_DIR, "data", "holdout")  # reproduce.sh's held-out-family world


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


def train_seconds(run: str) -> float | None:
    """Seconds a training run trained, over its start and every resume (args.json's history)."""
    path = os.path.join(run, "args.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get("train_seconds")


COLUMNS = [f"F1@{t:.2f}" for t in THRESHOLDS] + [
    "IoU 32^3",
    "IoU labels",
    "Chamfer-L2",
    "normal cons.",
    "Mesh R-CNN F1@0.3",
    "thin_recall",
    "sil_iou (GT's)",
    "train s",
    "eval s",
]
HEADER = ["| type | | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]


def thin_cell(summary: dict, n_samples: int | None) -> str:
    """thin_recall with how many samples it is over (those with rods), e.g. "0.562 (45/99)"."""
    if "thin_recall" not in summary:
        return "-"
    count = summary.get("thin_recall_samples")
    return f"{summary['thin_recall']:.3f}" + (f" ({count}/{n_samples})" if count is not None and n_samples else "")


def table_rows(name: str, result: dict, seconds: float | None) -> list[str]:
    """The model's row and its mean-shape baseline's, in HEADER's columns."""
    rows = []
    for label, summary in (("model", result["model"]), ("mean-shape baseline", result["mean_shape_baseline"])):
        if summary is None:
            continue
        cells = [f"{summary[f1_key(t)]:.1f}" for t in THRESHOLDS]  # find_result: the stored thresholds are these
        cells += [f"{summary[k]:.3f}" if k in summary else "-" for k in ("IoU_vox32", "IoU_labels")]
        cells += [
            f"{summary['ChamferL2']:.4f}",
            f"{summary['NormalConsistency']:.3f}" if "NormalConsistency" in summary else "-",
        ]
        cells += [f"{summary['MeshRCNN_F1@0.3']:.1f}" if "MeshRCNN_F1@0.3" in summary else "-"]
        cells += [thin_cell(summary, result.get("n_samples"))]
        cells += [
            f"{summary['sil_iou']:.3f} ({summary['sil_iou_gt']:.3f})" if summary.get("sil_iou") is not None else "-"
        ]
        cells += (
            [f"{seconds:.0f}", f"{result['eval_seconds']:.0f}"]
            if label == "model" and seconds is not None
            else ["-", "-"]
        )
        rows.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    return rows


def run_validations(model_type: str) -> tuple[list[dict], dict | None]:
    """The default run's own validations, as its last checkpoint records them: (val_history,
    best), or ([], None) when there is no run or it never validated."""
    import torch

    path = checkpoint_path(run_dir(model_type), model_type)
    if not os.path.exists(path):
        return [], None
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return checkpoint.get("val_history") or [], checkpoint.get("best")


def validation_rows() -> list[str]:
    """Each run's own validations: its best step and val F1@0.05, the last one, what they cost."""
    rows = [
        "| run | validations | best step | best val F1@0.05 | last val F1@0.05 | validation s | of train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for model_type in representation_names():
        history, best = run_validations(model_type)
        if not history or not best:
            continue
        seconds = sum(entry["seconds"] for entry in history)
        share = 100 * seconds / (train_seconds(run_dir(model_type)) or float("nan"))
        cells = [
            model_type,
            len(history),
            best["step"],
            f"{best[F1_HEADLINE]:.1f}",
            f"{history[-1][F1_HEADLINE]:.1f}",
            f"{seconds:.0f}",
            f"{share:.1f}%",
        ]
        rows.append("| " + " | ".join(map(str, cells)) + " |")
    return rows if len(rows) > 2 else []


def frame_check_rows(results: list[dict]) -> list[str]:
    """The default vox model's frame check on the real-like fixture, on the same fixture written
    a quarter turn round (reproduce.sh's last evaluations) and on the embedded test split."""
    from geometry.frames import describe_frame_check

    checkpoint = checkpoint_path(run_dir(DEFAULT_TYPE), DEFAULT_TYPE)
    if not os.path.exists(checkpoint):
        return []
    found = [
        (
            f"`data/{name}`",
            find_result(results, DEFAULT_TYPE, checkpoint, split="all", data_root=os.path.join(REPO_DIR, "data", name)),
        )
        for name in ("r2n2_like", "r2n2_turned")
    ] + [("embedded test split", find_result(results, DEFAULT_TYPE, checkpoint))]
    rows = [
        f"- {where}: " + describe_frame_check(r["frame_check"][r["frame_check"]["decided_on"]])
        for where, r in found
        if r and r.get("frame_check")
    ]
    return rows


def learning_curve(out: str, model_type: str = "occupancy") -> list[str]:
    """F1@0.01 and F1@0.05 on the val subset against training steps, from the validations the
    run itself logged (its checkpoint's val_history; `validation.py`), drawn to
    out/<type>_curve.png."""
    history, _ = run_validations(model_type)
    if not history:
        return []
    import utils_vis

    steps = [entry["step"] for entry in history]
    curves = {key: [entry[key] for entry in history] for key in (f1_key(0.01), F1_HEADLINE)}
    utils_vis.plot_curves(
        os.path.join(out, f"{model_type}_curve.png"),
        steps,
        curves,
        "training step",
        f"{model_type}: F1 on the val subset during training (its own validations)",
    )
    rows = [f"| {entry['step']} | {entry['F1@0.01']:.1f} | {entry['F1@0.05']:.1f} |" for entry in history]
    return ["", f"| {model_type} step (val subset) | F1@0.01 | F1@0.05 |", "|---|---|---|"] + rows


def copy_run_figures(result: dict, model_type: str, out: str) -> None:
    """A type's F1 plot, gallery, page and two samples' images and GIFs into out/<type>/."""
    folder, dst = result["folder"], os.path.join(out, model_type)
    copy(os.path.join(folder, f"eval_{model_type}.png"), dst)
    copy(os.path.join(folder, "gallery.png"), dst)
    copy_page(os.path.join(folder, "index.html"), dst)
    for sample in ("0", "40"):
        for suffix in ("_gt.png", "_pred.gif", "_gt_mesh.gif"):
            copy(os.path.join(folder, sample + suffix), dst)


def reads_pixels(result: dict) -> bool:
    """Whether the evaluated model reads the image where points project (so what it is told of the
    camera matters): metrics.json's camera_used says (`evaluation.protocol.describe_camera`)."""
    return not str(result.get("camera_used", "not read")).startswith("not read")


def no_camera_rows(results: list[dict], model_type: str, checkpoint: str, known: dict, **where) -> list[str]:
    """For a model that reads pixels, its row told no camera (`eval_model.py --camera none`, what a
    photo gets), or a row saying that evaluation is missing; nothing for a model that reads none."""
    if not reads_pixels(known):
        return []
    result = find_result(results, model_type, checkpoint, camera="none", **where)
    if result is None:
        return [f"| {model_type}, no camera | not evaluated (eval_model.py --camera none) | " + "- | " * len(COLUMNS)]
    return table_rows(f"{model_type}, no camera", result, None)[:1]


def main_table(results: list[dict], out: str) -> list[str]:
    """The five types (and the oracle) on the embedded test split; their figures copied."""
    lines = list(HEADER)
    for model_type in representation_names():
        checkpoint = checkpoint_path(run_dir(model_type), model_type)
        if not os.path.exists(checkpoint):  # said, not left out silently
            lines.append(f"| {model_type} | not trained in this run (no {checkpoint}) | " + "- | " * len(COLUMNS))
            continue
        result = require_result(results, model_type, checkpoint)
        lines += table_rows(model_type, result, train_seconds(run_dir(model_type)))
        lines += no_camera_rows(results, model_type, checkpoint, result)
        copy_run_figures(result, model_type, out)
    oracle_type = next(name for name in representation_names() if get_representation(name).has_oracle)
    oracle = find_result(results, oracle_type, None)
    if oracle:
        lines += [
            row.replace(f"| {oracle_type} | model |", f"| {oracle_type} | oracle (GT voxels) |")
            for row in table_rows(oracle_type, {**oracle, "mean_shape_baseline": None}, None)
        ]
    return lines


HOLDOUT_GROUPS = {  # the held-out run's splits: the seen families' test split and the two held-out groups
    "test": "seen families (test split)",
    "heldout": "choice group: cantilever chairs, folding X-leg tables",
    "heldout_report": "report group: rocking chairs, trestle tables, chaise sofas",
}


GAP_COLUMNS = ("IoU_vox32", F1_HEADLINE, "thin_recall", "sil_iou")


def transfer_table(results: list[dict], out: str) -> list[str]:
    """The held-out-family run on its test split and on each held-out group, and the gaps."""
    transfer, found = [], {}
    holdout_checkpoint = checkpoint_path(os.path.join(RUNS_DIR, "holdout"), DEFAULT_TYPE)
    for split, name in HOLDOUT_GROUPS.items() if os.path.exists(holdout_checkpoint) else ():
        result = find_result(
            results, DEFAULT_TYPE, holdout_checkpoint, split=split, views="all", data_root=HOLDOUT_DATA_ROOT
        )
        if result is None:
            print(
                f"warning: no {split} result of {holdout_checkpoint} in output/eval: its row is left out "
                "(tools/reproduce.sh makes it)"
            )
            continue
        found[split] = result["model"]
        transfer += table_rows(f"vox, {name}", result, None)[:1]  # the model's row: no baseline in the transfer table
        where = {"split": split, "views": "all", "data_root": HOLDOUT_DATA_ROOT}
        transfer += [
            row.replace(f"| {DEFAULT_TYPE}, no camera |", f"| vox, {name}, no camera |")
            for row in no_camera_rows(results, DEFAULT_TYPE, holdout_checkpoint, result, **where)
        ]
        copy(os.path.join(result["folder"], "gallery.png"), os.path.join(out, "holdout"), f"gallery_{split}.png")
    gaps = []
    for split in ("heldout", "heldout_report"):
        if "test" in found and split in found:
            seen, held = found["test"], found[split]
            group = HOLDOUT_GROUPS[split].split(":")[0]
            diff = {k: seen.get(k, float("nan")) - held.get(k, float("nan")) for k in GAP_COLUMNS}
            gaps.append(
                f"| seen minus {group} | {diff['IoU_vox32']:+.3f} | {diff[f1_key(0.05)]:+.1f} | "
                f"{diff['thin_recall']:+.3f} | {diff['sil_iou']:+.3f} |"
            )
    if gaps:
        gaps = ["| gap (test split minus held-out group) | IoU 32^3 | F1@0.05 | thin_recall | sil_iou |",
                "|---|---|---|---|---|", *gaps]  # fmt: skip
    title = (
        "The default vox model trained without both held-out groups (the choice group, on which designs were "
        "chosen, and the report group, looked at once), every view:"
    )
    return [title, "", *HEADER] + transfer + ([""] + gaps if gaps else []) if transfer else []


def copy_figures(out: str) -> None:
    """The comparison, the mesh study, the interpretation figures and the families figure."""
    copy(os.path.join("output", "eval", "compare", "compare_f1.png"), out)
    copy_page(os.path.join("output", "eval", "compare", "compare.html"), os.path.join(out, "compare"), "index.html")
    copy(os.path.join("output", "study", "mesh_study.png"), out)
    copy(os.path.join("output", "study", "mesh_study.md"), out)
    for name in ("feat_map=up_16.png", "feat_map=refine_16.png", "feat_map=logits_32.png", "saliency.png", "views.png"):
        copy(os.path.join("output", "interpretation", name), os.path.join(out, "interpretation"))
    if os.path.exists(os.path.join(EMBEDDED_DATA_ROOT, "families.json")):
        import utils_vis

        utils_vis.families_figure(EMBEDDED_DATA_ROOT, os.path.join(out, "dataset_samples.png"))


def photo_rows(path: str = os.path.join("output", "results", "photo_like_test.json")) -> list[str]:
    """The photo-like set's table (`benchmarks/photo_like.py`): each checkpoint on renderings and
    photos, plain, prepared and with the true mask; F1@0.05 +- its standard error / IoU."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        found = json.load(f)
    kinds = ("renderings", "photo, plain", "photo, prepared", "photo, true mask")
    rows = ["| checkpoint | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for checkpoint, scores in found["runs"].items():
        cells = []
        for kind in kinds:
            score = scores[kind]
            iou = f" / {score['IoU']:.3f}" if score.get("IoU") is not None else ""
            cells.append(f"{score['F1@0.05']:.1f} +- {score['F1@0.05_se']:.1f}{iou}")
        rows.append(f"| `{checkpoint}` | " + " | ".join(cells) + " |")
    masks = (
        f"Automatic masks against the true ones: IoU {found['mask_iou_mean']:.3f} mean, "
        f"{found['mask_iou_median']:.3f} median."
    )
    return rows + ["", masks]


def section(title: str, command: str, lines: list[str], anchor: str | None = None) -> list[str]:
    """A titled part of docs/results.md with the command that made it; nothing when it is empty."""
    if not [line for line in lines if line.strip()]:
        return []
    return ["", f"## {title}", "", f"`{command}`", "", *[line for line in lines]]


def figures() -> list[str]:
    """The galleries and figures of output/results/, as docs/results.md shows them."""
    lines = ["", "## Galleries", "", "Each row: input | prediction at 0 and 45 degrees | GT at the same angles."]
    for model_type in representation_names():
        if os.path.exists(os.path.join("output", "results", model_type, "gallery.png")):
            lines += ["", f"**{model_type}** ([page](../output/results/{model_type}/index.html))", ""]
            lines += [f"![{model_type}](../output/results/{model_type}/gallery.png)"]
    for split, name in HOLDOUT_GROUPS.items():  # the held-out run on the seen families and on each group
        if os.path.exists(os.path.join("output", "results", "holdout", f"gallery_{split}.png")):
            lines += ["", f"**vox trained without the held-out groups, {name}**", ""]
            lines += [f"![held-out run, {split}](../output/results/holdout/gallery_{split}.png)"]
    for name, title in (("compare_f1.png", "F1 of every type"), ("occupancy_curve.png", "occupancy's learning curve")):
        if os.path.exists(os.path.join("output", "results", name)):
            lines += ["", f"![{title}](../output/results/{name})"]
    return lines


def main(args: argparse.Namespace) -> None:
    out = args.out
    results = load_results()
    lines = [
        "# Results",
        "",
        "Generated by `tools/collect_results.py` from one `bash tools/reproduce.sh` run; do not edit.",
    ]
    if args.seconds:
        lines += ["", f"End-to-end time of that run: {args.seconds / 60:.1f} min on the machine it ran on."]
    lines += section(
        "Embedded test split",
        "python train_model.py --type T && python eval_model.py --type T --load_checkpoint",
        [
            "F1 (%) at each threshold (diagonal = 1), IoUs, Chamfer-L2, normal consistency, Mesh R-CNN's F1@0.3, "
            "thin_recall; model vs. the mean training shape; train and eval seconds.",
            "",
            *main_table(results, out),
        ],
    )
    lines += section(
        "The runs' own validations", "train_model.py (every --val_freq steps)", validation_rows() + learning_curve(out)
    )
    lines += section(
        "Held-out families",
        "make_dataset.py --root data/holdout --holdout cantilever folding_x --holdout_report rocking trestle chaise; "
        "train_model.py --type vox --data_root data/holdout; eval_model.py --split test|heldout|heldout_report "
        "--views all",
        transfer_table(results, out),
    )
    lines += section(
        "Frame check",
        "make_dataset.py --root data/r2n2_like --layout archives --n_models 30 --seed 1 [--turn 90]; "
        "eval_model.py --type vox --load_checkpoint --data_root D --split all",
        frame_check_rows(results),
    )
    earlier = [
        "",
        "*Not re-run by the run above: these numbers are from an earlier `reproduce.sh` run, with the "
        "checkpoints of that run (for photos, the earlier default vox model).*",
    ]
    photos = photo_rows()
    lines += section(
        "Photos",
        "python -m benchmarks.photo_like --split test --checkpoints ...",
        photos + (earlier if "photos" in args.not_rerun and photos else []),
    )
    study = os.path.join("output", "study", "mesh_study.md")
    if not os.path.exists(study):  # the copy the last study left in output/results
        study = os.path.join(args.out, "mesh_study.md")
    study_lines = open(study).read().splitlines() if os.path.exists(study) else []
    lines += section(
        "Mesh loss weights",
        "python -m tools.study_mesh --max_iter 200",
        study_lines + (earlier if "study" in args.not_rerun and study_lines else []),
    )
    copy_figures(out)
    lines += figures()
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.doc), exist_ok=True)
    with open(args.doc, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    from common.cli import script_parser

    parser = script_parser(
        __file__, "Collect reproduce.sh's results into docs/results.md and output/results/ (both rewritten on a rerun)."
    )
    parser.add_argument("--out", default="output/results", help="where the figures and pages are copied")
    parser.add_argument("--doc", default="docs/results.md", help="the results document written")
    parser.add_argument("--seconds", type=int, default=None, help="reproduce.sh's wall time, to report")
    parser.add_argument(
        "--not_rerun",
        nargs="*",
        default=[],
        choices=["photos", "study"],
        help="sections whose results were not re-run: marked as an earlier run's",
    )
    main(parser.parse_args())
