"""Image files read as a viewer shows them, with the mask a user may leave beside them.

    array = read_array("phone.jpg")                  # upright, RGB(A), uint8
    pixels, photo = load_photo("chair.jpg")          # photo.image: the network's (137, 137, 3) input

`reconstruct.py` reads every input through `load_photo`; `prepare.py` makes it ready.
"""

import os

import numpy as np

from photos.prepare import Photo, PhotoError, mask_from_image, prepare_photo
from r2n2.images import prepare_image

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MASK_SUFFIX = "_mask"  # photo.jpg's mask may lie beside it as photo_mask.png


def is_mask_file(path: str) -> bool:
    return os.path.splitext(os.path.basename(path))[0].endswith(MASK_SUFFIX)


def read_array(path: str, what: str = "image") -> np.ndarray:
    """The pixels of an image file as the photo looks: (H, W) grey, (H, W, 2) grey and alpha,
    (H, W, 3) RGB or (H, W, 4) RGBA, uint8 (uint16 for 16-bit grey); PhotoError (one line) if it
    cannot be read. A phone's EXIF orientation is applied (the pixels of a portrait JPEG are
    stored on their side), CMYK and YCbCr are converted to RGB (a CMYK file's fourth channel is
    black ink, not alpha), a palette image keeps its transparency as alpha, and an animated or
    multi-page file gives its first frame."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            opened.seek(0)
            image = ImageOps.exif_transpose(opened)
            image.load()
    except Exception as err:
        raise PhotoError(f"cannot read {what} {path}: {type(err).__name__}") from None
    transparent = "transparency" in image.info  # a palette's (or grey / RGB PNG's) transparent colour
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if transparent or image.mode == "PA" else "RGB")
    elif image.mode in ("L", "RGB") and transparent:
        image = image.convert("LA" if image.mode == "L" else "RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 32-bit I / F
    array = np.asarray(image)
    return array.astype(np.uint16) if image.mode.startswith("I;16") else array


def mask_beside(path: str) -> str | None:
    """<name>_mask.png (or another image extension) next to the image, if there is one."""
    stem = os.path.splitext(path)[0] + MASK_SUFFIX
    return next((stem + ext for ext in IMAGE_EXTENSIONS if os.path.isfile(stem + ext)), None)


def load_photo(path: str, mask_path: str | None = None, plain: bool = False) -> tuple[np.ndarray, Photo]:
    """(the image's pixels, the Photo the network takes) of one file; PhotoError (one line,
    naming the file) when the image or its mask is unusable."""
    array = read_array(path)
    if plain:
        try:
            image = prepare_image(array)
        except ValueError as err:
            raise PhotoError(f"cannot use image {path}: {err}") from None
        return array, Photo(image, np.ones(array.shape[:2], np.float32), "none", framed=False)
    mask = None
    if mask_path is not None:
        if not os.path.isfile(mask_path):
            raise PhotoError(f"mask {mask_path} not found")
        mask = mask_from_image(read_array(mask_path, "mask"))
    try:
        return array, prepare_photo(array, mask)
    except PhotoError as err:
        raise PhotoError(f"{path}: {err}") from None
