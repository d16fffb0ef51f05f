"""The occupancy type's decoder: an implicit function of the object-frame point (Occupancy Networks').

decoder = OccupancyDecoder(hidden=128, n_blocks=4, n_freqs=6, grid=0, grid_channels=32)
prediction = decoder(encoding, queries)        # .occupancy (B, P) logits at (B, P, 3) queries
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.precision import float32
from model import ModelError, Prediction
from networks.encoder import Encoding
from networks.pixel_aligned import PixelAligned


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
