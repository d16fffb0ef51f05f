"""A camera for an image without one: the camera head's likeliest, chosen by how well the grid fits the mask.

    cameras = search_cameras(model, images, masks, intrinsics, hypotheses=4)   # (R, T, K) of each image

The camera head's azimuth is often off by a symmetry of the object (a chair seen from 30 and 150
degrees has much the same outline). Its `hypotheses` likeliest azimuths (at least
`MIN_SEPARATION` apart) are each tried: the decoder predicts the grid as that camera sees it, and
the camera whose grid's silhouette (`vox.loss.grid_silhouettes`) covers the image's mask best wins.
The mask is the image's own (a rendering's alpha, a photo's mask, `photos.prepare`): no metadata.
A model with a visible-surface head (`--vox_surface`) also compares the depth the grid shows that
camera with the depth its head reads off the image (`DEPTH_WEIGHT`): a chair seen from the front
and from the back casts one outline, but its seat lies in front of its back in one view and behind
it in the other. One encoding and `hypotheses` decodings here; the prediction with the camera kept
is then made as any other (`Vox.predict`).
"""

import torch
import torch.nn.functional as F

from geometry.cameras import azimuth_bins, cameras_from_parameters

from .loss import grid_silhouettes, grid_surface

MIN_SEPARATION = 20.0  # degrees between the azimuths tried
SIZE, SAMPLES = 32, 48  # the silhouettes compared: rays per side, samples along each
# How much a hypothesis's score loses per unit of mean depth disagreement (`depth_error`, in
# `PixelAligned`'s units: 2 across the object's cube) against the mask IoU it gains.
DEPTH_WEIGHT = 1.0


def top_azimuths(predicted: dict, k: int) -> torch.Tensor:
    """(B, k') azimuths in degrees, k' = min(k, the bins): the head's likeliest bins, each at least
    MIN_SEPARATION from those before while there are such, then the likeliest left; each bin's centre
    plus its own offset where the head gives one ("spatial")."""
    logits = predicted["azimuth_logits"].float()
    B, n_bins = logits.shape
    k = min(k, n_bins)
    width = 360.0 / n_bins
    centres = azimuth_bins(n_bins).to(logits.device)
    order = logits.argsort(dim=1, descending=True).tolist()
    chosen = []
    for b in range(B):
        picks = []
        for bin_index in order[b]:
            azim = float(centres[bin_index])
            if all(abs((azim - float(centres[p]) + 180) % 360 - 180) >= MIN_SEPARATION for p in picks):
                picks.append(bin_index)
            if len(picks) == k:
                break
        picks += [i for i in order[b] if i not in picks][: k - len(picks)]  # fewer separated ones than k
        chosen.append(picks)
    bins = torch.tensor(chosen, device=logits.device)  # (B, k)
    azimuths = centres[bins]
    if "azimuth_offsets" in predicted:
        azimuths = azimuths + width * predicted["azimuth_offsets"].float().gather(1, bins)
    return azimuths


def mask_iou(silhouettes: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B,) IoU of silhouettes (B, SIZE * SIZE) in [0, 1] and masks (B, H, W), both at 0.5, at SIZE x SIZE."""
    target = F.interpolate(masks.float()[:, None], size=(SIZE, SIZE), mode="area").flatten(1) >= 0.5
    drawn = silhouettes >= 0.5
    return (drawn & target).sum(1) / (drawn | target).sum(1).clamp_min(1)


def weighs_depth(model) -> bool:
    """Whether a model's search also weighs depth: one with a visible-surface head (`--vox_surface`)."""
    return getattr(model.decoder, "surface", False) and DEPTH_WEIGHT > 0


def depth_error(logits: torch.Tensor, surface: torch.Tensor, R, T, K) -> torch.Tensor:
    """(B,) mean absolute difference between the depth of the surface a grid (B, D, H, W) logits shows
    the cameras (R, T, K) and the surface head's depth (B, 2, S, S) (`networks.surface`), on the
    pixels both cover (1 where none: no agreement to speak of)."""
    size = surface.shape[-1]
    depth_grid, hit = grid_surface(torch.sigmoid(logits.float()), R, T, K, size)  # (B, S, S) each
    both = (hit & (surface[:, 1] >= 0)).float()  # the grid reaches the pixel and the head says it is covered
    errors = (depth_grid - surface[:, 0].float()).abs() * both
    n = both.sum((1, 2))
    return torch.where(n > 0, errors.sum((1, 2)) / n.clamp_min(1), torch.ones_like(n))


@torch.no_grad()
def search_cameras(model, images: torch.Tensor, masks: torch.Tensor, intrinsics, hypotheses: int) -> tuple:
    """(R, T, K) of each image: of the camera head's `hypotheses` likeliest azimuths (its elevation
    and distance), the one whose predicted grid's silhouette covers the image's mask best (less
    DEPTH_WEIGHT times its depth disagreement with the surface head's, for a model with one)."""
    encoding, camera = model.encode(images)
    B = len(images)
    K = (intrinsics if intrinsics is not None else model.intrinsics).float().to(images.device).expand(B, 4, 4)
    azimuths = top_azimuths(camera, hypotheses)  # (B, k)
    elev, dist = camera["elevation"].float(), camera["distance"].float()
    best_score = torch.full((B,), -float("inf"), device=images.device)
    best_R, best_T = None, None
    for k in range(azimuths.shape[1]):
        R, T = cameras_from_parameters(azimuths[:, k], elev, dist)
        encoding.cameras = (R, T, K)
        prediction = model.decode(encoding)
        logits = prediction.voxels.float()
        score = mask_iou(grid_silhouettes(logits, R, T, K, SIZE, SAMPLES), masks)
        if weighs_depth(model):
            score = score - DEPTH_WEIGHT * depth_error(logits, prediction.aux["surface"], R, T, K)
        better = score > best_score
        best_score = torch.where(better, score, best_score)
        best_R = R if best_R is None else torch.where(better[:, None, None], R, best_R)
        best_T = T if best_T is None else torch.where(better[:, None], T, best_T)
    return best_R, best_T, K
