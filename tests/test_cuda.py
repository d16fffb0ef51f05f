"""CUDA smoke tests, skipped without a GPU (CI has none; benchmarks/gpu_check.sh runs them first).

PyTorch3D's compiled kernels the runs use (KNN, GatherScatter under GraphConv, the mesh sampling's
face areas and packed-to-padded) forward and backward on CUDA, in float32 and inside a bf16
autocast region (where the project's float32 blocks hand them float32), against the CPU; then one
training step of each type on CUDA, as train_model.py runs it.
"""

import pytest
import torch

from common.precision import float32

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (benchmarks/gpu_check.sh)")
TYPES = ("vox", "point", "mesh", "occupancy", "voxmesh")


def on_both(fn, *tensors):
    """fn on CPU copies and on CUDA copies of the tensors (leaves requiring grad): (outputs, grads)
    per device."""
    results = {}
    for device in ("cpu", "cuda"):
        leaves = [t.detach().to(device).requires_grad_(t.is_floating_point()) for t in tensors]
        out = fn(*leaves)
        out.sum().backward() if out.requires_grad else None
        results[device] = (out.detach().cpu(), [leaf.grad.cpu() if leaf.grad is not None else None for leaf in leaves])
    return results


@pytest.mark.parametrize("amp", [False, True])
def test_knn_chamfer_on_cuda(amp):
    from losses import chamfer_loss

    torch.manual_seed(0)
    a, b = torch.rand(2, 500, 3), torch.rand(2, 700, 3)

    def loss(x, y):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp), float32(x):
            return chamfer_loss(x.float(), y.float())

    both = on_both(loss, a, b)
    assert torch.allclose(both["cpu"][0], both["cuda"][0], rtol=1e-5)
    assert torch.allclose(both["cpu"][1][0], both["cuda"][1][0], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("amp", [False, True])
def test_graph_conv_on_cuda(amp):
    from pytorch3d.ops import GraphConv
    from pytorch3d.utils import ico_sphere

    torch.manual_seed(0)
    conv = GraphConv(3, 8)
    sphere = ico_sphere(2)
    verts, edges = sphere.verts_packed(), sphere.edges_packed()

    def forward(x):
        layer = conv.to(x.device)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp), float32(x):
            return layer(x.float(), edges.to(x.device))

    both = on_both(forward, verts)
    assert both["cuda"][0].dtype == torch.float32
    assert torch.allclose(both["cpu"][0], both["cuda"][0], rtol=1e-4, atol=1e-5)
    assert torch.allclose(both["cpu"][1][0], both["cuda"][1][0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("amp", [False, True])
def test_sample_points_from_meshes_on_cuda(amp):
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes
    from pytorch3d.utils import ico_sphere

    sphere = ico_sphere(3).cuda()
    verts = sphere.verts_packed().clone().requires_grad_(True)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp), float32(verts):
        points, normals = sample_points_from_meshes(Meshes([verts], [sphere.faces_packed()]), 2000, return_normals=True)
    assert points.dtype == torch.float32 and torch.isfinite(points).all()
    assert torch.allclose(points.norm(dim=-1), torch.ones(1, device="cuda"), atol=0.05)  # on the unit sphere
    points.sum().backward()
    assert torch.isfinite(verts.grad).all() and verts.grad.abs().sum() > 0


@pytest.mark.parametrize("model_type", TYPES)
def test_one_training_step_of_each_type_on_cuda(model_type, tiny_root, tmp_path):
    from conftest import call_main

    code, out, err = call_main(
        "train_model",
        "--type", model_type, "--device", "cuda", "--data_root", tiny_root, "--out_dir", tmp_path / model_type,
        "--max_iter", "1", "--batch_size", "2", "--image_size", "64", "--n_points", "100", "--val_freq", "0",
        "--amp", "--init", "none",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    checkpoint = torch.load(tmp_path / model_type / f"checkpoint_{model_type}.pth", weights_only=True)
    assert checkpoint["step"] == 1
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values() if v.is_floating_point())


def test_a_cpu_run_resumed_on_cuda_takes_fused_adam_with_its_step_on_the_gpu():
    from training.trainer import load_optimizer_state

    linear = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(linear.parameters())  # the CPU's default: foreach
    linear(torch.rand(4, 3)).sum().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    linear.cuda()
    resumed = torch.optim.Adam(linear.parameters(), fused=True)
    load_optimizer_state(resumed, saved)
    state = resumed.state[linear.weight]
    assert resumed.param_groups[0]["fused"] is True and state["step"].device.type == "cuda"
    linear(torch.rand(4, 3, device="cuda")).sum().backward()
    resumed.step()
    assert float(state["step"]) == 2


def test_scores_on_the_gpu_and_the_cpu_come_back_together():
    """evaluate's scores mix devices (sil_iou is computed on the CPU): to_cpu brings each back,
    in the order given, which stacking them on one device would refuse."""
    from evaluation.protocol import to_cpu

    out = to_cpu(
        {
            "F1": torch.tensor([1.0, 2.0], device="cuda"),
            "sil_iou": torch.tensor([0.5, 0.25]),
            "n": torch.tensor([3, 4], device="cuda"),
        }
    )
    assert list(out) == ["F1", "sil_iou", "n"] and all(v.device.type == "cpu" for v in out.values())
    assert out["sil_iou"].tolist() == [0.5, 0.25] and out["n"].tolist() == [3.0, 4.0]
