"""Validation while training: a fixed subset of the val split, scored with each type's own metrics.

    validator, note = open_validator(data_root)        # None (and why) when the data has no val split
    scores = validator.score(model, device)           # {"F1@0.05": ..., "IoU_vox32": ..., "seconds": ...}
    picture = validator.picture(model, device)        # (H, W, 3) uint8: input | prediction | GT rows

The subset is the same at every validation of a run (VAL_SHAPES shapes spread evenly over the
split, one fixed view each), so the curve it draws moves only with the model. It is cheaper than
`eval_model.py` where that costs little accuracy in comparing steps: VAL_POINTS surface samples
instead of 5000, and occupancy extracted at 32^3 (not 64^3 refined). Its numbers are the val
split's, for choosing steps and designs; the test split's tables come from `eval_model.py`.
"""

import time

import numpy as np
import torch

from dataset import DatasetError, R2N2Dataset, collate_batch
from evaluation.metrics import DEFAULT_THRESHOLDS, f1_key
from evaluation.protocol import average, evaluate, predict
from evaluation.reports import display_shape

VAL_SHAPES = 24  # shapes of the val split scored at each validation
VAL_POINTS = 2000  # surface samples of prediction and GT
VAL_BATCH = 8
PICTURE_SHAPES = 3  # rows of the picture logged to TensorBoard
PICTURE_SIZE = 112  # pixels per view in it (PyTorch3D rasterizes on the CPU: small keeps it cheap)


class Validator:
    """Scores a model on fixed batches of the val split (see the module docstring)."""

    def __init__(self, dataset: R2N2Dataset, n_shapes: int = VAL_SHAPES):
        picks = np.unique(np.linspace(0, len(dataset) - 1, min(n_shapes, len(dataset))).round().astype(int)).tolist()
        self.batches = [
            collate_batch(dataset.__getitems__(picks[i : i + VAL_BATCH])) for i in range(0, len(picks), VAL_BATCH)
        ]
        self.n_shapes = len(picks)
        self._first = None  # (batch, prediction) of the first batch at the last `score`

    def _predict(self, model, batch: dict) -> dict:
        prediction = predict(model, batch, VAL_POINTS, grid_res=32)
        if self._first is None:  # kept for `picture`, which then only draws
            self._first = (batch, prediction)
        return prediction

    @torch.no_grad()
    def score(self, model, device) -> dict:
        """Mean metrics over the subset: F1 at every threshold, Chamfer-L2, IoU where the type has
        a volume, thin_recall (NaN when no shape of the subset has rods), and the seconds it took.
        The model is put back in train mode; the caller's random stream is left as it was."""
        start = time.perf_counter()
        model.eval()
        self._first = None
        device = torch.device(device)
        # Mesh sampling draws on the model's device: seed that generator (and the CPU's) and put
        # both back afterwards, so training's random stream is the same with or without validation.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(0)
            rows = evaluate(lambda batch: self._predict(model, batch), self.batches, device, DEFAULT_THRESHOLDS)
        model.train()
        summary = average(rows)
        scores = {f1_key(t): summary[f1_key(t)] for t in DEFAULT_THRESHOLDS}
        scores.update(
            {
                k: summary[k]
                for k in (
                    "ChamferL2",
                    "IoU_vox32",
                    "IoU_labels",
                    "thin_recall",
                    "thin_recall_samples",
                    "sil_iou",
                    "sil_iou_gt",
                )
                if k in summary
            }
        )
        return {**scores, "seconds": time.perf_counter() - start}

    @torch.no_grad()
    def picture(self, model, device) -> np.ndarray:
        """(H, W, 3) uint8: a row per shape of the first batch, input | prediction | GT, each
        shape seen from the front (`utils_vis.turntable_cameras`): the predictions of the last
        `score` (made now if there was none)."""
        import utils_vis

        if self._first is None:
            self.score(model, device)
        batch, pred = self._first
        rows = []
        draw = dict(n_frames=1, image_size=PICTURE_SIZE)
        for i in range(min(PICTURE_SHAPES, len(batch["images"]))):
            shape = display_shape(pred, i)
            if "points" in shape:
                frame = utils_vis.render_points_turntable(shape["points"], utils_vis.PRED_COLOR, **draw)[0]
            else:
                frame = utils_vis.render_mesh_turntable(shape["verts"], shape["faces"], utils_vis.PRED_COLOR, **draw)[0]
            gt = utils_vis.render_mesh_turntable(
                batch["verts"][i].cpu(), batch["faces"][i].cpu(), utils_vis.GT_COLOR, **draw
            )[0]
            image = utils_vis.resize_image((batch["images"][i].cpu().numpy() * 255).astype(np.uint8), frame.shape[0])
            rows.append(np.concatenate([image, frame, gt], axis=1))
        return np.concatenate(rows, axis=0)


def open_validator(data_root: str | None, n_shapes: int = VAL_SHAPES) -> tuple[Validator | None, str]:
    """The validator of a data root's val split, or None and why (no val split, or an empty one)."""
    try:
        dataset = R2N2Dataset(data_root, "val", n_points=VAL_POINTS, views="first", quiet=True, return_occupancy=True)
    except DatasetError as err:
        return None, f"no validation ({err})"
    validator = Validator(dataset, n_shapes)
    return validator, f"validating on {validator.n_shapes} shapes of the val split"
