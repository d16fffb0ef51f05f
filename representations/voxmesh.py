"""voxmesh: Mesh R-CNN's mesh head: the vox type's grid, cubified, and its vertices refined.

    prediction = make_model("voxmesh")(images)    # .voxels (B, 32, 32, 32) logits, .meshes the last stage

The voxel branch is the vox type's decoder and loss; each refinement stage adds Chamfer, normal
and edge terms (`mesh_losses`). A new run starts its encoder and voxel branch from a vox
run (--init), as Mesh R-CNN starts from a trained voxel head.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.flags import flag, setting
from common.precision import float32
from geometry.grids import ISO
from losses import chamfer_and_normal_loss, point_subsets
from model import ModelError, Prediction
from networks.encoder import Encoding

from .base import Representation
from .vox import Vox, VoxSettings, complete_voxel_args
from .vox.decoder import voxel_decoder
from .vox.loss import voxel_loss_terms, voxel_targets

# What must match between a vox checkpoint and a voxmesh model for --init to copy its weights.
VOXEL_BRANCH_ARGS = ("arch", "image_size") + tuple(f.name for f in VoxSettings.fields(model=True))


def mesh_losses(meshes, points_gt: torch.Tensor, normals_gt: torch.Tensor, n_points: int) -> tuple[torch.Tensor, ...]:
    """Mesh R-CNN's mesh losses of a Meshes batch against GT surface samples (B, S, 3) with
    normals: Chamfer and normal (`losses.chamfer_and_normal_loss`, on n_points sampled from each
    mesh) and edge (mean squared edge length, PyTorch3D's). Empty meshes are left out; all three
    are 0 when every mesh is empty."""
    from pytorch3d.loss import mesh_edge_loss
    from pytorch3d.ops import sample_points_from_meshes

    nonempty = [i for i, faces in enumerate(meshes.faces_list()) if len(faces)]
    if not nonempty:
        zero = points_gt.new_zeros(())
        return zero, zero, zero
    meshes = meshes[nonempty]
    points, normals = sample_points_from_meshes(meshes, n_points, return_normals=True)
    chamfer, normal = chamfer_and_normal_loss(points, normals, points_gt[nonempty], normals_gt[nonempty])
    return chamfer, normal, mesh_edge_loss(meshes)


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
        self.frame = getattr(voxels, "frame", "object")  # the voxel branch's: the stages refine its mesh there
        self.camera_head = getattr(voxels, "camera_head", "mlp")
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


def cubify_meshes(voxels: torch.Tensor, threshold: float = ISO):
    """PyTorch3D's cubify of (B, D, H, W) [z, y, x] occupancy grids over [-0.5, 0.5]^3, in the
    object frame: cubify's "corner" alignment puts the grid's outer faces at -1 and 1."""
    from pytorch3d.ops import cubify

    meshes = cubify(voxels, threshold, align="corner")
    return meshes.update_padded(meshes.verts_padded() * 0.5)


@dataclass(frozen=True)
class VoxMeshSettings(VoxSettings):
    """The vox settings of its voxel branch, and its refinement stages'."""

    refine_stages: int = setting(1)  # Mesh R-CNN uses 3; one keeps the CPU budget
    refine_hidden: int = setting(64)
    cubify_threshold: float = setting(ISO)
    w_normal: float = flag(1e-3, "normal loss (1 - |cos| to the nearest GT normal)", "non_negative_float")
    w_edge: float = flag(0.2, "edge-length loss, as Mesh R-CNN", "non_negative_float")


class VoxMesh(Representation):
    name = "voxmesh"
    settings = VoxMeshSettings
    silhouette_ceiling = "voxels"
    max_iter = {"cpu": 300, "gpu": 5000}
    image_size = {"cpu": 128, "gpu": 137}  # the vox run's it starts from
    has_volume = True
    compiles = False  # cubify and graph convolutions inside
    uses_surface_samples = True

    def complete(self, model_args):
        return complete_voxel_args(model_args)

    def build_decoder(self, model_args):
        a = model_args
        return VoxMeshDecoder(voxel_decoder(a), a["refine_hidden"], a["refine_stages"], a["cubify_threshold"])

    def targets(self, batch, settings, shared, memo=None):
        points_gt, normals_gt = point_subsets(batch["points"], batch["normals"], shared.n_points)
        return {"points": points_gt, "normals": normals_gt, **voxel_targets(batch, settings, memo)}

    def loss(self, prediction, batch, targets, settings, shared):
        with float32(prediction.voxels):
            total, terms = voxel_loss_terms(prediction, batch, targets, settings)
            if "keep_in_graph" in prediction.aux:  # no cell above the threshold: no mesh to refine this step
                return total + prediction.aux["keep_in_graph"], terms
            points_gt, normals_gt = targets["points"], targets["normals"]
            if prediction.frame == "viewer":  # the stages refine the viewer-frame grid's mesh
                from geometry.view_frame import points_to_viewer

                points_gt, normals_gt = (
                    points_to_viewer(points_gt, batch["R"]),
                    points_to_viewer(normals_gt, batch["R"]),
                )
            for k, meshes in enumerate(prediction.aux["stages"]):
                chamfer, normal, edge = mesh_losses(meshes, points_gt, normals_gt, shared.n_points)
                total = total + shared.w_chamfer * chamfer + settings.w_normal * normal + settings.w_edge * edge
                terms.update(
                    {f"chamfer{k}": chamfer.detach(), f"normal{k}": normal.detach(), f"edge{k}": edge.detach()}
                )
        return total, terms

    init_from = Vox.name

    def initialise(self, model, source: dict, path: str) -> str:
        """The encoder and voxel branch copied from a vox checkpoint (its dict, read from path), as
        Mesh R-CNN starts from a trained voxel head; ModelError when they do not fit."""
        from .registry import complete_model_args

        mine, theirs = model.model_args, complete_model_args(source["model_args"])
        differ = [k for k in VOXEL_BRANCH_ARGS if theirs.get(k) != mine[k]]
        if differ:
            raise ModelError(
                f"{path}: its encoder or voxel branch differs ("
                + ", ".join(f"{k} {theirs.get(k)} here {mine[k]}" for k in differ)
                + "); train voxmesh with the vox run's settings or pass --init none"
            )
        # The encoder, the voxel branch and the camera head (a pixel-aligned branch's) come from the vox run.
        state = {k.replace("decoder.", "decoder.voxels.", 1): v for k, v in source["model"].items()}
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError:  # weights of other shapes
            missing, unexpected = [], ["?"]
        if unexpected or not all(k.startswith("decoder.") and not k.startswith("decoder.voxels.") for k in missing):
            raise ModelError(f"{path}: its weights do not fit voxmesh's encoder and voxel branch")
        return f"voxmesh: encoder and voxel branch start from {path} (step {source.get('step', '?')})"
