"""Blocks computed in float32 whatever autocast says around them.

    with float32(tensor):          # autocast off on tensor's device type
        loss = chamfer_loss(points.float(), points_gt)

Under bf16 autocast (train_model.py --amp) a coordinate keeps 8 bits of mantissa (a vertex of a
unit shape moves in steps of ~0.004), and PyTorch3D's CUDA kernels (GatherScatter, sparse mm)
take float32 only: coordinates, losses and PyTorch3D's ops run in float32. Imports nothing of the
project.
"""

import torch


def float32(tensor: torch.Tensor):
    """A context in which autocast is off on `tensor`'s device type; cast inputs with .float()."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)
