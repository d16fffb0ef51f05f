"""Reconstruct 3D shapes from image files (photos or renderings) with a trained checkpoint.

    python reconstruct.py photo.jpg --checkpoint checkpoints/vox/checkpoint_vox.pth --out output/reconstruct
    python reconstruct.py my_photos/ a.png b.jpg --checkpoint ...     # a folder and files, in one run
    python reconstruct.py chair.jpg --mask chair_mask.png --checkpoint ...   # your own mask

Any PNG/JPG (any size; RGB, RGBA or grey) is made ready as a photo (`photos.prepare.prepare_photo`): the
object is found (the image's alpha; a mask given with --mask or lying beside the photo as
<name>_mask.png; else an automatic mask of a plain background), composited on white and framed
as the training renderings are. --plain skips that and uses the whole image as it is (alpha over
white, resized to 137x137). For each image it writes <name>_<type>.obj (the predicted mesh; vox and
occupancy through marching cubes at --iso) or, for a point cloud, <name>_<type>.ply, and <name>_<type>.gif,
a turntable of the prediction in the object frame; and one page for the run (<name>_<type>.html
for one image, reconstructions_<type>.html for several) with a row per image: the input, the
mask, the framed image the network saw, and the shape to turn round (offline).

Every image is read and masked before the model runs: an unreadable image or a failed mask is
said in one line each and nothing is written.
"""

import common.startup

import argparse
import dataclasses
import os
import sys

import numpy as np
import torch

from common.atomic_io import atomic_path
from common.cli import add_flags, default_device, fail, given_flags, resolve_device, script_parser
from common.flags import ConfigError
from common.written import add_to_record, not_written
from evaluation.config import ReconstructConfig, can_search_camera, check_iso, resolve_reconstruct_config
from evaluation.viewer import NoPlotlyJs
from geometry.grids import keep_largest_parts
from model import ModelError
from photos.files import IMAGE_EXTENSIONS, is_mask_file, load_photo, mask_beside
from photos.prepare import Photo, PhotoError
from representations import get as get_representation
from training.checkpoints import model_from_checkpoint


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Reconstruct 3D shapes from image files with a trained checkpoint. Writes into --out, per image, "
        "<name>_<type>.obj (or .ply) and .gif, and one page; a rerun writes the same names again, replacing "
        "them (inputs whose names meet take _2, _3, ...).",
    )
    add_flags(parser, ReconstructConfig)
    return parser


def collect_inputs(paths: list[str]) -> list[str]:
    """The image files named or inside the folders named (sorted, not recursive; files named
    <name>_mask.* inside a folder are masks, not inputs), each once, in order."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if name.lower().endswith(IMAGE_EXTENSIONS) and not is_mask_file(name)
            )
            if not found:
                fail(f"folder {path} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
            files += found
        elif os.path.isfile(path):
            files.append(path)
        else:
            fail(f"image {path} not found")
    return list(dict.fromkeys(files))


def load_image(path: str) -> torch.Tensor:
    """(137, 137, 3) float network input of an image file, prepared as a photo; exits with a
    clear line if unreadable or unusable."""
    if not os.path.isfile(path):
        fail(f"image {path} not found")
    try:
        return load_photo(path)[1].image
    except PhotoError as err:
        fail(str(err))


def load_all(args: ReconstructConfig) -> list[tuple[str, np.ndarray, Photo]]:
    """Every input read and made ready before anything else happens; all failures said, one line
    each, then exit 2."""
    inputs = collect_inputs(args.images)
    if args.mask is not None and len(args.mask) != len(inputs):
        fail(f"--mask gives {len(args.mask)} masks for {len(inputs)} images: give one mask per image, in order")
    if args.plain and args.mask is not None:
        fail("--plain uses each image as it is: it takes no --mask")
    masks = args.mask or [mask_beside(path) for path in inputs]
    loaded, errors = [], []
    for path, mask_path in zip(inputs, masks):
        try:
            array, photo = load_photo(path, mask_path, args.plain)
        except PhotoError as err:
            errors.append(str(err))
            continue
        # Only what the page shows is kept: a folder of large photos is never held in memory whole.
        loaded.append((path, thumbnail(array), dataclasses.replace(photo, mask=thumbnail_mask(photo.mask))))
    for line in errors[:-1]:
        print(f"error: {line}", file=sys.stderr)
    if errors:
        fail(
            errors[-1] + (f" ({len(errors)} images could not be used; nothing was written)" if len(errors) > 1 else "")
        )
    return loaded


def photo_camera(model, search: int, searched_for: int = 0) -> str:
    """What camera a photo's reconstruction went through, in words (each reconstruction says it)."""
    if getattr(model, "camera_head", None) is None:
        return "none needed (the model reads no pixels where points project)"
    if model.frame == "viewer":
        return "none needed (viewer frame: the shape as seen, at the distance the model guesses)"
    if search:
        from representations.vox.camera_search import weighs_depth

        depth = " and its surface head's depth" if weighs_depth(model) else ""
        return (
            f"the best of its camera head's {search} likeliest azimuths by how the shape fits the photo's mask{depth} "
            "(elevation and distance its head's, R2N2's intrinsics)"
        )
    missing = " (no mask to search with: --plain)" if searched_for else ""
    return f"its camera head's guess (azimuth, elevation, distance; R2N2's intrinsics){missing}"


@torch.no_grad()
def reconstruct(model, photo: Photo, grid_res: int, iso: float, clean: bool = False, camera_search: int = 0) -> dict:
    """A prepared photo (its image (137, 137, 3) and input mask) -> {"verts", "faces"} or {"points"},
    in the model's frame (the object's,
    or the camera's for a viewer-frame model: the object as seen), as the type predicts for
    evaluation (`Representation.predict`): its mesh, or its points when it has none. A prepared
    photo is framed as R2N2 renders (`photos.prepare`): a model that reads pixels where points
    project takes R2N2's intrinsics for it, and guesses the rest of its camera (the best of its
    camera_search likeliest by how they fit the photo's mask). clean: only the mesh's largest
    connected parts are kept (`geometry.grids.keep_largest_parts`)."""
    from r2n2.formats import R2N2_K

    device = next(model.parameters()).device
    images = photo.image[None].to(device)
    masks = torch.from_numpy(photo.input_mask)[None].to(device) if photo.input_mask is not None else None
    prediction = get_representation(model.type).predict(
        model, images, grid_res, iso, intrinsics=R2N2_K, masks=masks, camera_search=camera_search
    )
    if prediction.meshes is None:
        return {"points": prediction.points[0].float().cpu()}
    meshes = keep_largest_parts(prediction.meshes) if clean else prediction.meshes
    return {"verts": meshes.verts_list()[0].cpu(), "faces": meshes.faces_list()[0].cpu()}


def output_stems(paths: list[str], out: str, model_type: str) -> list[str]:
    """out/<name>_<type> for each input, all different: a name that two inputs share (a.png and
    a.jpg, or a/x.png and b/x.png) takes a number, _2, _3, ..., skipping any that another input's
    own name already gives (a_2.png beside two a.png)."""
    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    taken = set(names) if len(set(names)) < len(names) else set()
    stems, used = [], set()
    for name in names:
        candidate, k = name, 1
        while candidate in used or (k > 1 and candidate in taken):
            k += 1
            candidate = f"{name}_{k}"
        used.add(candidate)
        stems.append(os.path.join(out, f"{candidate}_{model_type}"))
    return stems


def write_prediction(stem: str, prediction: dict, gif: bool) -> list[str]:
    """stem.obj or stem.ply, and stem.gif unless gif is False; the paths written."""
    from pytorch3d.io import IO, save_obj

    import utils_vis

    if "points" in prediction:
        from pytorch3d.structures import Pointclouds

        with atomic_path(stem + ".ply", suffix=".ply") as tmp:
            IO().save_pointcloud(Pointclouds([prediction["points"]]), tmp)
        written = [stem + ".ply"]
        frames = utils_vis.render_points_turntable(prediction["points"]) if gif else None
    else:
        if len(prediction["faces"]) == 0:
            print(f"warning: {stem}: the prediction is empty (no occupancy above --iso); writing an empty mesh")
        with atomic_path(stem + ".obj", suffix=".obj") as tmp:
            save_obj(tmp, prediction["verts"], prediction["faces"])
        written = [stem + ".obj"]
        frames = utils_vis.render_mesh_turntable(prediction["verts"], prediction["faces"]) if gif else None
    if frames is not None:
        written.append(utils_vis.save_gif(stem + ".gif", frames))
    return written


def main(args: argparse.Namespace) -> list[str]:
    try:
        config = resolve_reconstruct_config(given_flags(args), default_device())
    except ConfigError as err:
        fail(str(err))
    device = resolve_device(config.device)
    loaded = load_all(config)
    try:
        model, _ = model_from_checkpoint(config.checkpoint, device=device)
        check_iso(config.iso, model.type)
    except (ModelError, ConfigError) as err:
        fail(str(err))
    if model.frame == "viewer":
        print(f"{config.checkpoint}: a viewer-frame model: each shape is written as seen, on the camera's axes")
    try:
        os.makedirs(config.out, exist_ok=True)
    except OSError as err:  # a file of that name, no permission
        fail(f"--out {config.out}: cannot be the output folder ({err.strerror}); give another --out")
    stems = output_stems([path for path, _, _ in loaded], config.out, model.type)
    single = len(loaded) == 1
    page = stems[0] + ".html" if single else os.path.join(config.out, f"reconstructions_{model.type}.html")
    check_outputs(config.out, stems, page)
    written, rows = [], []
    for (path, array, photo), stem in zip(loaded, stems):
        # A search fits the photo's own mask: --plain makes none, so the head's guess is taken.
        search = config.camera_search if can_search_camera(model) and photo.input_mask is not None else 0
        prediction = reconstruct(model, photo, config.grid_res, config.iso, config.clean, search)
        files = write_prediction(stem, prediction, gif=not config.no_gif)
        add_to_record(config.out, OUT_RECORD, files)
        print(f"{path}: mask {photo.mask_source} ({100 * photo.coverage:.0f}% of the image) -> " + ", ".join(files))
        print(f"  camera: {photo_camera(model, search, searched_for=config.camera_search)}")
        written += files
        rows.append(page_row(path, array, photo, model.type, prediction))
    try:
        written.append(write_reconstruction_page(page, model.type, rows, model.frame))
        add_to_record(config.out, OUT_RECORD, written[-1:])
        print(f"interactive page: {written[-1]}")
    except NoPlotlyJs as err:  # the shapes and GIFs are written either way
        print(str(err))
    return written


OUT_RECORD = ".sv3d-written.json"  # in --out: every file reconstruct.py wrote there (size, sha256)


def check_outputs(out: str, stems: list[str], page: str) -> None:
    """Refuse, in one line and before any work, to write over a file in --out that reconstruct.py
    did not write there as its record says (a user's own chair_vox.obj, or one edited since)."""
    targets = [stem + ext for stem in stems for ext in (".obj", ".ply", ".gif")] + [page]
    problems = not_written(out, OUT_RECORD, targets)
    if problems:
        fail(
            f"--out {out} holds files of the names this run writes: {'; '.join(problems)}; move them, or give "
            "another --out"
        )


def thumbnail(array: np.ndarray, side: int = 256) -> np.ndarray:
    """An image's pixels as (h, w, 3) uint8 at most `side` on a side (transparency over white), for the page."""
    import cv2

    from photos.prepare import split_alpha

    rgb, alpha = split_alpha(array)
    if alpha is not None:
        rgb = rgb * alpha[..., None] + (1 - alpha[..., None])
    scale = min(1.0, side / max(rgb.shape[:2]))
    if scale < 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))  # a 5000x1 image keeps a row
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def thumbnail_mask(mask: np.ndarray, side: int = 256) -> np.ndarray:
    """A mask (H, W) float at most `side` on a side (its coverage and picture for the page)."""
    import cv2

    scale = min(1.0, side / max(mask.shape[:2]))
    if scale == 1:
        return mask
    size = (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale)))
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)


def mask_picture(photo: Photo) -> np.ndarray:
    """The mask as a picture, (H, W) uint8: white object, black background."""
    return (np.clip(photo.mask, 0, 1) * 255 + 0.5).astype(np.uint8)


def page_row(path: str, array: np.ndarray, photo: Photo, model_type: str, prediction: dict) -> dict:
    """One row of the page: the input, its mask and the framed network input beside the shape."""
    from evaluation import viewer

    size = f"{len(prediction['points'])} points" if "points" in prediction else f"{len(prediction['faces'])} faces"
    images = [("input", viewer.image_payload(thumbnail(array)))]
    if photo.mask_source != "none":
        images.append((f"mask ({photo.mask_source})", viewer.image_payload(thumbnail(mask_picture(photo)))))
    images.append(("network input" + (" (framed)" if photo.framed else ""), viewer.image_payload(photo.image.numpy())))
    return {
        "images": images,
        "name": os.path.basename(path),
        "caption": f"{os.path.basename(path)} -> {model_type} prediction ({size})",
        "shapes": [("prediction", viewer.shape_payload(prediction), viewer.COLOURS["prediction"])],
    }


def write_reconstruction_page(path: str, model_type: str, rows: list[dict], frame: str = "object") -> str:
    """A page (with plotly.min.js beside it): a row per image with the input, the mask, the image
    the network saw and the prediction in 3D, turnable in a browser."""
    from evaluation import viewer

    where = "the object frame (y up)" if frame == "object" else "the camera's frame, as seen (y up in the image)"
    header = (
        f"<p>{len(rows)} image(s). Each row: the input, the object's mask (from the image's alpha, a given mask or "
        "an automatic one), the 137x137 image the network saw (the object on white, framed as the training "
        f"renderings are), and the prediction in {where}.</p>"
    )
    title = f"{model_type} reconstructions" if len(rows) > 1 else f"{model_type} reconstruction of {rows[0]['name']}"
    return viewer.write_page(os.path.dirname(path) or ".", title, header, rows, name=os.path.basename(path))


if __name__ == "__main__":
    common.startup.ready()
    main(get_args_parser().parse_args())
