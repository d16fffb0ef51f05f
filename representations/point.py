"""point: a cloud of --n_points points, bounded to the object cube, trained on Chamfer.

prediction = make_model("point", n_points=1000)(images)    # .points (B, 1000, 3)
"""

from dataclasses import dataclass

import torch
import torch.nn as nn

from common.flags import setting
from common.precision import float32
from losses import chamfer_loss, point_subsets
from model import Prediction
from networks.encoder import Encoding

from .base import Representation, Settings


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


def surface_targets(batch: dict, shared) -> dict:
    """A new random subset of --n_points of the GT's surface samples ("points" (B, n, 3)), each step."""
    points_gt, _ = point_subsets(batch["points"], batch["normals"], shared.n_points)
    return {"points": points_gt}


@dataclass(frozen=True)
class PointSettings(Settings):
    n_points: int = setting(1000)  # predicted points: as many as the loss samples (the shared --n_points)


class Point(Representation):
    name = "point"
    settings = PointSettings
    silhouette_ceiling = "points"
    max_iter = {"cpu": 800, "gpu": 10000}
    image_size = {"cpu": 64, "gpu": 137}
    surface = "points"
    uses_surface_samples = True
    # Adam moves each coordinate by about lr a step: points by fractions of the [-0.5, 0.5] object.
    fit_lr = 0.005

    def model_args(self, settings, shared):
        return {"n_points": shared.n_points}

    def build_decoder(self, model_args):
        return PointDecoder(model_args["n_points"])

    def targets(self, batch, settings, shared, memo=None):
        return surface_targets(batch, shared)

    def loss(self, prediction, batch, targets, settings, shared):
        with float32(prediction.points):
            chamfer = chamfer_loss(prediction.points.float(), targets["points"])
        return shared.w_chamfer * chamfer, {"chamfer": chamfer.detach()}

    def fit_init(self, item, n_points, device):
        points = (0.1 * torch.randn(1, n_points, 3, device=device)).requires_grad_(True)
        return {"params": [points], "points": points, "points_gt": item["points"][None].to(device)}

    def fit_loss(self, state, item, n_points, settings, shared):
        return shared.w_chamfer * chamfer_loss(state["points"], state["points_gt"])

    def fit_shape(self, state):
        return Prediction(points=state["points"].detach())
