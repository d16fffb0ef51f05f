"""A figure of photos through reconstruct.py: the image the network saw, then each checkpoint's shape.

    python -m benchmarks.photo_figure data/photo_like_test/0012.jpg data/photo_like_test/0068.jpg \
        --checkpoints checkpoints/vox/checkpoint_vox.pth checkpoints/point/checkpoint_point.pth \
        --out output/results/photos_by_eye.png

Not a test: a figure to judge by eye. One row per photo: the framed network input
(`photos.prepare.prepare_photo`), then two turntable frames of each checkpoint's reconstruction (the GIFs
`reconstruct.py` writes, into a temporary folder).
"""

import argparse
import os
import tempfile

import numpy as np

FRAMES = (2, 8)  # of reconstruct.py's turntable: two sides of the shape
CELL = 128


def cell(image: np.ndarray) -> np.ndarray:
    import cv2

    image = image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, 2)
    return cv2.resize(np.ascontiguousarray(image), (CELL, CELL), interpolation=cv2.INTER_AREA)


def main(args: argparse.Namespace) -> str:
    import imageio.v3 as iio

    import reconstruct
    import utils_vis

    rows = [[cell((reconstruct.load_photo(path)[1].image.numpy() * 255).astype(np.uint8))] for path in args.photos]
    titles = ["network input"]
    with tempfile.TemporaryDirectory() as folder:
        for k, checkpoint in enumerate(args.checkpoints):
            out = os.path.join(folder, str(k))
            written = reconstruct.main(
                reconstruct.get_args_parser().parse_args([*args.photos, "--checkpoint", checkpoint, "--out", out])
            )
            gifs = [path for path in written if path.endswith(".gif")]
            for row, gif in zip(rows, gifs):
                frames = iio.imread(gif)
                row += [cell(frames[i]) for i in FRAMES]
            titles.append(os.path.relpath(checkpoint))
    figure = np.concatenate([np.concatenate(row, 1) for row in rows], 0)
    strip = np.concatenate(
        [utils_vis.title_strip(titles[0], CELL)] + [utils_vis.title_strip(t, 2 * CELL) for t in titles[1:]], 1
    )
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    iio.imwrite(args.out, np.concatenate([strip, figure], 0))
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    from common.cli import script_parser

    parser = script_parser(
        __file__, "Photos through reconstruct.py, side by side, in one figure (--out, replaced on a rerun)."
    )
    parser.add_argument("photos", nargs="+", help="photo files")
    parser.add_argument("--checkpoints", nargs="+", required=True, help="checkpoints of train_model.py")
    parser.add_argument("--out", default="output/results/photos_by_eye.png", help="the figure")
    main(parser.parse_args())
