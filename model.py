"""Single-view 3D reconstruction networks: a ResNet18 image encoder, the decoders, and what they return.

    from representations import make_model
    model = make_model("vox")                             # (B, H, W, 3) images -> Prediction
    prediction = model(images)                            # .voxels (B, 32, 32, 32) logits
    prediction = make_model("occupancy")(images, queries) # .occupancy (B, P) logits at (B, P, 3) queries

Every model is `SingleViewto3D`: the encoder and one decoder, built by the type's representation
(`representations/`, which also says how the type trains, is evaluated and is drawn). Every
forward returns a `Prediction`, the same fields for every type, None where a type has none. All
outputs are in the object frame (y up, within [-0.5, 0.5]^3); voxels are [z, y, x]. Everything
needed to rebuild a model is `model.model_args`, which checkpoints store.
"""

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from common.precision import float32

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Where a model's output lives: "object", the object's own axes (y up), or "viewer", the input
# camera's axes centred on the object (`geometry.viewer`), which needs no camera at test time.
FRAMES = ("object", "viewer")


class ModelError(Exception):
    """A model cannot be built or loaded; the message says why."""


@dataclass
class Prediction:
    """What every model's forward returns (Mesh R-CNN's heads return `(voxel_scores, meshes)` with
    None where a part is absent; this is the same idea with a field per kind of output).

    voxels: (B, 32, 32, 32) occupancy logits, [z, y, x], on the cube [-0.5, 0.5]^3.
    points: (B, N, 3) points, object frame.
    meshes: a pytorch3d `Meshes` batch of B meshes, object frame (voxmesh: its last stage).
    occupancy: (B, P) occupancy logits at the (B, P, 3) queries the forward was given.
    occupancy_fn: (B, P, 3) object-frame points -> (B, P) logits, reusing the images' encoding.
    probabilities: (B, 32, 32, 32) occupancy probabilities, [z, y, x], where they are what was
        computed (an implicit function read on a grid, the mean shape, the GT); evaluation reads
        them in place of sigmoid(voxels).
    frame: where every field lives, "object" or "viewer" (the input camera's axes centred on the
        object, `geometry.viewer`; evaluation turns such a prediction back with the view's R).
    aux: what only the training loss reads, by name: "coarse", the coarse voxel logits [(B, R, R, R)]
        of deep supervision; "stages", voxmesh's Meshes after each refinement stage;
        "keep_in_graph", a zero that keeps parameters a step did not use in the graph (DDP).
    """

    voxels: torch.Tensor | None = None
    points: torch.Tensor | None = None
    meshes: object | None = None
    occupancy: torch.Tensor | None = None
    occupancy_fn: Callable | None = None
    probabilities: torch.Tensor | None = None
    aux: dict = field(default_factory=dict)
    frame: str = "object"


@dataclass
class Encoding:
    """An image batch encoded: features (B, 512), layer4's pooled output; feature_map (B, 512, s, s),
    layer4's map before the pooling, s = ceil(image_size / 32), None unless the decoder reads it;
    maps, the earlier maps by name ("stem" (B, 64, S/2, S/2), "layer1" (B, 64, S/4, S/4),
    "layer2" (B, 128, S/8, S/8), "layer3" (B, 256, S/16, S/16)) when a decoder samples them where
    points project (`PixelAligned`); cameras, the input view's camera (R (B, 3, 3), T (B, 3),
    K (B, 4, 4): x_view = x_object @ R + T, `geometry.cameras`), given or predicted, when a decoder
    projects points."""

    features: torch.Tensor
    feature_map: torch.Tensor | None = None
    maps: dict = field(default_factory=dict)
    cameras: tuple | None = None


def feature_map_size(image_size: int) -> int:
    """The side s of ResNet's layer4 map for an input of image_size: it halves five times, rounding up."""
    size = image_size
    for _ in range(5):
        size = (size + 1) // 2
    return size


class ImageEncoder(nn.Module):
    """torchvision ResNet18 without its classifier: (B, H, W, 3) images in [0, 1] -> `Encoding`."""

    def __init__(self, arch: str = "resnet18", image_size: int = 137, pretrained: str | None = None):
        super().__init__()
        if arch != "resnet18":
            raise ModelError(f"unknown --arch {arch!r}: only resnet18 is supported")
        self.image_size = image_size
        self.backbone = torchvision.models.resnet18(weights=None)  # never downloads
        if pretrained:
            self.backbone.load_state_dict(load_pretrained_resnet18(pretrained))
        self.backbone.fc = nn.Identity()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor, return_map: bool = False, return_maps: bool = False) -> Encoding:
        """The pooled feature (B, 512) and, with return_map, layer4's map (B, 512, s, s) before
        the average pooling that makes the feature global (s = `map_size`); with return_maps, the
        earlier maps (`Encoding.maps`)."""
        if images.dim() != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (B, H, W, 3) in [0, 1], got shape {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(
                x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False
            )
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        net = self.backbone
        stem = net.relu(net.bn1(net.conv1(x)))
        layer1 = net.layer1(net.maxpool(stem))
        layer2 = net.layer2(layer1)
        layer3 = net.layer3(layer2)
        feature_map = net.layer4(layer3)
        pooled = torch.flatten(net.avgpool(feature_map), 1)  # torchvision's ResNet.forward, without fc
        maps = {"stem": stem, "layer1": layer1, "layer2": layer2, "layer3": layer3} if return_maps else {}
        return Encoding(pooled, feature_map if return_map else None, maps)

    @property
    def map_size(self) -> int:
        """The side s of layer4's feature map."""
        return feature_map_size(self.image_size)


def load_pretrained_resnet18(path: str) -> dict:
    """ImageNet ResNet18 weights from a local file (e.g. torch hub's resnet18-f37072fd.pth)."""
    if not os.path.isfile(path):
        raise ModelError(
            f"--pretrained {path}: file not found. Nothing is downloaded at run time; copy torchvision's "
            "resnet18-f37072fd.pth there (it lives in ~/.cache/torch/hub/checkpoints/ once downloaded) or omit "
            "--pretrained"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelError(f"--pretrained {path}: not a readable weights file ({err})") from None
    state = state.get("state_dict", state)
    if "fc.weight" not in state or "conv1.weight" not in state:
        raise ModelError(f"--pretrained {path}: not a ResNet18 state dict")
    return state


class PixelAligned(nn.Module):
    """Image features where object-frame points project in the input view: Pixel2Mesh's perceptual
    pooling, DISN's local features. Each named encoder map is reduced by a 1x1 convolution and read
    bilinearly at each point's projection (zero outside the image); with depth, the point's depth
    along the view axis relative to the object's centre is appended, so points on one ray differ.

    points (B, P, 3) -> (B, P, channels). A decoder that reads it tells the encoder
    (`uses_image_maps`) and the model (`uses_cameras`)."""

    def __init__(self, maps: dict, depth: bool):
        """maps: {encoder map name: (its channels, channels kept)}."""
        super().__init__()
        self.reduce = nn.ModuleDict(
            {name: nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.ReLU(True)) for name, (c_in, c_out) in maps.items()}
        )
        self.depth = depth
        self.channels = sum(c_out for _, c_out in maps.values()) + int(depth)

    def forward(self, encoding: Encoding, points: torch.Tensor) -> torch.Tensor:
        from geometry.cameras import project_points

        if encoding.cameras is None:
            raise ValueError("pixel-aligned features need the input view's camera (Encoding.cameras)")
        R, T, K = encoding.cameras
        with float32(points):  # coordinates in float32; the maps are read in float32 too
            uv, depth = project_points(points, R, T, K)
            grid = uv[:, :, None]  # (B, P, 1, 2)
            features = [
                F.grid_sample(reduce(encoding.maps[name].float()), grid, mode="bilinear", align_corners=False)
                for name, reduce in self.reduce.items()
            ]  # (B, C, P, 1) each
            features = torch.cat(features, 1)[..., 0].transpose(1, 2)  # (B, P, C)
            if self.depth:  # about [-1, 1] across the object
                features = torch.cat([features, 2 * (depth - T.float()[:, None, 2])[..., None]], -1)
        return features


def grid_features(module: PixelAligned, encoding: Encoding, resolution: int) -> torch.Tensor:
    """`PixelAligned` features at the cell centres of a resolution^3 grid over [-0.5, 0.5]^3:
    (B, C, R, R, R), [z, y, x]."""
    from geometry.grids import grid_centres

    B = encoding.features.shape[0]
    centres = grid_centres(resolution, encoding.features.device).view(1, -1, 3).expand(B, -1, -1)
    features = module(encoding, centres)  # (B, R^3, C), [z, y, x] order
    return features.transpose(1, 2).reshape(B, -1, resolution, resolution, resolution)


class CameraHead(nn.Module):
    """The input view's camera from the pooled image feature, for images without one (photos): the
    azimuth as one of AZIMUTH_BINS bins (a symmetric object's view has several answers; the most
    likely is taken, not their mean), elevation and distance regressed; the camera is PyTorch3D's
    look-at camera of them with R2N2's intrinsics (`geometry.cameras`). Trained on the renderings'
    metadata (`losses.camera_loss`)."""

    AZIMUTH_BINS = 72
    KINDS = ("mlp", "spatial")
    MAP_CHANNELS = 64  # "spatial": layer4's map reduced to this many channels and flattened

    def __init__(self, kind: str = "mlp", map_size: int = 4):
        """kind "mlp": a two-layer MLP on the pooled feature; "spatial": a wider MLP that also reads
        layer4's map (where things are in the image, which pooling loses) and gives each azimuth
        bin an offset within the bin (bins plus a residual, as pose estimators do)."""
        super().__init__()
        if kind not in self.KINDS:
            raise ModelError(f"unknown camera head {kind!r}: {' or '.join(self.KINDS)}")
        self.kind = kind
        n = self.AZIMUTH_BINS
        if kind == "mlp":
            self.mlp = nn.Sequential(nn.Linear(512, 256), nn.ReLU(True), nn.Linear(256, n + 2))
        else:
            self.reduce = nn.Sequential(nn.Conv2d(512, self.MAP_CHANNELS, 1), nn.ReLU(True))
            n_in = 512 + self.MAP_CHANNELS * map_size * map_size
            self.mlp = nn.Sequential(
                nn.Linear(n_in, 512), nn.ReLU(True), nn.Linear(512, 512), nn.ReLU(True), nn.Linear(512, 2 * n + 2)
            )
        self.uses_feature_map = kind == "spatial"

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor | None = None) -> dict:
        """{"azimuth_logits": (B, AZIMUTH_BINS), "azimuth_offsets": (B, AZIMUTH_BINS) in bins, within
        [-0.5, 0.5] of each bin's centre ("spatial" only), "elevation": (B,) degrees, "distance": (B,)},
        float32."""
        n = self.AZIMUTH_BINS
        if self.kind == "spatial":
            if feature_map is None:
                raise ValueError("the spatial camera head needs the encoder's feature map (B, 512, s, s)")
            features = torch.cat([features, self.reduce(feature_map).flatten(1)], 1)
        out = self.mlp(features).float()
        predicted = {
            "azimuth_logits": out[:, :n],
            "elevation": 27.5 + 10.0 * out[:, -2],  # R2N2's views: 25-30 degrees
            "distance": 1.35 * torch.exp(out[:, -1]),  # 1.75 x 0.65-0.9
        }
        if self.kind == "spatial":
            predicted["azimuth_offsets"] = 0.5 * torch.tanh(out[:, n : 2 * n])
        return predicted

    @staticmethod
    def cameras(predicted: dict, frame: str = "object") -> tuple:
        """(R, T, K) of predicted parameters: the most likely azimuth bin's centre; in the viewer
        frame only the distance counts (`geometry.viewer.viewer_cameras`)."""
        from geometry.cameras import azimuth_bins, cameras_from_parameters
        from geometry.viewer import viewer_cameras
        from r2n2.formats import R2N2_K

        logits = predicted["azimuth_logits"].detach()
        K = R2N2_K.to(logits.device).expand(len(logits), 4, 4)
        elev, dist = predicted["elevation"].detach(), predicted["distance"].detach()
        if frame == "viewer":
            return viewer_cameras(torch.nn.functional.pad(dist[:, None], (2, 0)), K)
        best = logits.argmax(1)
        azim = azimuth_bins(logits.shape[1]).to(logits.device)[best]
        if "azimuth_offsets" in predicted:  # the chosen bin's own offset
            width = 360.0 / logits.shape[1]
            azim = azim + width * predicted["azimuth_offsets"].detach().gather(1, best[:, None])[:, 0]
        with torch.autocast(device_type=logits.device.type, enabled=False):
            R, T = cameras_from_parameters(azim, elev, dist)
        return R, T, K


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
    supervision, 1x1x1 heads also give logits at 8^3 and 16^3 (their targets: `losses.pool_voxels`).
    """

    MAP_CHANNELS = 32  # layer4's map reduced to this many channels before flattening

    PIXEL_HEADS = ("conv", "mlp")

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
    ):
        """pixel_head: how each 32^3 sub-cell's own image features reach its logit: "conv", as
        channels of the 3x3x3 sub-cell convolution (8 per sub-cell, 64 more input channels: the
        most expensive layer of the step on a CPU), or "mlp", a small MLP per sub-cell (grouped
        1x1x1 convolutions) whose output is added to the convolution's logit (docs/training.md).
        frame: "object" (the object's own axes) or "viewer" (the input camera's axes, centred on
        the object: `geometry.viewer`), where its grid is predicted. camera_head: the kind of
        `CameraHead` the model guesses a camera with, for images without one."""
        super().__init__()
        if latent not in ("spatial", "pooled"):
            raise ModelError(f"unknown vox_latent {latent!r}: spatial or pooled")
        if pixel_head not in self.PIXEL_HEADS:
            raise ModelError(f"unknown vox_pixel_head {pixel_head!r}: conv or mlp")
        if frame not in FRAMES:
            raise ModelError(f"unknown vox_frame {frame!r}: {' or '.join(FRAMES)}")
        if frame == "viewer" and not pixel_aligned:
            raise ModelError("vox_frame viewer needs pixel-aligned features (--pixel_aligned)")
        c0, c1, c2 = channels
        self.latent, self.c0 = latent, c0
        self.uses_feature_map = latent == "spatial"
        self.uses_image_maps = self.uses_cameras = self.pixel_aligned = pixel_aligned
        self.pixel_head, self.frame, self.camera_head = pixel_head, frame, camera_head  # `CameraHead`'s kind
        n_in = 512
        if latent == "spatial":
            self.reduce = nn.Sequential(nn.Conv2d(512, self.MAP_CHANNELS, kernel_size=1), nn.ReLU(True))
            n_in += self.MAP_CHANNELS * map_size * map_size
        self.project = nn.Linear(n_in, c0 * 4 * 4 * 4)
        self.up8, self.up16 = up_block(c0, c1), up_block(c1, c2)
        head_in = c2
        if (
            pixel_aligned
        ):  # each 16^3 cell reads layer2 and layer3 where it projects, each 32^3 sub-cell the stem and layer1
            self.pixel16 = PixelAligned({"layer2": (128, 16), "layer3": (256, 16)}, depth=True)
            self.fuse16 = nn.Sequential(
                nn.Conv3d(c2 + self.pixel16.channels, c2, kernel_size=1), nn.BatchNorm3d(c2), nn.ReLU(True)
            )
            self.pixel32 = PixelAligned({"stem": (64, 4), "layer1": (64, 4)}, depth=False)
            if pixel_head == "conv":
                head_in += 8 * self.pixel32.channels  # the 2x2x2 sub-cells' features of each 16^3 cell
            else:  # one MLP per sub-cell on its own features (8 groups: channel group s is sub-cell s)
                hidden = 2 * self.pixel32.channels
                self.subcell_mlp = nn.Sequential(
                    nn.Conv3d(8 * self.pixel32.channels, 8 * hidden, 1, groups=8),
                    nn.ReLU(True),
                    nn.Conv3d(8 * hidden, 8, 1, groups=8),
                )
        self.refine16 = nn.Sequential(nn.Conv3d(c2, c2, kernel_size=3, padding=1), nn.BatchNorm3d(c2), nn.ReLU(True))
        self.subcells = nn.Conv3d(head_in, 8, kernel_size=3, padding=1)  # 2x2x2 sub-cell logits per 16^3 cell
        self.aux = nn.ModuleList([nn.Conv3d(c1, 1, 1), nn.Conv3d(c2, 1, 1)]) if deep_supervision else None

    def forward(self, encoding: Encoding, queries=None) -> Prediction:
        """voxels (B, 32, 32, 32) logits; aux["coarse"]: [(B, 8, 8, 8), (B, 16, 16, 16)] logits
        with deep supervision, else []."""
        latent = encoding.features
        if self.latent == "spatial":
            if encoding.feature_map is None:
                raise ValueError("the spatial vox latent needs the encoder's feature map (B, 512, s, s)")
            latent = torch.cat([latent, self.reduce(encoding.feature_map).flatten(1)], dim=1)
        volume = F.relu(self.project(latent)).view(-1, self.c0, 4, 4, 4)
        volume8 = self.up8(volume)  # (B, C1, 8, 8, 8)
        volume16 = self.up16(volume8)  # (B, C2, 16, 16, 16)
        if self.pixel_aligned:  # what the image shows where each cell projects
            pixels16 = grid_features(self.pixel16, encoding, 16).to(volume16.dtype)
            volume16 = self.fuse16(torch.cat([volume16, pixels16], 1))
        volume16 = self.refine16(volume16)
        head, pixel_logits = volume16, None
        if self.pixel_aligned:
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
        coarse = [head(v)[:, 0] for head, v in zip(self.aux, (volume8, volume16))] if self.aux is not None else []
        return Prediction(voxels=logits, aux={"coarse": coarse})


class PointDecoder(nn.Module):
    """(B, 512) -> (B, n_points, 3) with tanh bounding the cloud to [-0.5, 0.5]^3."""

    uses_feature_map = False

    def __init__(self, n_points: int):
        super().__init__()
        self.n_points = n_points
        self.mlp = nn.Sequential(
            nn.Linear(512, 1024),
            nn.ReLU(inplace=True),
            nn.Linear(1024, 2048),
            nn.ReLU(inplace=True),
            nn.Linear(2048, n_points * 3),
        )

    def forward(self, encoding: Encoding, queries=None) -> Prediction:
        return Prediction(points=self.coordinates(self.mlp[:-1](encoding.features)))

    @torch.compiler.disable  # float32 in fact: a compiled graph would drop the TF32 switch
    def coordinates(self, hidden: torch.Tensor) -> torch.Tensor:
        """The coordinate head in float32: (B, 2048) -> (B, n_points, 3)."""
        with float32(hidden):
            return 0.5 * torch.tanh(self.mlp[-1](hidden.float())).view(-1, self.n_points, 3)


class MeshDecoder(nn.Module):
    """(B, 512) -> B meshes: an ico-sphere template plus predicted per-vertex offsets.

    The template is a buffer of one sphere, broadcast to any batch size; `faces` (F, 3) is shared.
    """

    uses_feature_map = False

    def __init__(self, ico_level: int):
        super().__init__()
        from pytorch3d.utils import ico_sphere

        sphere = ico_sphere(ico_level)
        self.register_buffer("template", 0.3 * sphere.verts_packed())  # (V, 3)
        self.register_buffer("faces", sphere.faces_packed())  # (F, 3)
        n_verts = self.template.shape[0]
        self.mlp = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(inplace=True), nn.Linear(1024, n_verts * 3))
        # Start from the sphere: zero offsets at initialisation.
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, encoding: Encoding, queries=None) -> Prediction:
        """meshes: B deformed spheres (their vertices (B, V, 3) in float32)."""
        from pytorch3d.structures import Meshes

        features = encoding.features
        hidden = self.mlp[:-1](features)
        with float32(hidden):  # the coordinate head
            offsets = self.mlp[-1](hidden.float()).view(features.shape[0], -1, 3)
            verts = self.template[None] + offsets
        return Prediction(meshes=Meshes(verts=list(verts), faces=[self.faces] * len(verts)))


class VoxMeshDecoder(nn.Module):
    """Mesh R-CNN's mesh head on our voxel branch: image features -> voxel logits and meshes of
    free topology.

    The voxel branch (a `VoxelDecoder`) predicts a 32^3 grid; PyTorch3D's `cubify` turns its
    cells above `threshold` into a watertight mesh of cube faces (separate legs stay separate,
    gaps between slats stay open, which a deformed sphere cannot do); refinement stages then move
    every vertex: each stage runs two graph convolutions over the mesh's edges on the vertex
    position, the image feature and the previous stage's vertex features, and predicts a
    bounded offset. Without a camera the image feature is the global one (Pixel2Mesh without
    projection): predictions stay in the object frame for any photo. cubify is not
    differentiable; the voxel branch learns from the voxel loss, the stages from mesh losses.
    """

    def __init__(self, voxels: nn.Module, hidden: int, stages: int, threshold: float):
        super().__init__()
        from pytorch3d.ops import GraphConv

        self.voxels = voxels  # the voxel branch: the vox model's decoder
        self.uses_feature_map = voxels.uses_feature_map
        self.uses_image_maps = getattr(voxels, "uses_image_maps", False)
        self.uses_cameras = getattr(voxels, "uses_cameras", False)
        self.threshold = threshold
        self.project = nn.Linear(512, hidden)
        self.convs = nn.ModuleList()
        self.offsets = nn.ModuleList()
        for stage in range(stages):
            in_dim = 3 + hidden + (hidden if stage else 0)
            self.convs.append(nn.ModuleList([GraphConv(in_dim, hidden), GraphConv(hidden, hidden)]))
            self.offsets.append(nn.Linear(hidden, 3))
            nn.init.zeros_(self.offsets[-1].weight)  # start from the cubified mesh
            nn.init.zeros_(self.offsets[-1].bias)

    def refinement_parameters(self):
        """The parameters of the refinement stages (everything but the voxel branch)."""
        return [p for name, p in self.named_parameters() if not name.startswith("voxels.")]

    def forward(self, encoding: Encoding, queries=None) -> Prediction:
        """voxels (B, 32, 32, 32) [z, y, x] logits; meshes: the last stage's (the cubified mesh
        when every grid is empty); aux: the voxel branch's "coarse" logits, "stages" (Meshes after
        each stage) and, when there is no mesh to refine, "keep_in_graph"."""
        prediction = self.voxels(encoding)
        logits = prediction.voxels
        with float32(logits):  # cubify, graph convolutions and vertex offsets: coordinates and PyTorch3D ops
            stages = self.refine(encoding.features.float(), torch.sigmoid(logits.detach().float()))
        aux = {**prediction.aux, "stages": stages}
        if stages[0].isempty():  # DDP requires every parameter to receive a gradient at every step
            aux["keep_in_graph"] = 0.0 * sum(p.sum() for p in self.refinement_parameters())
        return Prediction(voxels=logits, meshes=stages[-1], aux=aux)

    def refine(self, features: torch.Tensor, voxels: torch.Tensor) -> list:
        """The refinement stages in float32: (B, 512) features and (B, 32, 32, 32) probabilities ->
        one Meshes per stage (the cubified mesh alone when every grid is empty)."""
        meshes = cubify_meshes(voxels, self.threshold)
        if meshes.isempty():
            return [meshes]
        verts, edges = meshes.verts_packed(), meshes.edges_packed()
        image_features = self.project(features)[meshes.verts_packed_to_mesh_idx()]  # (V, hidden)
        stages, vert_features = [], None
        for convs, offset in zip(self.convs, self.offsets):
            x = torch.cat([verts, image_features] + ([vert_features] if vert_features is not None else []), dim=1)
            vert_features = F.relu(convs[1](F.relu(convs[0](x, edges)), edges))
            step = 0.05 * torch.tanh(offset(vert_features))  # at most 0.05 (1.6 cells) per stage
            verts = verts + step
            meshes = meshes.offset_verts(step)
            stages.append(meshes)
        return stages


def cubify_meshes(voxels: torch.Tensor, threshold: float = 0.5):
    """PyTorch3D's cubify of (B, D, H, W) [z, y, x] occupancy grids over [-0.5, 0.5]^3, in the
    object frame: cubify's "corner" alignment puts the grid's outer faces at -1 and 1."""
    from pytorch3d.ops import cubify

    meshes = cubify(voxels, threshold, align="corner")
    return meshes.update_padded(meshes.verts_padded() * 0.5)


class ResnetBlockFC(nn.Module):
    """Occupancy Networks' fully connected residual block."""

    def __init__(self, hidden: int):
        super().__init__()
        self.fc_0 = nn.Linear(hidden, hidden)
        self.fc_1 = nn.Linear(hidden, hidden)
        nn.init.zeros_(self.fc_1.weight)  # each block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc_1(F.relu(self.fc_0(F.relu(x))))


class FeatureVolume(nn.Module):
    """(B, 512) -> (B, C, R, R, R) features over [-0.5, 0.5]^3, [z, y, x]: a linear map to a
    (128, 4, 4, 4) volume and stride-2 transposed convolutions up to R (a power of 2 >= 8), as
    the voxel decoder but narrower and coarser."""

    def __init__(self, resolution: int, channels: int):
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ModelError(f"occ_grid must be 0 or a power of 2 >= 8, got {resolution}")
        self.project = nn.Linear(512, 128 * 4 * 4 * 4)
        layers, c_in, size = [], 128, 4
        while size < resolution:
            c_out = max(channels, c_in // 2)
            layers += [
                nn.ConvTranspose3d(c_in, c_out, kernel_size=4, stride=2, padding=1),
                nn.BatchNorm3d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in, size = c_out, size * 2
        layers.append(nn.Conv3d(c_in, channels, kernel_size=3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(F.relu(self.project(features)).view(-1, 128, 4, 4, 4))


@torch.compiler.disable  # float32 in fact: a compiled graph would drop the TF32 switch
def sample_volume(volume: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear features of a (B, C, R, R, R) [z, y, x] volume over [-0.5, 0.5]^3 at object-
    frame points (B, P, 3) (x, y, z): (B, P, C). Points outside take the border's value."""
    grid = 2 * points[:, :, None, None].float()  # (B, P, 1, 1, 3): grid_sample's last axis is (x, y, z)
    with float32(volume):  # the query coordinates in float32, not rounded to the volume's bf16 under --amp
        sampled = F.grid_sample(volume.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[:, :, :, 0, 0].transpose(1, 2)


class OccupancyDecoder(nn.Module):
    """Implicit decoder: (B, P, 3) query points and an image encoding -> (B, P) occupancy logits.

    As in Convolutional Occupancy Networks' decoder: the point is embedded, and before every
    residual block the image feature, projected to the hidden width, is added (equivalent to
    concatenating it to the block input). Points are first lifted to Fourier features
    sin/cos(2^k pi p), k < n_freqs (as in NeRF): a ReLU MLP on raw xyz learns the sharp edges
    of furniture parts far more slowly. With grid > 0 the image feature is also decoded into a
    coarse feature volume (`FeatureVolume`) and each point's embedding takes the volume's
    trilinear features at the point, as Convolutional Occupancy Networks do: the MLP then
    refines a local description of the shape instead of drawing the whole shape from one
    vector. It learns more per step but costs more per step; at the CPU budget the two were level
    for the same time, so grid 0, the original decoder, is the default.
    """

    uses_feature_map = False

    def __init__(
        self, hidden: int, n_blocks: int, n_freqs: int, grid: int, grid_channels: int, pixel_aligned: bool = False
    ):
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(n_freqs), persistent=False)
        self.volume = FeatureVolume(grid, grid_channels) if grid else None
        # With pixel_aligned, each query also reads the image where it projects (DISN's local features).
        pixel_maps = {"stem": (64, 16), "layer1": (64, 16), "layer2": (128, 32), "layer3": (256, 32)}
        pixel_channels = sum(c for _, c in pixel_maps.values()) + 1 if pixel_aligned else 0
        self.fc_p = nn.Linear(3 + 6 * n_freqs + (grid_channels if grid else 0) + pixel_channels, hidden)
        self.fc_c = nn.ModuleList([nn.Linear(512, hidden) for _ in range(n_blocks)])
        self.blocks = nn.ModuleList([ResnetBlockFC(hidden) for _ in range(n_blocks)])
        self.fc_out = nn.Linear(hidden, 1)
        self.pixel = PixelAligned(pixel_maps, depth=True) if pixel_aligned else None
        self.uses_image_maps = self.uses_cameras = pixel_aligned

    def forward(self, encoding: Encoding, queries: torch.Tensor | None = None) -> Prediction:
        """occupancy: (B, P) logits at queries (B, P, 3) when given; occupancy_fn: the same at any
        points, the feature volume computed once."""
        features = encoding.features
        volume = self.volume(features) if self.volume is not None else None

        def occupancy_fn(points: torch.Tensor) -> torch.Tensor:
            pixels = self.pixel(encoding, points) if self.pixel is not None else None
            return self.logits(points, features, volume, pixels)

        logits = occupancy_fn(queries) if queries is not None else None
        return Prediction(occupancy=logits, occupancy_fn=occupancy_fn)

    def logits(
        self, points: torch.Tensor, features: torch.Tensor, volume: torch.Tensor | None, pixels=None
    ) -> torch.Tensor:
        """(B, P, 3) points, (B, 512) features, the feature volume or None, the points' pixel-aligned
        features (B, P, C) or None -> (B, P) logits."""
        if points.dim() != 3 or points.shape[-1] != 3:
            raise ValueError(f"query points must be (B, P, 3), got shape {tuple(points.shape)}")
        angles = (points[..., None] * self.freqs).flatten(-2)  # (B, P, 3 * n_freqs)
        inputs = [points, angles.sin(), angles.cos()]
        if volume is not None:
            inputs.append(sample_volume(volume, points))
        if pixels is not None:
            inputs.append(pixels.to(points.dtype))
        net = self.fc_p(torch.cat(inputs, dim=-1))  # (B, P, hidden)
        for fc_c, block in zip(self.fc_c, self.blocks):
            net = block(net + fc_c(features)[:, None])
        return self.fc_out(F.relu(net))[..., 0]


class SingleViewto3D(nn.Module):
    """The image encoder and a decoder (`representations.build_model` makes one from model_args)."""

    def __init__(self, model_args: dict, make_decoder: Callable[[dict], nn.Module], pretrained: str | None = None):
        """make_decoder(model_args) builds the decoder, after the encoder: the order in which the
        layers draw their initial weights from the seeded generator. A decoder that projects points
        into the image (`uses_cameras`) gets a camera head, for images without a camera."""
        super().__init__()
        self.model_args = dict(model_args)
        self.type = model_args["type"]
        self.encoder = ImageEncoder(model_args["arch"], model_args["image_size"], pretrained)
        self.decoder = make_decoder(self.model_args)
        self.camera_head = None
        if getattr(self.decoder, "uses_cameras", False):
            kind = getattr(self.decoder, "camera_head", "mlp")
            self.camera_head = CameraHead(kind, feature_map_size(model_args["image_size"]))

    def forward(
        self, images: torch.Tensor, queries: torch.Tensor | None = None, cameras: tuple | None = None
    ) -> Prediction:
        """images (B, H, W, 3) in [0, 1]; queries (B, P, 3) object-frame points where the
        occupancy decoder is read (ignored by the others); cameras (R, T, K) of the images
        (`Encoding.cameras`), for a decoder that projects points: the camera head's own when None.
        The camera head's output is aux["camera"], for its loss."""
        decoder, head = self.decoder, self.camera_head
        encoding = self.encoder(
            images,
            return_map=decoder.uses_feature_map or (head is not None and head.uses_feature_map),
            return_maps=getattr(decoder, "uses_image_maps", False),
        )
        camera, frame = None, self.frame
        if head is not None:
            camera = head(encoding.features, encoding.feature_map)
            if cameras is None:
                encoding.cameras = CameraHead.cameras(camera, frame)
            elif frame == "viewer":  # the view's distance and intrinsics; its rotation is the frame itself
                from geometry.viewer import viewer_cameras

                encoding.cameras = viewer_cameras(cameras[1], cameras[2])
            else:
                encoding.cameras = tuple(cameras)
        prediction = decoder(encoding, queries)
        prediction.frame = frame
        if camera is not None:
            prediction.aux["camera"] = camera
        return prediction

    @property
    def frame(self) -> str:
        """Where its outputs live: "object" or "viewer" (`FRAMES`)."""
        return getattr(self.decoder, "frame", "object")
