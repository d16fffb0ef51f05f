"""Photos as the network takes them: the object found, cut out onto white and framed as the renderings are.

    photo = prepare_photo(imageio.imread("chair.jpg"))     # Photo: image (137, 137, 3), mask (H, W), ...
    photo = prepare_photo(rgb, mask=user_mask)             # a mask of the user's, (H, W)

The models are trained on renderings: the object over white, with a margin round it, seen from
25-30 degrees of elevation (R2N2's cameras). A photo differs in each of those (its background is
a colour or a texture, the object touches the border, any size), so before the network sees it:

1. Foreground. An image with transparency keeps its alpha; a mask given by the user is used as
   it is; otherwise `automatic_mask` separates a plain or near-plain background without learned
   weights: a colour model of the image border (a colour plane fitted robustly in Lab, so
   gradients fit too, and the object where it touches the border is left out as an outlier)
   labels each pixel probably-object or probably-background, and OpenCV's GrabCut refines that
   with colour mixtures and edges. A mask that is nearly empty or nearly full is refused
   (`PhotoError`) with what to do.
2. Framing. The masked object is cut out, composited on white (as training images are), and
   scaled and placed so that its bounding box fills the square frame as the embedded renderings'
   do: FRAMING holds their measured distribution (`benchmarks/framing.py`). An image whose
   object already lies inside that distribution (a rendering file) is left exactly as the
   dataset reads it (`images.prepare_image`).

The viewpoint is the data's part: `make_dataset.py --viewpoints photo` renders every other view
from photo height (0-20 degrees); see docs/photos.md.
"""

from dataclasses import dataclass

import numpy as np
import torch

from r2n2.formats import IMAGE_SIZE
from r2n2.images import prepare_image


class PhotoError(ValueError):
    """A photo that cannot be prepared; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class Framing:
    """Where the object's bounding box sits in a training image, as fractions of the image side:
    `fill`, its longest side; `centre`, its centre (x right, y down). The ranges are the 5th and
    95th percentiles (an image inside them is framed as training images are)."""

    fill: float
    centre: tuple[float, float]
    fill_range: tuple[float, float]
    centre_range: tuple[tuple[float, float], tuple[float, float]]


# Measured on the embedded train split's 3208 renderings (`python -m benchmarks.framing`; its
# output is in docs/photos.md): the median longest side of the object's box is FILL of the image and
# its centre sits a little below the image centre (R2N2's cameras look down at the origin).
FRAMING = Framing(
    fill=0.693, centre=(0.500, 0.536), fill_range=(0.540, 0.883), centre_range=((0.442, 0.558), (0.496, 0.591))
)
MIN_COVERAGE = 0.005  # a mask covering less of the image than this is "nearly empty" ...
MAX_COVERAGE = 0.92  # ... and more than this "nearly full": no background was found
MASK_WORKING_SIDE = 320  # the automatic mask is computed at most this many pixels on a side (GrabCut's cost)


@dataclass
class Photo:
    """A photo made ready: image (size, size, 3) float in [0, 1], the network's input; mask (H, W)
    float in [0, 1] at the photo's size; mask_source "alpha", "given" or "automatic"; framed,
    whether the object was re-framed (False: the image already was framed as training images);
    input_mask (size, size) float, the mask as it sits in `image` (what a camera search fits,
    `representations.vox.camera_search`)."""

    image: torch.Tensor
    mask: np.ndarray
    mask_source: str
    framed: bool
    input_mask: np.ndarray | None = None  # (size, size) float: the mask where the object sits in `image`

    @property
    def coverage(self) -> float:
        return mask_coverage(self.mask)


def mask_coverage(mask: np.ndarray) -> float:
    """The share of the image a mask (H, W) covers (> 0.5)."""
    return float((mask > 0.5).mean())


def split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W[, C]) uint8 or uint16 -> RGB (H, W, 3) float [0, 1] and alpha (H, W) float, or None
    when the image has no transparency (no alpha channel, or one that is opaque everywhere)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise PhotoError(f"expected an (H, W[, 1|2|3|4]) image, got shape {image.shape}")
    pixels = image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)
    alpha = None
    if pixels.shape[2] in (2, 4):
        alpha, pixels = pixels[..., -1], pixels[..., :-1]
        if alpha.min() >= 1.0:
            alpha = None
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return pixels, alpha


def mask_from_image(mask: np.ndarray) -> np.ndarray:
    """A user's mask file's pixels -> (H, W) float in [0, 1]: its alpha channel where it has
    transparency, else its brightness (white = object)."""
    rgb, alpha = split_alpha(mask)
    return alpha if alpha is not None else (rgb.mean(2) > 0.5).astype(np.float32)


def border_pixels(shape: tuple[int, int], width: int) -> np.ndarray:
    """(H, W) bool: the strip of `width` pixels along the image border."""
    border = np.zeros(shape, bool)
    border[:width], border[-width:], border[:, :width], border[:, -width:] = True, True, True, True
    return border


def _plane_design(H: int, W: int) -> np.ndarray:
    """(H * W, 3): 1, x, y of every pixel (x, y in [-0.5, 0.5]), the colour plane's inputs."""
    ys, xs = np.mgrid[0:H, 0:W]
    return np.stack([np.ones(H * W), xs.ravel() / max(W - 1, 1) - 0.5, ys.ravel() / max(H - 1, 1) - 0.5], 1)


def border_segments(border: np.ndarray, per_side: int = 6) -> np.ndarray:
    """(H, W) int: the border strip cut into 4 * per_side pieces along its length (-1 off it)."""
    H, W = border.shape
    ys, xs = np.mgrid[0:H, 0:W]
    # position along the border's perimeter, clockwise from the top-left corner, in [0, 4)
    near = np.argmin(np.stack([ys, W - 1 - xs, H - 1 - ys, xs]), axis=0)
    along = np.choose(near, [xs / W, ys / H, (W - 1 - xs) / W, (H - 1 - ys) / H])
    segment = np.minimum((near + along) * per_side, 4 * per_side - 1).astype(int)
    return np.where(border, segment, -1)


def fit_background(lab: np.ndarray, border: np.ndarray, iterations: int = 4) -> tuple[np.ndarray, float]:
    """A colour plane fitted to the background's part of the border: lab (H, W, 3), border (H, W)
    bool -> (the background colour predicted at every pixel (H, W, 3), the robust spread of the
    border about it).

    Each Lab channel is a + b x + c y (a plain wall, or a gradient). The object may cover much
    of the border (a tight photo), so the border is cut into segments and the background is the
    largest group of segments of one colour (corners, nearly always background, count double);
    then border pixels far from the plane are dropped and the plane refitted."""
    H, W = border.shape
    design, colours = _plane_design(H, W), lab.reshape(-1, 3)
    segments = border_segments(border).ravel()
    ids = np.unique(segments[segments >= 0])
    medians = np.array([np.median(colours[segments == k], axis=0) for k in ids])
    per_side = len(ids) // 4 if len(ids) % 4 == 0 else len(ids)
    corner = np.isin(ids % per_side, (0, per_side - 1))
    sizes = np.array([(segments == k).sum() for k in ids]) * np.where(corner, 2, 1)
    agree = np.linalg.norm(medians[:, None] - medians[None], axis=2) < 10  # Lab units
    seed = np.argmax(agree.astype(float) @ sizes)
    inliers = np.isin(segments, ids[agree[seed]])
    for _ in range(iterations):
        coef, *_ = np.linalg.lstsq(design[inliers], colours[inliers], rcond=None)
        residual = np.linalg.norm(colours - design @ coef, axis=1)
        spread = 1.4826 * np.median(residual[inliers]) + 1e-6  # MAD: robust to the object's pixels
        inliers = (segments >= 0) & (residual < 3 * max(spread, 1.0))
        if inliers.sum() < 10:
            break
    return (design @ coef).reshape(H, W, 3), float(spread)


def _keep_large_components(mask: np.ndarray, share: float = 0.02) -> np.ndarray:
    """Drop connected specks: keep the components of at least `share` of the largest one."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= share * areas.max()) + 1
    return np.isin(labels, keep)


def automatic_mask(rgb: np.ndarray, grabcut_iterations: int = 5) -> np.ndarray:
    """The object of a photo on a plain or near-plain background: rgb (H, W, 3) float [0, 1]
    -> (H, W) bool, without learned weights.

    The border's colour model (`fit_background`) gives each pixel its distance from the
    background, in units of the border's spread (at least 2.5 Lab units, JPEG's noise): pixels
    beyond 4 of those and 8 Lab units are probably object, the rest probably background, and
    border pixels that fit the model are certainly background. GrabCut refines those labels.
    """
    import cv2

    H, W = rgb.shape[:2]
    scale = min(1.0, MASK_WORKING_SIDE / max(H, W))
    small = cv2.resize(rgb, (max(1, round(W * scale)), max(1, round(H * scale))), interpolation=cv2.INTER_AREA)
    rgb8 = (np.clip(small, 0, 1) * 255 + 0.5).astype(np.uint8)
    lab = cv2.cvtColor(rgb8, cv2.COLOR_RGB2LAB).astype(np.float64)
    lab[..., 0] *= 100 / 255  # OpenCV's 8-bit L is 0-255; a and b are offset by 128 (differences unaffected)
    border = border_pixels(lab.shape[:2], max(2, round(0.02 * min(lab.shape[:2]))))
    background, spread = fit_background(lab, border)
    distance = np.linalg.norm(lab - background, axis=2)
    spread = max(spread, 2.5)
    foreground = (distance > 4 * spread) & (distance > 8)
    if foreground.mean() < MIN_COVERAGE:
        return np.zeros((H, W), bool)
    labels = np.where(foreground, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[border & (distance < 3 * spread)] = cv2.GC_BGD
    bgd_model, fgd_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut starts its colour mixtures by k-means from OpenCV's global generator: seeded here, a
    # photo's mask does not depend on which photos were masked before it (folder runs, batches).
    cv2.setRNGSeed(0)
    cv2.grabCut(
        cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR),
        labels,
        None,
        bgd_model,
        fgd_model,
        grabcut_iterations,
        cv2.GC_INIT_WITH_MASK,
    )
    mask = _keep_large_components((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD))
    if scale < 1.0:
        mask = cv2.resize(mask.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR) > 0.5
    return mask


def object_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1), end-exclusive: the bounding box of mask > 0.5 (H, W)."""
    rows, cols = np.flatnonzero((mask > 0.5).any(1)), np.flatnonzero((mask > 0.5).any(0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def framing_of(mask: np.ndarray) -> tuple[float, float, float]:
    """(fill, centre x, centre y) of the object in a mask (H, W), as fractions of the image side
    (the measure FRAMING is made of); for a non-square image, of its longest side."""
    row0, row1, col0, col1 = object_box(mask)
    side = max(mask.shape)
    return max(row1 - row0, col1 - col0) / side, (col0 + col1) / 2 / side, (row0 + row1) / 2 / side


def framed_as_training(mask: np.ndarray, framing: Framing = FRAMING) -> bool:
    """Whether a square image's object already sits as in training images: fill and centre
    inside FRAMING's ranges, and not touching the border."""
    if mask.shape[0] != mask.shape[1]:
        return False
    row0, row1, col0, col1 = object_box(mask)
    if row0 == 0 or col0 == 0 or row1 == mask.shape[0] or col1 == mask.shape[1]:
        return False
    fill, cx, cy = framing_of(mask)
    (x0, x1), (y0, y1) = framing.centre_range
    return framing.fill_range[0] <= fill <= framing.fill_range[1] and x0 <= cx <= x1 and y0 <= cy <= y1


def frame_object(
    rgb: np.ndarray, alpha: np.ndarray, framing: Framing = FRAMING, size: int = IMAGE_SIZE, with_mask: bool = False
):
    """The masked object composited on white in a size x size frame, its bounding box's longest
    side `framing.fill` of the frame and its centre at `framing.centre`.

    rgb (H, W, 3) and alpha (H, W) float [0, 1] -> (size, size, 3) float (and, with_mask, the
    alpha where it landed, (size, size) float: the network input's own mask). The crop is resized
    with area averaging when it shrinks (no aliasing) and bilinearly when it grows; the colour
    is premultiplied by alpha, so the edge blends into white as a rendering's does."""
    import cv2

    row0, row1, col0, col1 = object_box(alpha)
    scale = framing.fill * size / max(row1 - row0, col1 - col0)
    premultiplied = np.concatenate([rgb * alpha[..., None], alpha[..., None]], 2)[row0:row1, col0:col1]
    width, height = max(1, round((col1 - col0) * scale)), max(1, round((row1 - row0) * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(premultiplied.astype(np.float32), (width, height), interpolation=interpolation)
    crop = crop.reshape(height, width, 4)
    canvas = np.zeros((size, size, 4), np.float32)
    left = round(framing.centre[0] * size - width / 2)
    top = round(framing.centre[1] * size - height / 2)
    # Paste, clipped to the canvas (a fill near 1 with an off-centre box can overhang by a pixel).
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + height, size), min(left + width, size)
    canvas[r0:r1, c0:c1] = crop[r0 - top : r1 - top, c0 - left : c1 - left]
    framed = np.clip(canvas[..., :3] + (1 - canvas[..., 3:]), 0, 1)
    return (framed, np.clip(canvas[..., 3], 0, 1)) if with_mask else framed


def check_coverage(mask: np.ndarray, source: str) -> None:
    """PhotoError when a mask is nearly empty or nearly full, saying what to do."""
    coverage = mask_coverage(mask)
    what = {
        "automatic": "the automatic mask",
        "alpha": "the image's alpha channel",
        "given": "the mask given with --mask",
    }[source]
    remedy = (
        "give the object's mask with --mask FILE (white = object), or a PNG with a transparent background"
        if source == "automatic"
        else "check that the object is white (or opaque) and the background black (or transparent)"
    )
    if coverage < MIN_COVERAGE:
        raise PhotoError(f"{what} is nearly empty ({100 * coverage:.1f}% of the image): {remedy}")
    if coverage > MAX_COVERAGE:
        hint = "no plain background was found round the object; " if source == "automatic" else ""
        raise PhotoError(f"{what} is nearly full ({100 * coverage:.1f}% of the image): {hint}{remedy}")


def prepare_photo(
    image: np.ndarray, mask: np.ndarray | None = None, framing: Framing = FRAMING, size: int = IMAGE_SIZE
) -> Photo:
    """Any photo or rendering -> the network's input, with the mask it used (see the module's
    docstring). image: (H, W[, C]) uint8 or uint16; mask: None, or (H, W) float / bool, the
    object where > 0.5. Raises PhotoError (one line) for an unusable image or mask."""
    rgb, alpha = split_alpha(image)
    if mask is not None:
        mask = np.asarray(mask, dtype=np.float32)
        if mask.shape != rgb.shape[:2]:
            raise PhotoError(
                f"the mask is {mask.shape[1]}x{mask.shape[0]} pixels but the image {rgb.shape[1]}x{rgb.shape[0]}: "
                "give a mask of the image's size"
            )
        alpha, source = np.clip(mask, 0, 1), "given"
    elif alpha is not None:
        source = "alpha"
    else:
        alpha, source = automatic_mask(rgb).astype(np.float32), "automatic"
    check_coverage(alpha, source)
    if source == "alpha" and framed_as_training(alpha, framing):
        import cv2

        input_mask = cv2.resize(alpha.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
        return Photo(prepare_image(image, size), alpha, source, framed=False, input_mask=input_mask)
    framed, input_mask = frame_object(rgb, alpha, framing, size, with_mask=True)
    return Photo(torch.from_numpy(framed).float().contiguous(), alpha, source, framed=True, input_mask=input_mask)
