"""Reconstruct a 3D shape from one image file with a trained checkpoint.

    python reconstruct.py photo.png --checkpoint checkpoints/vox/checkpoint_vox.pth --out output/reconstruct

Any PNG/JPG (any size; RGB, RGBA or grey) is prepared exactly as the dataset prepares its
renderings (`images.prepare_image`: alpha composited over white, resized to 137x137). Writes
<name>_<type>.obj (vox and occupancy through marching cubes at 0.5, mesh as predicted) or
<name>_point.ply, plus <name>_<type>.gif, a turntable of the prediction, in the object frame, and
<name>_<type>.html, a page to turn the prediction round in a browser (offline).
"""

import argparse
import html
import os
import sys

import torch

from checkpoints import model_from_checkpoint
from cli import default_device, fail, positive_int, probability, resolve_device
from evaluation import ISO_TYPES, predicted_meshes
from images import prepare_image
from model import ModelError


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("Single-image 3D reconstruction", add_help=True)
    parser.add_argument("image", help="PNG or JPG file")
    parser.add_argument("--checkpoint", required=True, help="a checkpoint written by train_model.py")
    parser.add_argument("--out", default="output/reconstruct", help="output folder")
    parser.add_argument(
        "--grid_res",
        type=positive_int,
        default=64,
        help="occupancy: marching-cubes grid resolution (coarse to fine from 32^3)",
    )
    parser.add_argument(
        "--iso", type=probability, default=0.5, help="vox, occupancy: the probability at which the surface is extracted"
    )
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--no_gif", action="store_true")
    return parser


def load_image(path: str) -> torch.Tensor:
    """(137, 137, 3) float network input from an image file; exits with a clear line if unreadable."""
    import imageio.v3 as iio

    if not os.path.isfile(path):
        fail(f"image {path} not found")
    try:
        array = iio.imread(path)
    except Exception as err:
        fail(f"cannot read image {path}: {type(err).__name__}")
    if array.ndim == 4:  # animated or multi-page: take the first frame
        array = array[0]
    try:
        return prepare_image(array)
    except ValueError as err:
        fail(f"cannot use image {path}: {err}")


@torch.no_grad()
def reconstruct(model, image: torch.Tensor, grid_res: int = 64, iso: float = 0.5) -> dict:
    """image (137, 137, 3) -> {"verts", "faces"} (object frame) or {"points"}."""
    images = image[None].to(next(model.parameters()).device)
    if model.type == "point":
        return {"points": model(images)[0].float().cpu()}
    meshes, _ = predicted_meshes(model, images, grid_res, iso)
    return {"verts": meshes.verts_list()[0].cpu(), "faces": meshes.faces_list()[0].cpu()}


def main(args: argparse.Namespace) -> list[str]:
    device = resolve_device(args.device)
    image = load_image(args.image)
    try:
        model, _ = model_from_checkpoint(args.checkpoint, device=device)
    except ModelError as err:
        fail(str(err))
    if args.iso != 0.5 and model.type not in ISO_TYPES:
        fail(f"--iso applies to vox and occupancy models; this checkpoint is a {model.type} model")
    prediction = reconstruct(model, image, args.grid_res, args.iso)

    from pytorch3d.io import IO

    import utils_vis

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{os.path.splitext(os.path.basename(args.image))[0]}_{model.type}")
    written = []
    if "points" in prediction:
        from pytorch3d.structures import Pointclouds

        IO().save_pointcloud(Pointclouds([prediction["points"]]), stem + ".ply")
        written.append(stem + ".ply")
        frames = None if args.no_gif else utils_vis.render_points_turntable(prediction["points"])
    else:
        from pytorch3d.io import save_obj

        if len(prediction["faces"]) == 0:
            print("warning: the prediction is empty (no occupancy above 0.5); writing an empty mesh", file=sys.stderr)
        save_obj(stem + ".obj", prediction["verts"], prediction["faces"])
        written.append(stem + ".obj")
        frames = None if args.no_gif else utils_vis.render_mesh_turntable(prediction["verts"], prediction["faces"])
    if frames is not None:
        written.append(utils_vis.save_gif(stem + ".gif", frames))
    written.append(write_reconstruction_page(stem + ".html", args.image, image, model.type, prediction))
    print("wrote " + ", ".join(written))
    print(f"interactive page: {written[-1]}")
    return written


def write_reconstruction_page(
    path: str, image_path: str, image: torch.Tensor, model_type: str, prediction: dict
) -> str:
    """A page (with plotly.min.js beside it) showing the input as the network saw it and the
    prediction in 3D, turnable in a browser."""
    import viewer

    shape = viewer.shape_payload(prediction)
    size = f"{len(prediction['points'])} points" if "points" in prediction else f"{len(prediction['faces'])} faces"
    sample = {
        "image": viewer.image_payload(image.numpy()),
        "caption": f"{os.path.basename(image_path)} -> {model_type} prediction ({size})",
        "shapes": [("prediction", shape, viewer.COLOURS["prediction"])],
    }
    header = (
        f"<p>Input {html.escape(image_path)}, as the network sees it (137x137, transparent pixels over white); "
        "the prediction is in the object frame (y up).</p>"
    )
    return viewer.write_page(
        os.path.dirname(path) or ".",
        f"{os.path.basename(image_path)}: {model_type} reconstruction",
        header,
        [sample],
        name=os.path.basename(path),
    )


if __name__ == "__main__":
    main(get_args_parser().parse_args())
