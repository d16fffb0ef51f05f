"""Images as the network takes them: (137, 137, 3) float in [0, 1], the object over white.

    image = prepare_image(imageio.imread("00.png"))   # RGBA over white, grey to RGB, resized

R2N2's renderings are RGBA with a transparent background; the encoder has only ever seen them
composited over white, so every image given to a model (training renderings, `reconstruct.py`'s
photos) goes through `prepare_image`.
"""

import numpy as np
import torch

from r2n2.formats import IMAGE_SIZE


def prepare_image(image: np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Any uint8 image -> the network's input convention, (size, size, 3) float in [0, 1].

    image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8. RGBA is composited over white, as
    the dataset does for R2N2's transparent renderings; grey is repeated to RGB; other sizes are
    resized (antialiased bilinear) to size x size.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W[, 1|2|3|4]) image, got shape {image.shape}")
    pixels = torch.from_numpy(image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0))
    channels = pixels.shape[2]
    if channels in (2, 4):  # grey+alpha or RGBA: composite over white
        alpha = pixels[..., -1:]
        pixels = pixels[..., :-1] * alpha + (1.0 - alpha)
    if pixels.shape[2] == 1:
        pixels = pixels.expand(-1, -1, 3)
    if pixels.shape[:2] != (size, size):
        pixels = torch.nn.functional.interpolate(
            pixels.permute(2, 0, 1)[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )[0].permute(1, 2, 0)
    return pixels.clamp(0, 1).contiguous()
