"""The visible surface of the object in the input image, predicted, and read where points project.

    head = SurfaceHead(image_size)
    surface = head(encoding)                                  # (B, 2, S, S): depth, coverage logit
    features = surface_features(surface, encoding, points)    # (B, P, 3) -> (B, P, 2)
    volume = grid_features(partial(surface_features, surface), encoding, 16)   # (B, 2, 16, 16, 16)

SDFNet (Thai et al. 2020) and ZeroShape (CVPR 2024) predict the depth of the surface the image shows
and lift it to 3D with the intrinsics before the shape decoder reads it: a geometric intermediate
that does not depend on which family the object resembles. Here each point compares its own depth
along the view axis with the predicted surface's at its pixel: a point in front of the visible
surface is empty, whatever the family; one behind it is what the decoder must guess.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.precision import float32
from networks.encoder import Encoding


class SurfaceHead(nn.Module):
    """Encoder maps -> (B, 2, S, S) at layer1's resolution S: channel 0 the visible surface's depth
    along the view axis relative to the object's centre, in `PixelAligned`'s units (2 (z - T_z),
    about [-1, 1] across the object); channel 1 the logit that the object covers the pixel.

    layer1, layer2 and layer3 are each reduced to `width` channels (1x1), upsampled to layer1's
    size and concatenated, then two 3x3 convolutions (a small FPN-like decoder: the depth of a leg
    needs layer1's resolution, what the object is needs layer3's context)."""

    MAPS = {"layer1": 64, "layer2": 128, "layer3": 256}

    def __init__(self, width: int = 32, hidden: int = 64):
        super().__init__()
        self.reduce = nn.ModuleDict(
            {name: nn.Sequential(nn.Conv2d(c_in, width, 1), nn.ReLU(True)) for name, c_in in self.MAPS.items()}
        )
        self.head = nn.Sequential(
            nn.Conv2d(len(self.MAPS) * width, hidden, 3, padding=1), nn.ReLU(True), nn.Conv2d(hidden, 2, 3, padding=1)
        )

    def forward(self, encoding: Encoding) -> torch.Tensor:
        size = encoding.maps["layer1"].shape[-2:]
        reduced = [
            F.interpolate(reduce(encoding.maps[name]), size=size, mode="bilinear", align_corners=False)
            if name != "layer1"
            else reduce(encoding.maps[name])
            for name, reduce in self.reduce.items()
        ]
        return self.head(torch.cat(reduced, 1))  # (B, 2, S, S)


def surface_features(surface: torch.Tensor, encoding: Encoding, points: torch.Tensor) -> torch.Tensor:
    """What the predicted visible surface says about each point: (B, 2, S, S) surface (`SurfaceHead`),
    (B, P, 3) points in the frame of encoding.cameras -> (B, P, 2): the point's depth along the view
    axis minus the surface's at its pixel (`PixelAligned`'s units: negative in front of the surface,
    where nothing is), and the probability that the object covers that pixel (0 outside the image)."""
    from geometry.cameras import project_points

    if encoding.cameras is None:
        raise ValueError("surface features need the input view's camera (Encoding.cameras)")
    R, T, K = encoding.cameras
    with float32(points):
        uv, depth = project_points(points, R, T, K)
        surface = surface.float()
        maps = torch.stack([surface[:, 0], torch.sigmoid(surface[:, 1])], 1)  # (B, 2, S, S)
        sampled = F.grid_sample(maps, uv[:, :, None], mode="bilinear", align_corners=False)[..., 0]  # (B, 2, P)
        in_front = 2 * (depth - T.float()[:, None, 2]) - sampled[:, 0]  # (B, P)
    return torch.stack([in_front, sampled[:, 1]], -1)
