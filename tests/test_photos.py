"""The photo-like set: photos of a dataset's own models, as product photos are, with true masks."""

import json
import os

import imageio.v3 as iio
import numpy as np

from procedural.photos import BACKGROUNDS, FRAMINGS, LONG_SIDE, background, model_indices


def test_photos_are_jpegs_of_the_split_models_with_true_masks(tiny_root, photo_set):
    folder, rows = photo_set
    splits = json.load(open(os.path.join(tiny_root, "splits.json")))
    test_models = {mid for models in splits["test"].values() for mid in models}
    assert len(rows) == 2 * len(test_models) and {row["model_id"] for row in rows} == test_models
    assert json.load(open(os.path.join(folder, "photos.json")))["photos"] == rows
    assert {row["background"] for row in rows} == set(BACKGROUNDS) and {row["framing"] for row in rows} == set(FRAMINGS)
    for row in rows:
        photo = iio.imread(os.path.join(folder, row["file"]))
        mask = iio.imread(os.path.join(folder, row["mask"])) > 127
        assert photo.ndim == 3 and photo.shape[2] == 3  # no alpha
        assert photo.shape[:2] == mask.shape and LONG_SIDE[0] <= max(mask.shape) <= LONG_SIDE[1]
        assert 0 <= row["elev"] <= 20
        assert 0.02 < mask.mean() < 0.95
        rows_hit, cols_hit = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if row["framing"] == "tight":  # the object reaches (nearly) two opposite borders
            margin_rows = rows_hit[0] + mask.shape[0] - 1 - rows_hit[-1]
            margin_cols = cols_hit[0] + mask.shape[1] - 1 - cols_hit[-1]
            assert min(margin_rows / mask.shape[0], margin_cols / mask.shape[1]) <= 0.08
        # The background is where the mask is not: it differs from the photo's object pixels.
        assert photo[~mask].std() < 60


def test_models_are_found_by_id_and_backgrounds_are_light(tiny_root):
    info = json.load(open(os.path.join(tiny_root, "embedded.json")))
    ids = model_indices(info)
    assert len(ids) == info["n_models"]
    rng = np.random.default_rng(0)
    for kind in BACKGROUNDS:
        image = background(rng, kind, 50, 70)
        assert image.shape == (50, 70, 3) and 0.5 < image.mean() <= 1.0
