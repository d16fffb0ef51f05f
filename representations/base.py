"""What the rest of the code asks of a type of output: the `Representation` interface.

    class Toy(Representation):
        name = "toy"
        model_defaults = {"n_points": 100}
        def build_decoder(self, model_args): ...
        def loss(self, prediction, batch, targets, config): ...
    register(Toy())                                   # representations/__init__.py

A representation declares its decoder and model arguments, its training loss with its targets,
how it predicts for evaluation, how it covers rods for thin_recall, its step budgets and image
sizes per profile, and what it draws. Scripts, training and evaluation look a type up by name
(`representations.get`) and never branch on it.
"""

import torch

from model import Prediction


class Representation:
    """The defaults are those of a surface type that trains on Chamfer-like terms; each type's
    module overrides what differs.

    Attributes:
        name: the --type that selects it.
        model_defaults: its own model arguments and their defaults (besides type, arch and
            image_size, which every model has); checkpoints store them all.
        legacy_model_args: what checkpoints written before one of its arguments existed were
            built with (applied to a checkpoint's model_args that lack the key).
        max_iter, image_size: its training budget and encoder input size, per profile ("cpu",
            "gpu"; `training.config`).
        surface: what it draws, writes and is sampled as: "mesh" (its meshes, written as OBJ) or
            "points" (its point cloud, written as PLY).
        has_volume: it predicts a 32^3 grid (voxel IoU, the frame check on IoU, the mean shape's
            grid beside it).
        iso_surface: its surface is extracted from a probability grid at --iso.
        grid_resolution: its surface is extracted at --grid_res (an implicit function).
        thin_cover: what covers a GT's rod-like cells in thin_recall: "volume" (its grid at
            --iso), "surface" (its surface's points) or "both" (`evaluation.protocol.covered_cells`).
        compiles: its decoder has no PyTorch3D op inside and may be torch.compiled.
        uses_surface_samples: its loss compares --n_points of the GT's surface samples (at most
            as many as the GT holds).
        needs_occupancy_labels: its training batches carry points.npz's exact occupancy labels.
        has_oracle: its prediction is a voxel grid, which the GT's own grid can stand in for
            (eval_model.py --oracle: the alignment check).
        silhouette_ceiling: the GT as the type represents it, whose silhouette in the input view is
            the ceiling of its sil_iou: "voxels" (the GT grid's surface), "mesh" (the GT mesh) or
            "points" (GT surface samples, as many as it predicts).
    """

    name: str = ""
    model_defaults: dict = {}
    legacy_model_args: dict = {}
    max_iter: dict = {"cpu": 800, "gpu": 10000}
    image_size: dict = {"cpu": 64, "gpu": 137}
    surface: str = "mesh"
    has_volume: bool = False
    iso_surface: bool = False
    grid_resolution: bool = False
    thin_cover: str = "surface"
    compiles: bool = True
    uses_surface_samples: bool = False
    needs_occupancy_labels: bool = False
    has_oracle: bool = False
    silhouette_ceiling: str = "mesh"

    def complete(self, model_args: dict) -> dict:
        """Model arguments with the values their defaults leave open filled in (e.g. a decoder's
        widths by its kind); `representations.default_model_args` calls it."""
        return model_args

    def build_decoder(self, model_args: dict) -> torch.nn.Module:
        """The decoder of complete model_args (`representations.default_model_args`): a module
        whose forward(encoding, queries) returns a `Prediction` and whose `uses_feature_map` says
        whether it reads the encoder's feature map."""
        raise NotImplementedError

    def targets(self, batch: dict, config) -> dict:
        """What the loss compares with, drawn before the forward (random subsets of the GT's
        points, occupancy queries and labels), from the global generator the trainer seeds by
        step; "queries", when present, go to the forward."""
        return {}

    def loss(self, prediction: Prediction, batch: dict, targets: dict, config) -> tuple[torch.Tensor, dict]:
        """(weighted total, unweighted terms detached for the logs), in float32 with autocast off;
        config: `losses.LossConfig`."""
        raise NotImplementedError

    def predict(
        self, model, images: torch.Tensor, grid_res: int = 32, iso: float = 0.5, cameras: tuple | None = None
    ) -> Prediction:
        """The prediction evaluation reads: the model's own, with `meshes` filled where the type's
        surface is extracted from a grid (at `iso`, from a grid of grid_res^3 for an implicit
        function) and `voxels` the 32^3 logits where it has a volume. cameras: the images' (R, T,
        K), for a model that projects points; None: its camera head's."""
        return model(images, cameras=cameras)

    # The type of run a new model of this type starts from (train_model.py --init), or None.
    init_from: str | None = None

    def initialise(self, model, source: dict, path: str) -> str:
        """Start a new model from a checkpoint of an `init_from` run (its dict, read from path);
        returns a line saying what was done, raises `model.ModelError` when it does not fit."""
        raise NotImplementedError
