"""Single-view 3D reconstruction networks: a ResNet18 image encoder and one decoder per output.

    model = SingleViewto3D(type="vox")                    # (B, 137, 137, 3) -> (B, 32, 32, 32) logits
    model = SingleViewto3D(type="point", n_points=1000)  # -> (B, 1000, 3)
    model = SingleViewto3D(type="mesh")                   # -> (B, 2562, 3) vertices of an ico-sphere
    model = SingleViewto3D(type="occupancy")              # (images, (B, P, 3) queries) -> (B, P) logits
    model = SingleViewto3D(type="voxmesh")                # -> 32^3 logits, refined cubified Meshes per stage

All outputs are in the object frame (y up, within [-0.5, 0.5]^3); voxels are [z, y, x]. Everything
needed to rebuild a model is `model.model_args`, which checkpoints store (`build_model`).
"""

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from common.precision import float32

TYPES = ("vox", "point", "mesh", "occupancy", "voxmesh")
VOX_CHANNELS = {"subpixel": (256, 64, 32), "deconv": (64, 32, 16)}  # each voxel decoder's default widths
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelError(Exception):
    """A model cannot be built or loaded; the message says why."""


def default_model_args(type: str, **overrides) -> dict:
    """The full set of model hyper-parameters for a type, with overrides applied."""
    if type not in TYPES:
        raise ModelError(f"unknown type {type!r}: choose one of {', '.join(TYPES)}")
    args = {
        "type": type,
        "arch": "resnet18",
        "image_size": 137,  # the encoder's input resolution; dataset images are resized to it
        "n_points": 1000,
        "ico_level": 4,
        # vox: "subpixel" (below) or "deconv", the earlier decoder that checkpoints before it hold
        "vox_decoder": "subpixel",
        "vox_channels": None,  # VOX_CHANNELS[vox_decoder]: subpixel at 4^3, 8^3, 16^3; deconv at 8^3, 16^3, 32^3
        "vox_latent": "spatial",  # subpixel: "spatial" (pooled feature + the last feature map) or "pooled"
        "vox_deep_supervision": True,  # subpixel: logits at 8^3 and 16^3 too, for the loss (train_model: --w_aux > 0)
        "occ_hidden": 128,
        "occ_blocks": 4,
        "occ_freqs": 6,
        # occupancy: resolution of a feature volume sampled at the queries; 0: the global feature only (OccNet)
        "occ_grid": 0,
        "occ_grid_channels": 32,
        "refine_stages": 1,  # Mesh R-CNN uses 3; one keeps the CPU budget (see the README)
        "refine_hidden": 64,
        "cubify_threshold": 0.5,
    }
    unknown = set(overrides) - set(args)
    if unknown:
        raise ModelError(f"unknown model arguments {sorted(unknown)}")
    args.update({k: v for k, v in overrides.items() if v is not None})
    if args["vox_channels"] is None:
        args["vox_channels"] = VOX_CHANNELS[args["vox_decoder"]] if args["vox_decoder"] in VOX_CHANNELS else ()
    args["vox_channels"] = tuple(args["vox_channels"])
    return args


class ImageEncoder(nn.Module):
    """torchvision ResNet18 without its classifier: (B, H, W, 3) in [0, 1] -> (B, 512)."""

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

    def forward(self, images: torch.Tensor, return_map: bool = False):
        """(B, 512) pooled features; with return_map, also layer4's map (B, 512, s, s),
        s = ceil(image_size / 32), before the average pooling that makes the feature global."""
        if images.dim() != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (B, H, W, 3) in [0, 1], got shape {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(
                x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False
            )
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        net = self.backbone
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        feature_map = net.layer4(net.layer3(net.layer2(net.layer1(x))))
        pooled = torch.flatten(net.avgpool(feature_map), 1)  # torchvision's ResNet.forward, without fc
        return (pooled, feature_map) if return_map else pooled

    @property
    def map_size(self) -> int:
        """The side s of layer4's feature map: the input halves five times, rounding up."""
        size = self.image_size
        for _ in range(5):
            size = (size + 1) // 2
        return size


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


class DeconvVoxelDecoder(nn.Module):
    """(B, 512) -> (B, 32, 32, 32) logits: a linear map to a (512, 4, 4, 4) volume, three
    stride-2 transposed convolutions (4 -> 8 -> 16 -> 32) and a final 3x3x3 convolution. The
    earlier default (`vox_decoder="deconv"`), kept so that its checkpoints load: four fifths of
    its step on a CPU is spent on its two 32^3 layers."""

    def __init__(self, channels=(64, 32, 16)):
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

    def forward(self, features: torch.Tensor, feature_map=None, return_aux: bool = False):
        volume = F.relu(self.project(features)).view(-1, 512, 4, 4, 4)
        logits = self.layers(volume)[:, 0]  # (B, 32, 32, 32), [z, y, x]
        return (logits, []) if return_aux else logits


def pixel_shuffle_3d(x: torch.Tensor) -> torch.Tensor:
    """(B, 8 C, D, H, W) -> (B, C, 2 D, 2 H, 2 W): each cell's 8 channel groups become its 2x2x2
    sub-cells, channel group 4 dz + 2 dy + dx at [2 z + dz, 2 y + dy, 2 x + dx] (a sub-pixel
    convolution's shuffle, ESPCN, in 3D)."""
    B, C8, D, H, W = x.shape
    C = C8 // 8
    x = x.reshape(B, C, 2, 2, 2, D, H, W).permute(0, 1, 5, 2, 6, 3, 7, 4)  # (B, C, D, dz, H, dy, W, dx)
    return x.reshape(B, C, 2 * D, 2 * H, 2 * W)


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
    single layer at 32^3, where the earlier decoder spent four fifths of its step. With deep
    supervision, 1x1x1 heads also give logits at 8^3 and 16^3 (their targets: `losses.pool_voxels`).
    """

    MAP_CHANNELS = 32  # layer4's map reduced to this many channels before flattening

    def __init__(self, channels=(256, 64, 32), latent: str = "spatial", map_size: int = 2, deep_supervision=True):
        super().__init__()
        if latent not in ("spatial", "pooled"):
            raise ModelError(f"unknown vox_latent {latent!r}: spatial or pooled")
        c0, c1, c2 = channels
        self.latent, self.c0 = latent, c0
        n_in = 512
        if latent == "spatial":
            self.reduce = nn.Sequential(nn.Conv2d(512, self.MAP_CHANNELS, kernel_size=1), nn.ReLU(True))
            n_in += self.MAP_CHANNELS * map_size * map_size
        self.project = nn.Linear(n_in, c0 * 4 * 4 * 4)
        self.up8, self.up16 = up_block(c0, c1), up_block(c1, c2)
        self.refine16 = nn.Sequential(nn.Conv3d(c2, c2, kernel_size=3, padding=1), nn.BatchNorm3d(c2), nn.ReLU(True))
        self.subcells = nn.Conv3d(c2, 8, kernel_size=3, padding=1)  # 2x2x2 sub-cell logits per 16^3 cell
        self.aux = nn.ModuleList([nn.Conv3d(c1, 1, 1), nn.Conv3d(c2, 1, 1)]) if deep_supervision else None

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor | None = None, return_aux: bool = False):
        """features (B, 512), feature_map (B, 512, s, s) for the spatial latent. Returns logits
        (B, 32, 32, 32); with return_aux, (logits, [(B, 8, 8, 8), (B, 16, 16, 16)] logits, or []
        without deep supervision)."""
        latent = features
        if self.latent == "spatial":
            if feature_map is None:
                raise ValueError("the spatial vox latent needs the encoder's feature map (B, 512, s, s)")
            latent = torch.cat([features, self.reduce(feature_map).flatten(1)], dim=1)
        volume = F.relu(self.project(latent)).view(-1, self.c0, 4, 4, 4)
        volume8 = self.up8(volume)  # (B, C1, 8, 8, 8)
        volume16 = self.refine16(self.up16(volume8))  # (B, C2, 16, 16, 16)
        logits = pixel_shuffle_3d(self.subcells(volume16))[:, 0]  # (B, 32, 32, 32), [z, y, x]
        if not return_aux:
            return logits
        aux = [head(v)[:, 0] for head, v in zip(self.aux, (volume8, volume16))] if self.aux is not None else []
        return logits, aux


def make_voxel_decoder(model_args: dict, map_size: int) -> nn.Module:
    """The voxel decoder `model_args` name (vox, and voxmesh's voxel branch)."""
    kind = model_args["vox_decoder"]
    if kind == "deconv":
        return DeconvVoxelDecoder(model_args["vox_channels"])
    if kind != "subpixel":
        raise ModelError(f"unknown vox_decoder {kind!r}: subpixel or deconv")
    return VoxelDecoder(
        model_args["vox_channels"], model_args["vox_latent"], map_size, model_args["vox_deep_supervision"]
    )


class PointDecoder(nn.Module):
    """(B, 512) -> (B, n_points, 3) with tanh bounding the cloud to [-0.5, 0.5]^3."""

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

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.mlp[:-1](features)
        with float32(hidden):  # the coordinate head
            return 0.5 * torch.tanh(self.mlp[-1](hidden.float())).view(-1, self.n_points, 3)


class MeshDecoder(nn.Module):
    """(B, 512) -> (B, V, 3) vertices: an ico-sphere template plus predicted per-vertex offsets.

    The template is a buffer of one sphere, broadcast to any batch size; `faces` (F, 3) is shared.
    """

    def __init__(self, ico_level: int = 4):
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

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.mlp[:-1](features)
        with float32(hidden):  # the coordinate head
            offsets = self.mlp[-1](hidden.float()).view(features.shape[0], -1, 3)
            return self.template[None] + offsets

    def to_meshes(self, verts: torch.Tensor):
        """(B, V, 3) vertices -> a pytorch3d Meshes batch."""
        from pytorch3d.structures import Meshes

        return Meshes(verts=list(verts), faces=[self.faces] * verts.shape[0])


class VoxMeshDecoder(nn.Module):
    """Mesh R-CNN's mesh head on our voxel branch: (B, 512) -> voxel logits and meshes of free
    topology.

    The voxel branch (a `VoxelDecoder`) predicts a 32^3 grid; PyTorch3D's `cubify` turns its
    cells above `threshold` into a watertight mesh of cube faces (separate legs stay separate,
    gaps between slats stay open, which a deformed sphere cannot do); refinement stages then move
    every vertex: each stage runs two graph convolutions over the mesh's edges on the vertex
    position, the image feature and the previous stage's vertex features, and predicts a
    bounded offset. Without a camera the image feature is the global one (Pixel2Mesh without
    projection): predictions stay in the object frame for any photo. cubify is not
    differentiable; the voxel branch learns from the voxel loss, the stages from mesh losses.
    """

    def __init__(self, voxels: nn.Module, hidden: int = 128, stages: int = 2, threshold: float = 0.5):
        super().__init__()
        from pytorch3d.ops import GraphConv

        self.voxels = voxels  # the voxel branch: the vox model's decoder (`make_voxel_decoder`)
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

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor | None = None, return_aux: bool = False):
        """Returns logits (B, 32, 32, 32) [z, y, x] and a list of Meshes, one per stage (the
        cubified mesh when every grid is empty); with return_aux, also the voxel branch's coarse
        logits (see `VoxelDecoder`)."""
        logits, aux = self.voxels(features, feature_map, return_aux=True)
        with float32(logits):  # cubify, graph convolutions and vertex offsets: coordinates and PyTorch3D ops
            stages = self.refine(features.float(), torch.sigmoid(logits.detach().float()))
        return (logits, stages, aux) if return_aux else (logits, stages)

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

    def __init__(self, resolution: int = 16, channels: int = 32):
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


def sample_volume(volume: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear features of a (B, C, R, R, R) [z, y, x] volume over [-0.5, 0.5]^3 at object-
    frame points (B, P, 3) (x, y, z): (B, P, C). Points outside take the border's value."""
    grid = 2 * points[:, :, None, None].float()  # (B, P, 1, 1, 3): grid_sample's last axis is (x, y, z)
    with float32(volume):  # the query coordinates in float32, not rounded to the volume's bf16 under --amp
        sampled = F.grid_sample(volume.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[:, :, :, 0, 0].transpose(1, 2)


class OccupancyDecoder(nn.Module):
    """Implicit decoder: ((B, P, 3) query points, (B, 512) feature) -> (B, P) occupancy logits.

    As in Convolutional Occupancy Networks' decoder: the point is embedded, and before every
    residual block the image feature, projected to the hidden width, is added (equivalent to
    concatenating it to the block input). Points are first lifted to Fourier features
    sin/cos(2^k pi p), k < n_freqs (as in NeRF): a ReLU MLP on raw xyz learns the sharp edges
    of furniture parts far more slowly. With grid > 0 the image feature is also decoded into a
    coarse feature volume (`FeatureVolume`) and each point's embedding takes the volume's
    trilinear features at the point, as Convolutional Occupancy Networks do: the MLP then
    refines a local description of the shape instead of drawing the whole shape from one
    vector. It learns more per step but costs more per step; at the CPU budget the two are
    level for the same time (see the README), so grid 0, the original decoder, is the default.
    """

    def __init__(self, hidden: int = 128, n_blocks: int = 4, n_freqs: int = 6, grid: int = 0, grid_channels: int = 32):
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(n_freqs), persistent=False)
        self.volume = FeatureVolume(grid, grid_channels) if grid else None
        self.fc_p = nn.Linear(3 + 6 * n_freqs + (grid_channels if grid else 0), hidden)
        self.fc_c = nn.ModuleList([nn.Linear(512, hidden) for _ in range(n_blocks)])
        self.blocks = nn.ModuleList([ResnetBlockFC(hidden) for _ in range(n_blocks)])
        self.fc_out = nn.Linear(hidden, 1)

    def forward(self, points: torch.Tensor, features: torch.Tensor, volume: torch.Tensor | None = None) -> torch.Tensor:
        """volume: `self.volume(features)`, when already computed (queries in chunks)."""
        if points.dim() != 3 or points.shape[-1] != 3:
            raise ValueError(f"query points must be (B, P, 3), got shape {tuple(points.shape)}")
        angles = (points[..., None] * self.freqs).flatten(-2)  # (B, P, 3 * n_freqs)
        inputs = [points, angles.sin(), angles.cos()]
        if self.volume is not None:
            inputs.append(sample_volume(self.volume(features) if volume is None else volume, points))
        net = self.fc_p(torch.cat(inputs, dim=-1))  # (B, P, hidden)
        for fc_c, block in zip(self.fc_c, self.blocks):
            net = block(net + fc_c(features)[:, None])
        return self.fc_out(F.relu(net))[..., 0]


class SingleViewto3D(nn.Module):
    """Image encoder + the decoder of `type`. Build from `default_model_args(type, ...)` keys."""

    def __init__(self, type: str = "vox", pretrained: str | None = None, **model_args):
        super().__init__()
        self.model_args = default_model_args(type, **model_args)
        a = self.model_args
        self.type = type
        self.encoder = ImageEncoder(a["arch"], a["image_size"], pretrained)
        if type == "vox":
            self.decoder = make_voxel_decoder(a, self.encoder.map_size)
        elif type == "point":
            self.decoder = PointDecoder(a["n_points"])
        elif type == "mesh":
            self.decoder = MeshDecoder(a["ico_level"])
        elif type == "voxmesh":
            self.decoder = VoxMeshDecoder(
                make_voxel_decoder(a, self.encoder.map_size),
                a["refine_hidden"],
                a["refine_stages"],
                a["cubify_threshold"],
            )
        else:
            self.decoder = OccupancyDecoder(
                a["occ_hidden"], a["occ_blocks"], a["occ_freqs"], a["occ_grid"], a["occ_grid_channels"]
            )

    @property
    def uses_feature_map(self) -> bool:
        """Whether the decoder reads the encoder's feature map, not only its pooled feature."""
        a = self.model_args
        return self.type in ("vox", "voxmesh") and a["vox_decoder"] == "subpixel" and a["vox_latent"] == "spatial"

    def forward(self, images: torch.Tensor, query_points: torch.Tensor | None = None, return_aux: bool = False):
        """images (B, H, W, 3) in [0, 1]; query_points (B, P, 3) for occupancy only.

        Returns vox (B, 32, 32, 32) logits, point (B, N, 3), mesh (B, V, 3) vertices (see
        `to_meshes`), occupancy (B, P) logits, voxmesh (logits, [Meshes per stage]). With
        return_aux (vox and voxmesh, for the loss), the voxel decoder's coarse logits come too:
        vox (logits, aux), voxmesh (logits, stages, aux).
        """
        if self.type == "occupancy":
            if query_points is None:
                raise ValueError("the occupancy model needs query_points (B, P, 3)")
            return self.decoder(query_points, self.encoder(images))
        if self.type in ("vox", "voxmesh"):
            features, feature_map = (
                self.encoder(images, return_map=True) if self.uses_feature_map else (self.encoder(images), None)
            )
            return self.decoder(features, feature_map, return_aux=return_aux)
        return self.decoder(self.encoder(images))

    @torch.no_grad()
    def occupancy_grid(
        self, images: torch.Tensor, resolution: int = 32, chunk: int = 32768, iso: float = 0.5
    ) -> torch.Tensor:
        """Occupancy probabilities of an occupancy model on the cell centres of a resolution^3
        grid over [-0.5, 0.5]^3: (B, R, R, R), [z, y, x]. Above 32^3 the grid is refined coarse to
        fine (`geometry.grids.refine_grid`, Occupancy Networks' MISE): the network is queried only
        near the iso-surface at `iso`. Queries go in chunks of `chunk` points per image."""
        from geometry.grids import grid_centres, refine_grid

        features = self.encoder(images)
        volume = self.decoder.volume(features) if self.decoder.volume is not None else None

        def query(points):  # (B, P, 3) -> (B, P) probabilities
            logits = [
                self.decoder(points[:, i : i + chunk], features, volume) for i in range(0, points.shape[1], chunk)
            ]
            return torch.sigmoid(torch.cat(logits, dim=1).float())

        base = min(resolution, 32)
        grid = query(grid_centres(base, images.device).view(1, -1, 3).expand(len(images), -1, -1)).view(
            -1, base, base, base
        )
        while grid.shape[-1] < resolution:
            grid = refine_grid(grid, query, min(2 * grid.shape[-1], resolution), iso)
        return grid


def build_model(model_args: dict, pretrained: str | None = None) -> SingleViewto3D:
    """Rebuild a model from the `model_args` a checkpoint stores."""
    model_args = dict(model_args)
    return SingleViewto3D(model_args.pop("type"), pretrained=pretrained, **model_args)
