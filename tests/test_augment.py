import torch

from training.augment import (
    AugmentConfig,
    augment_images,
    gaussian_blur,
    jitter_colour,
    random_backgrounds,
    zoom_and_shift,
)


def square_batch(B=3, size=64):
    images = torch.ones(B, size, size, 3)
    masks = torch.zeros(B, size, size, dtype=torch.bool)
    masks[:, 24:40, 20:44] = True
    images[masks] = torch.tensor([0.8, 0.2, 0.1])
    return images, masks


def test_nothing_asked_changes_nothing():
    images, masks = square_batch()
    off = AugmentConfig(zoom=0, shift=0, colour=0, hue=0, background=0, blur=0, noise=0)
    torch.testing.assert_close(augment_images(images, masks, off), images, atol=1e-5, rtol=0)


def test_shift_moves_image_and_mask_together_and_pads_white():
    images, masks = square_batch(B=1)
    torch.manual_seed(0)
    moved, coverage, _ = zoom_and_shift(images, masks.float(), zoom=0.0, shift=0.1)
    red = (moved[0] - torch.tensor([0.8, 0.2, 0.1])).abs().sum(-1) < 0.05
    assert (red == (coverage[0] > 0.99)).float().mean() > 0.99  # the object and its mask stay together
    assert not torch.equal(coverage[0] > 0.5, masks[0])  # and moved
    torch.testing.assert_close(
        moved[0][coverage[0] == 0], torch.ones(int((coverage[0] == 0).sum()), 3), atol=1e-5, rtol=0
    )


def test_colour_jitter_keeps_grey_grey_and_backgrounds_are_valid():
    torch.manual_seed(0)
    grey = torch.full((4, 8, 8, 3), 0.5)
    out = jitter_colour(grey, 0.25, 0.1)
    assert (out.std(-1) < 1e-5).all()  # hue and saturation leave grey alone; brightness may change it
    backgrounds = random_backgrounds(6, 16, 16, "cpu")
    assert backgrounds.shape == (6, 16, 16, 3) and backgrounds.min() >= 0 and backgrounds.max() <= 1


def test_background_only_behind_the_object_and_deterministic_under_a_seed():
    images, masks = square_batch(B=8)
    config = AugmentConfig(zoom=0, shift=0, colour=0, hue=0, background=1.0, blur=0, noise=0)
    torch.manual_seed(3)
    a = augment_images(images, masks, config)
    torch.testing.assert_close(a[masks], images[masks], atol=1e-5, rtol=0)  # the object untouched
    assert (a[~masks] < 0.999).any()  # the white is replaced
    torch.manual_seed(3)
    torch.testing.assert_close(augment_images(images, masks, config), a)


def test_blur_matches_a_naive_convolution():
    torch.manual_seed(0)
    image = torch.rand(1, 12, 12, 3)
    sigma = torch.tensor([0.8])
    ours = gaussian_blur(image, sigma)
    taps = torch.arange(-2, 3.0)
    k = torch.exp(-0.5 * (taps / 0.8) ** 2)
    k = k / k.sum()
    kernel = (k[:, None] * k[None]).expand(3, 1, 5, 5)
    padded = torch.nn.functional.pad(image.permute(0, 3, 1, 2), (2, 2, 2, 2), mode="replicate")
    naive = torch.nn.functional.conv2d(padded, kernel, groups=3).permute(0, 2, 3, 1)
    torch.testing.assert_close(ours, naive, atol=1e-5, rtol=0)


def test_a_zoom_and_shift_moves_the_camera_with_the_image(tiny_root):
    """With --augment full the images are zoomed and shifted: the augmented cameras' intrinsics
    (`augment_batch`) draw the GT where the augmented mask has it, as the untouched ones did before."""
    from pytorch3d.structures import Meshes

    from dataset import R2N2Dataset, batch_to_device, collate_batch
    from evaluation.silhouette import mesh_silhouettes, silhouette_iou
    from training.augment import AUGMENT_LEVELS, augment_batch

    dataset = R2N2Dataset(tiny_root, "train", quiet=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__(list(range(6)))), "cpu")
    meshes = Meshes([v.float() for v in batch["verts"]], batch["faces"])
    before = silhouette_iou(mesh_silhouettes(meshes, batch["R"], batch["T"], batch["K"]), batch["masks"])
    images, masks, K = augment_batch(
        batch["images"], batch["masks"], batch["K"], AUGMENT_LEVELS["full"], torch.Generator().manual_seed(0)
    )
    assert images.shape == batch["images"].shape and not torch.equal(masks, batch["masks"])
    after = silhouette_iou(mesh_silhouettes(meshes, batch["R"], batch["T"], K), masks)
    stale = silhouette_iou(mesh_silhouettes(meshes, batch["R"], batch["T"], batch["K"]), masks)
    assert after.mean() > before.mean() - 0.03 and stale.mean() < after.mean() - 0.05, (before, after, stale)
