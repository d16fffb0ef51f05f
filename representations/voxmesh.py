"""voxmesh: Mesh R-CNN's mesh head: the vox type's grid, cubified, and its vertices refined.

    prediction = make_model("voxmesh")(images)    # .voxels (B, 32, 32, 32) logits, .meshes the last stage

The voxel branch is the vox type's decoder and loss; each refinement stage adds Chamfer, normal
and edge terms (`losses.mesh_losses`). A new run starts its encoder and voxel branch from a vox
run (--init), as Mesh R-CNN starts from a trained voxel head.
"""

from common.precision import float32
from losses import mesh_losses, point_subsets
from model import ModelError, VoxMeshDecoder

from .base import Representation
from .vox import VOX_LEGACY, VOX_MODEL_DEFAULTS, complete_voxel_args, voxel_decoder, voxel_loss_terms

# What must match between a vox checkpoint and a voxmesh model for --init to copy its weights.
VOXEL_BRANCH_ARGS = (
    "arch", "image_size", "vox_decoder", "vox_channels", "vox_latent", "vox_deep_supervision", "vox_pixel_aligned",
    "vox_pixel_head", "vox_frame", "vox_camera_head",
)  # fmt: skip


class VoxMesh(Representation):
    name = "voxmesh"
    silhouette_ceiling = "voxels"
    model_defaults = {
        **VOX_MODEL_DEFAULTS,
        "refine_stages": 1,  # Mesh R-CNN uses 3; one keeps the CPU budget
        "refine_hidden": 64,
        "cubify_threshold": 0.5,
    }
    legacy_model_args = VOX_LEGACY
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

    def targets(self, batch, config):
        points_gt, normals_gt = point_subsets(batch["points"], batch["normals"], config.n_points)
        return {"points": points_gt, "normals": normals_gt}

    def loss(self, prediction, batch, targets, config):
        with float32(prediction.voxels):
            total, terms = voxel_loss_terms(prediction, batch, config)
            if "keep_in_graph" in prediction.aux:  # no cell above the threshold: no mesh to refine this step
                return total + prediction.aux["keep_in_graph"], terms
            for k, meshes in enumerate(prediction.aux["stages"]):
                chamfer, normal, edge = mesh_losses(meshes, targets["points"], targets["normals"], config.n_points)
                total = total + config.w_chamfer * chamfer + config.w_normal * normal + config.w_edge * edge
                terms.update(
                    {f"chamfer{k}": chamfer.detach(), f"normal{k}": normal.detach(), f"edge{k}": edge.detach()}
                )
        return total, terms

    init_from = "vox"

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
