"""The output types, one module each, looked up by name: what a model predicts, how it trains, how it is scored.

    model = make_model("vox", image_size=64)             # a SingleViewto3D with the vox decoder
    model = build_model(complete_model_args(checkpoint["model_args"]))   # what a checkpoint rebuilds
    loss_fn = ReconstructionLoss("vox", settings, LossConfig())  # loss_fn(model, batch) -> (total, terms)
    get("occupancy").needs_occupancy_labels               # any question the code asks of a type

A type is a `base.Representation` with its `base.Settings`, its decoder and its loss, in a package
or module of its own here (vox/, occupancy/, point.py, mesh.py, voxmesh.py), and one entry in
`BUILT_IN`; `register` adds one from anywhere (a test, a notebook). Scripts, training and
evaluation ask the type, never test its name (Occupancy Networks' `method_dict`).
"""

import torch

from model import ModelError, SingleViewto3D

from .base import Representation, Settings
from .mesh import Mesh
from .occupancy import Occupancy
from .point import Point
from .registry import (
    COMMON_MODEL_ARGS,
    REGISTRY,
    complete_model_args,
    default_model_args,
    get,
    model_defaults,
    names,
    register,
    unregister,
)
from .vox import Vox
from .voxmesh import VoxMesh

__all__ = [
    "BUILT_IN",
    "DEFAULT_TYPE",
    "COMMON_MODEL_ARGS",
    "REGISTRY",
    "ReconstructionLoss",
    "Representation",
    "Settings",
    "build_model",
    "complete_model_args",
    "default_model_args",
    "get",
    "make_model",
    "model_defaults",
    "names",
    "register",
    "unregister",
]

BUILT_IN = (Vox(), Point(), Mesh(), Occupancy(), VoxMesh())
DEFAULT_TYPE = Vox.name  # what --type means when it is left out


def build_model(
    model_args: dict, pretrained: str | None = None, intrinsics: torch.Tensor | None = None
) -> SingleViewto3D:
    """The model complete model_args describe (a checkpoint's, or `default_model_args`'s). intrinsics
    (4, 4): what a model that projects points assumes of an image given without a camera; left
    out, R2N2's renderings' (the data every model here trains on; a photo is framed as they are)."""
    from r2n2.formats import R2N2_K

    intrinsics = R2N2_K if intrinsics is None else intrinsics
    return SingleViewto3D(model_args, get(model_args["type"]).build_decoder, pretrained, intrinsics)


def make_model(type: str, pretrained: str | None = None, **overrides) -> SingleViewto3D:
    """A new model of a type: `build_model(default_model_args(type, **overrides))`, where
    overrides may hold other types' arguments too (one set of settings for several types), which
    this type ignores; an argument no type has is a ModelError."""
    own = default_model_args(type)
    anywhere = set(COMMON_MODEL_ARGS).union(*(model_defaults(name) for name in REGISTRY))
    unknown = set(overrides) - anywhere
    if unknown:
        raise ModelError(f"unknown model arguments {sorted(unknown)}")
    return build_model(default_model_args(type, **{k: v for k, v in overrides.items() if k in own}), pretrained)


class ReconstructionLoss:
    """A type's training loss with its targets, as Mesh R-CNN's MeshLoss: called on a model and a
    batch, it draws the targets (`Representation.targets`), runs the model and returns the weighted
    total and the unweighted terms (`Representation.loss`); a model with a camera head also learns
    the views' cameras (`losses.camera_loss`). Random draws come from the global generator, which
    the trainer seeds by step. One instance serves one run: what depends on an image alone (a
    viewer-frame target, a shape's symmetry) is kept across its steps (`memo`)."""

    def __init__(self, model_type: str, settings: Settings, shared):
        """settings: the type's own (its `Representation.settings`, validated); shared:
        `losses.LossConfig`."""
        self.settings, self.shared = settings, shared
        self.representation = get(model_type)
        self.memo = {}

    def __call__(self, model, batch: dict) -> tuple[torch.Tensor, dict]:
        from common.precision import float32
        from losses import camera_loss

        targets = self.representation.targets(batch, self.settings, self.shared, self.memo)
        cameras = (batch["R"], batch["T"], batch["K"]) if batch.get("R") is not None else None
        prediction = model(batch["images"], targets.get("queries"), cameras=cameras)
        total, terms = self.representation.loss(prediction, batch, targets, self.settings, self.shared)
        if "camera" in prediction.aux and cameras is not None:  # a model with a camera head learns the metadata
            predicted = prediction.aux["camera"]
            overlap = self.azimuth_overlap(batch, predicted) if "azimuth_offsets" in predicted else None
            with float32(total):
                camera, camera_terms = camera_loss(predicted, batch["R"], batch["T"], prediction.frame, overlap)
            total = total + self.shared.w_camera * camera
            terms.update(camera_terms)
        return total, terms

    def azimuth_overlap(self, batch: dict, predicted: dict) -> torch.Tensor:
        """(B, n_bins) `geometry.cameras.azimuth_self_overlap` of the batch's shapes, for the shape-aware
        camera loss, each shape's computed once a run (by "shape_index" where the batch has it)."""
        from geometry.cameras import azimuth_self_overlap

        n_bins = predicted["azimuth_logits"].shape[1]
        if batch.get("shape_index") is None or batch["voxels"].device.type == "cuda":  # on a GPU: no host sync
            return azimuth_self_overlap(batch["voxels"], n_bins)
        keys = batch["shape_index"].tolist()
        overlaps = self.memo.setdefault("azimuth_overlap", {})
        missing = [i for i, key in enumerate(keys) if key not in overlaps]
        if missing:
            for i, row in zip(missing, azimuth_self_overlap(batch["voxels"][missing], n_bins).cpu()):
                overlaps[keys[i]] = row
        return torch.stack([overlaps[key] for key in keys]).to(batch["voxels"].device)


for _representation in BUILT_IN:
    register(_representation)
