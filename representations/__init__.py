"""The output types, one module each, looked up by name: what a model predicts, how it trains, how it is scored.

    model = make_model("vox", image_size=64)             # a SingleViewto3D with the vox decoder
    model = build_model(complete_model_args(checkpoint["model_args"]))   # what a checkpoint rebuilds
    loss_fn = ReconstructionLoss(LossConfig("vox"))       # loss_fn(model, batch) -> (total, terms)
    get("occupancy").needs_occupancy_labels               # any question the code asks of a type

A type is a `base.Representation` in a module of this package (vox.py, point.py, mesh.py,
occupancy.py, voxmesh.py) and one line in `BUILT_IN`; `register` adds one from anywhere (a test, a
notebook). Scripts, training and evaluation ask the type, never test its name (Occupancy Networks'
`method_dict`).
"""

import torch

from model import ModelError, SingleViewto3D

from .base import Representation
from .mesh import Mesh
from .occupancy import Occupancy
from .point import Point
from .registry import (
    COMMON_MODEL_ARGS,
    REGISTRY,
    complete_model_args,
    default_model_args,
    get,
    names,
    register,
    unregister,
)
from .vox import Vox
from .voxmesh import VoxMesh

__all__ = [
    "BUILT_IN",
    "COMMON_MODEL_ARGS",
    "REGISTRY",
    "ReconstructionLoss",
    "Representation",
    "build_model",
    "complete_model_args",
    "default_model_args",
    "get",
    "make_model",
    "names",
    "register",
    "unregister",
]

BUILT_IN = (Vox(), Point(), Mesh(), Occupancy(), VoxMesh())


def build_model(model_args: dict, pretrained: str | None = None) -> SingleViewto3D:
    """The model complete model_args describe (a checkpoint's, or `default_model_args`'s)."""
    return SingleViewto3D(model_args, get(model_args["type"]).build_decoder, pretrained)


def make_model(type: str, pretrained: str | None = None, **overrides) -> SingleViewto3D:
    """A new model of a type: `build_model(default_model_args(type, **overrides))`, where
    overrides may hold other types' arguments too (one set of settings for several types), which
    this type ignores; an argument no type has is a ModelError."""
    own = default_model_args(type)
    anywhere = set(COMMON_MODEL_ARGS).union(*(r.model_defaults for r in REGISTRY.values()))
    unknown = set(overrides) - anywhere
    if unknown:
        raise ModelError(f"unknown model arguments {sorted(unknown)}")
    return build_model(default_model_args(type, **{k: v for k, v in overrides.items() if k in own}), pretrained)


class ReconstructionLoss:
    """A type's training loss with its targets, as Mesh R-CNN's MeshLoss: called on a model and a
    batch, it draws the targets (`Representation.targets`), runs the model and returns the weighted
    total and the unweighted terms (`Representation.loss`). Random draws come from the global
    generator, which the trainer seeds by step."""

    def __init__(self, config):
        """config: `losses.LossConfig`."""
        self.config = config
        self.representation = get(config.type)
        self.viewer_targets = None  # a viewer-frame model's targets, each image's turned once (its first step)
        self.overlaps = {}  # each training shape's azimuth self-overlap, for a shape-aware camera loss

    def azimuth_overlap(self, batch: dict, predicted: dict) -> torch.Tensor:
        """(B, n_bins) `geometry.cameras.azimuth_self_overlap` of the batch's shapes, each computed once
        (by "shape_index" where the batch has it)."""
        from geometry.cameras import azimuth_self_overlap

        n_bins = predicted["azimuth_logits"].shape[1]
        keys = batch["shape_index"].tolist() if batch.get("shape_index") is not None else None
        if keys is None:
            return azimuth_self_overlap(batch["voxels"], n_bins)
        missing = [i for i, key in enumerate(keys) if key not in self.overlaps]
        if missing:
            for i, row in zip(missing, azimuth_self_overlap(batch["voxels"][missing], n_bins).cpu()):
                self.overlaps[keys[i]] = row
        return torch.stack([self.overlaps[key] for key in keys]).to(batch["voxels"].device)

    def __call__(self, model, batch: dict) -> tuple[torch.Tensor, dict]:
        from common.precision import float32
        from losses import camera_loss

        targets = self.representation.targets(batch, self.config)
        cameras = (batch["R"], batch["T"], batch["K"]) if batch.get("R") is not None else None
        prediction = model(batch["images"], targets.get("queries"), cameras=cameras)
        if prediction.frame == "viewer" and cameras is not None:
            from geometry.viewer import ViewerTargets

            self.viewer_targets = self.viewer_targets or ViewerTargets()
            voxels, rods = self.viewer_targets(batch, with_rods=getattr(self.config, "w_thin", 0) > 0)
            batch = {**batch, "voxels_viewer": voxels, "rods_viewer": rods}
        total, terms = self.representation.loss(prediction, batch, targets, self.config)
        if "camera" in prediction.aux and cameras is not None:  # a model with a camera head learns the metadata
            predicted = prediction.aux["camera"]
            overlap = self.azimuth_overlap(batch, predicted) if "azimuth_offsets" in predicted else None
            with float32(total):
                camera, camera_terms = camera_loss(predicted, batch["R"], batch["T"], prediction.frame, overlap)
            total = total + self.config.w_camera * camera
            terms.update(camera_terms)
        return total, terms


for _representation in BUILT_IN:
    register(_representation)
