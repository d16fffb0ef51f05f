"""Training-time image augmentation that keeps the geometry right: the 3D target never changes.

    images = augment_images(batch["images"], batch["masks"])      # (B, H, W, 3) in [0, 1]

The targets are in the object frame, whatever the view, so the image may change in every way
that does not change which object it shows: colour jitter of the object (brightness, contrast,
saturation, hue), sometimes a little blur and noise (level "light", the default), and at level
"full" also a small zoom and shift (the object stays in view, as in R2N2's framing) and sometimes
a plain, gradient or blotchy background in place of R2N2's white (photos on a wall or floor).
Mirroring is left out: it would mirror
the object, not only the image. Random draws come from torch's global generator, which the
training loop seeds per step, so a resumed run augments exactly as an uninterrupted one.
"""

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    zoom: float = 0.0  # scale in [1 - zoom, 1 + zoom]
    shift: float = 0.0  # shift up to this fraction of the image size
    colour: float = 0.15  # brightness, contrast and saturation in [1 - colour, 1 + colour]
    hue: float = 0.03  # hue rotation, in turns
    background: float = 0.0  # probability of a non-white background
    blur: float = 0.2  # probability of a Gaussian blur (sigma 0.3-1 pixel)
    noise: float = 0.01  # up to this standard deviation of pixel noise


# "light" (the default) changes only the object's colours and sharpness, which R2N2's renderings
# vary too; "full" adds what photos need (framing, backgrounds), which a model trained on
# renderings alone never meets (docs/data.md, "Training augmentation"; docs/photos.md).
AUGMENT_LEVELS = {
    "none": None,
    "light": AugmentConfig(),
    "full": AugmentConfig(zoom=0.1, shift=0.06, colour=0.25, hue=0.06, background=0.3, blur=0.3, noise=0.02),
}


def _uniform(low: float, high: float, n: int, device, generator=None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=device, generator=generator)


def zoom_and_shift(
    images: torch.Tensor, masks: torch.Tensor, zoom: float, shift: float, generator=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """images (B, H, W, 3) on white, masks (B, H, W) float: each sample zoomed by a factor in
    [1 - zoom, 1 + zoom] and shifted by up to `shift` of the image; uncovered border is white.
    Returns the images, the masks and the map of NDC it applied, (B, 4, 4) (None for none): a
    camera's intrinsics K become map @ K (`augment_batch`). With neither zoom nor shift (the
    "light" level) the images are returned as they are: an identity resampling would only add
    rounding, at a tenth of the augmentation's cost."""
    B = images.shape[0]
    if zoom == 0 and shift == 0:
        return images, masks, None
    scale = _uniform(1 - zoom, 1 + zoom, B, images.device, generator)
    offset = _uniform(-2 * shift, 2 * shift, 2 * B, images.device, generator).view(B, 2)  # NDC spans 2
    theta = torch.zeros(B, 2, 3, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = -offset / scale[:, None]
    grid = F.affine_grid(theta, (B, 4, *images.shape[1:3]), align_corners=False)
    stacked = torch.cat([images - 1.0, masks[..., None]], dim=-1).permute(0, 3, 1, 2)  # zero padding = white, empty
    warped = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=False).permute(
        0, 2, 3, 1
    )
    # grid_sample's coordinates u are -NDC: an image point at u moves to scale u + offset, so
    # NDC n moves to scale n - offset, which clip coordinates (NDC times the view depth) follow.
    ndc_map = torch.eye(4, device=images.device).repeat(B, 1, 1)
    ndc_map[:, 0, 0] = ndc_map[:, 1, 1] = scale
    ndc_map[:, :2, 3] = -offset
    return warped[..., :3] + 1.0, warped[..., 3], ndc_map


def jitter_colour(images: torch.Tensor, strength: float, hue: float, generator=None) -> torch.Tensor:
    """Per-sample brightness, contrast, saturation (factors in [1 - strength, 1 + strength]) and
    a hue rotation of up to `hue` turns about the grey axis."""
    B, device = images.shape[0], images.device
    grey = images.mean(-1, keepdim=True)
    saturation = _uniform(1 - strength, 1 + strength, B, device, generator).view(B, 1, 1, 1)
    images = grey + saturation * (images - grey)
    angle = _uniform(-hue, hue, B, device, generator) * 2 * torch.pi
    # Rotation about (1, 1, 1) / sqrt(3) (Rodrigues), which keeps grey levels.
    axis = torch.full((3,), 3**-0.5, device=device)
    cross = cross_matrix(images.dtype, device)
    rotation = (
        torch.cos(angle).view(B, 1, 1) * torch.eye(3, device=device)
        + torch.sin(angle).view(B, 1, 1) * cross
        + (1 - torch.cos(angle)).view(B, 1, 1) * torch.outer(axis, axis)
    )
    images = torch.bmm(images.reshape(B, -1, 3), rotation.transpose(1, 2)).view(
        images.shape
    )  # each pixel's colour turned
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(1 - strength, 1 + strength, B, device, generator).view(B, 1, 1, 1)
    brightness = _uniform(1 - strength, 1 + strength, B, device, generator).view(B, 1, 1, 1)
    return ((images - mean) * contrast + mean) * brightness


def random_backgrounds(B: int, H: int, W: int, device, generator=None) -> torch.Tensor:
    """(B, H, W, 3): plain colours, vertical gradients (a wall meeting a floor) and blotchy
    low-frequency textures, mostly light and unsaturated as walls are."""
    base = torch.rand(B, 1, 1, 3, device=device, generator=generator) * 0.6 + 0.35
    grey = base.mean(-1, keepdim=True)
    base = grey + (base - grey) * torch.rand(B, 1, 1, 1, device=device, generator=generator)
    kind = torch.randint(0, 3, (B,), device=device, generator=generator)
    second = (base * _uniform(0.5, 1.0, B, device, generator).view(B, 1, 1, 1)).expand(B, H, W, 3)
    ramp = torch.linspace(0, 1, H, device=device).view(1, H, 1, 1)
    gradient = base + (second - base) * ramp
    blotches = F.interpolate(
        torch.rand(B, 1, 4, 4, device=device, generator=generator), size=(H, W), mode="bicubic", align_corners=False
    ).permute(0, 2, 3, 1)
    textured = base * (0.75 + 0.4 * blotches)  # light and dark patches of the wall's own colour
    out = torch.where((kind == 0).view(B, 1, 1, 1), base.expand(B, H, W, 3), gradient)
    return torch.where((kind == 2).view(B, 1, 1, 1), textured, out).clamp(0, 1)


@functools.cache
def cross_matrix(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The cross-product matrix of the grey axis (1, 1, 1) / sqrt(3), (3, 3), made once per dtype
    and device: a tensor from a Python list is a copy to the GPU that waits for it."""
    return torch.tensor([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=dtype, device=device) * 3**-0.5


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """images (B, H, W, 3) blurred with a per-sample sigma (B,) in pixels (5-tap kernels)."""
    B = images.shape[0]
    taps = torch.arange(-2, 3, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
    kernel = kernel / kernel.sum(1, keepdim=True)  # (B, 5)
    x = images.permute(3, 0, 1, 2).reshape(1, 3 * B, *images.shape[1:3])  # channels grouped per sample
    weights = kernel.repeat(3, 1)  # (3B, 5), channel-major like x
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), weights.view(3 * B, 1, 1, 5), groups=3 * B)
    x = F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), weights.view(3 * B, 1, 5, 1), groups=3 * B)
    return x.view(3, B, *images.shape[1:3]).permute(1, 2, 3, 0)


def augment_images(
    images: torch.Tensor,
    masks: torch.Tensor,
    config: AugmentConfig | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """images (B, H, W, 3) float in [0, 1], composited over white; masks (B, H, W) bool, the
    object. Returns the augmented images, same shape (see the module docstring). `generator`:
    where the random draws come from (default: torch's global one); the training loop gives
    each step its own, so batches can be augmented ahead, in another thread."""
    return augment_batch(images, masks, None, config, generator)[0]


def augment_batch(
    images: torch.Tensor,
    masks: torch.Tensor,
    K: torch.Tensor | None,
    config: AugmentConfig | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """As `augment_images`, with what a zoom or shift changes besides the pixels: the masks
    (B, H, W) bool and the cameras' intrinsics K (B, 4, 4) (None: none to change), so that the
    silhouette loss and pixel-aligned features see the object where the augmented image has it.
    Returns (images, masks, K)."""
    config = config or AugmentConfig()
    B, H, W, _ = images.shape
    if B == 0:
        return images, masks, K
    device = images.device
    images, coverage, ndc_map = zoom_and_shift(images.float(), masks.float(), config.zoom, config.shift, generator)
    if ndc_map is not None:
        masks = coverage > 0.5
        K = ndc_map @ K.float() if K is not None else None
    object_colour = jitter_colour(images, config.colour, config.hue, generator).clamp(0, 1)
    coverage = coverage[..., None]
    use_background = (torch.rand(B, device=device, generator=generator) < config.background).view(B, 1, 1, 1)
    if config.background > 0:
        background = torch.where(
            use_background, random_backgrounds(B, H, W, device, generator), torch.ones_like(images)
        )
        images = object_colour * coverage + background * (1 - coverage)
    else:  # on white: the same blend, without building a background
        images = object_colour * coverage + (1 - coverage)
    blurred = torch.rand(B, device=device, generator=generator) < config.blur
    if device.type == "cuda":  # no host sync: every image blurred, the chosen ones kept
        sigma = _uniform(0.3, 1.0, B, device, generator)
        images = torch.where(blurred.view(B, 1, 1, 1), gaussian_blur(images, sigma), images)
    elif blurred.any():  # the CPU's draws, bit for bit as before
        images[blurred] = gaussian_blur(images[blurred], _uniform(0.3, 1.0, int(blurred.sum()), device, generator))
    noise = _uniform(0, config.noise, B, device, generator).view(B, 1, 1, 1)
    images = images + torch.randn(images.shape, device=device, generator=generator) * noise
    return images.clamp(0, 1), masks, K
