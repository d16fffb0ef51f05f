"""occupancy: an implicit function of the object-frame point, extracted by marching cubes at --iso.

    prediction = make_model("occupancy")(images, queries)   # .occupancy (B, P) logits at (B, P, 3) queries
    grid = occupancy_grid(prediction.occupancy_fn, len(images), images.device, 64)   # (B, 64, 64, 64)

Occupancy Networks' decoder (`model.OccupancyDecoder`), trained with BCE at queries: points.npz's
exact labels where the data has them, else labels read off the 32^3 grid.
"""

import torch
import torch.nn.functional as F

from common.precision import float32
from geometry.grids import grid_centres, refine_grid, voxels_to_meshes
from losses import exact_occupancy_targets, occupancy_targets
from model import OccupancyDecoder

from .base import Representation


@torch.no_grad()
def occupancy_grid(occupancy_fn, batch_size: int, device, resolution: int = 32, iso: float = 0.5, chunk: int = 32768):
    """Occupancy probabilities (B, R, R, R), [z, y, x], at the cell centres of a resolution^3 grid
    over [-0.5, 0.5]^3, from occupancy_fn ((B, P, 3) -> (B, P) logits, on `device`). Above 32^3 the
    grid is refined coarse to fine (`geometry.grids.refine_grid`, Occupancy Networks' MISE): the
    function is read only near the iso-surface at `iso`. Queries go in chunks of `chunk` points
    per image."""

    def query(points):  # (B, P, 3) -> (B, P) probabilities
        logits = [occupancy_fn(points[:, i : i + chunk]) for i in range(0, points.shape[1], chunk)]
        return torch.sigmoid(torch.cat(logits, dim=1).float())

    base = min(resolution, 32)
    grid = query(grid_centres(base, device).view(1, -1, 3).expand(batch_size, -1, -1)).view(-1, base, base, base)
    while grid.shape[-1] < resolution:
        grid = refine_grid(grid, query, min(2 * grid.shape[-1], resolution), iso)
    return grid


class Occupancy(Representation):
    name = "occupancy"
    model_defaults = {
        "occ_hidden": 128,
        "occ_blocks": 4,
        "occ_freqs": 6,
        # the resolution of a feature volume sampled at the queries; 0: the global feature only (OccNet)
        "occ_grid": 0,
        "occ_grid_channels": 32,
        "occ_pixel_aligned": False,  # each query also reads the image where it projects (a camera head too)
    }
    # checkpoints before the feature volume used the global feature only, and read no pixels
    legacy_model_args = {"occ_grid": 0, "occ_pixel_aligned": False}
    max_iter = {"cpu": 1200, "gpu": 20000}
    image_size = {"cpu": 64, "gpu": 137}
    has_volume = True
    iso_surface = True
    grid_resolution = True
    thin_cover = "both"  # read at the cell centres, a solid thinner than a cell can be missed by the grid alone
    needs_occupancy_labels = True

    def build_decoder(self, model_args):
        a = model_args
        return OccupancyDecoder(
            a["occ_hidden"], a["occ_blocks"], a["occ_freqs"], a["occ_grid"], a["occ_grid_channels"],
            a["occ_pixel_aligned"],
        )  # fmt: skip

    def targets(self, batch, config):
        if batch.get("occ_points") is not None and batch["occ_points"].shape[1] > 0:
            queries, labels = exact_occupancy_targets(batch["occ_points"], batch["occ_labels"], config.n_queries)
        else:  # data without points.npz: labels read off the 32^3 grid
            queries, labels = occupancy_targets(batch["voxels"], batch["points"], config.n_queries)
        return {"queries": queries.float(), "labels": labels}

    def loss(self, prediction, batch, targets, config):
        logits = prediction.occupancy
        with float32(logits):
            loss = F.binary_cross_entropy_with_logits(logits.float(), targets["labels"])
        return loss, {"bce": loss.detach()}

    def predict(self, model, images, grid_res=32, iso=0.5, cameras=None):
        prediction = model(images, cameras=cameras)
        grid = occupancy_grid(prediction.occupancy_fn, len(images), images.device, grid_res, iso)
        prediction.meshes = voxels_to_meshes(grid, iso)
        grid32 = (
            grid if grid_res == 32 else occupancy_grid(prediction.occupancy_fn, len(images), images.device, 32, iso)
        )
        prediction.probabilities = grid32  # IoU is reported at 32^3 for every type
        return prediction
