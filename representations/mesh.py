"""mesh: an ico-sphere deformed by predicted offsets, trained on Chamfer and Laplacian smoothing.

prediction = make_model("mesh")(images)      # .meshes: B spheres of level --ico_level (2562 vertices at 4)
"""

from common.precision import float32
from losses import chamfer_loss, smoothness_loss
from model import MeshDecoder

from .base import Representation
from .point import surface_targets


class Mesh(Representation):
    name = "mesh"
    model_defaults = {"ico_level": 4}
    max_iter = {"cpu": 800, "gpu": 10000}
    image_size = {"cpu": 64, "gpu": 137}
    compiles = False  # its forward builds a Meshes batch
    uses_surface_samples = True

    def build_decoder(self, model_args):
        return MeshDecoder(model_args["ico_level"])

    def targets(self, batch, config):
        return surface_targets(batch, config)

    def loss(self, prediction, batch, targets, config):
        from pytorch3d.ops import sample_points_from_meshes

        meshes = prediction.meshes
        with float32(meshes.verts_packed()):
            chamfer = chamfer_loss(sample_points_from_meshes(meshes, config.n_points), targets["points"])
            smooth = smoothness_loss(meshes)
        total = config.w_chamfer * chamfer + config.w_smooth * smooth
        return total, {"chamfer": chamfer.detach(), "smooth": smooth.detach()}
