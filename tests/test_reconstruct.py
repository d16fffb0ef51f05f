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
    said = {"vox": "camera: the best of its camera head's 4 likeliest azimuths", "mesh": "camera: none needed"}
    assert said.get(model_type, "camera: ") in proc.stdout  # each reconstruction says its camera
    verts, faces, _ = load_obj(str(tmp_path / f"00_{model_type}.obj"), load_textures=False)
    assert verts.shape[-1] == 3
    gif_bytes = (tmp_path / f"00_{model_type}.gif").stat().st_size
    assert "Plotly.newPlot" in open(tmp_path / f"00_{model_type}.html").read() and (tmp_path / "plotly.min.js").exists()
    if model_type == "mesh":  # the ico-sphere template always has faces; a 2-step vox/occupancy net may predict nothing
        assert len(faces.verts_idx) > 0 and verts.abs().max() <= 1.0 and gif_bytes > 1000
    assert gif_bytes > 0


def test_point_cloud_from_a_non_square_rgb_photo(tiny_checkpoints, tmp_path):
    write_product_photo(tmp_path / "wide.jpg", size=(90, 200))
    proc = reconstruct(tmp_path / "wide.jpg", tiny_checkpoints / "point" / "checkpoint_point.pth", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "mask automatic" in proc.stdout
    cloud = IO().load_pointcloud(str(tmp_path / "out" / "wide_point.ply"))
    assert cloud.points_packed().shape == (100, 3)  # the checkpoint's own n_points
    assert torch.isfinite(cloud.points_packed()).all()


def test_grey_rgba_and_dataset_files_become_the_training_input(tiny_root, tmp_path):
    from dataset import R2N2Dataset
    from photos.files import load_photo
    from photos.prepare import framed_as_training
    from reconstruct import load_image

    iio.imwrite(tmp_path / "grey.png", np.full((64, 64), 100, np.uint8))
    grey = load_photo(str(tmp_path / "grey.png"), plain=True)[1].image  # --plain: the image as it is
    assert grey.shape == (137, 137, 3)
    torch.testing.assert_close(grey, torch.full_like(grey, 100 / 255))

    rgba = np.zeros((137, 137, 4), np.uint8)
    rgba[30:100, 40:90] = (200, 50, 50, 255)
    iio.imwrite(tmp_path / "rgba.png", rgba)
    composited = load_image(str(tmp_path / "rgba.png"))
    torch.testing.assert_close(composited[0, 0], torch.ones(3))  # transparent -> white, as the dataset does
    torch.testing.assert_close(composited[70, 68], torch.tensor([200, 50, 50]) / 255)

    # A rendering file of the dataset gives exactly the image the training loader gives (those
    # framed as training images are, i.e. nearly all: test_photo.py).
    dataset = R2N2Dataset(tiny_root, "all", views="all", quiet=True)
    checked = 0
    for k in range(len(dataset)):
        item = dataset[k]
        if not framed_as_training(item["masks"].numpy().astype(float)):
            continue
        path = os.path.join(
            tiny_root,
            "r2n2",
            "ShapeNetRendering",
            item["synset"],
            item["model_id"],
            "rendering",
            f"{item['view']:02d}.png",
        )
        expected = item["images"].float() / (255.0 if item["images"].dtype == torch.uint8 else 1.0)
        torch.testing.assert_close(load_image(path), expected, atol=1e-6, rtol=0)
        checked += 1
    assert checked >= len(dataset) // 2


def test_unreadable_image_and_bad_checkpoint(tiny_checkpoints, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    proc = reconstruct(
        tmp_path / "broken.png", tiny_checkpoints / "vox" / "checkpoint_vox.pth", tmp_path
    )  # the real CLI once
    assert proc.returncode == 2 and "cannot read image" in proc.stderr and "Traceback" not in proc.stderr
    write_product_photo(tmp_path / "ok.png")
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
    assert_one_line_error(
        out, "--iso applies to the types whose surface is read off a probability grid (vox, occupancy)"
    )
    assert not (tmp_path / "iso").exists()  # refused before anything is written


def write_product_photo(path, background=240, size=(127, 127)):
    """A dark chair-like object on a plain grey background, filling the frame top to bottom."""
    H, W = size
    image = np.full((H, W, 3), background, np.uint8)
    image[0 : int(0.5 * H), int(0.3 * W) : int(0.7 * W)] = 20  # back
    image[int(0.45 * H) : int(0.55 * H), int(0.2 * W) : int(0.8 * W)] = 25  # seat
    image[int(0.55 * H) :, int(0.46 * W) : int(0.54 * W)] = 30  # column to the floor
    iio.imwrite(path, image, quality=90) if str(path).endswith(".jpg") else iio.imwrite(path, image)
    mask = np.zeros((H, W), np.uint8)
    mask[image[..., 0] < 100] = 255
    return mask


def test_a_folder_and_files_in_one_run_with_masks_and_one_page(tiny_root, tiny_checkpoints, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    write_product_photo(photos / "chair.jpg")
    given = write_product_photo(photos / "stool.png", background=200, size=(90, 160))
    iio.imwrite(photos / "stool_mask.png", given)  # a mask beside its photo is that photo's mask
    rendering = sorted(
        glob.glob(os.path.join(tiny_root, "r2n2", "ShapeNetRendering", "*", "*", "rendering", "00.png"))
    )[0]
    out = tmp_path / "out"
    code, stdout, err = call_main(
        "reconstruct",
        photos,
        rendering,
        "--checkpoint",
        tiny_checkpoints / "mesh" / "checkpoint_mesh.pth",
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert code == 0, err
    for stem in ("chair_mesh", "stool_mesh", "00_mesh"):
        assert (out / f"{stem}.obj").stat().st_size > 0 and (out / f"{stem}.gif").stat().st_size > 1000
    assert not (out / "stool_mask_mesh.obj").exists()  # the mask file is not an input
    assert (
        "chair.jpg: mask automatic" in stdout and "stool.png: mask given" in stdout and "00.png: mask alpha" in stdout
    )
    page = (out / "reconstructions_mesh.html").read_text()
    assert page.count('class="sample"') == 3 and page.count("Plotly") > 0
    for label in ("mask (automatic)", "mask (given)", "mask (alpha)", "network input (framed)", ">network input<"):
        assert label in page, label  # the rendering is already framed as training images: kept as it is


def test_the_page_shows_the_mask_as_used(tmp_path):
    from photos.files import load_photo
    from reconstruct import mask_picture, thumbnail

    true_mask = write_product_photo(tmp_path / "chair.png")
    _, photo = load_photo(str(tmp_path / "chair.png"))
    shown = thumbnail(mask_picture(photo))[..., 0] > 127  # what the page's mask image holds
    assert (shown & (true_mask > 127)).sum() / (shown | (true_mask > 127)).sum() > 0.95


def test_mask_flag_and_plain(tiny_checkpoints, tmp_path):
    mask = write_product_photo(tmp_path / "chair.png")
    iio.imwrite(tmp_path / "my_mask.png", mask)
    checkpoint = tiny_checkpoints / "point" / "checkpoint_point.pth"
    args = ("--checkpoint", checkpoint, "--device", "cpu", "--no_gif")
    code, stdout, err = call_main(
        "reconstruct", tmp_path / "chair.png", "--mask", tmp_path / "my_mask.png", "--out", tmp_path / "a", *args
    )
    assert code == 0 and "mask given" in stdout, err
    code, stdout, err = call_main("reconstruct", tmp_path / "chair.png", "--plain", "--out", tmp_path / "b", *args)
    assert code == 0 and "mask none" in stdout and (tmp_path / "b" / "chair_point.ply").exists(), err


def test_failure_lines_and_nothing_written(tiny_checkpoints, tmp_path):
    checkpoint = tiny_checkpoints / "vox" / "checkpoint_vox.pth"
    out = tmp_path / "out"

    def run(*argv):
        return call_main("reconstruct", *argv, "--checkpoint", checkpoint, "--out", out, "--device", "cpu")

    (tmp_path / "empty").mkdir()
    assert_one_line_error(run(tmp_path / "empty"), "holds no image files")
    write_product_photo(tmp_path / "a.png")
    write_product_photo(tmp_path / "b.png")
    assert_one_line_error(
        run(tmp_path / "a.png", tmp_path / "b.png", "--mask", tmp_path / "a.png"), "--mask gives 1 masks for 2 images"
    )
    iio.imwrite(tmp_path / "wall.jpg", np.full((80, 120, 3), 180, np.uint8))  # no object at all
    result = run(tmp_path / "wall.jpg")
    assert_one_line_error(result, "automatic mask is nearly empty")
    assert "--mask FILE" in result[2]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    code, _, err = run(tmp_path / "a.png", tmp_path / "wall.jpg", tmp_path / "broken.png")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and "wall.jpg" in lines[0] and "cannot read image" in lines[1]
    assert "2 images could not be used; nothing was written" in lines[1]
    assert not out.exists()


def test_photos_are_read_as_they_look(tmp_path):
    """A phone JPEG stored on its side with an EXIF orientation, a CMYK JPEG and a palette PNG
    with a transparent colour are read as a viewer shows them: turned upright, in RGB (no fourth
    channel taken for alpha), and with the palette's transparency as alpha."""
    from PIL import Image

    from photos.files import read_array

    pixels = np.full((20, 40, 3), 250, np.uint8)
    pixels[:, :8] = 0  # a dark band on the left of the stored pixels
    stored = Image.fromarray(pixels)
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the band ends up on top
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = read_array(str(tmp_path / "phone.jpg"))
    assert upright.shape == (40, 20, 3) and upright[:6].mean() < 60 and upright[-20:].mean() > 200

    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    cmyk = read_array(str(tmp_path / "print.jpg"))
    assert cmyk.shape == (20, 40, 3) and cmyk[:, :6].mean() < 60 and cmyk[:, 12:].mean() > 200

    palette = Image.fromarray(pixels).convert("P", palette=Image.Palette.ADAPTIVE, colors=2)
    background = palette.getpixel((30, 10))  # the light colour's index is made transparent
    palette.save(tmp_path / "cutout.png", transparency=background)
    rgba = read_array(str(tmp_path / "cutout.png"))
    assert rgba.shape == (20, 40, 4) and rgba[:, 30, 3].max() == 0 and rgba[:, 2, 3].min() == 255


def test_output_names_never_collide():
    from reconstruct import output_stems

    stems = output_stems(["a.png", "b/a.png", "a_0.png"], "out", "vox")  # the case that collided
    assert len(set(stems)) == 3 and stems[2] == os.path.join("out", "a_0_vox")
    stems = output_stems(["x/a.png", "y/a.jpg", "a_2.png", "b.png"], "out", "vox")
    assert len(set(stems)) == 4 and stems[2] == os.path.join("out", "a_2_vox")


def test_a_users_file_of_an_output_name_is_never_written_over(tiny_checkpoints, tmp_path):
    """Its own outputs of an earlier run are replaced; a file of the same name it did not write
    there (or one edited since) is refused in one line, before any work, and left as it was."""
    checkpoint = tiny_checkpoints / "point" / "checkpoint_point.pth"
    out = tmp_path / "out"
    write_product_photo(tmp_path / "chair.png")

    def run():
        return call_main("reconstruct", tmp_path / "chair.png", "--checkpoint", checkpoint, "--out", out,
                         "--device", "cpu", "--no_gif")  # fmt: skip

    assert run()[0] == 0
    assert run()[0] == 0  # its own outputs: replaced
    (out / "chair_point.ply").write_text("my own edit")
    assert_one_line_error(run(), "chair_point.ply (changed since written)")
    assert (out / "chair_point.ply").read_text() == "my own edit"
    os.remove(out / "chair_point.ply")
    (out / "chair_point.html").write_text("my notes")
    os.remove(out / ".sv3d-written.json")  # as if written by hand before
    assert_one_line_error(run(), "not written here by this project")
    assert (out / "chair_point.html").read_text() == "my notes"


def test_each_reconstruction_and_evaluation_says_what_its_camera_search_weighed():
    """A vox model searching a camera says it fits the mask; one with the visible-surface head says
    it also weighs the head's depth (reconstruct.py's photo_camera, the evaluation's describe_camera)."""
    from evaluation.protocol import describe_camera
    from reconstruct import photo_camera
    from representations import make_model

    plain = make_model("vox", image_size=64)
    surface = make_model("vox", image_size=64, vox_surface=True)
    for describe in (lambda m: photo_camera(m, 4), lambda m: describe_camera(m, "none", 4)):
        assert "mask" in describe(plain) and "depth" not in describe(plain)
        assert "mask and its surface head's depth" in describe(surface)
    assert "depth" not in photo_camera(surface, 0)  # no search: the head's guess alone
