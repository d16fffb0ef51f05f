"""point: a cloud of --n_points points, bounded to the object cube, trained on Chamfer.

prediction = make_model("point", n_points=1000)(images)    # .points (B, 1000, 3)
"""

from common.precision import float32
from losses import LossConfig, chamfer_loss, point_subsets
from model import PointDecoder

from .base import Representation


def surface_targets(batch: dict, config) -> dict:
    """A new random subset of --n_points of the GT's surface samples ("points" (B, n, 3)), each step."""
    points_gt, _ = point_subsets(batch["points"], batch["normals"], config.n_points)
    return {"points": points_gt}


class Point(Representation):
    name = "point"
    silhouette_ceiling = "points"
    model_defaults = {"n_points": LossConfig.n_points}  # predicted points: as many as the loss samples
    max_iter = {"cpu": 800, "gpu": 10000}
    image_size = {"cpu": 64, "gpu": 137}
    surface = "points"
    uses_surface_samples = True

    def build_decoder(self, model_args):
        return PointDecoder(model_args["n_points"])

    def targets(self, batch, config):
        return surface_targets(batch, config)

    def loss(self, prediction, batch, targets, config):
        with float32(prediction.points):
            chamfer = chamfer_loss(prediction.points.float(), targets["points"])
        return config.w_chamfer * chamfer, {"chamfer": chamfer.detach()}
