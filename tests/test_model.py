import pytest
import torch

from dataset import R2N2Dataset, batch_to_device, collate_batch
from model import ModelError, SingleViewto3D, build_model
from train_model import get_args_parser
from training import compute_loss

SMALL = {"image_size": 64, "n_points": 200, "ico_level": 2}


@pytest.mark.parametrize("model_type", ["vox", "point", "mesh", "occupancy"])
@pytest.mark.parametrize("batch_size", [1, 2])
def test_output_shapes_and_finite_gradients(model_type, batch_size):
    torch.manual_seed(0)
    model = SingleViewto3D(model_type, **SMALL)
    images = torch.rand(batch_size, 137, 137, 3)
    queries = torch.rand(batch_size, 50, 3) - 0.5
    out = model(images, queries if model_type == "occupancy" else None)
    expected = {"vox": (batch_size, 32, 32, 32), "point": (batch_size, 200, 3),
                "mesh": (batch_size, 162, 3), "occupancy": (batch_size, 50)}[model_type]
    assert out.shape == expected
    out.float().square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if model_type == "point":
        assert out.abs().max() <= 0.5  # tanh bound keeps the cloud in the object cube
    if model_type == "mesh":
        meshes = model.decoder.to_meshes(out)
        assert len(meshes) == batch_size and meshes.faces_packed().shape[0] == batch_size * 320


def test_occupancy_grid_is_chunked_and_shaped():
    model = SingleViewto3D("occupancy", **SMALL).eval()
    grid = model.occupancy_grid(torch.rand(2, 137, 137, 3), resolution=8, chunk=100)
    assert grid.shape == (2, 8, 8, 8) and ((grid >= 0) & (grid <= 1)).all()


def test_rebuild_from_model_args_gives_same_outputs():
    model = SingleViewto3D("point", **SMALL).eval()
    clone = build_model(model.model_args)
    clone.load_state_dict(model.state_dict())
    images = torch.rand(1, 137, 137, 3)
    torch.testing.assert_close(model(images), clone.eval()(images))


def test_pretrained_weights_load_locally_or_fail_clearly(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        SingleViewto3D("vox", pretrained=str(tmp_path / "missing.pth"))
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    model = SingleViewto3D("vox", pretrained=str(tmp_path / "r18.pth"))
    torch.testing.assert_close(model.encoder.backbone.conv1.weight, reference.conv1.weight)


@pytest.mark.parametrize("model_type,steps,factor", [("vox", 60, 4.0), ("point", 60, 3.0), ("mesh", 60, 3.0), ("occupancy", 200, 3.0)])
def test_tiny_overfit_lowers_loss_by_a_large_factor(tiny_root, model_type, steps, factor):
    """Four training images, memorised: the loss must fall by a large factor."""
    torch.manual_seed(0)
    dataset = R2N2Dataset(tiny_root, "train", n_points=200, return_meshes=False, quiet=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__([0, 1, 2, 3])), "cpu")
    model = SingleViewto3D(model_type, **SMALL)
    # train_model.py's own flags; plain BCE for vox, the loss this factor was set for.
    args = get_args_parser().parse_args(["--type", model_type, "--n_points", "200", "--n_queries", "512", "--pos_weight", "1"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        loss, _ = compute_loss(model, batch, args)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first / factor, f"{model_type}: {first:.4f} -> {last:.4f}"
