"""Image features where object points project in the input view (Pixel2Mesh's perceptual pooling, DISN's).

pixel = PixelAligned({"layer2": (128, 16), "layer3": (256, 16)}, depth=True)
features = pixel(encoding, points)                        # (B, P, 3) -> (B, P, 33)
volume = grid_features(pixel, encoding, 16)               # at a 16^3 grid's cell centres: (B, 33, 16, 16, 16)
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.precision import float32
from networks.encoder import Encoding


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
    (B, C, R, R, R), [z, y, x], a view in the channels-last layout (not contiguous: reshape it, not
    `.view`)."""
    from geometry.grids import grid_centres

    B = encoding.features.shape[0]
    centres = grid_centres(resolution, encoding.features.device).view(1, -1, 3).expand(B, -1, -1)
    features = module(encoding, centres)  # (B, R^3, C), [z, y, x] order
    # No copy here; and in training, where the decoder's weights and so its volumes are channels-last
    # (`training.trainer.channels_last`), none when it is concatenated with them.
    return features.view(B, resolution, resolution, resolution, -1).permute(0, 4, 1, 2, 3)


class PixelReadout(nn.Module):
    """One number per point from the image where it projects: each named encoder map goes through a
    small per-pixel MLP (1x1 convolutions: c_in -> hidden -> 1) and the one-channel result is read
    bilinearly at the point's projection, the maps' readings summed. The same function of the
    image as reading the maps first and applying the MLP after, up to where the interpolation sits,
    at a fraction of the cost: one channel is sampled per map, not all of them.

    points (B, P, 3) -> (B, P)."""

    def __init__(self, maps: dict):
        """maps: {encoder map name: (its channels, hidden width)}."""
        super().__init__()
        self.heads = nn.ModuleDict(
            {
                name: nn.Sequential(nn.Conv2d(c_in, hidden, 1), nn.ReLU(True), nn.Conv2d(hidden, 1, 1))
                for name, (c_in, hidden) in maps.items()
            }
        )

    def forward(self, encoding: Encoding, points: torch.Tensor) -> torch.Tensor:
        from geometry.cameras import project_points

        if encoding.cameras is None:
            raise ValueError("pixel-aligned features need the input view's camera (Encoding.cameras)")
        R, T, K = encoding.cameras
        with float32(points):
            uv, _ = project_points(points, R, T, K)
            grid = uv[:, :, None]  # (B, P, 1, 2)
            total = 0
            for name, head in self.heads.items():
                total = total + F.grid_sample(head(encoding.maps[name].float()), grid, align_corners=False)
        return total[:, 0, :, 0]  # (B, P)
