"""vox: a 32^3 occupancy grid, its surface extracted by marching cubes at --iso.

    prediction = make_model("vox")(images)        # .voxels (B, 32, 32, 32) logits, [z, y, x]

The decoder is `model.VoxelDecoder` (sub-pixel, default) or `model.DeconvVoxelDecoder`; the loss is
`losses.voxel_terms` (BCE, Dice, the thin loss and deep supervision). docs/vox_design.md says why.
"""

import torch

from common.precision import float32
from geometry.grids import voxels_to_meshes
from geometry.rods import thin_cells
from geometry.viewer import viewer_cameras, voxels_to_viewer
from losses import silhouette_loss, voxel_terms
from model import DeconvVoxelDecoder, ModelError, Prediction, VoxelDecoder, feature_map_size

from .base import Representation

# Each voxel decoder's default widths: sub-pixel at 4^3, 8^3, 16^3; deconv at 8^3, 16^3, 32^3.
VOX_CHANNELS = {"subpixel": (256, 64, 32), "deconv": (64, 32, 16)}
VOX_MODEL_DEFAULTS = {
    "vox_decoder": "subpixel",  # or "deconv"
    "vox_channels": None,  # None: VOX_CHANNELS[vox_decoder]
    "vox_latent": "spatial",  # subpixel: "spatial" (the pooled feature and the last feature map) or "pooled"
    "vox_deep_supervision": True,  # subpixel: logits at 8^3 and 16^3 too, for the loss (--w_aux > 0)
    "vox_pixel_aligned": True,  # subpixel: each cell also reads the image where it projects (a camera head too)
    "vox_pixel_head": "mlp",  # subpixel, pixel-aligned: how each 32^3 sub-cell's image features reach it (model.py)
    "vox_frame": "object",  # subpixel, pixel-aligned: "object" or "viewer" (the camera's axes: geometry/viewer.py)
    "vox_camera_head": "mlp",  # subpixel, pixel-aligned: the camera head's kind (model.CameraHead)
}
# What vox checkpoints written before these arguments existed were built with.
VOX_LEGACY = {
    "vox_decoder": "deconv",
    "vox_latent": "pooled",
    "vox_deep_supervision": False,
    "vox_pixel_aligned": False,
    "vox_pixel_head": "conv",
    "vox_frame": "object",
    "vox_camera_head": "mlp",
}


def complete_voxel_args(model_args: dict) -> dict:
    """vox_channels left None made the default widths of the decoder named (`VOX_CHANNELS`)."""
    channels = model_args["vox_channels"] or VOX_CHANNELS.get(model_args["vox_decoder"], ())
    return {**model_args, "vox_channels": tuple(channels)}


def voxel_decoder(model_args: dict):
    """The voxel decoder model_args name (vox, and voxmesh's voxel branch)."""
    kind = model_args["vox_decoder"]
    channels = tuple(model_args["vox_channels"])
    if kind == "deconv":
        return DeconvVoxelDecoder(channels)
    if kind != "subpixel":
        raise ModelError(f"unknown vox_decoder {kind!r}: subpixel or deconv")
    map_size = feature_map_size(model_args["image_size"])
    a = model_args
    return VoxelDecoder(
        channels, a["vox_latent"], map_size, a["vox_deep_supervision"], a["vox_pixel_aligned"], a["vox_pixel_head"],
        a["vox_frame"], a["vox_camera_head"],
    )  # fmt: skip


def voxel_targets(
    prediction: Prediction, batch: dict, config
) -> tuple[torch.Tensor, torch.Tensor | None, tuple | None]:
    """The GT grid in the prediction's frame (B, 32, 32, 32), its rod cells (None: found in the grid
    by the thin loss) and the input views' cameras in that frame (None without metadata). A
    viewer-frame prediction's targets are the object-frame GT turned by each view's R, its rods
    found on the object's axes (`geometry.viewer.voxels_to_viewer`)."""
    cameras = (batch["R"], batch["T"], batch["K"]) if batch.get("R") is not None else None
    if prediction.frame != "viewer":
        return batch["voxels"], None, cameras
    if cameras is None:
        raise ValueError("a viewer-frame model trains on data with cameras (R, T, K): its targets are turned by R")
    if "voxels_viewer" in batch:  # turned ahead (`geometry.viewer.ViewerTargets`, the training loss's)
        voxels_gt, rods = batch["voxels_viewer"], batch.get("rods_viewer")
    else:
        rods_object = thin_cells(batch["voxels"]) if config.w_thin > 0 else None
        voxels_gt, rods = voxels_to_viewer(batch["voxels"], batch["R"], rods_object)
    device = batch["voxels"].device
    rods = rods.to(device) if rods is not None else None
    return voxels_gt.to(device), rods, viewer_cameras(batch["T"], batch["K"])


def voxel_loss_terms(prediction: Prediction, batch: dict, config):
    """The voxel terms of a prediction with its coarse logits (`losses.voxel_terms`) and, with
    --w_silhouette, the silhouette the grid casts in the input view against the rendering's mask
    (`losses.silhouette_loss`), float32, against the GT in the prediction's frame (`voxel_targets`)."""
    logits = prediction.voxels
    coarse = [c.float() for c in prediction.aux.get("coarse", [])]
    voxels_gt, rods, cameras = voxel_targets(prediction, batch, config)
    total, terms = voxel_terms(
        logits.float(), voxels_gt, coarse, config.pos_weight, config.w_dice, config.w_aux, config.w_thin, rods
    )
    if config.w_silhouette > 0 and batch.get("masks") is not None and cameras is not None:
        silhouette = silhouette_loss(logits.float(), *cameras, batch["masks"], config.sil_rays, config.sil_samples)
        total = total + config.w_silhouette * silhouette
        terms["silhouette"] = silhouette.detach()
    return total, terms


class Vox(Representation):
    name = "vox"
    silhouette_ceiling = "voxels"
    model_defaults = VOX_MODEL_DEFAULTS
    legacy_model_args = VOX_LEGACY
    # 450 steps at batch 32 on a 2-core CPU; 128 px: a leg 2-3 px wide in a 137 px rendering is
    # about one pixel at 64 (docs/vox_design.md).
    max_iter = {"cpu": 450, "gpu": 10000}
    image_size = {"cpu": 128, "gpu": 137}
    has_volume = True
    iso_surface = True
    thin_cover = "volume"
    has_oracle = True

    def complete(self, model_args):
        return complete_voxel_args(model_args)

    def build_decoder(self, model_args):
        return voxel_decoder(model_args)

    def loss(self, prediction, batch, targets, config):
        with float32(prediction.voxels):
            return voxel_loss_terms(prediction, batch, config)

    def predict(self, model, images, grid_res=32, iso=0.5, cameras=None):
        prediction = model(images, cameras=cameras)
        prediction.meshes = voxels_to_meshes(torch.sigmoid(prediction.voxels.float()), iso)
        return prediction
