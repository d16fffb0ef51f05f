import pytest
import torch
from conftest import loss_for

from dataset import R2N2Dataset, batch_to_device, collate_batch
from model import ModelError, Prediction
from representations import build_model, make_model

SMALL = {"image_size": 64, "n_points": 200, "ico_level": 2}
# BCE with pos_weight 1 (and the default Dice, deep supervision and thin terms for vox), each type taking its own
LOSS = {"n_points": 200, "n_queries": 512, "pos_weight": 1.0}


def loss_keys(model_type: str) -> set:
    import dataclasses

    from losses import LossConfig
    from representations import get

    return {f.name for f in get(model_type).settings.fields()} | {f.name for f in dataclasses.fields(LossConfig)}


@pytest.mark.parametrize("model_type", ["vox", "point", "mesh", "occupancy", "voxmesh"])
@pytest.mark.parametrize("batch_size", [1, 2])
def test_output_shapes_and_finite_gradients(model_type, batch_size):
    torch.manual_seed(0)
    model = make_model(model_type, **SMALL)
    images = torch.rand(batch_size, 137, 137, 3)
    queries = torch.rand(batch_size, 50, 3) - 0.5
    prediction = model(images, queries)
    assert isinstance(prediction, Prediction)
    if model_type in ("vox", "voxmesh", "occupancy"):  # what each type's prediction holds
        assert (prediction.voxels is not None) == (model_type != "occupancy")
    if model_type == "voxmesh":
        assert prediction.voxels.shape == (batch_size, 32, 32, 32) and len(prediction.aux["stages"]) in (1, 2)
        out = prediction.voxels + sum(m.verts_packed().sum() for m in prediction.aux["stages"])
    else:
        out = {
            "vox": prediction.voxels,
            "point": prediction.points,
            "mesh": prediction.meshes.verts_padded() if prediction.meshes is not None else None,
            "occupancy": prediction.occupancy,
        }[model_type]
    expected = {
        "vox": (batch_size, 32, 32, 32),
        "point": (batch_size, 200, 3),
        "voxmesh": (batch_size, 32, 32, 32),
        "mesh": (batch_size, 162, 3),
        "occupancy": (batch_size, 50),
    }[model_type]
    assert out.shape == expected
    out.float().square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if model_type == "point":
        assert out.abs().max() <= 0.5  # tanh bound keeps the cloud in the object cube
    if model_type == "mesh":
        assert len(prediction.meshes) == batch_size and prediction.meshes.faces_packed().shape[0] == batch_size * 320


def test_occupancy_grid_is_chunked_and_shaped():
    from representations.occupancy import occupancy_grid

    model = make_model("occupancy", **SMALL).eval()
    with torch.no_grad():
        fn = model(torch.rand(2, 137, 137, 3)).occupancy_fn
    grid = occupancy_grid(fn, 2, "cpu", resolution=8, chunk=100)
    assert grid.shape == (2, 8, 8, 8) and ((grid >= 0) & (grid <= 1)).all()
    whole = occupancy_grid(fn, 2, "cpu", resolution=8, chunk=10_000)
    torch.testing.assert_close(grid, whole)  # chunks change nothing


def test_feature_volume_is_sampled_trilinearly_in_the_object_frame():
    """sample_volume against a naive trilinear interpolation of the cell-centred [z, y, x] grid."""
    from representations.occupancy.decoder import sample_volume

    torch.manual_seed(0)
    R = 4
    volume = torch.rand(1, 2, R, R, R)
    points = torch.rand(1, 20, 3) * (1 - 1 / R) - 0.5 + 0.5 / R  # between the outer cell centres
    expected = torch.zeros(1, 20, 2)
    for n, (x, y, z) in enumerate(points[0].tolist()):
        i, j, k = ((c + 0.5) * R - 0.5 for c in (x, y, z))  # continuous cell index of each axis
        i0, j0, k0 = int(i), int(j), int(k)
        for di in (0, 1):
            for dj in (0, 1):
                for dk in (0, 1):
                    weight = (1 - abs(i - i0 - di)) * (1 - abs(j - j0 - dj)) * (1 - abs(k - k0 - dk))
                    expected[0, n] += weight * volume[0, :, k0 + dk, j0 + dj, i0 + di]
    torch.testing.assert_close(sample_volume(volume, points), expected)


def test_occupancy_with_a_feature_volume_shapes_gradients_and_grid():
    torch.manual_seed(0)
    model = make_model("occupancy", occ_grid=16, **SMALL)
    assert model.decoder.volume(torch.rand(2, 512)).shape == (2, 32, 16, 16, 16)
    logits = model(torch.rand(2, 137, 137, 3), torch.rand(2, 50, 3) - 0.5).occupancy
    assert logits.shape == (2, 50)
    logits.square().mean().backward()
    assert (
        torch.isfinite(model.decoder.volume.project.weight.grad).all()
        and model.decoder.volume.project.weight.grad.abs().sum() > 0
    )
    from representations.occupancy import occupancy_grid

    with torch.no_grad():
        fn = model.eval()(torch.rand(1, 137, 137, 3)).occupancy_fn
    grid = occupancy_grid(fn, 1, "cpu", resolution=8, chunk=100)
    assert grid.shape == (1, 8, 8, 8) and ((grid >= 0) & (grid <= 1)).all()


def test_rebuild_from_model_args_gives_same_outputs():
    model = make_model("point", **SMALL).eval()
    clone = build_model(model.model_args)
    clone.load_state_dict(model.state_dict())
    images = torch.rand(1, 137, 137, 3)
    torch.testing.assert_close(model(images).points, clone.eval()(images).points)


def test_pretrained_weights_load_locally_or_fail_clearly(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        make_model("vox", pretrained=str(tmp_path / "missing.pth"))
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    model = make_model("vox", pretrained=str(tmp_path / "r18.pth"))
    torch.testing.assert_close(model.encoder.backbone.conv1.weight, reference.conv1.weight)


@pytest.mark.parametrize(
    "model_type,steps,factor",
    [("vox", 60, 4.0), ("point", 60, 3.0), ("mesh", 60, 3.0), ("occupancy", 200, 3.0), ("voxmesh", 60, 3.0)],
)
def test_tiny_overfit_lowers_loss_by_a_large_factor(tiny_root, model_type, steps, factor):
    """Four training images, memorised: the loss must fall by a large factor."""
    torch.manual_seed(0)
    dataset = R2N2Dataset(tiny_root, "train", n_points=200, return_meshes=False, quiet=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__([0, 1, 2, 3])), "cpu")
    model = make_model(model_type, **SMALL)
    # BCE with pos_weight 1 (and the default Dice, deep supervision and thin terms for vox)
    loss_fn = loss_for(model_type, **{k: v for k, v in LOSS.items() if k in loss_keys(model_type)})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        loss, _ = loss_fn(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first / factor, f"{model_type}: {first:.4f} -> {last:.4f}"


def test_cubify_meshes_are_in_the_object_frame_like_marching_cubes():
    from geometry.grids import voxels_to_meshes
    from representations.voxmesh import cubify_meshes

    voxels = torch.zeros(1, 32, 32, 32)
    voxels[0, 8:24, 4:28, 0:32] = 1  # [z, y, x]
    cubes = cubify_meshes(voxels).verts_list()[0]
    surface = voxels_to_meshes(voxels).verts_list()[0]
    torch.testing.assert_close(cubes.min(0).values, surface.min(0).values, atol=1e-5, rtol=0)
    torch.testing.assert_close(cubes.max(0).values, surface.max(0).values, atol=1e-5, rtol=0)


def test_voxmesh_refinement_starts_at_the_cubified_mesh_and_learns_from_mesh_losses():
    """Offsets start at zero; a step on the mesh losses moves the vertices, not the voxel branch."""
    torch.manual_seed(0)
    model = make_model("voxmesh", **SMALL, refine_stages=2)  # the default is 1; check the chain of 2
    with torch.no_grad():
        model.decoder.voxels.subcells.bias.fill_(2.0)  # a full grid: cubify has a mesh to refine
    images = torch.rand(2, 137, 137, 3)
    prediction = model(images)
    from representations.voxmesh import cubify_meshes

    torch.testing.assert_close(
        prediction.meshes.verts_packed(), cubify_meshes(torch.sigmoid(prediction.voxels)).verts_packed()
    )
    batch = {
        "images": images,
        "voxels": torch.ones(2, 32, 32, 32),
        "points": torch.rand(2, 300, 3) - 0.5,
        "normals": torch.nn.functional.normalize(torch.randn(2, 300, 3), dim=-1),
    }
    loss, terms = loss_for("voxmesh", n_points=200)(model, batch)
    assert {"bce", "chamfer0", "normal0", "edge0", "chamfer1", "normal1", "edge1"} <= set(terms) and torch.isfinite(
        loss
    )
    loss.backward()
    assert model.decoder.offsets[0].weight.grad.abs().sum() > 0


def test_coordinate_heads_stay_float32_under_autocast():
    """Under bf16 autocast (--amp) the network's trunk may run in bf16, but points, vertices and
    the occupancy decoder's query coordinates are float32: bf16 keeps 8 bits of mantissa, so a
    vertex of a unit shape would move in steps of ~0.004."""
    from representations.occupancy.decoder import sample_volume

    images = torch.rand(2, 64, 64, 3)
    for model_type in ("point", "mesh"):
        model = make_model(model_type, **SMALL).eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            prediction = model(images)
            coordinates = prediction.points if prediction.points is not None else prediction.meshes.verts_packed()
            assert coordinates.dtype == torch.float32, model_type
    volume = torch.randn(1, 4, 8, 8, 8).to(torch.bfloat16)
    points = torch.tensor([[[0.1234567, -0.2345678, 0.3456789]]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sampled = sample_volume(volume, points)
    exact = sample_volume(volume.float(), points)  # the coordinates are not rounded to bf16 on the way
    torch.testing.assert_close(sampled.float(), exact)


def test_the_default_vox_model_at_train_models_defaults():
    """The architecture the default command trains (docs/vox_design.md): 128 px input, layer4's
    4x4 map in the spatial latent, a 256x4^3 projection, coarse logits at 8^3 and 16^3, 32^3
    logits from a sub-pixel convolution and no layer at 32^3; the loss's terms are the chosen ones."""
    from representations.vox.decoder import VoxelDecoder, pixel_shuffle_3d
    from train_model import parse_args, resolve

    config, _, _ = resolve(parse_args(["--type", "vox", "--device", "cpu"]))
    model_args = dict(config.model_args)
    assert model_args["image_size"] == 128 and model_args["vox_decoder"] == "subpixel"
    assert model_args["vox_latent"] == "spatial"
    model = build_model(model_args).eval()
    decoder = model.decoder
    assert isinstance(decoder, VoxelDecoder) and decoder.project.out_features == 256 * 4**3
    assert decoder.project.in_features == 512 + VoxelDecoder.MAP_CHANNELS * 4 * 4  # layer4's map is 4x4 at 128 px
    sizes = []
    for module in decoder.modules():
        if isinstance(module, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)):
            module.register_forward_hook(lambda m, inputs, out: sizes.append(out.shape[-1]))
    with torch.no_grad():
        prediction = model(torch.rand(2, 128, 128, 3))
    coarse = prediction.aux["coarse"]
    assert prediction.voxels.shape == (2, 32, 32, 32) and [a.shape for a in coarse] == [(2, 8, 8, 8), (2, 16, 16, 16)]
    assert sizes and max(sizes) == 16  # every 3D layer works at 16^3 or below
    loss = config.settings
    assert (loss.w_aux, loss.w_dice, loss.w_thin, loss.pos_weight) == (0.5, 1.0, 0.25, 3.0)
    # The shuffle's order: channel group 4 dz + 2 dy + dx lands at [2z + dz, 2y + dy, 2x + dx].
    x = torch.arange(8.0).view(1, 8, 1, 1, 1)
    shuffled = pixel_shuffle_3d(x)[0, 0]
    for dz in range(2):
        for dy in range(2):
            for dx in range(2):
                assert shuffled[dz, dy, dx] == 4 * dz + 2 * dy + dx


@pytest.mark.parametrize("model_type", ["vox", "voxmesh", "occupancy"])
def test_pixel_aligned_models_read_the_image_where_points_project(model_type):
    """With --pixel_aligned a model has a camera head; given cameras it projects with them, without
    it uses its head's; the output cells depend on the pixels they project to."""
    from r2n2.formats import R2N2_K, r2n2_camera

    torch.manual_seed(0)
    model = make_model(model_type, **SMALL, pixel_aligned=True)
    assert model.camera_head is not None
    images = torch.rand(2, 137, 137, 3)
    Rs, Ts = zip(*(r2n2_camera(a, 27.0, 0.8) for a in (30.0, 200.0)))
    cameras = (torch.stack(Rs), torch.stack(Ts), R2N2_K.expand(2, 4, 4))
    queries = torch.rand(2, 50, 3) - 0.5
    given = model(images, queries, cameras=cameras)
    own = model(images, queries)  # the camera head's cameras
    assert set(given.aux["camera"]) == {"azimuth_logits", "elevation", "distance"}
    out = given.voxels if model_type != "occupancy" else given.occupancy
    assert not torch.allclose(out, own.voxels if model_type != "occupancy" else own.occupancy)
    out.float().square().mean().backward()
    reduce = model.decoder.voxels if model_type == "voxmesh" else model.decoder
    pixel = reduce.pixel16 if model_type != "occupancy" else reduce.pixel
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in pixel.parameters())


def test_pixel_unshuffle_inverts_the_shuffle():
    from representations.vox.decoder import pixel_shuffle_3d, pixel_unshuffle_3d

    x = torch.randn(2, 16, 3, 4, 5)
    torch.testing.assert_close(pixel_unshuffle_3d(pixel_shuffle_3d(x)), x)
    y = torch.randn(2, 3, 6, 4, 8)
    torch.testing.assert_close(pixel_shuffle_3d(pixel_unshuffle_3d(y)), y)


def test_the_16_cubed_refinement_is_optional():
    """--no-vox_refine drops the 3x3x3 convolution over the 16^3 volume (and its batch norm), nothing
    else: the same output shape, finite gradients in every parameter that remains; old checkpoints
    keep it (common.legacy); the deconv decoder, which has none, refuses the flag."""
    from representations.vox.decoder import VoxelDecoder
    from train_model import parse_args
    from training.config import ConfigError, resolve_config

    with_refine = make_model("vox", **SMALL, pixel_aligned=True, vox_refine=True)
    without = make_model("vox", **SMALL, pixel_aligned=True, vox_refine=False)
    assert isinstance(without.decoder, VoxelDecoder) and isinstance(without.decoder.refine16, torch.nn.Identity)
    c2 = with_refine.decoder.refine16[0].out_channels
    dropped = sum(p.numel() for p in with_refine.decoder.refine16.parameters())
    assert dropped == c2 * c2 * 27 + c2 + 2 * c2  # the convolution's weights and bias, the batch norm's
    assert sum(p.numel() for p in with_refine.parameters()) - sum(p.numel() for p in without.parameters()) == dropped
    prediction = without(torch.rand(2, 64, 64, 3))
    assert prediction.voxels.shape == (2, 32, 32, 32)
    prediction.voxels.square().mean().backward()
    unused = {"camera_head", "decoder.aux"}  # no camera loss and no coarse outputs in this sum
    for name, p in without.named_parameters():
        if not any(name.startswith(prefix) for prefix in unused):
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    with pytest.raises(ConfigError, match="needs --vox_decoder subpixel"):
        resolve_config(
            vars(parse_args(["--type", "vox", "--vox_decoder", "deconv", "--no-vox_refine"])), default_device="cpu"
        )


def test_the_visible_surface_head_feeds_the_16_cubed_cells_and_its_loss(tiny_root):
    """--vox_surface adds the surface head (aux["surface"] at layer1's resolution) and two channels
    to the 16^3 fusion (each cell's depth against the surface, the coverage there), nothing else;
    the training loss gains its two terms and its gradient reaches the head; without pixel-aligned
    features or with the deconv decoder it is refused in one line, by the decoder and by the flags,
    and --w_surface without it too."""
    from representations.vox.decoder import VoxelDecoder
    from train_model import parse_args
    from training.config import ConfigError, resolve_config

    plain = make_model("vox", **SMALL, pixel_aligned=True)
    model = make_model("vox", **SMALL, pixel_aligned=True, vox_surface=True)
    assert model.decoder.fuse16[0].in_channels == plain.decoder.fuse16[0].in_channels + 2
    head = sum(p.numel() for p in model.decoder.surface_head.parameters())
    assert sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters()) == head + 2 * 32
    dataset = R2N2Dataset(tiny_root, "train", quiet=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__([0, 1])), "cpu")
    prediction = model(batch["images"], cameras=(batch["R"], batch["T"], batch["K"]))
    side = model.encoder(batch["images"], return_maps=True).maps["layer1"].shape[-1]
    assert prediction.aux["surface"].shape == (2, 2, side, side)
    vox_loss = {k: v for k, v in LOSS.items() if k in loss_keys("vox")}
    total, terms = loss_for("vox", **vox_loss)(model, batch)
    assert {"surface_coverage", "surface_depth"} <= set(terms)
    total.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.surface_head.parameters())
    assert "surface_coverage" not in loss_for("vox", **vox_loss, w_surface=0.0)(model, batch)[1]
    with pytest.raises(ModelError, match="needs pixel-aligned features"):
        VoxelDecoder((256, 64, 32), "spatial", 2, True, pixel_aligned=False, surface=True)
    with pytest.raises(ConfigError, match="--vox_surface needs --pixel_aligned"):
        resolve_config(vars(parse_args(["--type", "vox", "--vox_surface", "--no-pixel_aligned"])), default_device="cpu")
    for flags, message in (
        (["--vox_decoder", "deconv", "--vox_surface"], "needs --vox_decoder subpixel"),
        (["--w_surface", "2"], "--w_surface needs --vox_surface"),
    ):
        with pytest.raises(ConfigError, match=message):
            resolve_config(vars(parse_args(["--type", "vox", *flags])), default_device="cpu")
    with pytest.raises(ModelError, match="needs the subpixel vox decoder"):
        make_model("vox", **SMALL, vox_decoder="deconv", vox_surface=True)


def test_grid_features_are_the_cells_features_in_z_y_x_order():
    """grid_features returns a channels-last view of the sampled features: the same numbers as
    turning (B, R^3, C) into (B, C, R, R, R) by a copy, cell [z, y, x] at the centre (x, y, z)."""
    from geometry.grids import grid_centres
    from networks.encoder import Encoding
    from networks.pixel_aligned import grid_features

    class Echo(torch.nn.Module):  # each point's own coordinates as its features
        def forward(self, encoding, points):
            return points * 1.0

    encoding = Encoding(features=torch.zeros(2, 4))
    volume = grid_features(Echo(), encoding, 4)  # (2, 3, 4, 4, 4)
    naive = grid_centres(4).permute(3, 0, 1, 2).expand(2, -1, -1, -1, -1)
    torch.testing.assert_close(volume, naive)
    assert volume.is_contiguous(memory_format=torch.channels_last_3d)
