"""The vox camera search (representations/vox/camera_search.py) against a naive loop, and how an
evaluation decides whether a model searches."""

import dataclasses

import pytest
import torch

from evaluation.config import CAMERA_SEARCH, EvalConfig, can_search_camera, with_camera_search
from geometry.cameras import azimuth_bins, cameras_from_parameters
from r2n2.formats import R2N2_K
from representations import make_model
from representations.vox.camera_search import (
    DEPTH_WEIGHT,
    MIN_SEPARATION,
    SAMPLES,
    SIZE,
    depth_error,
    mask_iou,
    search_cameras,
    top_azimuths,
)
from representations.vox.loss import grid_silhouettes, grid_surface


def circular_gap(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def test_top_azimuths_are_the_likeliest_bins_apart_and_fill_when_too_few_are():
    torch.manual_seed(0)
    logits = torch.randn(3, 72)
    centres = azimuth_bins(72)
    picked = top_azimuths({"azimuth_logits": logits}, 4)
    assert picked.shape == (3, 4)
    for b in range(3):
        assert picked[b, 0] == centres[logits[b].argmax()]  # the head's own guess comes first
        for i in range(4):
            for j in range(i):
                assert circular_gap(float(picked[b, i]), float(picked[b, j])) >= MIN_SEPARATION - 1e-4
    # more than 360 / 20 hypotheses: the separated ones, then the likeliest left (no ragged rows)
    many = top_azimuths({"azimuth_logits": logits}, 30)
    assert many.shape == (3, 30) and all(len(set(row.tolist())) == 30 for row in many)
    assert top_azimuths({"azimuth_logits": logits}, 500).shape == (3, 72)  # at most every bin


def test_top_azimuths_add_the_spatial_heads_offsets():
    logits = torch.zeros(1, 72)
    logits[0, 10] = 5.0
    offsets = torch.zeros(1, 72)
    offsets[0, 10] = 0.4
    picked = top_azimuths({"azimuth_logits": logits, "azimuth_offsets": offsets}, 1)
    torch.testing.assert_close(picked[0, 0], azimuth_bins(72)[10] + 0.4 * 5.0)


def test_mask_iou_against_a_naive_count():
    torch.manual_seed(1)
    silhouettes = torch.rand(2, SIZE * SIZE)
    masks = (torch.rand(2, SIZE, SIZE) > 0.5).float()
    drawn, target = silhouettes >= 0.5, masks.flatten(1) >= 0.5
    naive = torch.tensor([(d & t).sum() / (d | t).sum() for d, t in zip(drawn, target)])
    torch.testing.assert_close(mask_iou(silhouettes, masks), naive.float())


def test_search_keeps_the_hypothesis_whose_silhouette_fits_the_mask_best():
    """Each image gets the camera of the hypothesis whose decoded grid's silhouette has the highest
    IoU with its mask, computed here hypothesis by hypothesis; one hypothesis is the head's guess."""
    torch.manual_seed(0)
    model = make_model("vox", image_size=64).eval()
    images = torch.rand(2, 64, 64, 3)
    masks = torch.zeros(2, 64, 64)
    masks[0, 16:48, 20:44] = 1.0
    masks[1, 30:60, 5:60] = 1.0
    K = R2N2_K.float()
    with torch.no_grad():
        R, T, _ = search_cameras(model, images, masks, K, 3)
        encoding, camera = model.encode(images)
        azimuths = top_azimuths(camera, 3)
        ious = []
        for k in range(3):
            R_k, T_k = cameras_from_parameters(azimuths[:, k], camera["elevation"], camera["distance"])
            encoding.cameras = (R_k, T_k, K.expand(2, 4, 4))
            silhouettes = grid_silhouettes(model.decode(encoding).voxels, R_k, T_k, K.expand(2, 4, 4), SIZE, SAMPLES)
            ious.append(mask_iou(silhouettes, masks))
        best = torch.stack(ious, 1).argmax(1)
        for b in range(2):
            R_best, T_best = cameras_from_parameters(
                azimuths[b : b + 1, best[b]], camera["elevation"][b : b + 1], camera["distance"][b : b + 1]
            )
            torch.testing.assert_close(R[b], R_best[0])
            torch.testing.assert_close(T[b], T_best[0])
        R1, T1, _ = search_cameras(model, images, masks, K, 1)  # one hypothesis: the head's own guess
        R_head, T_head, _ = model.camera_head.cameras(camera, K)
        torch.testing.assert_close(R1, R_head)
        torch.testing.assert_close(T1, T_head)


def test_depth_error_is_zero_for_the_grids_own_surface_and_tells_front_from_back():
    """A grid's own visible surface (its depth, its coverage as a confident logit) disagrees by 0
    with it; the same surface against the camera turned by 180 degrees (the same outline of a
    box, mirrored) disagrees by the depth the box's asymmetry makes; nothing covered gives 1."""
    grid = torch.zeros(1, 32, 32, 32)
    grid[:, 4:28, 2:30, 6:26] = 1  # [z, y, x]: a box
    grid[:, 20:28, 2:30, 6:26] = 0  # its back part lower, not mirror-symmetric front to back
    grid[:, 20:28, 2:12, 6:26] = 1
    logits = (grid * 2 - 1) * 10
    K = R2N2_K.float().expand(1, 4, 4)
    R, T = cameras_from_parameters(torch.tensor([20.0]), torch.tensor([25.0]), torch.tensor([1.3]))
    R_back, T_back = cameras_from_parameters(torch.tensor([200.0]), torch.tensor([25.0]), torch.tensor([1.3]))
    depth, hit = grid_surface(grid, R, T, K, 16)
    surface = torch.stack([depth, (hit.float() * 2 - 1) * 10], 1)  # (1, 2, 16, 16)
    assert depth_error(logits, surface, R, T, K) < 1e-3
    assert depth_error(logits, surface, R_back, T_back, K) > 0.1
    nothing = torch.stack([depth, torch.full_like(depth, -10.0)], 1)
    assert depth_error(logits, nothing, R, T, K) == 1


def test_a_surface_model_searches_by_mask_iou_less_its_depth_disagreement():
    """With a visible-surface head, each hypothesis scores its mask IoU minus DEPTH_WEIGHT times its
    depth disagreement (computed here hypothesis by hypothesis) and the best is kept."""
    torch.manual_seed(1)
    model = make_model("vox", image_size=64, vox_surface=True).eval()
    images = torch.rand(2, 64, 64, 3)
    masks = torch.zeros(2, 64, 64)
    masks[0, 16:48, 20:44] = 1.0
    masks[1, 30:60, 5:60] = 1.0
    K = R2N2_K.float().expand(2, 4, 4)
    with torch.no_grad():
        R, T, _ = search_cameras(model, images, masks, R2N2_K.float(), 3)
        encoding, camera = model.encode(images)
        azimuths = top_azimuths(camera, 3)
        scores, ious = [], []
        for k in range(3):
            R_k, T_k = cameras_from_parameters(azimuths[:, k], camera["elevation"], camera["distance"])
            encoding.cameras = (R_k, T_k, K)
            prediction = model.decode(encoding)
            iou = mask_iou(grid_silhouettes(prediction.voxels, R_k, T_k, K, SIZE, SAMPLES), masks)
            ious.append(iou)
            scores.append(iou - DEPTH_WEIGHT * depth_error(prediction.voxels, prediction.aux["surface"], R_k, T_k, K))
        best = torch.stack(scores, 1).argmax(1)
        by_mask_alone = torch.stack(ious, 1).argmax(1)
        assert (best != by_mask_alone).any()  # the depth term decides at least one image here
        for b in range(2):
            R_best, _ = cameras_from_parameters(
                azimuths[b : b + 1, best[b]], camera["elevation"][b : b + 1], camera["distance"][b : b + 1]
            )
            torch.testing.assert_close(R[b], R_best[0])


@pytest.mark.parametrize(
    "model_args, camera, given, expected",
    [
        ({}, "none", None, CAMERA_SEARCH),  # the default vox model told no camera searches
        ({}, "known", None, 0),
        ({}, "none", 2, 2),
        ({"frame": "viewer"}, "none", None, 0),  # needs no camera: nothing to search
        ({"frame": "viewer"}, "none", 3, "refused"),
        ({"pixel_aligned": False}, "none", 2, "refused"),
        ({}, "none", 73, "too many"),  # more than the head's azimuth bins
    ],
)
def test_an_evaluation_searches_only_a_model_that_can(model_args, camera, given, expected):
    from common.flags import ConfigError

    model = make_model("vox", image_size=64, **model_args)
    config = dataclasses.replace(EvalConfig(), type="vox", camera=camera, camera_search=given)
    if expected == "too many":
        with pytest.raises(ConfigError, match="azimuths to try"):
            with_camera_search(config, model)
        return
    if expected == "refused":
        with pytest.raises(ConfigError, match="no camera to search"):
            with_camera_search(config, model)
        return
    assert with_camera_search(config, model).camera_search == expected
    assert can_search_camera(model) == (model_args == {})
