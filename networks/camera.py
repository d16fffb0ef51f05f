"""The camera head: a camera for images without one (photos), guessed from the image features.

    predicted = CameraHead("spatial", map_size=4)(encoding.features, encoding.feature_map)
    R, T, K = CameraHead.cameras(predicted, intrinsics)      # PyTorch3D look-at cameras (`geometry.cameras`)

The images' intrinsics are an argument: the model does not assume a data format's camera.
"""

import torch
import torch.nn as nn

from networks import ModelError


class CameraHead(nn.Module):
    """The input view's camera from the pooled image feature, for images without one (photos): the
    azimuth as one of AZIMUTH_BINS bins (a symmetric object's view has several answers; the most
    likely is taken, not their mean), elevation and distance regressed; the camera is PyTorch3D's
    look-at camera of them with the images' intrinsics (`geometry.cameras`). Trained on the
    renderings' metadata (`losses.camera_loss`)."""

    AZIMUTH_BINS = 72
    KINDS = ("mlp", "spatial")
    MAP_CHANNELS = 64  # "spatial": layer4's map reduced to this many channels and flattened

    def __init__(self, kind: str = "mlp", map_size: int = 4):
        """kind "mlp": a two-layer MLP on the pooled feature; "spatial": a wider MLP that also reads
        layer4's map (where things are in the image, which pooling loses) and gives each azimuth
        bin an offset within the bin (bins plus a residual, as pose estimators do)."""
        super().__init__()
        if kind not in self.KINDS:
            raise ModelError(f"unknown camera head {kind!r}: {' or '.join(self.KINDS)}")
        self.kind = kind
        n = self.AZIMUTH_BINS
        if kind == "mlp":
            self.mlp = nn.Sequential(nn.Linear(512, 256), nn.ReLU(True), nn.Linear(256, n + 2))
        else:
            self.reduce = nn.Sequential(nn.Conv2d(512, self.MAP_CHANNELS, 1), nn.ReLU(True))
            n_in = 512 + self.MAP_CHANNELS * map_size * map_size
            self.mlp = nn.Sequential(
                nn.Linear(n_in, 512), nn.ReLU(True), nn.Linear(512, 512), nn.ReLU(True), nn.Linear(512, 2 * n + 2)
            )
        self.uses_feature_map = kind == "spatial"

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor | None = None) -> dict:
        """{"azimuth_logits": (B, AZIMUTH_BINS), "azimuth_offsets": (B, AZIMUTH_BINS) in bins, within
        [-0.5, 0.5] of each bin's centre ("spatial" only), "elevation": (B,) degrees, "distance": (B,)},
        float32."""
        n = self.AZIMUTH_BINS
        if self.kind == "spatial":
            if feature_map is None:
                raise ValueError("the spatial camera head needs the encoder's feature map (B, 512, s, s)")
            features = torch.cat([features, self.reduce(feature_map).flatten(1)], 1)
        out = self.mlp(features).float()
        predicted = {
            "azimuth_logits": out[:, :n],
            "elevation": 27.5 + 10.0 * out[:, -2],  # R2N2's views: 25-30 degrees
            "distance": 1.35 * torch.exp(out[:, -1]),  # 1.75 x 0.65-0.9
        }
        if self.kind == "spatial":
            predicted["azimuth_offsets"] = 0.5 * torch.tanh(out[:, n : 2 * n])
        return predicted

    @staticmethod
    def cameras(predicted: dict, intrinsics: torch.Tensor, frame: str = "object") -> tuple:
        """(R, T, K) of predicted parameters with the images' intrinsics K ((4, 4) or (B, 4, 4)):
        the most likely azimuth bin's centre (plus its offset); in the viewer frame only the
        distance counts (`geometry.view_frame.viewer_cameras`)."""
        from geometry.cameras import azimuth_bins, cameras_from_parameters
        from geometry.view_frame import viewer_cameras

        logits = predicted["azimuth_logits"].detach()
        K = intrinsics.float().to(logits.device).expand(len(logits), 4, 4)
        elev, dist = predicted["elevation"].detach(), predicted["distance"].detach()
        if frame == "viewer":
            return viewer_cameras(torch.nn.functional.pad(dist[:, None], (2, 0)), K)
        best = logits.argmax(1)
        azim = azimuth_bins(logits.shape[1]).to(logits.device)[best]
        if "azimuth_offsets" in predicted:  # the chosen bin's own offset
            width = 360.0 / logits.shape[1]
            azim = azim + width * predicted["azimuth_offsets"].detach().gather(1, best[:, None])[:, 0]
        with torch.autocast(device_type=logits.device.type, enabled=False):
            R, T = cameras_from_parameters(azim, elev, dist)
        return R, T, K
