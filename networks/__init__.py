"""The network parts every type shares: the image encoder, pixel-aligned sampling, the camera head.

    from networks.encoder import ImageEncoder, Encoding      # (B, H, W, 3) images -> Encoding
    from networks.pixel_aligned import PixelAligned          # image features where object points project
    from networks.camera import CameraHead                   # a camera for images without one

Each type's decoder lives with its type (`representations/<type>`); `model.SingleViewto3D` puts
the encoder, a decoder and, for a decoder that projects points, the camera head together.
"""


class ModelError(Exception):
    """A model cannot be built or loaded; the message says why."""
