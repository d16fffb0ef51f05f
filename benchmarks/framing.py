"""How the embedded renderings frame their object: the distribution `photos.prepare.FRAMING` is made of.

    python -m benchmarks.framing [--data_root DIR] [--split train]

Not a test: it prints the median and the 5th / 95th percentiles of the object's bounding box in
every rendering of a split (its longest side and its centre, as fractions of the image side,
`photos.prepare.framing_of`), the figures `photos.prepare.FRAMING` holds.
"""

import argparse

import numpy as np


def measure(data_root: str | None, split: str) -> np.ndarray:
    """(N, 3) fill, centre x, centre y of every rendering of the split."""
    from dataset import R2N2Dataset
    from photos.prepare import framing_of

    dataset = R2N2Dataset(data_root, split, views="all", return_meshes=False, quiet=True)
    masks = dataset.cache["masks"].numpy()
    return np.array([framing_of(mask) for mask in masks if mask.any()])


def main(args: argparse.Namespace) -> dict:
    rows = measure(args.data_root, args.split)
    out = {}
    for k, name in enumerate(("fill", "centre x", "centre y")):
        p5, p50, p95 = np.percentile(rows[:, k], [5, 50, 95])
        out[name] = (p5, p50, p95)
        print(f"{name:9s} median {p50:.3f}  5-95%: {p5:.3f}-{p95:.3f}")
    print(f"({len(rows)} renderings of the {args.split} split)")
    return out


if __name__ == "__main__":
    from common.cli import script_parser

    parser = script_parser(__file__, "Framing of the object in a split's renderings. Prints it; writes nothing.")
    parser.add_argument("--data_root", default=None, help="an R2N2-layout folder (default: the embedded data)")
    parser.add_argument("--split", default="train", help="train, val, test or all")
    from common.cli import run_or_fail
    from r2n2.formats import DatasetError

    run_or_fail(main, parser.parse_args(), DatasetError)
