"""mesh: an ico-sphere deformed by predicted offsets, trained on Chamfer and Laplacian smoothing.

prediction = make_model("mesh")(images)      # .meshes: B spheres of level ico_level (2562 vertices at 4)
"""

from dataclasses import dataclass

import torch
import torch.nn as nn

from common.flags import flag, setting
from common.precision import float32
from losses import chamfer_loss, smoothness_loss
from model import Prediction
from networks.encoder import Encoding

from .base import Representation, Settings
from .point import surface_targets


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


@dataclass(frozen=True)
class MeshSettings(Settings):
    ico_level: int = setting(4)  # the template sphere's subdivision level
    w_smooth: float = flag(0.1, "Laplacian smoothing of the ico-sphere", "non_negative_float")


class Mesh(Representation):
    name = "mesh"
    settings = MeshSettings
    max_iter = {"cpu": 800, "gpu": 10000}
    image_size = {"cpu": 64, "gpu": 137}
    compiles = False  # its forward builds a Meshes batch
    uses_surface_samples = True
    fit_lr = 0.005  # as the point type's: vertices move by fractions of the object

    def build_decoder(self, model_args):
        return MeshDecoder(model_args["ico_level"])

    def targets(self, batch, settings, shared, memo=None):
        return surface_targets(batch, shared)

    def loss(self, prediction, batch, targets, settings, shared):
        from pytorch3d.ops import sample_points_from_meshes

        meshes = prediction.meshes
        with float32(meshes.verts_packed()):
            chamfer = chamfer_loss(sample_points_from_meshes(meshes, shared.n_points), targets["points"])
            smooth = smoothness_loss(meshes)
        total = shared.w_chamfer * chamfer + settings.w_smooth * smooth
        return total, {"chamfer": chamfer.detach(), "smooth": smooth.detach()}

    def fit_init(self, item, n_points, device):
        from pytorch3d.utils import ico_sphere

        template = ico_sphere(MeshSettings.ico_level, device).scale_verts(0.3)
        offsets = torch.zeros_like(template.verts_packed(), requires_grad=True)
        return {
            "params": [offsets],
            "template": template,
            "offsets": offsets,
            "points_gt": item["points"][None].to(device),
        }

    def fit_loss(self, state, item, n_points, settings, shared):
        from pytorch3d.ops import sample_points_from_meshes

        meshes = state["template"].offset_verts(state["offsets"])
        chamfer = chamfer_loss(sample_points_from_meshes(meshes, n_points), state["points_gt"])
        return shared.w_chamfer * chamfer + settings.w_smooth * smoothness_loss(meshes)

    def fit_shape(self, state):
        with torch.no_grad():
            return Prediction(meshes=state["template"].offset_verts(state["offsets"]))
