"""The vox type's decoders: image features -> (B, 32, 32, 32) occupancy logits, [z, y, x].

    decoder = voxel_decoder(model_args)          # VoxelDecoder (sub-pixel, default) or DeconvVoxelDecoder

docs/vox_design.md says why the sub-pixel decoder and its widths; docs/generalisation.md why its
pixel-aligned features; docs/training.md what each costs.
"""

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from geometry.grids import grid_centres
from model import FRAMES, ModelError, Prediction
from networks.encoder import Encoding, feature_map_size
from networks.pixel_aligned import PixelAligned, PixelReadout, grid_features
from networks.surface import SurfaceHead, surface_features

# Each voxel decoder's default widths: sub-pixel at 4^3, 8^3, 16^3; deconv at 8^3, 16^3, 32^3.
VOX_CHANNELS = {"subpixel": (256, 64, 32), "deconv": (64, 32, 16)}


class DeconvVoxelDecoder(nn.Module):
    """(B, 512) -> (B, 32, 32, 32) logits: a linear map to a (512, 4, 4, 4) volume, three
    stride-2 transposed convolutions (4 -> 8 -> 16 -> 32) and a final 3x3x3 convolution
    (`vox_decoder="deconv"`, which checkpoints of the first vox models hold). Four fifths of its
    step on a CPU is spent on its two 32^3 layers."""

    uses_feature_map = False

    def __init__(self, channels: tuple):
        super().__init__()
        self.project = nn.Linear(512, 512 * 4 * 4 * 4)
        layers, c_in = [], 512
        for c_out in channels:
            layers += [
                nn.ConvTranspose3d(c_in, c_out, kernel_size=4, stride=2, padding=1),
                nn.BatchNorm3d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        layers.append(nn.Conv3d(c_in, 1, kernel_size=3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, encoding: Encoding, queries=None) -> Prediction:
        volume = F.relu(self.project(encoding.features)).view(-1, 512, 4, 4, 4)
        return Prediction(voxels=self.layers(volume)[:, 0], aux={"coarse": []})  # (B, 32, 32, 32), [z, y, x]


def pixel_shuffle_3d(x: torch.Tensor) -> torch.Tensor:
    """(B, 8 C, D, H, W) -> (B, C, 2 D, 2 H, 2 W): each cell's 8 channel groups become its 2x2x2
    sub-cells, channel group 4 dz + 2 dy + dx at [2 z + dz, 2 y + dy, 2 x + dx] (a sub-pixel
    convolution's shuffle, ESPCN, in 3D)."""
    B, C8, D, H, W = x.shape
    C = C8 // 8
    x = x.reshape(B, C, 2, 2, 2, D, H, W).permute(0, 1, 5, 2, 6, 3, 7, 4)  # (B, C, D, dz, H, dy, W, dx)
    return x.reshape(B, C, 2 * D, 2 * H, 2 * W)


def pixel_unshuffle_3d(x: torch.Tensor) -> torch.Tensor:
    """(B, C, 2 D, 2 H, 2 W) -> (B, 8 C, D, H, W), the inverse of `pixel_shuffle_3d`: sub-cell
    [2 z + dz, 2 y + dy, 2 x + dx] of channel c becomes channel 8 c + 4 dz + 2 dy + dx of cell [z, y, x]."""
    B, C, D2, H2, W2 = x.shape
    x = x.reshape(B, C, D2 // 2, 2, H2 // 2, 2, W2 // 2, 2).permute(0, 1, 3, 5, 7, 2, 4, 6)  # (B, C, dz, dy, dx, ...)
    return x.reshape(B, 8 * C, D2 // 2, H2 // 2, W2 // 2)


def up_block(c_in: int, c_out: int) -> nn.Sequential:
    """x2 upsampling of a (B, c_in, R, R, R) volume: transposed convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.ConvTranspose3d(c_in, c_out, kernel_size=4, stride=2, padding=1), nn.BatchNorm3d(c_out), nn.ReLU(True)
    )


class VoxelDecoder(nn.Module):
    """Image features -> (B, 32, 32, 32) occupancy logits, [z, y, x], every 32^3 layer avoided.

    latent "spatial": the pooled feature (B, 512) and layer4's map (B, 512, s, s), reduced to 32
    channels by a 1x1 convolution and flattened, so where a part lies in the image reaches the
    decoder (average pooling alone keeps what is there, not where); "pooled": the pooled feature
    only. A linear map makes a (C0, 4, 4, 4) volume; two transposed convolutions go to 8^3 (C1)
    and 16^3 (C2), a 3x3x3 convolution refines it, and a sub-pixel convolution (ESPCN) gives each
    16^3 cell the logits of its 2x2x2 sub-cells: the output keeps one-cell legs at 32^3 without a
    single layer at 32^3 (where the deconv decoder spends four fifths of its step). With deep
    supervision, 1x1x1 heads also give logits at 8^3 and 16^3 (their targets: `vox.loss.pool_voxels`).
    """

    MAP_CHANNELS = 32  # layer4's map reduced to this many channels before flattening

    PIXEL_HEADS = ("conv", "mlp", "map", "none")

    def __init__(
        self,
        channels: tuple,
        latent: str,
        map_size: int,
        deep_supervision: bool,
        pixel_aligned: bool = False,
        pixel_head: str = "conv",
        frame: str = "object",
        camera_head: str = "mlp",
        refine: bool = True,
        surface: bool = False,
    ):
        """pixel_head: how each 32^3 sub-cell's own image features reach its logit: "conv", as
        channels of the 3x3x3 sub-cell convolution (8 per sub-cell, 64 more input channels: the
        most expensive layer of the step on a CPU); "mlp", a small MLP per sub-cell (grouped 1x1x1
        convolutions) whose output is added to the convolution's logit; "map", the same MLP run on
        the image maps before they are read (`PixelReadout`: one channel sampled, not eight);
        "none", only the 16^3 cells read the image (docs/training.md says what each costs).
        frame: "object" (the object's own axes) or "viewer" (the input camera's axes, centred on
        the object: `geometry.view_frame`), where its grid is predicted. camera_head: the kind of
        `CameraHead` the model guesses a camera with, for images without one. refine: a 3x3x3
        convolution over the 16^3 volume before the sub-cell head (without it, the sub-cell
        convolution is the only 3x3x3 layer at 16^3: an eighth of the step's GFLOP). surface: a
        `SurfaceHead` predicts the visible surface's depth and coverage in the image, and each 16^3
        cell also reads where it lies against it (`networks.surface`; aux["surface"] for its loss)."""
        super().__init__()
        self.check_arguments(latent, pixel_aligned, pixel_head, frame, surface)
        c0, c1, c2 = channels
        self.latent, self.c0 = latent, c0
        self.uses_feature_map = latent == "spatial"
        self.uses_image_maps = self.uses_cameras = self.pixel_aligned = pixel_aligned
        self.pixel_head, self.frame, self.camera_head = pixel_head, frame, camera_head  # `CameraHead`'s kind
        self.surface = surface
        n_in = 512
        if latent == "spatial":
            self.reduce = nn.Sequential(nn.Conv2d(512, self.MAP_CHANNELS, kernel_size=1), nn.ReLU(True))
            n_in += self.MAP_CHANNELS * map_size * map_size
        self.project = nn.Linear(n_in, c0 * 4 * 4 * 4)
        self.up8, self.up16 = up_block(c0, c1), up_block(c1, c2)
        head_in = self.add_pixel_layers(c2) if pixel_aligned else c2
        self.refine16 = (
            nn.Sequential(nn.Conv3d(c2, c2, kernel_size=3, padding=1), nn.BatchNorm3d(c2), nn.ReLU(True))
            if refine
            else nn.Identity()
        )
        self.subcells = nn.Conv3d(head_in, 8, kernel_size=3, padding=1)  # 2x2x2 sub-cell logits per 16^3 cell
        self.aux = nn.ModuleList([nn.Conv3d(c1, 1, 1), nn.Conv3d(c2, 1, 1)]) if deep_supervision else None

    @classmethod
    def check_arguments(cls, latent: str, pixel_aligned: bool, pixel_head: str, frame: str, surface: bool) -> None:
        """ModelError (one line) for a latent, pixel head or frame this decoder does not have."""
        if latent not in ("spatial", "pooled"):
            raise ModelError(f"unknown vox_latent {latent!r}: spatial or pooled")
        if pixel_head not in cls.PIXEL_HEADS:
            raise ModelError(f"unknown vox_pixel_head {pixel_head!r}: {', '.join(cls.PIXEL_HEADS)}")
        if frame not in FRAMES:
            raise ModelError(f"unknown frame {frame!r}: {' or '.join(FRAMES)}")
        if frame == "viewer" and not pixel_aligned:
            raise ModelError("the viewer frame needs pixel-aligned features (--pixel_aligned)")
        if surface and not pixel_aligned:
            raise ModelError("the visible-surface head needs pixel-aligned features (--pixel_aligned)")

    def add_pixel_layers(self, c2: int) -> int:
        """The pixel-aligned layers: each 16^3 cell reads layer2 and layer3 where it projects (fused
        into the C2 volume), each 32^3 sub-cell the stem and layer1 through `self.pixel_head`.
        Returns the sub-cell convolution's input channels. Built in this order after the up-blocks,
        so a model's initial weights stay those of earlier versions for one seed."""
        head_in = c2
        self.pixel16 = PixelAligned({"layer2": (128, 16), "layer3": (256, 16)}, depth=True)
        surface_channels = 2 if self.surface else 0  # `surface_features`: depth against the surface, coverage
        self.fuse16 = nn.Sequential(
            nn.Conv3d(c2 + self.pixel16.channels + surface_channels, c2, kernel_size=1),
            nn.BatchNorm3d(c2),
            nn.ReLU(True),
        )
        if self.pixel_head == "map":
            self.pixel32 = PixelReadout({"stem": (64, 8), "layer1": (64, 8)})
        elif self.pixel_head != "none":
            self.pixel32 = PixelAligned({"stem": (64, 4), "layer1": (64, 4)}, depth=False)
        if self.pixel_head == "conv":
            head_in += 8 * self.pixel32.channels  # the 2x2x2 sub-cells' features of each 16^3 cell
        elif self.pixel_head == "mlp":  # one MLP per sub-cell on its own features (8 groups: group s is sub-cell s)
            hidden = 2 * self.pixel32.channels
            self.subcell_mlp = nn.Sequential(
                nn.Conv3d(8 * self.pixel32.channels, 8 * hidden, 1, groups=8),
                nn.ReLU(True),
                nn.Conv3d(8 * hidden, 8, 1, groups=8),
            )
        if self.surface:
            self.surface_head = SurfaceHead()
        return head_in

    def forward(self, encoding: Encoding, queries=None) -> Prediction:
        """voxels (B, 32, 32, 32) logits; aux["coarse"]: [(B, 8, 8, 8), (B, 16, 16, 16)] logits
        with deep supervision, else []; aux["surface"] (B, 2, S, S) with the surface head."""
        latent = encoding.features
        if self.latent == "spatial":
            if encoding.feature_map is None:
                raise ValueError("the spatial vox latent needs the encoder's feature map (B, 512, s, s)")
            latent = torch.cat([latent, self.reduce(encoding.feature_map).flatten(1)], dim=1)
        volume = F.relu(self.project(latent)).view(-1, self.c0, 4, 4, 4)
        volume8 = self.up8(volume)  # (B, C1, 8, 8, 8)
        volume16 = self.up16(volume8)  # (B, C2, 16, 16, 16)
        aux = {}
        if self.pixel_aligned:  # what the image shows where each cell projects
            pixels16 = [grid_features(self.pixel16, encoding, 16).to(volume16.dtype)]
            if self.surface:  # and where the cell lies against the surface the image shows
                aux["surface"] = surface = self.surface_head(encoding)  # (B, 2, S, S)
                pixels16.append(grid_features(partial(surface_features, surface), encoding, 16).to(volume16.dtype))
            volume16 = self.fuse16(torch.cat([volume16, *pixels16], 1))
        volume16 = self.refine16(volume16)
        head, pixel_logits = volume16, None
        if self.pixel_aligned and self.pixel_head == "map":
            B = volume16.shape[0]
            centres = grid_centres(32, volume16.device).view(1, -1, 3).expand(B, -1, -1)
            readout = self.pixel32(encoding, centres).view(B, 1, 32, 32, 32)  # [z, y, x]
            pixel_logits = pixel_unshuffle_3d(readout).to(volume16.dtype)  # (B, 8, 16, 16, 16)
        elif self.pixel_aligned and self.pixel_head != "none":
            pixels32 = pixel_unshuffle_3d(grid_features(self.pixel32, encoding, 32)).to(volume16.dtype)
            if self.pixel_head == "conv":
                head = torch.cat([volume16, pixels32], 1)  # (B, C2 + 8 C, 16, 16, 16)
            else:
                B, C8 = pixels32.shape[:2]  # channel 8 c + s is sub-cell s's channel c: grouped by sub-cell first
                by_subcell = pixels32.view(B, C8 // 8, 8, 16, 16, 16).transpose(1, 2).reshape(pixels32.shape)
                pixel_logits = self.subcell_mlp(by_subcell)  # (B, 8, 16, 16, 16): each sub-cell's own term
        subcell_logits = self.subcells(head)  # (B, 8, 16, 16, 16)
        if pixel_logits is not None:
            subcell_logits = subcell_logits + pixel_logits
        logits = pixel_shuffle_3d(subcell_logits)[:, 0]  # (B, 32, 32, 32), [z, y, x]
        aux["coarse"] = (
            [head(v)[:, 0] for head, v in zip(self.aux, (volume8, volume16))] if self.aux is not None else []
        )
        return Prediction(voxels=logits, aux=aux)


def voxel_decoder(model_args: dict) -> nn.Module:
    """The voxel decoder model_args name (vox, and voxmesh's voxel branch)."""
    kind = model_args["vox_decoder"]
    channels = tuple(model_args["vox_channels"])
    if kind == "deconv":
        if model_args.get("vox_surface"):
            raise ModelError("vox_surface needs the subpixel vox decoder: the deconv decoder reads no pixels")
        return DeconvVoxelDecoder(channels)
    if kind != "subpixel":
        raise ModelError(f"unknown vox_decoder {kind!r}: subpixel or deconv")
    map_size = feature_map_size(model_args["image_size"])
    a = model_args
    return VoxelDecoder(
        channels, a["vox_latent"], map_size, a["vox_deep_supervision"], a["pixel_aligned"], a["vox_pixel_head"],
        a["frame"], a["camera_head"], a["vox_refine"], a["vox_surface"],
    )  # fmt: skip
