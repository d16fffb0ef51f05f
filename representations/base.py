"""What the rest of the code asks of a type of output: the `Representation` interface and its `Settings`.

    @dataclass(frozen=True)
    class ToySettings(Settings):
        toy_points: int = flag(100, "points the toy predicts", "positive_int", model=True)
        w_toy: float = flag(1.0, "the toy's own loss term", "non_negative_float")

    class Toy(Representation):
        name = "toy"
        settings = ToySettings
        def build_decoder(self, model_args): ...
        def loss(self, prediction, batch, targets, settings, shared): ...
    register(Toy())                                   # representations/__init__.py

A representation declares its decoder and settings (model arguments and loss weights, each a
flag: train_model.py builds one flag group per type from them), its training loss with its
targets, how it predicts for evaluation, how it covers rods for thin_recall, its step budgets
and image sizes per profile, what it draws, and how a free shape of it is fitted (fit_data.py).
Scripts, training and evaluation look a type up by name (`representations.get`) and never
branch on it.
"""

import dataclasses
from dataclasses import dataclass

import torch

from common.flags import ConfigError, flag  # noqa: F401  (flag: what a type's Settings declare fields with)
from model import Prediction


@dataclass(frozen=True)
class Settings:
    """A type's own settings. Each field is a flag (`common.flags.flag`): with model=True it is a
    model argument (in model_args, which checkpoints store and rebuild the model from), else it
    weighs or samples the type's loss. A model argument that is no flag (`common.flags.setting`)
    is decided by `validate` or fixed. The settings every type shares are `losses.LossConfig`'s."""

    def validate(self, given: frozenset = frozenset()) -> "Settings":
        """The settings made whole: values that follow from others filled in (a replaced copy),
        or ConfigError (one line) for flags that cannot go together. given: the flags the command
        line named (a rule may adjust a value left to its default, not one the user gave)."""
        return self

    @classmethod
    def fields(cls, model: bool | None = None) -> tuple[dataclasses.Field, ...]:
        """The fields: all, the model arguments (model=True) or the loss settings (model=False)."""
        return tuple(f for f in dataclasses.fields(cls) if model is None or f.metadata.get("model", False) == model)

    @classmethod
    def flag_names(cls) -> tuple[str, ...]:
        """The fields that are command-line flags."""
        return tuple(f.name for f in dataclasses.fields(cls) if "help" in f.metadata)

    def model_args(self) -> dict:
        """The model arguments among the settings, {name: value}."""
        return {f.name: getattr(self, f.name) for f in self.fields(model=True)}


class Representation:
    """The defaults are those of a surface type that trains on Chamfer-like terms; each type's
    module overrides what differs.

    Attributes:
        name: the --type that selects it.
        settings: its `Settings` class (its flags, model arguments and loss weights).
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
        searches_camera: told no camera, its `predict` can choose among its camera head's likeliest
            cameras by how the prediction fits the image's mask (camera_search).
        silhouette_ceiling: the GT as the type represents it, whose silhouette in the input view is
            the ceiling of its sil_iou: "voxels" (the GT grid's surface), "mesh" (the GT mesh) or
            "points" (GT surface samples, as many as it predicts).
        fit_lr: fit_data.py's Adam learning rate for a free shape of the type (`fit_init`), None
            for a type that is not fitted free.
    """

    name: str = ""
    settings: type[Settings] = Settings
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
    searches_camera: bool = False
    silhouette_ceiling: str = "mesh"
    fit_lr: float | None = None

    def model_args(self, settings: Settings, shared) -> dict:
        """The type's own model arguments from its settings and the shared ones (`losses.LossConfig`:
        a point cloud predicts as many points as its loss samples)."""
        return settings.model_args()

    def complete(self, model_args: dict) -> dict:
        """Model arguments with the values their defaults leave open filled in (e.g. a decoder's
        widths by its kind); `representations.default_model_args` calls it."""
        return model_args

    def build_decoder(self, model_args: dict) -> torch.nn.Module:
        """The decoder of complete model_args (`representations.default_model_args`): a module
        whose forward(encoding, queries) returns a `Prediction` and whose `uses_feature_map` says
        whether it reads the encoder's feature map."""
        raise NotImplementedError

    def targets(self, batch: dict, settings: Settings, shared, memo: dict | None = None) -> dict:
        """What the loss compares with, drawn before the forward (random subsets of the GT's
        points, occupancy queries and labels), from the global generator the trainer seeds by
        step; "queries", when present, go to the forward. shared: `losses.LossConfig`; memo: a
        dict the run keeps across its steps, for targets that depend on the image alone (each
        computed once), None outside a run."""
        return {}

    def loss(
        self, prediction: Prediction, batch: dict, targets: dict, settings: Settings, shared
    ) -> tuple[torch.Tensor, dict]:
        """(weighted total, unweighted terms detached for the logs), in float32 with autocast off;
        settings: the type's own, shared: `losses.LossConfig`."""
        raise NotImplementedError

    def predict(
        self,
        model,
        images: torch.Tensor,
        grid_res: int,
        iso: float,
        cameras: tuple | None = None,
        intrinsics: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
        camera_search: int = 0,
    ) -> Prediction:
        """The prediction evaluation reads: the model's own, with `meshes` filled where the type's
        surface is extracted from a grid (at `iso`, from a grid of grid_res^3 for an implicit
        function) and `voxels` the 32^3 logits where it has a volume. cameras: the images' (R, T,
        K), for a model that projects points; None: its camera head's guess with the images'
        intrinsics, or, with camera_search > 0 and the images' masks (B, H, W), the best of its
        camera_search likeliest by how the prediction fits the mask (a type that can, the vox one)."""
        return model(images, cameras=cameras, intrinsics=intrinsics)

    # The type of run a new model of this type starts from (train_model.py --init), or None.
    init_from: str | None = None

    def initialise(self, model, source: dict, path: str) -> str:
        """Start a new model from a checkpoint of an `init_from` run (its dict, read from path);
        returns a line saying what was done, raises `model.ModelError` when it does not fit."""
        raise NotImplementedError

    # fit_data.py: a free shape of the type (no network) optimised to one GT shape, part 1 of the assignment.

    def fit_init(self, item: dict, n_points: int, device) -> dict:
        """The free shape's state for one dataset item: {"params": tensors Adam optimises, ...}."""
        raise NotImplementedError

    def fit_loss(self, state: dict, item: dict, n_points: int, settings: Settings, shared) -> torch.Tensor:
        """The free shape's loss against the item's GT (its type's training terms)."""
        raise NotImplementedError

    def fit_shape(self, state: dict) -> Prediction:
        """The fitted shape as a prediction of one item (voxels, points or meshes), for drawing."""
        raise NotImplementedError
