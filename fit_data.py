"""Fit a voxel grid, a point cloud or a mesh directly to one dataset item (part 1 of the mission).

    python fit_data.py --type vox          # free 32^3 logits, binary cross-entropy
    python fit_data.py --type point        # free point cloud, Chamfer
    python fit_data.py --type mesh         # deformed ico-sphere, Chamfer + w_smooth * Laplacian

Writes output/fit/<type>_<index>.gif: the fitted source (orange) beside the target (blue),
360 degrees.
"""

import argparse
import time

import torch
from tqdm import tqdm

from common.cli import (
    default_device,
    fail,
    non_negative_float,
    positive_float,
    positive_int,
    resolve_device,
    script_parser,
)
from dataset import DatasetError, R2N2Dataset
from losses import chamfer_loss, smoothness_loss, voxel_loss
from r2n2.ground_truth import N_SURFACE_POINTS

# Adam steps move each free parameter by about lr, so the right lr is set by the scale of the
# parameters: logits change by units, points by fractions of the [-0.5, 0.5] object.
DEFAULT_LR = {"vox": 0.05, "point": 0.005, "mesh": 0.005}


def get_args_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __file__,
        "Fit a free 3D representation (voxel logits, a point cloud, an ico-sphere) to one shape, part 1 of the "
        "assignment. Writes --out_dir/<type>_<index>.gif (and prints the loss); a rerun replaces it.",
    )
    parser.add_argument(
        "--type", default="vox", choices=["vox", "point", "mesh"], help="the free representation fitted"
    )
    parser.add_argument("--index", type=int, default=0, help="item of the split to fit")
    parser.add_argument("--split", default="train", help="train, val, test or all")
    parser.add_argument(
        "--data_root",
        default=None,
        help="an R2N2-layout folder: the course layout or the two R2N2 archives (default: the embedded dataset)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="Adam learning rate (default: per type: vox 0.05, point and mesh 0.005)",
    )
    parser.add_argument("--max_iter", type=positive_int, default=500, help="optimisation steps")
    parser.add_argument("--log_freq", type=positive_int, default=100, help="steps between log lines")
    parser.add_argument(
        "--n_points",
        type=positive_int,
        default=2000,
        help="points of the fitted cloud, of each mesh sample and of the target (CPU Chamfer cost grows as n_points^2)",
    )
    parser.add_argument("--w_chamfer", type=positive_float, default=1.0, help="point, mesh: the Chamfer term")
    parser.add_argument("--w_smooth", type=non_negative_float, default=0.1, help="mesh: Laplacian smoothing")
    parser.add_argument("--device", default=default_device(), help="cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=0, help="what the initialisation and samples are drawn from")
    parser.add_argument("--out_dir", default="output/fit", help="where the GIF goes")
    parser.add_argument("--no_vis", action="store_true", help="skip the GIF")
    return parser


def fit(args, item: dict, device: torch.device) -> tuple[object, float, list[float]]:
    """Optimise the free representation; returns (fitted source, final loss, loss history)."""
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.utils import ico_sphere

    lr = args.lr or DEFAULT_LR[args.type]
    if args.type == "vox":
        voxels_gt = item["voxels"][None].to(device)  # (1, 32, 32, 32)
        source = (0.1 * torch.randn_like(voxels_gt)).requires_grad_(True)
        params = [source]
    elif args.type == "point":
        points_gt = item["points"][None].to(device)  # (1, S, 3)
        source = (0.1 * torch.randn(1, args.n_points, 3, device=device)).requires_grad_(True)
        params = [source]
    else:
        points_gt = item["points"][None].to(device)
        template = ico_sphere(4, device).scale_verts(0.3)
        offsets = torch.zeros_like(template.verts_packed(), requires_grad=True)
        params = [offsets]
    optimizer = torch.optim.Adam(params, lr=lr)

    history = []
    with tqdm(range(args.max_iter), desc=f"fit {args.type}", unit="it") as bar:  # closed before any error prints
        for step in bar:
            optimizer.zero_grad(set_to_none=True)
            if args.type == "vox":
                loss = voxel_loss(source, voxels_gt)
            elif args.type == "point":
                loss = args.w_chamfer * chamfer_loss(source, points_gt)
            else:
                source = template.offset_verts(offsets)
                points_pred = sample_points_from_meshes(source, args.n_points)
                loss = args.w_chamfer * chamfer_loss(points_pred, points_gt) + args.w_smooth * smoothness_loss(source)
            loss.backward()
            optimizer.step()
            history.append(loss.item())
            if step % args.log_freq == 0 or step == args.max_iter - 1:
                bar.set_postfix(loss=f"{history[-1]:.5f}")
    if args.type == "mesh":
        with torch.no_grad():
            source = template.offset_verts(offsets)
    return source, history[-1], history


def render_fit(args, source, item: dict) -> torch.Tensor:
    """Turntable frames: fitted source | target."""
    import utils_vis

    if args.type == "vox":
        src = utils_vis.render_voxels_turntable(torch.sigmoid(source[0].detach()).cpu(), utils_vis.PRED_COLOR)
        tgt = utils_vis.render_voxels_turntable(item["voxels"], utils_vis.GT_COLOR)
    elif args.type == "point":
        src = utils_vis.render_points_turntable(source[0].detach().cpu(), utils_vis.PRED_COLOR)
        tgt = utils_vis.render_points_turntable(item["points"], utils_vis.GT_COLOR)
    else:
        src = utils_vis.render_mesh_turntable(
            source.verts_packed().cpu(), source.faces_packed().cpu(), utils_vis.PRED_COLOR
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
    source, final_loss, history = fit(args, item, device)
    seconds = time.time() - start
    print(
        f"fit {args.type} to {item['synset']}/{item['model_id']}: loss {history[0]:.5f} -> {final_loss:.5f} in "
        f"{args.max_iter} iterations, {seconds:.1f}s"
    )
    result = {"type": args.type, "initial_loss": history[0], "final_loss": final_loss, "seconds": seconds}
    if not args.no_vis:
        path = utils_vis.save_gif(
            os.path.join(args.out_dir, f"{args.type}_{args.index}.gif"), render_fit(args, source, item)
        )
        print(f"wrote {path} (left: fitted, right: target)")
        result["gif"] = path
    return result


if __name__ == "__main__":
    main(get_args_parser().parse_args())
