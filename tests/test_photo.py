"""Photos made ready for the network: the automatic mask, the framing, and the failure lines."""

import glob
import os

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
import torch

from photos.prepare import (
    FRAMING,
    PhotoError,
    automatic_mask,
    check_coverage,
    frame_object,
    framed_as_training,
    framing_of,
    prepare_photo,
    split_alpha,
)
from r2n2.images import prepare_image


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def jpeg(image: np.ndarray, quality: int = 80) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def office_chair_photo(background) -> tuple[np.ndarray, np.ndarray]:
    """A black swivel-chair silhouette (back, seat, column, five-star base) on `background`
    (H, W, 3) float, filling the frame top to bottom as the issue's product photos do: (JPEG
    pixels, true mask)."""
    H, W = background.shape[:2]
    mask = np.zeros((H, W), np.uint8)
    cv2.rectangle(mask, (int(0.3 * W), 0), (int(0.7 * W), int(0.45 * H)), 1, -1)  # back, touching the top
    cv2.rectangle(mask, (int(0.22 * W), int(0.45 * H)), (int(0.78 * W), int(0.55 * H)), 1, -1)  # seat
    cv2.rectangle(mask, (int(0.47 * W), int(0.55 * H)), (int(0.53 * W), int(0.85 * H)), 1, -1)  # column
    for end in (0.15, 0.32, 0.5, 0.68, 0.85):  # the base's legs, down to the bottom border
        cv2.line(mask, (W // 2, int(0.85 * H)), (int(end * W), H - 1), 1, max(2, W // 40))
    mask = mask.astype(bool)
    chair = np.array([0.08, 0.08, 0.09]) + 0.05 * np.linspace(0, 1, H)[:, None, None]  # a little shading
    image = np.where(mask[..., None], chair, background)
    return jpeg((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)), mask


@pytest.mark.parametrize("kind", ["grey 240", "gradient", "textured"])
def test_automatic_mask_of_a_tight_product_photo(kind):
    H, W = 127, 127
    rng = np.random.default_rng(0)
    if kind == "grey 240":
        background = np.full((H, W, 3), 240 / 255)
    elif kind == "gradient":
        t = np.linspace(0, 1, W)[None, :, None]
        background = (1 - t) * np.array([0.95, 0.9, 0.8]) + t * np.array([0.7, 0.78, 0.9]) + np.zeros((H, 1, 1))
    else:
        blotches = cv2.GaussianBlur(rng.normal(0, 1, (H, W)), (0, 0), 10)
        background = 0.85 + 0.6 * blotches[..., None] + 0.02 * rng.normal(0, 1, (H, W, 3))
    photo, true_mask = office_chair_photo(background)
    mask = automatic_mask(split_alpha(photo)[0])
    score = iou(mask, true_mask)
    print(f"{kind}: automatic mask IoU {score:.3f}")
    assert score > 0.93


def test_a_mask_does_not_depend_on_the_photos_masked_before_it(photo_set):
    folder, rows = photo_set
    first, second = (split_alpha(iio.imread(os.path.join(folder, row["file"])))[0] for row in rows[:2])
    alone = automatic_mask(first)
    automatic_mask(second)
    np.testing.assert_array_equal(automatic_mask(first), alone)


def test_automatic_masks_of_photo_like_renderings(photo_set):
    """The generated photo-like set (plain, gradient and textured backgrounds, tight and
    off-centre, 0-20 degrees): the automatic masks against the true ones."""
    folder, rows = photo_set
    scores = []
    for row in rows:
        photo = iio.imread(os.path.join(folder, row["file"]))
        true_mask = iio.imread(os.path.join(folder, row["mask"])) > 127
        scores.append(iou(automatic_mask(split_alpha(photo)[0]), true_mask))
    print(f"photo-like set: automatic mask IoU mean {np.mean(scores):.3f}, each {np.round(scores, 3).tolist()}")
    assert np.median(scores) > 0.9 and np.mean(scores) > 0.8


def test_alpha_is_kept_and_a_given_mask_is_used():
    rgba = np.zeros((100, 80, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[20:90, 10:50] = (200, 40, 40, 255)
    photo = prepare_photo(rgba)
    assert photo.mask_source == "alpha" and photo.framed
    np.testing.assert_array_equal(photo.mask, rgba[..., 3] / 255.0)

    rgb = np.full((100, 80, 3), 128, np.uint8)  # no background to find: the given mask decides
    given = np.zeros((100, 80), bool)
    given[10:60, 20:70] = True
    photo = prepare_photo(rgb, given)
    assert photo.mask_source == "given" and abs(photo.coverage - given.mean()) < 1e-6
    with pytest.raises(PhotoError, match="the mask is 10x10 pixels but the image 80x100"):
        prepare_photo(rgb, np.ones((10, 10)))


def test_failed_masks_are_said_in_one_line_with_what_to_do():
    with pytest.raises(PhotoError, match=r"automatic mask is nearly empty .*--mask FILE") as err:
        prepare_photo(np.full((60, 90, 3), 200, np.uint8))  # nothing on the wall
    assert "\n" not in str(err.value)
    with pytest.raises(PhotoError, match=r"nearly full .*no plain background was found.*--mask FILE"):
        check_coverage(np.ones((50, 50)), "automatic")
    with pytest.raises(PhotoError, match="mask given with --mask is nearly full"):
        prepare_photo(np.full((60, 90, 3), 200, np.uint8), np.ones((60, 90)))


def test_framing_puts_the_object_where_the_renderings_have_it():
    alpha = np.zeros((300, 200), np.float32)
    alpha[0:300, 150:200] = 1.0  # tall, touching three borders, off to the right
    rgb = np.zeros((300, 200, 3), np.float32)
    rgb[..., 1] = 1.0
    framed = frame_object(rgb, alpha)
    assert framed.shape == (137, 137, 3)
    covered = framed[..., 0] < 0.5  # green object on white
    fill, cx, cy = framing_of(covered)
    assert abs(fill - FRAMING.fill) <= 1.5 / 137
    assert abs(cx - FRAMING.centre[0]) <= 1 / 137 and abs(cy - FRAMING.centre[1]) <= 1 / 137
    np.testing.assert_allclose(framed[0, 0], [1, 1, 1])  # the rest is white, as training images
    np.testing.assert_allclose(framed[int(cy * 137), int(cx * 137)], [0, 1, 0], atol=1e-6)


def test_framing_matches_the_measured_distribution_and_renderings_pass_unchanged(tiny_root):
    """FRAMING holds the embedded renderings' framing (measured on the 1000-model train split,
    `benchmarks/framing.py`); the tiny dataset's renderings must agree with it, and a rendering
    file is given to the network exactly as the dataset reads it."""
    from benchmarks.framing import measure

    rows = measure(tiny_root, "all")
    assert abs(np.median(rows[:, 0]) - FRAMING.fill) < 0.08
    assert (
        abs(np.median(rows[:, 1]) - FRAMING.centre[0]) < 0.03 and abs(np.median(rows[:, 2]) - FRAMING.centre[1]) < 0.04
    )
    assert FRAMING.fill_range[0] < FRAMING.fill < FRAMING.fill_range[1]
    kept = 0
    for path in sorted(glob.glob(os.path.join(tiny_root, "r2n2", "ShapeNetRendering", "*", "*", "rendering", "*.png"))):
        rgba = iio.imread(path)
        photo = prepare_photo(rgba)
        if framed_as_training(rgba[..., 3] / 255.0):
            kept += 1
            assert not photo.framed
            torch.testing.assert_close(photo.image, prepare_image(rgba))
    assert kept >= 0.6 * len(rows)  # 90 % of renderings lie in the 5-95 % box of each measure


def test_a_tight_crop_of_a_rendering_is_reframed_like_the_rendering(tiny_root):
    path = sorted(glob.glob(os.path.join(tiny_root, "r2n2", "ShapeNetRendering", "*", "*", "rendering", "00.png")))[0]
    rgba = iio.imread(path)
    rows, cols = np.flatnonzero(rgba[..., 3].any(1)), np.flatnonzero(rgba[..., 3].any(0))
    crop = rgba[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # the object touching every border
    photo = prepare_photo(crop)
    assert photo.framed
    fill, _, _ = framing_of(photo.image.numpy().min(2) < 0.99)
    assert abs(fill - FRAMING.fill) <= 2 / 137


def test_the_photo_like_benchmark_scores_a_model_told_no_camera(tiny_root, tiny_checkpoints, photo_set, tmp_path):
    """benchmarks/photo_like.py end to end on the tiny set: every mode scored, the photos told no
    camera (a vox model searching its camera by the prepared photo's mask), the table written."""
    import json

    from benchmarks import photo_like

    folder, _ = photo_set
    checkpoint = str(tiny_checkpoints / "vox" / "checkpoint_vox.pth")
    args = photo_like.get_args_parser().parse_args(
        ["--checkpoints", checkpoint, "--data_root", tiny_root, "--photos", folder, "--out", str(tmp_path / "t.json")]
    )
    table = photo_like.main(args)
    runs = json.load(open(tmp_path / "t.json"))["runs"][checkpoint]
    assert set(runs) == set(photo_like.MODES) == set(table["runs"][checkpoint])
    assert all(0 <= run["F1@0.05"] <= 100 and len(run["per_sample_F1@0.05"]) == 6 for run in runs.values())
