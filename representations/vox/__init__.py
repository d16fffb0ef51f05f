"""vox: a 32^3 occupancy grid, its surface extracted by marching cubes at --iso.

    prediction = make_model("vox")(images, cameras=(R, T, K))   # .voxels (B, 32, 32, 32) logits, [z, y, x]

Its decoder is `decoder.VoxelDecoder` (sub-pixel, default) or `decoder.DeconvVoxelDecoder`; its loss
`loss.voxel_loss_terms` (BCE, Dice, the thin loss, deep supervision and the silhouette); its
settings `VoxSettings`. docs/vox_design.md and docs/generalisation.md say why.
"""

import dataclasses
from dataclasses import dataclass

import torch

from common.flags import ConfigError, flag, setting
from geometry.grids import voxels_to_meshes
from losses import voxel_loss
from model import FRAMES, Prediction
from networks.camera import CameraHead

from ..base import Representation, Settings
from .decoder import VOX_CHANNELS, voxel_decoder
from .loss import voxel_loss_terms, voxel_targets


@dataclass(frozen=True)
class VoxSettings(Settings):
    """The vox type's settings (voxmesh's voxel branch has the same)."""

    vox_decoder: str = flag(
        "subpixel", "the voxel decoder (representations/vox/decoder.py)", choices=tuple(VOX_CHANNELS), model=True
    )
    vox_channels: tuple | None = setting(None)  # None: VOX_CHANNELS[vox_decoder]
    vox_latent: str = flag(
        "spatial", "subpixel decoder: the pooled feature and the encoder's last feature map (spatial) or the pooled "
        "feature only", choices=("spatial", "pooled"), model=True,
    )  # fmt: skip
    vox_deep_supervision: bool = setting(True)  # coarse heads at 8^3 and 16^3: --w_aux > 0
    pixel_aligned: bool = flag(
        True, "each output cell (each query) also reads the image where it projects in the input view, with a camera "
        "head for images without a camera", action="boolean", model=True,
    )  # fmt: skip
    vox_pixel_head: str = flag(
        "map", "pixel-aligned: how each 32^3 sub-cell's own image features reach its logit: a small MLP on the image "
        "maps before they are read, one channel sampled per sub-cell (map), the MLP per sub-cell on its sampled "
        "features (mlp; 1.3x map's step on a CPU), channels of the 3x3x3 "
        "sub-cell convolution (conv), or none (the 16^3 cells alone read the image); docs/training.md says what "
        "each costs", choices=("mlp", "map", "conv", "none"), model=True,
    )  # fmt: skip
    vox_refine: bool = flag(
        True, "subpixel decoder: a 3x3x3 convolution over the 16^3 volume before the sub-cell head (an eighth "
        "of the step's GFLOP; without it the unseen families lose about 3 F1: docs/training.md)",
        action="boolean", model=True,
    )  # fmt: skip
    vox_surface: bool = flag(
        False, "pixel-aligned: a head predicts the visible surface's depth and coverage in the image (trained on the "
        "GT grid's, --w_surface) and each 16^3 cell reads where it lies against it (networks/surface.py)",
        action="boolean", model=True,
    )  # fmt: skip
    frame: str = flag(
        "object", "pixel-aligned: where the grid is predicted: on the object's axes (object; at test time the camera "
        "comes from the metadata or the camera head) or on the input camera's axes (viewer: no camera needed; "
        "evaluation turns it back with the metadata's rotation)", choices=FRAMES, model=True,
    )  # fmt: skip
    camera_head: str = flag(
        "mlp", "pixel-aligned: the head that guesses a camera for images without one: a small MLP on the pooled "
        "feature (mlp) or a wider one that also reads the last feature map, with in-bin azimuth offsets and a "
        "shape-aware target (spatial)", choices=CameraHead.KINDS, model=True,
    )  # fmt: skip
    pos_weight: float = flag(
        3.0, "weight of occupied voxels in the BCE; ~5%% of the grid is occupied and plain BCE (--pos_weight 1) "
        "under-fills thin parts", "positive_float",
    )  # fmt: skip
    w_dice: float = flag(1.0, "the soft Dice loss beside the BCE (vox.loss.dice_loss)", "non_negative_float")
    w_thin: float = flag(
        0.25, "the thin loss (vox.loss.thin_loss): BCE on the GT's rod-like cells (legs, rails), which should be "
        "occupied, and on the empty cells beside them", "non_negative_float",
    )  # fmt: skip
    w_aux: float = flag(
        0.5, "subpixel decoder: deep supervision, the same loss at 8^3 and 16^3; 0 builds no coarse heads",
        "non_negative_float",
    )  # fmt: skip
    w_silhouette: float = flag(
        1.0, "the silhouette the grid casts in the input view against the rendering's mask (vox.loss.silhouette_loss)",
        "non_negative_float",
    )  # fmt: skip
    sil_rays: int = flag(
        32, "the silhouette loss's rays per image side (sil_rays^2 rays through the pixel centres of the mask read at "
        "that size)", "positive_int",
    )  # fmt: skip
    sil_samples: int = flag(48, "samples along each silhouette ray across the object's bounding sphere", "positive_int")
    w_surface: float = flag(
        1.0, "--vox_surface: the visible surface's loss (vox.loss.surface_loss: its coverage against the mask, its "
        "depth against the GT grid's along each pixel's ray)", "non_negative_float",
    )  # fmt: skip

    def validate(self, given: frozenset = frozenset()) -> "VoxSettings":
        """The deconv decoder has no coarse outputs and reads no pixels (--w_aux and --pixel_aligned
        left to their defaults are turned off, given ones refused); deep supervision is on when
        --w_aux is; a model that reads no pixels predicts on the object's axes; the widths default
        by decoder."""
        s = self
        if s.vox_decoder == "deconv":
            if s.w_aux > 0 and "w_aux" in given:
                raise ConfigError("--w_aux needs --vox_decoder subpixel: the deconv decoder has no coarse outputs")
            if s.pixel_aligned and "pixel_aligned" in given:
                raise ConfigError("--pixel_aligned needs --vox_decoder subpixel: the deconv decoder reads no pixels")
            if not s.vox_refine and "vox_refine" in given:
                raise ConfigError(
                    "--no-vox_refine needs --vox_decoder subpixel: the deconv decoder has no 16^3 refinement"
                )
            if s.vox_surface:
                raise ConfigError("--vox_surface needs --vox_decoder subpixel: the deconv decoder reads no pixels")
            s = dataclasses.replace(s, w_aux=0.0, pixel_aligned=False)
        if s.vox_surface and not s.pixel_aligned:
            raise ConfigError("--vox_surface needs --pixel_aligned: each cell reads the surface where it projects")
        if not s.vox_surface and "w_surface" in given:
            raise ConfigError("--w_surface needs --vox_surface: without the surface head there is no surface loss")
        if not s.pixel_aligned and s.frame != "object":
            if "frame" in given:
                raise ConfigError(
                    f"--frame {s.frame} needs --pixel_aligned: the grid is placed by where its cells project"
                )
            s = dataclasses.replace(s, frame="object")
        channels = tuple(s.vox_channels or VOX_CHANNELS[s.vox_decoder])
        return dataclasses.replace(s, vox_deep_supervision=s.w_aux > 0, vox_channels=channels)


def complete_voxel_args(model_args: dict) -> dict:
    """vox_channels left None made the default widths of the decoder named (`VOX_CHANNELS`)."""
    channels = model_args["vox_channels"] or VOX_CHANNELS.get(model_args["vox_decoder"], ())
    return {**model_args, "vox_channels": tuple(channels)}


class Vox(Representation):
    name = "vox"
    settings = VoxSettings
    silhouette_ceiling = "voxels"
    # 450 steps at batch 32 on a 2-core CPU; 128 px: a leg 2-3 px wide in a 137 px rendering is
    # about one pixel at 64 (docs/vox_design.md).
    max_iter = {"cpu": 450, "gpu": 10000}
    image_size = {"cpu": 128, "gpu": 137}
    has_volume = True
    iso_surface = True
    thin_cover = "volume"
    has_oracle = True
    searches_camera = True
    # Adam moves each logit by about lr a step: logits change by units.
    fit_lr = 0.05

    def complete(self, model_args):
        return complete_voxel_args(model_args)

    def build_decoder(self, model_args):
        return voxel_decoder(model_args)

    def targets(self, batch, settings, shared, memo=None):
        return voxel_targets(batch, settings, memo)

    def loss(self, prediction, batch, targets, settings, shared):
        from common.precision import float32

        with float32(prediction.voxels):
            return voxel_loss_terms(prediction, batch, targets, settings)

    def predict(self, model, images, grid_res, iso, cameras=None, intrinsics=None, masks=None, camera_search=0):
        searches = cameras is None and masks is not None and camera_search > 0
        if searches and model.camera_head is not None and model.frame == "object":
            from .camera_search import search_cameras

            cameras = search_cameras(model, images, masks, intrinsics, camera_search)
        prediction = model(images, cameras=cameras, intrinsics=intrinsics)
        prediction.meshes = voxels_to_meshes(torch.sigmoid(prediction.voxels.float()), iso)
        return prediction

    def fit_init(self, item, n_points, device):
        voxels_gt = item["voxels"][None].to(device)  # (1, 32, 32, 32)
        logits = (0.1 * torch.randn_like(voxels_gt)).requires_grad_(True)
        return {"params": [logits], "logits": logits, "voxels_gt": voxels_gt}

    def fit_loss(self, state, item, n_points, settings, shared):
        return voxel_loss(state["logits"], state["voxels_gt"])

    def fit_shape(self, state):
        return Prediction(voxels=state["logits"].detach())
