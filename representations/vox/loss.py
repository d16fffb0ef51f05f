"""The vox type's training loss: its targets in the prediction's frame, the voxel terms and the silhouette.

    targets = voxel_targets(batch, settings, memo)        # the GT grid (and rods) in the model's frame
    total, terms = voxel_loss_terms(prediction, batch, targets, settings)

The terms themselves are `losses.py`'s pure functions (BCE, Dice, the thin loss, deep supervision,
the silhouette loss); this module decides what they compare.
"""

import torch

from common.memo import GridMemo
from geometry.rods import thin_cells
from geometry.view_frame import viewer_cameras, voxels_to_viewer
from losses import silhouette_loss, target_grids, voxel_terms
from model import Prediction


def voxel_targets(batch: dict, settings, memo: dict | None = None) -> dict:
    """What the voxel terms compare with, in the model's frame (settings.frame): "voxels" (B, 32, 32,
    32), "grids" (what the terms derive from it: rods, near, coarse targets, `losses.target_grids`)
    and "cameras", the input views' (R, T, K) in that frame (None without metadata). A viewer-frame
    model's GT is the object-frame GT turned by each view's R, its rods found on the object's axes
    (`geometry.view_frame.voxels_to_viewer`). With memo (the run's) on the CPU, each shape's grids
    (each view's, in the viewer frame) are computed once a run (`common.memo.GridMemo`)."""
    cameras = (batch["R"], batch["T"], batch["K"]) if batch.get("R") is not None else None
    viewer = settings.frame == "viewer"
    if viewer and cameras is None:
        raise ValueError("a viewer-frame model trains on data with cameras (R, T, K): its targets are turned by R")
    voxels_gt = batch["voxels"]
    resolutions = (8, 16) if settings.w_aux > 0 else ()

    def compute(rows: list[int]) -> dict:
        gt, rods = voxels_gt[rows], None
        if viewer:
            turned = thin_cells(gt) if settings.w_thin > 0 else None
            gt, rods = voxels_to_viewer(gt, batch["R"][rows], turned)
        grids = target_grids(gt, rods, settings.w_thin > 0, resolutions)
        return {**grids, "voxels": gt >= 0.5} if viewer else grids

    device = voxels_gt.device
    keys = batch.get("shape_index")
    if memo is None or keys is None or device.type == "cuda":  # recomputing costs nothing on a GPU
        grids = compute(list(range(len(voxels_gt))))
    else:
        views = batch["view"].tolist() if viewer else [None] * len(voxels_gt)
        grids = memo.setdefault("voxel_targets", GridMemo()).get(list(zip(keys.tolist(), views)), compute, device)
    if viewer:
        voxels_gt = grids.pop("voxels").float()
        cameras = viewer_cameras(batch["T"], batch["K"])
    return {"voxels": voxels_gt, "grids": grids, "cameras": cameras}


def voxel_loss_terms(prediction: Prediction, batch: dict, targets: dict, settings) -> tuple[torch.Tensor, dict]:
    """The voxel terms of a prediction with its coarse logits (`losses.voxel_terms`) and, with
    --w_silhouette, the silhouette the grid casts in the input view against the rendering's mask
    (`losses.silhouette_loss`), float32, against `voxel_targets`."""
    s = settings
    logits = prediction.voxels
    coarse = [c.float() for c in prediction.aux.get("coarse", [])]
    total, terms = voxel_terms(
        logits.float(), targets["voxels"], coarse, s.pos_weight, s.w_dice, s.w_aux, s.w_thin, targets["grids"]
    )
    cameras = targets["cameras"]
    if s.w_silhouette > 0 and batch.get("masks") is not None and cameras is not None:
        silhouette = silhouette_loss(logits.float(), *cameras, batch["masks"], s.sil_rays, s.sil_samples)
        total = total + s.w_silhouette * silhouette
        terms["silhouette"] = silhouette.detach()
    return total, terms
