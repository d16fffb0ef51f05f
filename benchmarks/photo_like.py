"""Checkpoints scored on photo-like images of a split's models, with and without the photo preparation.

    python -m benchmarks.photo_like --split val --checkpoints checkpoints/vox/checkpoint_vox.pth \
        checkpoints/point/checkpoint_point.pth

Not a test: it prints the table docs/photos.md gives. It writes (once) the
photo-like set of the split's models (`procedural.write_photo_set`: JPEGs on plain, gradient and
textured backgrounds, tight or off-centre, elevations 0-20 degrees; `--photos` folder), then
scores each checkpoint against the models' ground truth, as `eval_model.py` does (F1@0.05 on
5000 points, IoU at 32^3), on:
- renderings: the split's own R2N2-like renderings (first view), the reference;
- photo, plain: the JPEG as it is, resized to 137x137 (what reconstruct.py did before --plain
  became an option);
- photo, prepared: `photos.prepare.prepare_photo` (automatic mask, composited on white, framed);
- photo, true mask: the same framing with the true mask, the mask's ceiling.
A photo carries no camera: a model that reads the image where points project is told none, as
reconstruct.py tells it, and searches its camera by the prepared photo's own mask where it can
(`evaluation.config.default_camera_search`; a plain photo has no mask, so its head's guess). It
also reports the automatic masks' IoU with the true masks. Use --split val to choose between
designs, the test split for the final table.
"""

import argparse
import json
import os
import time

import numpy as np
import torch

from common.cli import script_parser
from evaluation.metrics import F1_HEADLINE
from r2n2.formats import DatasetError

MODES = ("renderings", "photo, plain", "photo, prepared", "photo, true mask")


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Score checkpoints on photo-like images of a split's models (written once to --photos, reused after); "
        "prints a table, and writes it to --out when given (replaced on a rerun).",
    )
    parser.add_argument("--checkpoints", nargs="+", required=True, help="checkpoints of train_model.py")
    parser.add_argument(
        "--data_root",
        default=None,
        help="the generated dataset whose models are photographed (default: the embedded data)",
    )
    parser.add_argument("--split", default="test", help="the split whose models are photographed")
    parser.add_argument("--photos", default=None, help="the photo-like set (default data/photo_like_<split>)")
    parser.add_argument("--per_model", type=int, default=2, help="photos per model")
    parser.add_argument("--batch_size", type=int, default=16, help="images per forward pass")
    parser.add_argument("--out", default=None, help="also write the table as JSON here")
    return parser


def prepared_images(folder: str, rows: list[dict]) -> tuple[dict, dict, list[float]]:
    """{mode: (N, 137, 137, 3)} for the photo modes, {mode: (N, 137, 137) the mask where the object
    sits in those images, or None} (what a camera search fits), and each automatic mask's IoU with
    the true one."""
    import imageio.v3 as iio

    from evaluation.metrics import voxel_iou  # flattens each item: the IoU of two masks as of two grids
    from photos.prepare import PhotoError, prepare_photo
    from r2n2.images import prepare_image

    images = {mode: [] for mode in MODES[1:]}
    masks = {mode: [] for mode in MODES[1:]}
    ious = []
    for row in rows:
        array = iio.imread(os.path.join(folder, row["file"]))
        true_mask = iio.imread(os.path.join(folder, row["mask"])) > 127
        images["photo, plain"].append(prepare_image(array))
        truly = prepare_photo(array, true_mask)
        images["photo, true mask"].append(truly.image)
        masks["photo, true mask"].append(torch.from_numpy(truly.input_mask))
        try:
            photo = prepare_photo(array)
            ious.append(float(voxel_iou(torch.from_numpy(photo.mask > 0.5)[None], torch.from_numpy(true_mask)[None])))
            images["photo, prepared"].append(photo.image)
            masks["photo, prepared"].append(torch.from_numpy(photo.input_mask))
        except PhotoError:  # a failed mask: reconstruct.py would refuse the photo; scored as the plain image
            ious.append(0.0)
            images["photo, prepared"].append(prepare_image(array))
            masks["photo, prepared"].append(torch.zeros(images["photo, prepared"][-1].shape[:2]))
    stacked = {mode: torch.stack(stack) for mode, stack in images.items()}
    return stacked, {mode: torch.stack(stack) if stack else None for mode, stack in masks.items()}, ious


def score(
    model, dataset, rows: list[dict], images: torch.Tensor | None, masks: torch.Tensor | None, batch_size: int
) -> dict:
    """Mean F1@0.05 and IoU of a model on the photos' models, the photos' images (and the masks where
    the object sits in them, or None) in place of the renderings (images None: the renderings
    themselves, with their cameras)."""
    from evaluation.config import GRID_RES, can_search_camera, default_camera_search
    from evaluation.protocol import average, evaluate, predict

    index = {entry.model_id: m for m, entry in enumerate(dataset.entries)}
    shape_rows = [index[row["model_id"]] for row in rows]

    def batches():
        for start in range(0, len(rows), batch_size):
            batch = dataset.__getitems__(shape_rows[start : start + batch_size])
            if images is not None:  # a photo: no rendering's camera or mask belongs to it
                batch["images"] = images[start : start + batch_size]
                batch["masks"] = masks[start : start + batch_size] if masks is not None else None
            yield batch

    camera = "known" if images is None else "none"  # a model that projects points: what a photo gets
    search = default_camera_search(camera, can_search_camera(model))
    torch.manual_seed(0)
    samples = evaluate(
        lambda batch: predict(model, batch, 5000, GRID_RES, camera=camera, camera_search=search), batches(), "cpu"
    )
    summary = average(samples)
    f1 = np.array([sample[F1_HEADLINE] for sample in samples])
    return {
        F1_HEADLINE: summary[F1_HEADLINE],
        F1_HEADLINE + "_se": float(f1.std(ddof=1) / np.sqrt(len(f1))),
        "IoU": summary.get("IoU_vox32"),
        "per_sample_F1@0.05": f1.round(2).tolist(),
        "per_sample_IoU": [round(sample["IoU_vox32"], 4) for sample in samples] if "IoU_vox32" in samples[0] else None,
    }


def main(args: argparse.Namespace) -> dict:
    import procedural
    from dataset import R2N2Dataset
    from training.checkpoints import model_from_checkpoint

    root = procedural.ready_layout(args.data_root).root
    folder = args.photos or os.path.join("data", f"photo_like_{args.split}")
    if not os.path.isfile(os.path.join(folder, "photos.json")):
        start = time.time()
        procedural.write_photo_set(root, folder, args.split, args.per_model)
        print(f"wrote the photo-like set to {folder} in {time.time() - start:.0f} s")
    with open(os.path.join(folder, "photos.json")) as f:
        record = json.load(f)
    made_from = record.get("data_root")
    if made_from is not None and os.path.realpath(made_from) != os.path.realpath(root):
        raise DatasetError(
            f"the photo-like set in {folder} was made from {made_from}, not {root}: pass another --photos, or remove it"
        )
    rows = record["photos"]
    start = time.time()
    images, masks, ious = prepared_images(folder, rows)
    print(
        f"{len(rows)} photos of the {args.split} split; automatic mask IoU with the true mask: "
        f"mean {np.mean(ious):.3f}, "
        f"median {np.median(ious):.3f}, under 0.5 for {sum(i < 0.5 for i in ious)} ({time.time() - start:.0f} s)"
    )
    dataset = R2N2Dataset(root, args.split, n_points=5000, views="first", quiet=True)
    table = {"mask_iou_mean": float(np.mean(ious)), "mask_iou_median": float(np.median(ious)), "runs": {}}
    for path in args.checkpoints:
        model, _ = model_from_checkpoint(path, device="cpu")
        model.eval()
        results = {
            mode: score(model, dataset, rows, images.get(mode), masks.get(mode), args.batch_size) for mode in MODES
        }
        table["runs"][path] = results
        for mode, result in results.items():
            iou = f"  IoU {result['IoU']:.3f}" if result["IoU"] is not None else ""
            f1 = f"{result['F1@0.05']:5.1f} +- {result['F1@0.05_se']:.1f}"
            print(f"{path} [{model.type}]  {mode:17s} F1@0.05 {f1}{iou}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(table, f, indent=1)
    return table


if __name__ == "__main__":
    from common.cli import run_or_fail

    run_or_fail(main, get_args_parser().parse_args(), DatasetError)
