"""One fixed batch's training loss of each type on the CPU and on CUDA (float32 and bf16 autocast).

    python benchmarks/gpu_check.py          # needs CUDA; part of benchmarks/gpu_check.sh

The same weights, batch and random draws on both devices: the float32 losses of vox, point and
occupancy must agree to a relative 1e-3 (CUDA's kernels sum in other orders), mesh and voxmesh to
their surface sampling's noise, the autocast ones to a few percent. Not a test (CI has no GPU).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unittest import mock  # noqa: E402

import torch  # noqa: E402

import losses  # noqa: E402
from dataset import R2N2Dataset, batch_to_device, collate_batch  # noqa: E402
from losses import ReconstructionLoss  # noqa: E402
from model import SingleViewto3D  # noqa: E402
from train_model import get_args_parser, loss_config, model_args_from_flags  # noqa: E402


def loss_on(device: str, model_type: str, amp: bool) -> float:
    # All 5000 GT surface samples (no random subset); mesh sampling still draws on the device, so
    # mesh and voxmesh agree only to the sampling's noise (about 1e-2).
    args = get_args_parser().parse_args(["--type", model_type, "--image_size", "137", "--n_points", "5000"])
    torch.manual_seed(0)
    model = SingleViewto3D(**model_args_from_flags(args)).eval().to(device)  # batch norm on running statistics
    dataset = R2N2Dataset(None, "train", n_points=None, return_meshes=False, quiet=True, return_occupancy=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__(list(range(8)))), device)
    torch.manual_seed(1)
    if model_type == "occupancy":  # the same query draw on both devices: drawn on the CPU, then moved
        pick = torch.randint(batch["occ_points"].shape[1], (8, args.n_queries))
        batch["occ_points"] = torch.gather(batch["occ_points"], 1, pick.to(device)[..., None].expand(-1, -1, 3))
        batch["occ_labels"] = torch.gather(batch["occ_labels"], 1, pick.to(device))
    # The float32 column in float32: cuDNN convolutions would use TF32 by default on CUDA.
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = amp
    # The loss's own query draw would differ between the devices' generators: it takes the
    # queries drawn above as they are.
    keep_drawn = lambda points, labels, n_queries: (points, labels.float())  # noqa: E731
    with (
        mock.patch.object(losses, "exact_occupancy_targets", keep_drawn),
        torch.no_grad(),
        torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=amp),
    ):
        loss, _ = ReconstructionLoss(loss_config(args))(model, batch)
    return float(loss)


def main() -> None:
    print(f"{'type':<10} {'CPU fp32':>10} {'CUDA fp32':>10} {'rel. diff':>10} {'CUDA bf16':>10} {'rel. diff':>10}")
    for model_type in ("vox", "point", "mesh", "occupancy", "voxmesh"):
        cpu = loss_on("cpu", model_type, False)
        cuda = loss_on("cuda", model_type, False)
        amp = loss_on("cuda", model_type, True)
        print(
            f"{model_type:<10} {cpu:10.5f} {cuda:10.5f} {abs(cuda - cpu) / abs(cpu):10.2e} {amp:10.5f} "
            f"{abs(amp - cpu) / abs(cpu):10.2e}"
        )


if __name__ == "__main__":
    main()
