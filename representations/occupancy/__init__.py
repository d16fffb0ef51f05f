"""occupancy: an implicit function of the object-frame point, extracted by marching cubes at --iso.

    prediction = make_model("occupancy")(images, queries)   # .occupancy (B, P) logits at (B, P, 3) queries
    grid = occupancy_grid(prediction.occupancy_fn, len(images), images.device, 64)   # (B, 64, 64, 64)

Occupancy Networks' decoder (`decoder.OccupancyDecoder`), trained with BCE at queries: points.npz's
exact labels where the data has them, else labels read off the 32^3 grid.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from common.flags import flag, setting
from common.precision import float32
from geometry.grids import ISO, grid_centres, refine_grid, voxels_to_meshes

from ..base import Representation, Settings
from .decoder import OccupancyDecoder
from .loss import exact_occupancy_targets, occupancy_targets


@torch.no_grad()
def occupancy_grid(occupancy_fn, batch_size: int, device, resolution: int = 32, iso: float = ISO, chunk: int = 32768):
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


@dataclass(frozen=True)
class OccupancySettings(Settings):
    occ_hidden: int = setting(128)
    occ_blocks: int = setting(4)
    occ_freqs: int = setting(6)
    occ_grid: int = flag(
        0, "also decode a feature volume of this resolution and sample it at each query (Convolutional Occupancy "
        "Networks); 0: the global image feature only (Occupancy Networks)", "int", choices=(0, 8, 16, 32), model=True,
    )  # fmt: skip
    occ_grid_channels: int = setting(32)
    pixel_aligned: bool = flag(
        False, "each output cell (each query) also reads the image where it projects in the input view, with a "
        "camera head for images without a camera", action="boolean", model=True,
    )  # fmt: skip
    n_queries: int = flag(1024, "query points per image per step", "positive_int")


class Occupancy(Representation):
    name = "occupancy"
    settings = OccupancySettings
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
            a["occ_hidden"], a["occ_blocks"], a["occ_freqs"], a["occ_grid"], a["occ_grid_channels"], a["pixel_aligned"]
        )

    def targets(self, batch, settings, shared, memo=None):
        n_queries = settings.n_queries
        if batch.get("occ_points") is not None and batch["occ_points"].shape[1] > 0:
            queries, labels = exact_occupancy_targets(batch["occ_points"], batch["occ_labels"], n_queries)
        else:  # data without points.npz: labels read off the 32^3 grid
            queries, labels = occupancy_targets(batch["voxels"], batch["points"], n_queries)
        return {"queries": queries.float(), "labels": labels}

    def loss(self, prediction, batch, targets, settings, shared):
        logits = prediction.occupancy
        with float32(logits):
            loss = F.binary_cross_entropy_with_logits(logits.float(), targets["labels"])
        return loss, {"bce": loss.detach()}

    def predict(self, model, images, grid_res, iso, cameras=None, intrinsics=None, masks=None, camera_search=0):
        prediction = model(images, cameras=cameras, intrinsics=intrinsics)
        grid = occupancy_grid(prediction.occupancy_fn, len(images), images.device, grid_res, iso)
        prediction.meshes = voxels_to_meshes(grid, iso)
        grid32 = (
            grid if grid_res == 32 else occupancy_grid(prediction.occupancy_fn, len(images), images.device, 32, iso)
        )
        prediction.probabilities = grid32  # IoU is reported at 32^3 for every type
        return prediction
