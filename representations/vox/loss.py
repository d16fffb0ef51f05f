"""The vox type's training loss: its targets in the prediction's frame, the voxel terms and the silhouette.

    targets = voxel_targets(batch, settings, memo)        # the GT grid (and rods) in the model's frame
    total, terms = voxel_loss_terms(prediction, batch, targets, settings)

The terms themselves are `losses.py`'s pure functions (BCE, Dice, the thin loss, deep supervision,
the silhouette loss); this module decides what they compare.
"""

import torch

from geometry.rods import thin_cells
from geometry.view_frame import ViewerTargets, viewer_cameras, voxels_to_viewer
from losses import silhouette_loss, voxel_terms
from model import Prediction


def voxel_targets(batch: dict, settings, memo: dict | None = None) -> dict:
    """What the voxel terms compare with, in the model's frame (settings.frame): "voxels" (B, 32, 32,
    32), "rods" (None: found in the grid by the thin loss) and "cameras", the input views' (R, T, K)
    in that frame (None without metadata). A viewer-frame model's targets are the object-frame GT
    turned by each view's R, its rods found on the object's axes (`geometry.view_frame.voxels_to_viewer`),
    each image's turned once per run where memo (the run's) is given (`geometry.view_frame.ViewerTargets`)."""
    cameras = (batch["R"], batch["T"], batch["K"]) if batch.get("R") is not None else None
    if settings.frame != "viewer":
        return {"voxels": batch["voxels"], "rods": None, "cameras": cameras}
    if cameras is None:
        raise ValueError("a viewer-frame model trains on data with cameras (R, T, K): its targets are turned by R")
    with_rods = settings.w_thin > 0
    if memo is not None:
        voxels_gt, rods = memo.setdefault("viewer_targets", ViewerTargets())(batch, with_rods)
    else:
        voxels_gt, rods = voxels_to_viewer(
            batch["voxels"], batch["R"], thin_cells(batch["voxels"]) if with_rods else None
        )
    device = batch["voxels"].device
    return {
        "voxels": voxels_gt.to(device),
        "rods": rods.to(device) if rods is not None else None,
        "cameras": viewer_cameras(batch["T"], batch["K"]),
    }


def voxel_loss_terms(prediction: Prediction, batch: dict, targets: dict, settings) -> tuple[torch.Tensor, dict]:
    """The voxel terms of a prediction with its coarse logits (`losses.voxel_terms`) and, with
    --w_silhouette, the silhouette the grid casts in the input view against the rendering's mask
    (`losses.silhouette_loss`), float32, against `voxel_targets`."""
    s = settings
    logits = prediction.voxels
    coarse = [c.float() for c in prediction.aux.get("coarse", [])]
    total, terms = voxel_terms(
        logits.float(), targets["voxels"], coarse, s.pos_weight, s.w_dice, s.w_aux, s.w_thin, targets["rods"]
    )
    cameras = targets["cameras"]
    if s.w_silhouette > 0 and batch.get("masks") is not None and cameras is not None:
        silhouette = silhouette_loss(logits.float(), *cameras, batch["masks"], s.sil_rays, s.sil_samples)
        total = total + s.w_silhouette * silhouette
        terms["silhouette"] = silhouette.detach()
    return total, terms
