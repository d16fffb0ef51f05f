"""What grid extraction itself allows: F1 of the *true* solid read out on a grid, per resolution.

    python -m benchmarks.occupancy_ceiling [--data_root DIR] [--resolutions 32 64 128] [--n_models 99]

Not a test: it prints the figures docs/evaluation.md quotes. For each test model of the embedded dataset the
generator's own parts are rebuilt (same seed, category and index as `make_dataset.py`) and
their exact inside test is evaluated at the cell centres of an R^3 grid over [-0.5, 0.5]^3
(binary, as a perfect occupancy network thresholded at each cell), and on an R^3 grid of the
inside fraction of 2^3 sub-samples per cell (a smooth field, as a network's probabilities are,
that lets marching cubes place the surface inside a cell). Each grid goes through exactly the
evaluation path of the occupancy model (marching cubes at 0.5, 5000 samples, F1 against
pointcloud.npz), so the printed F1@0.01 is the ceiling an occupancy model extracted at that
resolution can reach.
"""

import argparse
import itertools
import json
import os
import time

import numpy as np
import torch

from evaluation.metrics import DEFAULT_THRESHOLDS, compute_sampling_metrics, f1_key, voxel_iou
from geometry.grids import ISO, grid_centres, sample_meshes, voxels_to_meshes
from procedural import SYNSETS, shape_id, shape_parts, union_contains, voxelize_parts


def test_models(root: str, n_models: int) -> list[tuple[str, int, str, int]]:
    """(synset, index, model id, seed) of the first n_models test models of an embedded dataset."""
    info = json.load(open(os.path.join(root, "embedded.json")))
    seed, total = info["seed"], info["n_models"]
    test = json.load(open(os.path.join(root, "splits.json")))["test"]
    found = []
    for synset in SYNSETS:
        wanted = set(test.get(synset, {}))
        for index in range(total):
            mid = shape_id(seed, synset, index)
            if mid in wanted:
                found.append((synset, index, mid, seed))
    return found[:n_models]


def inside_grid(parts, resolution: int, subsamples: int) -> torch.Tensor:
    """(R, R, R) [z, y, x] fraction of subsamples^3 points per cell inside the solid."""
    centres = grid_centres(resolution).view(-1, 3).numpy()
    offsets = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    grid = np.zeros(len(centres))
    for dz, dy, dx in itertools.product(offsets, repeat=3):
        grid += union_contains(parts, centres + np.array([dx, dy, dz]) / resolution)
    return torch.as_tensor(grid / subsamples**3, dtype=torch.float32).view(resolution, resolution, resolution)


def f1_of_grid(grid: torch.Tensor, gt_points: torch.Tensor, n_points: int = 5000) -> dict:
    """{threshold: F1} of the marching-cubes surface of grid (R, R, R) against gt_points (M, 3)."""
    torch.manual_seed(0)
    points, _, lengths = sample_meshes(voxels_to_meshes(grid[None], ISO), n_points)
    metrics = compute_sampling_metrics(points, gt_points[None], DEFAULT_THRESHOLDS, lengths)
    return {t: float(metrics[f1_key(t)][0]) for t in DEFAULT_THRESHOLDS}


def main(args: argparse.Namespace) -> None:
    import procedural
    from common.cli import fail
    from r2n2.formats import DatasetError

    try:  # the data root as the scripts find it (dataset_location; the embedded one is generated if absent)
        layout = procedural.ready_layout(args.data_root)
    except DatasetError as err:
        fail(str(err))
    if layout.embedded is None or layout.kind != "course":
        fail(
            f"{layout.root}: this benchmark rebuilds the generator's own shapes, so it needs data that "
            "make_dataset.py wrote in the course layout (embedded.json); real R2N2 data has no exact solid"
        )
    args.data_root = layout.root
    models = test_models(args.data_root, args.n_models)
    settings = [(r, 1) for r in args.resolutions] + [(r, 2) for r in args.resolutions if r <= 64]
    scores = {s: [] for s in settings}
    iou_ceiling = []  # the true solid read at 32^3 cell centres against the (conservative) GT voxels
    start = time.time()
    for synset, index, mid, seed in models:
        _, parts, _ = shape_parts(seed, synset, index)
        gt = np.load(os.path.join(args.data_root, "shapenet", synset, mid, "pointcloud.npz"))["points"]
        gt_points = torch.as_tensor(gt, dtype=torch.float32)[: args.n_points]
        centres = inside_grid(parts, 32, 1) >= 0.5
        iou_ceiling.append(float(voxel_iou(centres[None], torch.from_numpy(voxelize_parts(parts))[None])[0]))
        for resolution, subsamples in settings:
            scores[(resolution, subsamples)].append(
                f1_of_grid(inside_grid(parts, resolution, subsamples), gt_points, args.n_points)
            )
    print(
        f"{len(models)} test models of {args.data_root} in {time.time() - start:.0f}s: the true solid read out on a "
        "grid"
    )
    print("grid                        " + "  ".join(f"F1@{t:.2f}" for t in DEFAULT_THRESHOLDS))
    for (resolution, subsamples), rows in scores.items():
        name = f"{resolution}^3 " + ("binary" if subsamples == 1 else f"fraction of {subsamples}^3")
        print(f"{name:<28}" + "  ".join(f"{np.mean([r[t] for r in rows]):7.1f}" for t in DEFAULT_THRESHOLDS))
    print(
        f"IoU 32^3 against the GT voxels of the true solid read at cell centres (a perfect occupancy model's ceiling): "
        f"mean {np.mean(iou_ceiling):.3f}, min {np.min(iou_ceiling):.3f}, max {np.max(iou_ceiling):.3f}"
    )


if __name__ == "__main__":
    from common.cli import script_parser

    parser = script_parser(__file__, __doc__.split("\n")[0] + " Prints a table; writes nothing.")
    parser.add_argument("--data_root", default=None, help="a dataset of make_dataset.py (default: the embedded one)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64, 128], help="grid resolutions")
    parser.add_argument("--n_models", type=int, default=99, help="test models scored")
    parser.add_argument("--n_points", type=int, default=5000, help="surface samples per side")
    main(parser.parse_args())
