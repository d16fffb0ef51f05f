"""Blocks computed in float32 whatever autocast and TF32 say around them.

    with float32(tensor):          # autocast off on tensor's device type, and TF32 off on CUDA
        loss = chamfer_loss(points.float(), points_gt)

Under bf16 autocast (train_model.py --amp) a coordinate keeps 8 bits of mantissa (a vertex of a
unit shape moves in steps of ~0.004), and PyTorch3D's CUDA kernels (GatherScatter, sparse mm)
take float32 only: coordinates, losses and PyTorch3D's ops run in float32. On CUDA the run turns
TF32 on for speed (`training.trainer.configure_device`), which keeps 10 bits of mantissa in matrix
products: inside these blocks it is off too, so they are float32 in fact, not only in dtype (the
backward pass of the block runs outside it, under the run's setting). Imports nothing of the project.
"""

import contextlib

import torch


@contextlib.contextmanager
def tf32_off():
    """A context in which CUDA matrix products and cuDNN convolutions do not use TF32; the
    settings around it (the float32 matmul precision, cuDNN's flag) are put back afterwards,
    nested blocks included. torch.compile drops these switches from a compiled graph, so the
    blocks that need them run outside it (`representations.point.PointDecoder.coordinates`,
    `representations.occupancy.decoder.sample_volume`)."""
    saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]


@contextlib.contextmanager
def float32(tensor: torch.Tensor):
    """A context in which autocast is off on `tensor`'s device type (and TF32 off on CUDA);
    cast inputs with .float()."""
    with torch.autocast(device_type=tensor.device.type, enabled=False):
        if tensor.device.type != "cuda":
            yield
            return
        with tf32_off():
            yield
