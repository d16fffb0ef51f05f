"""What a training step computes: the batches of each step, the point subsets, the losses, DDP's averaging."""

import os

import pytest
import torch
from conftest import loss_for

from losses import point_subsets
from representations import ReconstructionLoss
from training.sampler import StepBatchSampler


def test_every_epoch_covers_the_dataset_and_ranks_take_disjoint_shares():
    """One process at batch 2b sees, step by step, exactly the union of two ranks' batches of b:
    disjoint, and every epoch visits every item once."""
    n, b, steps = 23, 3, 12
    single = list(StepBatchSampler(n, 2 * b, seed=4, start_step=0, max_iter=steps))
    ranks = [list(StepBatchSampler(n, b, seed=4, start_step=0, max_iter=steps, rank=r, world_size=2)) for r in range(2)]
    for step in range(steps):
        a, c = ranks[0][step], ranks[1][step]
        assert len(a) == len(c) == b and not set(a) & set(c) or n < 2 * b
        assert a + c == single[step]
    flat = [i for batch in single for i in batch]
    for epoch in range(len(flat) // n):
        assert sorted(flat[epoch * n : (epoch + 1) * n]) == list(range(n))
    resumed = list(StepBatchSampler(n, 2 * b, seed=4, start_step=5, max_iter=steps))
    assert resumed == single[5:]  # resuming replays the same batches


def test_each_draw_takes_a_new_reproducible_subset_of_the_points():
    points = torch.rand(2, 500, 3)
    normals = torch.nn.functional.normalize(torch.randn(2, 500, 3), dim=-1)
    torch.manual_seed(7)
    first, first_normals = point_subsets(points, normals, 100)
    second, _ = point_subsets(points, normals, 100)
    torch.manual_seed(7)
    again, _ = point_subsets(points, normals, 100)
    assert first.shape == (2, 100, 3) and torch.equal(first, again)  # the same seed (step): the same subset
    assert not torch.equal(first, second)  # the next draw: another subset
    for item in range(2):  # rows of the item's own points, with their own normals, none twice
        rows = [int(torch.nonzero((points[item] == p).all(1))[0]) for p in first[item]]
        assert len(set(rows)) == 100 and torch.equal(normals[item][rows], first_normals[item])
    assert point_subsets(points, normals, 800)[0] is points  # asking for more than there are: all of them


def loss_of(model_type: str) -> ReconstructionLoss:
    """The loss train_model.py's default flags give a type, with few points."""
    return loss_for(model_type, n_points=50)


def test_a_voxmesh_step_with_no_mesh_still_gives_every_parameter_a_gradient():
    """With every grid empty there is nothing to refine; DDP still needs a gradient (zero) for
    each refinement parameter."""
    from representations import make_model

    torch.manual_seed(0)
    model = make_model("voxmesh", image_size=32, refine_stages=1)
    with torch.no_grad():
        model.decoder.voxels.subcells.bias.fill_(-50.0)  # every cell far below the threshold
    batch = {
        "images": torch.rand(2, 32, 32, 3),
        "voxels": torch.zeros(2, 32, 32, 32),
        "points": torch.rand(2, 80, 3) - 0.5,
        "normals": torch.nn.functional.normalize(torch.randn(2, 80, 3), dim=-1),
        **views(2, torch.Generator().manual_seed(0)),
    }
    loss, terms = loss_of("voxmesh")(model, batch)
    loss.backward()
    voxel_terms = {"bce", "dice", "thin", "coarse8", "coarse16", "silhouette"}
    assert set(terms) == voxel_terms | {k for k in terms if k.startswith("camera")}  # no mesh terms
    assert all(p.grad is not None for p in model.parameters())
    assert all(p.grad.abs().sum() == 0 for p in model.decoder.refinement_parameters())


def ddp_gradients(rank: int, world_size: int, port: int, out: str) -> None:
    """Rank `rank` of a gloo group: the vox loss of its half of a fixed batch of 4, backward
    through DDP; rank 0 saves the averaged gradients."""
    from representations import make_model

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(0)
    model = make_model("vox", image_size=32).eval()  # batch norm on running statistics: per-item losses
    batch = fixed_batch()
    half = {key: value[2 * rank : 2 * rank + 2] for key, value in batch.items()}
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    loss, _ = loss_of("vox")(ddp, half)
    loss.backward()
    if rank == 0:
        torch.save({name: p.grad for name, p in model.named_parameters()}, out)
    torch.distributed.destroy_process_group()


def views(n: int, generator) -> dict:
    """R2N2 cameras (R, T, K) and masks of n random views, as a batch of the data has them: the
    default vox model reads the image where its cells project and trains its camera head on them."""
    from r2n2.formats import R2N2_K, r2n2_camera

    azim = torch.rand(n, generator=generator) * 360
    elev = 25 + 5 * torch.rand(n, generator=generator)
    Rs, Ts = zip(*(r2n2_camera(float(a), float(e), 0.8) for a, e in zip(azim, elev)))
    return {
        "R": torch.stack(Rs),
        "T": torch.stack(Ts),
        "K": R2N2_K.expand(n, 4, 4).clone(),
        "masks": torch.rand(n, 32, 32, generator=generator) > 0.5,
    }


def fixed_batch() -> dict:
    generator = torch.Generator().manual_seed(1)
    return {
        "images": torch.rand(4, 32, 32, 3, generator=generator),
        "voxels": (torch.rand(4, 32, 32, 32, generator=generator) > 0.9).float(),
        **views(4, generator),
    }


def test_losses_read_in_one_transfer_keep_each_steps_own_terms():
    """On CUDA the losses of --log_freq steps are read together; a voxmesh step with nothing to
    cubify has no mesh terms, and the steps beside it keep theirs."""
    from types import SimpleNamespace

    from training.trainer import Trainer

    full = {"bce": torch.tensor(0.5), "chamfer0": torch.tensor(2.0)}
    pending = [
        (1, torch.tensor(1.0), full, 0.1, 0.2, 0.0),
        (2, torch.tensor(3.0), {"bce": torch.tensor(0.25)}, 0.1, 0.2, 0.0),
        (3, torch.tensor(4.0), full, 0.1, 0.2, 0.0),
    ]
    trainer = SimpleNamespace(checks_every_step=False, stop_if_non_finite=lambda losses: None)
    rows = Trainer.read_losses(trainer, pending)
    assert [(step, loss, terms) for step, loss, terms, *_ in rows] == [
        (1, 1.0, {"bce": 0.5, "chamfer0": 2.0}),
        (2, 3.0, {"bce": 0.25}),
        (3, 4.0, {"bce": 0.5, "chamfer0": 2.0}),
    ]


def test_ddp_averages_to_the_gradient_of_one_process_at_the_combined_batch(tmp_path):
    """Two processes at batch 2 give the gradient of one at batch 4: the loss is a mean over
    items and batch norm uses its running statistics, so the maths says they must agree."""
    from representations import make_model

    out = str(tmp_path / "ddp_grads.pt")
    torch.multiprocessing.spawn(ddp_gradients, args=(2, 29541, out), nprocs=2, join=True)
    torch.manual_seed(0)
    model = make_model("vox", image_size=32).eval()
    loss, _ = loss_of("vox")(model, fixed_batch())
    loss.backward()
    ddp = torch.load(out, weights_only=True)
    # rtol 1e-3: float32 sums in another order differ by more than 1e-4; the same single-process
    # gradient with 1 and with 2 threads differs by 1.6e-4 (relative, the last bias, measured), and
    # CI once failed at 1e-4. A wrong average (a factor of 2) is far above it.
    for name, p in model.named_parameters():
        torch.testing.assert_close(ddp[name], p.grad, rtol=1e-3, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def non_finite_on_one_rank(rank: int, world_size: int, port: int, out: str) -> None:
    """Rank `rank` of a gloo group checks its losses; only rank 1 saw a NaN (at its 2nd step).
    Each rank writes what it did: the message it stopped with, or "went on"."""
    from training.trainer import Run, Trainer, TrainingError

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world_size)
    trainer = Trainer.__new__(Trainer)  # the check needs only the run
    trainer.run = Run("ckpt.pth", None, None, rank, world_size, torch.device("cpu"), last_saved=1)
    losses = [(1, 0.5), (2, float("nan") if rank == 1 else 0.4), (3, 0.3)]
    try:
        trainer.stop_if_non_finite(losses)
        outcome = "went on"
    except TrainingError as err:
        outcome = str(err)
    with open(f"{out}.{rank}", "w") as f:
        f.write(outcome)
    torch.distributed.destroy_process_group()


def test_a_non_finite_loss_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    """Under DDP the ranks agree on the first non-finite step, so all stop together (the others
    would otherwise wait in the next allreduce until the process group times out)."""
    out = str(tmp_path / "outcome")
    torch.multiprocessing.spawn(non_finite_on_one_rank, args=(2, 29547, out), nprocs=2, join=True)
    outcomes = [open(f"{out}.{rank}").read() for rank in range(2)]
    assert all("non-finite loss" in o and "at step 1;" in o and "(step 1)" in o for o in outcomes), outcomes


def graph_conv_on_its_compiled_kernel(monkeypatch) -> None:
    """Make GraphConv call PyTorch3D's compiled GatherScatter on the CPU too, as it does on CUDA:
    the kernel has a CPU build with the same float32-only check, so a bf16 input fails here as it
    would on a GPU."""
    import pytorch3d.ops.graph_conv as graph_conv

    monkeypatch.setattr(
        graph_conv,
        "gather_scatter_python",
        lambda input, edges, directed=False: graph_conv.GatherScatter.apply(input, edges, directed),
    )


def amp_batch(model_type: str) -> dict:
    torch.manual_seed(0)
    voxels = torch.zeros(2, 32, 32, 32)
    voxels[:, 8:24, 8:24, 8:24] = 1.0
    points = torch.rand(2, 300, 3) - 0.5
    batch = {
        "images": torch.rand(2, 64, 64, 3),
        "voxels": voxels,
        "points": points,
        "normals": torch.nn.functional.normalize(torch.randn(2, 300, 3), dim=-1),
    }
    if model_type == "occupancy":
        batch["occ_points"] = torch.rand(2, 400, 3) - 0.5
        batch["occ_labels"] = batch["occ_points"].abs().max(-1).values < 0.25
    return batch


def flat_gradient(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("model_type", ["vox", "point", "mesh", "occupancy", "voxmesh"])
def test_amp_steps_keep_losses_coordinates_and_pytorch3d_ops_in_float32(model_type, monkeypatch):
    """One step of each type under bf16 autocast (--amp) with GraphConv on its compiled
    float32-only kernel: it runs, the loss and its terms are float32, and the gradient points
    the way the float32 step's does."""
    from representations import make_model

    graph_conv_on_its_compiled_kernel(monkeypatch)
    loss_fn = loss_of(model_type)
    gradients = {}
    for amp in (False, True):
        torch.manual_seed(0)
        model = make_model(model_type, image_size=64, n_points=50, ico_level=2, refine_stages=1).eval()
        if model_type == "voxmesh":  # a cube of cells above the threshold, so there is a mesh to refine
            with torch.no_grad():
                model.decoder.voxels.subcells.bias.fill_(0.0)
                model.decoder.voxels.subcells.weight.fill_(0.0)
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss, terms = loss_fn(model, amp_batch(model_type))
        assert loss.dtype == torch.float32 and all(t.dtype == torch.float32 for t in terms.values()), terms
        loss.backward()
        gradients[amp] = flat_gradient(model)
    cosine = torch.nn.functional.cosine_similarity(gradients[False], gradients[True], dim=0)
    assert cosine > 0.9, float(cosine)


def test_mesh_smoothness_under_amp_is_the_float32_value():
    """The Laplacian product (`mm`, on autocast's bf16 list) runs in float32: at initialisation
    the mesh head's offsets are zero, so the mesh, and its smoothness, is the same with and
    without autocast."""
    from representations import make_model

    smooth = {}
    for amp in (False, True):
        torch.manual_seed(0)
        model = make_model("mesh", image_size=64, ico_level=2).eval()
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            _, terms = loss_of("mesh")(model, amp_batch("mesh"))
        smooth[amp] = terms["smooth"]
    assert torch.allclose(smooth[True], smooth[False], rtol=1e-6, atol=0), smooth


def test_restored_optimizer_state_takes_the_channels_last_weights_layout():
    """A run saved with contiguous weights (CPU) and resumed with channels-last ones (CUDA's
    `configure_device`): Adam's moments get the parameters' strides, which fused CUDA Adam requires."""
    from training.trainer import match_state_layouts

    conv = torch.nn.Conv3d(2, 4, 3)
    optimizer = torch.optim.Adam(conv.parameters())
    conv(torch.rand(1, 2, 5, 5, 5)).sum().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    conv.to(memory_format=torch.channels_last_3d)
    resumed = torch.optim.Adam(conv.parameters())
    resumed.load_state_dict(saved)
    moments = resumed.state[conv.weight]
    assert moments["exp_avg"].stride() != conv.weight.stride()  # what load_state_dict leaves
    before = moments["exp_avg"].clone()
    match_state_layouts(resumed)
    moments = resumed.state[conv.weight]
    assert moments["exp_avg"].stride() == moments["exp_avg_sq"].stride() == conv.weight.stride()
    assert torch.equal(moments["exp_avg"], before)  # the same values


@pytest.mark.parametrize("saved_fused, now_fused", [(None, True), (True, None)])
def test_resumed_optimizer_keeps_its_device_choice(saved_fused, now_fused):
    """A CPU run (foreach Adam: fused None) resumed on CUDA runs fused Adam, and a CUDA run (fused)
    resumed on the CPU the CPU's default: the device's choice, not the checkpoint's
    (`load_optimizer_state`). Fused Adam exists on the CPU too, which lets the CPU test both ways;
    the learned state (moments, step, lr) comes back whole."""
    from training.trainer import load_optimizer_state

    torch.manual_seed(0)
    linear = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(linear.parameters(), lr=1e-2, fused=saved_fused)
    linear(torch.rand(4, 3)).sum().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    resumed = torch.optim.Adam(linear.parameters(), lr=1e-3, fused=now_fused)
    plain = torch.optim.Adam(linear.parameters(), lr=1e-3, fused=now_fused)
    plain.load_state_dict(saved)
    assert plain.param_groups[0]["fused"] == saved_fused  # what load_state_dict alone does
    load_optimizer_state(resumed, saved)
    group = resumed.param_groups[0]
    assert group["fused"] == now_fused and group["lr"] == 1e-2
    state = resumed.state[linear.weight]
    assert torch.equal(state["exp_avg"], optimizer.state[linear.weight]["exp_avg"]) and float(state["step"]) == 1
    linear(torch.rand(4, 3)).sum().backward()
    resumed.step()  # the restored state works with the device's implementation
    assert float(resumed.state[linear.weight]["step"]) == 2


def test_prefetch_makes_the_loader_iterator_in_the_callers_thread():
    """The loader's iterator (and its pin-memory thread, which takes the current CUDA device) is
    made in the training thread, whose device is the rank's, not in the prefetch thread."""
    import threading

    from training.sampler import prefetch

    class Loader:
        def __iter__(self):
            self.thread = threading.current_thread()
            return iter(range(3))

    loader = Loader()
    assert list(prefetch(loader, lambda batch, step: (step, batch), start_step=5)) == [(5, 0), (6, 1), (7, 2)]
    assert loader.thread is threading.current_thread()


def test_setup_distributed_names_the_device_and_outlasts_cache_builds(monkeypatch):
    """Under torchrun the process group gets the long timeout (rank 0 builds caches while the
    others wait) and, on CUDA, the rank's device."""
    from training import trainer

    calls = []
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda backend, **kw: calls.append((backend, kw)))
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert trainer.setup_distributed(torch.device("cuda")) == (1, 2, torch.device("cuda", 1))
    assert trainer.setup_distributed(torch.device("cpu")) == (1, 2, torch.device("cpu"))
    timeout = trainer.PROCESS_GROUP_TIMEOUT
    assert calls == [
        ("nccl", {"timeout": timeout, "device_id": torch.device("cuda", 1)}),
        ("gloo", {"timeout": timeout}),
    ]
    assert timeout.total_seconds() >= 3600


def test_mean_occupancy_is_the_float_mean_in_chunks():
    from dataset import mean_occupancy

    voxels = torch.rand(11, 4, 5, 6) < 0.3
    assert torch.equal(mean_occupancy(voxels, chunk=4), voxels.float().mean(0))


def test_profiles_fill_only_the_flags_left_out():
    """auto picks the gpu profile on CUDA; a flag given keeps its value; the type's budget and
    image size are its representation's."""
    from representations import get
    from training.config import PROFILES, resolve_config

    gpu = resolve_config({"type": "vox"}, default_device="cuda:0")
    assert gpu.profile == "gpu" and gpu.run.batch_size == PROFILES["gpu"]["batch_size"]
    assert gpu.run.max_iter == get("vox").max_iter["gpu"] and gpu.model_args["image_size"] == 137
    assert (gpu.run.num_workers, gpu.run.amp) == (PROFILES["gpu"]["num_workers"], PROFILES["gpu"]["amp"])
    cpu = resolve_config({"type": "vox", "batch_size": 8}, default_device="cpu")
    assert cpu.run.batch_size == 8 and cpu.model_args["image_size"] == get("vox").image_size["cpu"] == 128
    assert cpu.run.val_freq == max(25, cpu.run.max_iter // 10)
    smoke = resolve_config({"type": "point", "profile": "smoke"})
    assert smoke.run.max_iter == PROFILES["smoke"]["max_iter"] and smoke.run.data_root.endswith("smoke")
    assert smoke.run.out_dir == os.path.join("checkpoints", "smoke", "point")


def test_the_deconv_decoder_records_no_pixel_features_and_refuses_them():
    """The default vox model reads pixels; --vox_decoder deconv reads none, so its model arguments
    say so, and --pixel_aligned with it is refused rather than silently dropped."""
    from training.config import ConfigError, resolve_config

    assert resolve_config({"type": "vox"}, default_device="cpu").model_args["pixel_aligned"] is True
    deconv = resolve_config({"type": "vox", "vox_decoder": "deconv"}, default_device="cpu")
    assert deconv.model_args["pixel_aligned"] is False
    with pytest.raises(ConfigError, match="--pixel_aligned needs --vox_decoder subpixel"):
        resolve_config({"type": "vox", "vox_decoder": "deconv", "pixel_aligned": True}, default_device="cpu")
