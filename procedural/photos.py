"""A photo-like test set made from a dataset's own models: what reconstruct.py meets in real photos.

    rows = write_photo_set("data/embedded", "data/photo_like_test", split="test", per_model=2)

Product and phone photos differ from R2N2's renderings in four ways: no alpha (a plain,
gradient or textured background), framing (tight, the object touching the border, or
off-centre), viewpoint (0-20 degrees of elevation instead of 25-30) and size (any size and
aspect ratio, JPEG). Each photo here is one of the split's models, with its own materials,
rendered from a random photo viewpoint and made into a JPEG with all four; its true mask is
written beside it, and photos.json names the model, so the reconstructions can be scored
against the model's ground truth and the masks against the true ones
(`benchmarks/photo_like.py`). Deterministic for a seed.
"""

import json
import os

import numpy as np

from .shape_files import PHOTO_ELEVATIONS, render_shape_views, shape_appearance, shape_id

RENDER_SIZE = 256  # rendered larger than R2N2's 137, then cut and resized as a camera would frame it
BACKGROUNDS = ("plain", "gradient", "textured")
FRAMINGS = ("tight", "off-centre")
LONG_SIDE = (127, 400)  # output photos: the long side in pixels, drawn in this range
JPEG_QUALITY = (70, 95)


def model_indices(info: dict) -> dict[str, tuple[str, int]]:
    """{model id: (synset, index)} of every model of a generated dataset (its embedded.json)."""
    from .writer import models_per_category

    return {
        shape_id(info["seed"], synset, index): (synset, index)
        for synset, n in models_per_category(info["n_models"]).items()
        for index in range(n)
    }


def background(rng, kind: str, height: int, width: int) -> np.ndarray:
    """(height, width, 3) float: a light wall or table top, plain, a gradient, or textured (soft
    blotches and fine grain, as plaster, paper or fabric)."""
    import cv2

    def colour():
        return np.clip(rng.uniform(0.72, 0.97) + rng.uniform(-0.06, 0.06, 3), 0, 1)

    if kind == "plain":
        return np.broadcast_to(colour(), (height, width, 3)).astype(np.float32).copy()
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width]
        t = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)[..., None]
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
        return ((1 - t) * colour() + t * colour()).astype(np.float32)
    if kind == "textured":
        base = colour()
        blotches = cv2.GaussianBlur(
            rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), max(height, width) / 12
        )
        blotches /= max(np.abs(blotches).max(), 1e-6)
        grain = cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32), (0, 0), 0.8)
        return np.clip(base + 0.07 * blotches[..., None] + 0.04 * grain, 0, 1).astype(np.float32)
    raise ValueError(f"background must be one of {BACKGROUNDS}, got {kind!r}")


def photo_window(rng, box: tuple[int, int, int, int], framing: str) -> tuple[float, float, float, float, float]:
    """Where the photo's frame lies in the rendering: (left, top, width, height) in rendering
    pixels, and the frame's aspect ratio. "tight": the object's box fills the frame on its binding
    side, 0-3 % margin (it may touch the border); "off-centre": it fills 40-65 % of the frame,
    placed anywhere inside."""
    row0, row1, col0, col1 = box
    h, w = row1 - row0, col1 - col0
    aspect = float(np.exp(rng.uniform(np.log(0.75), np.log(1.33))))  # frame width / height
    if framing == "tight":
        fill = 1 - 2 * rng.uniform(0, 0.03)
    elif framing == "off-centre":
        fill = rng.uniform(0.4, 0.65)
    else:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    frame_h = max(h, w / aspect) / fill
    frame_w = frame_h * aspect
    left = col0 - rng.uniform(0, max(frame_w - w, 0))
    top = row0 - rng.uniform(0, max(frame_h - h, 0))
    return left, top, frame_w, frame_h, aspect


def make_photo(rgba: np.ndarray, rng, kind: str, framing: str) -> tuple[np.ndarray, np.ndarray]:
    """A rendering (S, S, 4) uint8 -> (photo (H, W, 3) uint8 on a background, true mask (H, W) bool)."""
    import cv2

    alpha = rgba[..., 3] / 255.0
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    box = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    left, top, frame_w, frame_h, aspect = photo_window(rng, box, framing)
    long_side = int(rng.integers(*LONG_SIDE, endpoint=True))
    width, height = (long_side, round(long_side / aspect)) if aspect >= 1 else (round(long_side * aspect), long_side)
    scale = width / frame_w
    premultiplied = np.concatenate([rgba[..., :3] / 255.0 * alpha[..., None], alpha[..., None]], 2).astype(np.float32)
    warp = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]], np.float32)
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    layer = cv2.warpAffine(premultiplied, warp, (width, height), flags=flags, borderValue=(0, 0, 0, 0))
    photo = layer[..., :3] + (1 - layer[..., 3:]) * background(rng, kind, height, width)
    return (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8), layer[..., 3] > 0.5


def write_photo_set(data_root: str, out: str, split: str = "test", per_model: int = 2, seed: int = 0) -> list[dict]:
    """Write per_model photo-like JPEGs of every model of a generated dataset's split to `out`
    (NNNN.jpg, NNNN_mask.png and photos.json: file, mask, synset, model_id, elev, azim,
    background, framing). Backgrounds and framings take turns, so each is equally represented."""
    import imageio.v3 as iio

    with open(os.path.join(data_root, "embedded.json")) as f:
        info = json.load(f)
    with open(os.path.join(data_root, "splits.json")) as f:
        models = [(synset, mid) for synset, ids in json.load(f)[split].items() for mid in sorted(ids)]
    indices = model_indices(info)
    os.makedirs(out, exist_ok=True)
    rows = []
    for m, (synset, mid) in enumerate(models):
        _, _, mesh, table, _ = shape_appearance(info["seed"], synset, indices[mid][1], info.get("turn", 0))
        rng = np.random.default_rng([seed, int(synset), indices[mid][1], 3])
        views = [
            (rng.uniform(0, 360), rng.uniform(*PHOTO_ELEVATIONS), rng.uniform(0.65, 0.9)) for _ in range(per_model)
        ]
        rgba = render_shape_views(mesh, table, views, rng, image_size=RENDER_SIZE)
        for j, (view, image) in enumerate(zip(views, rgba)):
            k = len(rows)
            kind, framing = BACKGROUNDS[(m + j) % len(BACKGROUNDS)], FRAMINGS[(m * per_model + j) % len(FRAMINGS)]
            photo, mask = make_photo(image, rng, kind, framing)
            name = f"{k:04d}"
            iio.imwrite(os.path.join(out, name + ".jpg"), photo, quality=int(rng.integers(*JPEG_QUALITY)))
            iio.imwrite(os.path.join(out, name + "_mask.png"), mask.astype(np.uint8) * 255)
            rows.append(
                {
                    "file": name + ".jpg",
                    "mask": name + "_mask.png",
                    "synset": synset,
                    "model_id": mid,
                    "azim": round(float(view[0]), 2),
                    "elev": round(float(view[1]), 2),
                    "background": kind,
                    "framing": framing,
                }
            )
    with open(os.path.join(out, "photos.json"), "w") as f:
        json.dump({"data_root": os.path.abspath(data_root), "split": split, "seed": seed, "photos": rows}, f, indent=1)
    return rows
