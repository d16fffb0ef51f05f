"""Fit a voxel grid, a point cloud or a mesh directly to one dataset item (part 1 of the mission).

    python fit_data.py --type vox          # free 32^3 logits, binary cross-entropy
    python fit_data.py --type point        # free point cloud, Chamfer
    python fit_data.py --type mesh         # deformed ico-sphere, Chamfer + w_smooth * Laplacian

Writes output/fit/<type>_<index>.gif: the fitted source (orange) beside the target (blue),
360 degrees.
"""

import common.startup

import argparse
import time

import torch
from tqdm import tqdm

from common.cli import add_flags, default_device, fail, positive_float, positive_int, resolve_device, script_parser
from dataset import DatasetError, R2N2Dataset
from losses import LossConfig
from r2n2.ground_truth import N_SURFACE_POINTS
from representations import DEFAULT_TYPE, get, names
from training.config import type_flags


def fitted_types() -> tuple[str, ...]:
    """The types a free shape of which can be fitted (`Representation.fit_lr`)."""
    return tuple(name for name in names() if get(name).fit_lr is not None)


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Fit a free 3D representation (voxel logits, a point cloud, an ico-sphere) to one shape, part 1 of the "
        "assignment. Writes --out_dir/<type>_<index>.gif (and prints the loss); a rerun replaces it.",
    )
    parser.add_argument("--type", default=DEFAULT_TYPE, choices=fitted_types(), help="the free representation fitted")
    parser.add_argument("--index", type=int, default=0, help="item of the split to fit")
    parser.add_argument("--split", default="train", help="train, val, test or all")
    parser.add_argument(
        "--data_root",
        default=None,
        help="an R2N2-layout folder: the course layout or the two R2N2 archives (default: the embedded dataset)",
    )
    lrs = ", ".join(f"{name} {get(name).fit_lr}" for name in fitted_types())
    parser.add_argument(
        "--lr", type=positive_float, default=None, help=f"Adam learning rate (default: per type: {lrs})"
    )
    parser.add_argument("--max_iter", type=positive_int, default=500, help="optimisation steps")
    parser.add_argument("--log_freq", type=positive_int, default=100, help="steps between log lines")
    parser.add_argument(
        "--n_points",
        type=positive_int,
        default=2000,
        help="points of the fitted cloud, of each mesh sample and of the target (CPU Chamfer cost grows as n_points^2)",
    )
    # The loss weights the fitted types' training takes, with their defaults (their settings' fields).
    owners = type_flags()
    add_flags(parser.add_argument_group("loss"), LossConfig, only=("w_chamfer",))
    for name in fitted_types():
        weights = [f for f in get(name).settings.flag_names() if f.startswith("w_") and set(owners[f]) <= {name}]
        if weights:
            add_flags(parser.add_argument_group(f"--type {name}"), get(name).settings, only=weights)
    parser.add_argument("--device", default=default_device(), help="cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=0, help="what the initialisation and samples are drawn from")
    parser.add_argument("--out_dir", default="output/fit", help="where the GIF goes")
    parser.add_argument("--no_vis", action="store_true", help="skip the GIF")
    return parser


def fit(args, item: dict, device: torch.device) -> tuple[object, float, list[float]]:
    """Optimise the free representation (`Representation.fit_init`, `fit_loss`); returns (the fitted
    shape as a `model.Prediction`, final loss, loss history)."""
    representation = get(args.type)
    given = vars(args)
    settings = representation.settings(**{k: given[k] for k in representation.settings.flag_names() if k in given})
    shared = LossConfig(**{k: given[k] for k in ("w_chamfer",) if k in given})
    state = representation.fit_init(item, args.n_points, device)
    optimizer = torch.optim.Adam(state["params"], lr=args.lr or representation.fit_lr)
    history = []
    with tqdm(range(args.max_iter), desc=f"fit {args.type}", unit="it") as bar:  # closed before any error prints
        for step in bar:
            optimizer.zero_grad(set_to_none=True)
            loss = representation.fit_loss(state, item, args.n_points, settings, shared)
            loss.backward()
            optimizer.step()
            history.append(loss.item())
            if step % args.log_freq == 0 or step == args.max_iter - 1:
                bar.set_postfix(loss=f"{history[-1]:.5f}")
    return representation.fit_shape(state), history[-1], history


def render_fit(shape, item: dict) -> torch.Tensor:
    """Turntable frames: the fitted shape (a `Prediction` of one item: voxel logits, points or a
    mesh) | the target, drawn as the shape is."""
    import utils_vis

    if shape.voxels is not None:
        src = utils_vis.render_voxels_turntable(torch.sigmoid(shape.voxels[0]).cpu(), utils_vis.PRED_COLOR)
        tgt = utils_vis.render_voxels_turntable(item["voxels"], utils_vis.GT_COLOR)
    elif shape.points is not None:
        src = utils_vis.render_points_turntable(shape.points[0].cpu(), utils_vis.PRED_COLOR)
        tgt = utils_vis.render_points_turntable(item["points"], utils_vis.GT_COLOR)
    else:
        meshes = shape.meshes
        src = utils_vis.render_mesh_turntable(
            meshes.verts_packed().cpu(), meshes.faces_packed().cpu(), utils_vis.PRED_COLOR
        )
        tgt = utils_vis.render_mesh_turntable(item["verts"], item["faces"], utils_vis.GT_COLOR)
    return utils_vis.side_by_side(src, tgt)


def main(args: argparse.Namespace) -> dict:
    import os

    import utils_vis

    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    if args.n_points > N_SURFACE_POINTS:
        fail(
            f"--n_points {args.n_points}: the ground truth holds {N_SURFACE_POINTS} surface samples per shape, the "
            f"target of the fit; use at most {N_SURFACE_POINTS}"
        )
    try:
        dataset = R2N2Dataset(args.data_root, args.split, n_points=args.n_points)
    except DatasetError as err:
        fail(str(err))
    if not 0 <= args.index < len(dataset):
        fail(f"--index {args.index} out of range: the {args.split} split has {len(dataset)} items")
    item = dataset[args.index]
    start = time.time()
    shape, final_loss, history = fit(args, item, device)
    seconds = time.time() - start
    print(
        f"fit {args.type} to {item['synset']}/{item['model_id']}: loss {history[0]:.5f} -> {final_loss:.5f} in "
        f"{args.max_iter} iterations, {seconds:.1f}s"
    )
    result = {"type": args.type, "initial_loss": history[0], "final_loss": final_loss, "seconds": seconds}
    if not args.no_vis:
        path = utils_vis.save_gif(os.path.join(args.out_dir, f"{args.type}_{args.index}.gif"), render_fit(shape, item))
        print(f"wrote {path} (left: fitted, right: target)")
        result["gif"] = path
    return result


if __name__ == "__main__":
    common.startup.ready()
    main(get_args_parser().parse_args())
