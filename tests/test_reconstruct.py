import glob
import os

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, call_main, run_script
from pytorch3d.io import IO, load_obj


def reconstruct(image, checkpoint, out):
    return run_script(
        "reconstruct.py",
        str(image),
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--grid_res",
        "16",
    )


def reconstruct_in_process(image, checkpoint, out):
    return call_main(
        "reconstruct", image, "--checkpoint", checkpoint, "--out", out, "--device", "cpu", "--grid_res", "16"
    )


@pytest.mark.parametrize("model_type", ["vox", "mesh", "occupancy"])
def test_mesh_outputs_from_a_test_image_load_back(tiny_root, tiny_checkpoints, tmp_path, model_type):
    image = sorted(glob.glob(os.path.join(tiny_root, "r2n2", "ShapeNetRendering", "*", "*", "rendering", "00.png")))[0]
    proc = reconstruct(image, tiny_checkpoints / model_type / f"checkpoint_{model_type}.pth", tmp_path)
    assert proc.returncode == 0, proc.stderr
    verts, faces, _ = load_obj(str(tmp_path / f"00_{model_type}.obj"), load_textures=False)
    assert verts.shape[-1] == 3
    gif_bytes = (tmp_path / f"00_{model_type}.gif").stat().st_size
    assert "Plotly.newPlot" in open(tmp_path / f"00_{model_type}.html").read() and (tmp_path / "plotly.min.js").exists()
    if model_type == "mesh":  # the ico-sphere template always has faces; a 2-step vox/occupancy net may predict nothing
        assert len(faces.verts_idx) > 0 and verts.abs().max() <= 1.0 and gif_bytes > 1000
    assert gif_bytes > 0


def test_point_cloud_from_a_non_square_rgb_image(tiny_checkpoints, tmp_path):
    rng = np.random.default_rng(0)
    image = (rng.random((90, 200, 3)) * 255).astype(np.uint8)
    iio.imwrite(tmp_path / "wide.jpg", image)
    proc = reconstruct(tmp_path / "wide.jpg", tiny_checkpoints / "point" / "checkpoint_point.pth", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    cloud = IO().load_pointcloud(str(tmp_path / "out" / "wide_point.ply"))
    assert cloud.points_packed().shape == (100, 3)  # the checkpoint's own n_points
    assert torch.isfinite(cloud.points_packed()).all()


def test_grey_rgba_and_dataset_files_become_the_training_input(tiny_root, tmp_path):
    from dataset import R2N2Dataset
    from reconstruct import load_image

    iio.imwrite(tmp_path / "grey.png", np.full((64, 64), 100, np.uint8))
    grey = load_image(str(tmp_path / "grey.png"))
    assert grey.shape == (137, 137, 3)
    torch.testing.assert_close(grey, torch.full_like(grey, 100 / 255))

    rgba = np.zeros((137, 137, 4), np.uint8)
    rgba[30:100, 40:90] = (200, 50, 50, 255)
    iio.imwrite(tmp_path / "rgba.png", rgba)
    composited = load_image(str(tmp_path / "rgba.png"))
    torch.testing.assert_close(composited[0, 0], torch.ones(3))  # transparent -> white, as the dataset does
    torch.testing.assert_close(composited[65, 65], torch.tensor([200, 50, 50]) / 255)

    # A rendering file of the dataset gives exactly the image the training loader gives.
    item = R2N2Dataset(tiny_root, "test", views="first", quiet=True)[0]
    path = os.path.join(
        tiny_root, "r2n2", "ShapeNetRendering", item["synset"], item["model_id"], "rendering", f"{item['view']:02d}.png"
    )
    expected = item["images"].float() / (255.0 if item["images"].dtype == torch.uint8 else 1.0)
    torch.testing.assert_close(load_image(path), expected, atol=1e-6, rtol=0)


def test_unreadable_image_and_bad_checkpoint(tiny_checkpoints, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    proc = reconstruct(
        tmp_path / "broken.png", tiny_checkpoints / "vox" / "checkpoint_vox.pth", tmp_path
    )  # the real CLI once
    assert proc.returncode == 2 and "cannot read image" in proc.stderr and "Traceback" not in proc.stderr
    iio.imwrite(tmp_path / "ok.png", np.zeros((10, 10, 3), np.uint8))
    (tmp_path / "junk.pth").write_bytes(b"junk")
    assert_one_line_error(reconstruct_in_process(tmp_path / "ok.png", tmp_path / "junk.pth", tmp_path), "corrupt")
    mesh_checkpoint = tiny_checkpoints / "mesh" / "checkpoint_mesh.pth"
    out = call_main(
        "reconstruct",
        tmp_path / "ok.png",
        "--checkpoint",
        mesh_checkpoint,
        "--out",
        tmp_path / "iso",
        "--device",
        "cpu",
        "--iso",
        "0.3",
    )
    assert_one_line_error(out, "--iso applies to vox and occupancy")
    assert not (tmp_path / "iso").exists()  # refused before anything is written
