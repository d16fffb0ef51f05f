"""The image encoder: torchvision's ResNet18 without its classifier, and what it returns (`Encoding`).

    encoding = ImageEncoder(image_size=128)(images, return_map=True)   # .features (B, 512), .feature_map

Pretrained ImageNet weights load only from a local file (`load_pretrained_resnet18`): nothing is
downloaded at run time.
"""

import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from networks import ModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
