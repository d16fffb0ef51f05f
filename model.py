"""Single-view 3D reconstruction networks: the image encoder, a type's decoder, and what every model returns.

    from representations import make_model
    model = make_model("vox")                             # (B, H, W, 3) images -> Prediction
    prediction = model(images)                            # .voxels (B, 32, 32, 32) logits
    prediction = make_model("occupancy")(images, queries) # .occupancy (B, P) logits at (B, P, 3) queries

Every model is `SingleViewto3D`: the encoder (`networks.encoder`), one decoder, built by the type's
representation (`representations/<type>`, which also says how the type trains, is evaluated and is
drawn), and for a decoder that reads the image where points project, a camera head
(`networks.camera`). Every forward returns a `Prediction`, the same fields for every type, None
where a type has none. Outputs are in the object frame (y up, within [-0.5, 0.5]^3), or in the
viewer frame for a model that predicts there (`Prediction.frame`, `geometry.view_frame`); voxels are
[z, y, x]. Everything needed to rebuild a model is `model.model_args`, which checkpoints store.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from networks import ModelError
from networks.camera import CameraHead
from networks.encoder import Encoding, ImageEncoder, feature_map_size

# Where a model's output lives: "object", the object's own axes (y up), or "viewer", the input
# camera's axes centred on the object (`geometry.view_frame`), which needs no camera at test time.
FRAMES = ("object", "viewer")


@dataclass
class Prediction:
    """What every model's forward returns (Mesh R-CNN's heads return `(voxel_scores, meshes)` with
    None where a part is absent; this is the same idea with a field per kind of output).

    voxels: (B, 32, 32, 32) occupancy logits, [z, y, x], on the cube [-0.5, 0.5]^3.
    points: (B, N, 3) points, object frame.
    meshes: a pytorch3d `Meshes` batch of B meshes, object frame (voxmesh: its last stage).
    occupancy: (B, P) occupancy logits at the (B, P, 3) queries the forward was given.
    occupancy_fn: (B, P, 3) object-frame points -> (B, P) logits, reusing the images' encoding.
    probabilities: (B, 32, 32, 32) occupancy probabilities, [z, y, x], where they are what was
        computed (an implicit function read on a grid, the mean shape, the GT); evaluation reads
        them in place of sigmoid(voxels).
    outputs: a type's own outputs beyond these fields, by name (a new type's, which its
        representation's `predict` turns into the fields evaluation reads).
    frame: where every field lives, "object" or "viewer" (the input camera's axes centred on the
        object, `geometry.view_frame`; evaluation turns such a prediction back with the view's R).
    aux: what only the training loss reads, by name: "coarse", the coarse voxel logits [(B, R, R, R)]
        of deep supervision; "stages", voxmesh's Meshes after each refinement stage;
        "keep_in_graph", a zero that keeps parameters a step did not use in the graph (DDP).
    """

    voxels: torch.Tensor | None = None
    points: torch.Tensor | None = None
    meshes: object | None = None
    occupancy: torch.Tensor | None = None
    occupancy_fn: Callable | None = None
    probabilities: torch.Tensor | None = None
    aux: dict = field(default_factory=dict)
    frame: str = "object"
    outputs: dict = field(default_factory=dict)


class SingleViewto3D(nn.Module):
    """The image encoder and a decoder (`representations.build_model` makes one from model_args)."""

    def __init__(
        self,
        model_args: dict,
        make_decoder: Callable[[dict], nn.Module],
        pretrained: str | None = None,
        intrinsics: torch.Tensor | None = None,
    ):
        """make_decoder(model_args) builds the decoder, after the encoder: the order in which the
        layers draw their initial weights from the seeded generator. A decoder that projects points
        into the image (`uses_cameras`) gets a camera head (of its `camera_head` kind), for images
        without a camera; intrinsics (4, 4): the images' own when a forward is given none (the data's
        it trains on, `representations.build_model`'s)."""
        super().__init__()
        self.model_args = dict(model_args)
        self.type = model_args["type"]
        self.encoder = ImageEncoder(model_args["arch"], model_args["image_size"], pretrained)
        self.decoder = make_decoder(self.model_args)
        self.register_buffer("intrinsics", intrinsics.float().clone() if intrinsics is not None else None, False)
        self.camera_head = None
        if getattr(self.decoder, "uses_cameras", False):
            kind = getattr(self.decoder, "camera_head", "mlp")
            self.camera_head = CameraHead(kind, feature_map_size(model_args["image_size"]))

    def forward(
        self,
        images: torch.Tensor,
        queries: torch.Tensor | None = None,
        cameras: tuple | None = None,
        intrinsics: torch.Tensor | None = None,
    ) -> Prediction:
        """images (B, H, W, 3) in [0, 1]; queries (B, P, 3) object-frame points where the
        occupancy decoder is read (ignored by the others); cameras (R, T, K) of the images
        (`Encoding.cameras`), for a decoder that projects points: the camera head's guess with the
        images' intrinsics ((4, 4) or (B, 4, 4); None: the model's own) when None. The camera head's
        output is aux["camera"], for its loss."""
        encoding, camera = self.encode(images)
        if camera is not None:
            encoding.cameras = self.cameras_for(camera, cameras, intrinsics)
        return self.decode(encoding, camera, queries)

    def encode(self, images: torch.Tensor) -> tuple[Encoding, dict | None]:
        """The images' encoding (the maps its decoder and camera head read) and the camera head's
        output (None without one)."""
        decoder, head = self.decoder, self.camera_head
        encoding = self.encoder(
            images,
            return_map=decoder.uses_feature_map or (head is not None and head.uses_feature_map),
            return_maps=getattr(decoder, "uses_image_maps", False),
        )
        return encoding, head(encoding.features, encoding.feature_map) if head is not None else None

    def cameras_for(self, camera: dict, cameras: tuple | None, intrinsics: torch.Tensor | None) -> tuple:
        """The cameras the decoder projects with, in its frame: the given ones (R, T, K), or the camera
        head's guess (`camera`, its output) with the images' intrinsics (the model's own when None)."""
        frame = self.frame
        if cameras is None:
            intrinsics = intrinsics if intrinsics is not None else self.intrinsics
            if intrinsics is None:
                raise ValueError(
                    "a model that reads the image where points project needs the images' cameras or at least "
                    "their intrinsics K (4, 4) to guess one"
                )
            return CameraHead.cameras(camera, intrinsics, frame)
        if frame == "viewer":  # the view's distance and intrinsics; its rotation is the frame itself
            from geometry.view_frame import viewer_cameras

            return viewer_cameras(cameras[1], cameras[2])
        return tuple(cameras)

    def decode(self, encoding: Encoding, camera: dict | None = None, queries: torch.Tensor | None = None) -> Prediction:
        """The decoder's prediction of an encoding (its cameras set, for a decoder that projects points),
        in the model's frame, the camera head's output in aux["camera"]."""
        prediction = self.decoder(encoding, queries)
        prediction.frame = self.frame
        if camera is not None:
            prediction.aux["camera"] = camera
        return prediction

    @property
    def frame(self) -> str:
        """Where its outputs live: "object" or "viewer" (`FRAMES`)."""
        return getattr(self.decoder, "frame", "object")


__all__ = ["FRAMES", "Encoding", "ModelError", "Prediction", "SingleViewto3D"]
