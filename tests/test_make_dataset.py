import filecmp
import json
import os
import warnings

import numpy as np
import pytest
import torch

import make_dataset
from dataset import R2N2Dataset, read_binvox, voxels_object_frame, voxels_to_meshes
from metrics import compute_sampling_metrics


def test_six_models_give_train_and_test(tmp_path):
    make_dataset.generate(str(tmp_path / "six"), n_models=6, n_views=1, seed=3, workers=1, quiet=True)
    splits = json.load(open(tmp_path / "six" / "splits.json"))
    assert sum(len(m) for m in splits["train"].values()) == 3
    assert sum(len(m) for m in splits["test"].values()) == 3
    assert set(splits["train"]) == set(make_dataset.SYNSETS)


def test_generation_is_deterministic(tiny_root, tmp_path):
    again = str(tmp_path / "again")
    make_dataset.generate(again, n_models=9, n_views=2, seed=0, workers=2, quiet=True)
    for rel in ("splits.json",):
        assert filecmp.cmp(os.path.join(tiny_root, rel), os.path.join(again, rel), shallow=False)
    splits = json.load(open(os.path.join(again, "splits.json")))
    synset, models = next(iter(splits["train"].items()))
    model = next(iter(models))
    for rel in (f"shapenet/{synset}/{model}/model.obj", f"r2n2/ShapeNetVoxels/{synset}/{model}/model.binvox",
                f"r2n2/ShapeNetRendering/{synset}/{model}/rendering/00.png",
                f"r2n2/ShapeNetRendering/{synset}/{model}/rendering/rendering_metadata.txt"):
        assert filecmp.cmp(os.path.join(tiny_root, rel), os.path.join(again, rel), shallow=False), rel


def test_existing_root_is_refused(tiny_root):
    with pytest.raises(FileExistsError):
        make_dataset.generate(tiny_root, n_models=3, n_views=1, quiet=True)


def test_binvox_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    grid = rng.random((32, 32, 32)) > 0.8  # [z, y, x]
    path = str(tmp_path / "v.binvox")
    make_dataset.write_binvox(path, grid)
    coords, dim, translate, scale = read_binvox(path)
    voxels = voxels_object_frame(coords, dim, translate, scale, None, "header")
    assert dim == 32 and np.array_equal(voxels.bool().numpy(), grid)


def test_voxels_are_solid_and_zyx():
    """A box part wider in x than in z: the grid's last axis must be x, the interior filled."""
    part = make_dataset.box(-0.4, 0.4, -0.1, 0.1, -0.2, 0.2)
    grid = make_dataset.voxelize_parts([part])
    extent = [int(grid.any(axis=tuple(a for a in range(3) if a != k)).sum()) for k in range(3)]
    # Lengths z 0.4, y 0.2, x 0.8 of the 1.0 cube at 32 cells: 12.8, 6.4 and 25.6 cells, give or
    # take the boundary cells that are at least a quarter covered.
    for cells, length in zip(extent, (0.4, 0.2, 0.8)):
        assert abs(cells - 32 * length) <= 2
    # Solid, not a shell: every cell inside the occupied extents' boundary layer is filled
    # (boundary edge cells may drop out, being under a quarter covered).
    occupied = [np.flatnonzero(grid.any(axis=tuple(a for a in range(3) if a != k))) for k in range(3)]
    inner = tuple(slice(cells[0] + 1, cells[-1]) for cells in occupied)
    assert grid[inner].all() and grid[inner].size >= 10 * 4 * 22


def test_pytorch3d_r2n2_loads_generated_data(tiny_root):
    from pytorch3d.datasets import R2N2

    ours = R2N2Dataset(tiny_root, "train", quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = R2N2(
            "train", os.path.join(tiny_root, "shapenet"), os.path.join(tiny_root, "r2n2"), os.path.join(tiny_root, "splits.json"),
            return_voxels=True, voxels_rel_path="ShapeNetVoxels", load_textures=False, return_all_views=True,
        )
    assert len(theirs) == len(ours.entries)
    item = ours[0]
    model = theirs[theirs.model_ids.index(item["model_id"])]
    assert model["voxels"].shape[0] == 2 and model["voxels"].sum() > 0
    torch.testing.assert_close(model["images"][0], item["images"])
    torch.testing.assert_close(model["R"][0], item["R"])
    torch.testing.assert_close(model["T"][0], item["T"])
    torch.testing.assert_close(model["K"][0], item["K"])
    torch.testing.assert_close(model["verts"], item["verts"])


def test_voxel_surface_agrees_with_mesh_on_every_model(tiny_root):
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes

    splits = json.load(open(os.path.join(tiny_root, "splits.json")))
    checked = 0
    for split in (s for s, synsets in splits.items() if any(synsets.values())):
        ds = R2N2Dataset(tiny_root, split, views="first", quiet=True)
        checked += len(ds)
        for i in range(len(ds)):
            item = ds[i]
            torch.manual_seed(0)
            vox_mesh = voxels_to_meshes(item["voxels"][None])
            points_vox = sample_points_from_meshes(vox_mesh, 5000)[0]
            points_mesh = sample_points_from_meshes(Meshes([item["verts"]], [item["faces"]]), 5000)[0]
            f1 = compute_sampling_metrics(points_vox, points_mesh, (0.05,))["F1@0.050000"]
            assert f1 >= 95.0, f"{item['model_id']}: F1@0.05 {f1:.1f}"
    assert checked == 9


def test_mesh_rendered_with_item_camera_matches_alpha(tiny_root):
    from pytorch3d.datasets.r2n2.utils import BlenderCamera
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    ds = R2N2Dataset(tiny_root, "train", quiet=True)
    for i in range(len(ds)):
        item = ds[i]
        cameras = BlenderCamera(R=item["R"][None], T=item["T"][None], K=item["K"][None])
        rasterizer = MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=137))
        silhouette = rasterizer(Meshes([item["verts"]], [item["faces"]])).pix_to_face[0, ..., 0] >= 0
        iou = (silhouette & item["masks"]).sum() / (silhouette | item["masks"]).sum()
        assert iou >= 0.95, f"item {i}: IoU {iou:.3f}"
