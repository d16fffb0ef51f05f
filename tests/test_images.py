"""Images as the network takes them."""

import numpy as np
import pytest
import torch

from r2n2.images import prepare_image


def test_prepare_image_formats():
    rgba = np.zeros((50, 80, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:25, :, 3] = 255  # top half opaque red, bottom transparent
    out = prepare_image(rgba)
    assert out.shape == (137, 137, 3)
    torch.testing.assert_close(out[5, 60], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(out[130, 60], torch.ones(3))  # composited over white
    grey = prepare_image(np.full((137, 137), 128, np.uint8))
    torch.testing.assert_close(grey, torch.full((137, 137, 3), 128 / 255))
    with pytest.raises(ValueError, match="image"):
        prepare_image(np.zeros((4, 4, 5), np.uint8))
