"""Where the data lives: the default data root (the embedded dataset), the smoke profile's, and the root's layout.

    layout = detect_layout("DIR")            # course layout or the two R2N2 archives side by side (r2n2/layout.py)
    layout = detect_layout(None)             # the default root: R2N2_DATA_ROOT, else the embedded dataset

The default root holds the embedded procedural dataset, generated on first use; `--data_root DIR`
or the environment variable `R2N2_DATA_ROOT` picks another (and `R2N2_EMBEDDED_ROOT` /
`R2N2_EMBEDDED_MODELS` move and size the embedded one). What a root holds and where each shape's
files are is `r2n2.layout`'s (re-exported here: `shape_paths`, `Layout`, `ShapeEntry`).
"""

import os

from r2n2 import layout as _layout
from r2n2.layout import Layout, ShapeEntry, shape_paths

REPO_DIR = os.path.dirname(os.path.abspath(__file__))

# The embedded dataset is generated here (git-ignored) the first time a script needs it.
# R2N2_EMBEDDED_ROOT moves it (a disk with room, a test's temporary folder); R2N2_EMBEDDED_MODELS
# sizes it (1000 models by default; a root of another size is refused, `procedural.ready_layout`).
EMBEDDED_DATA_ROOT = os.environ.get("R2N2_EMBEDDED_ROOT", os.path.join(REPO_DIR, "data", "embedded"))
EMBEDDED_MODELS = int(
    os.environ.get("R2N2_EMBEDDED_MODELS", "1000")
)  # DatasetSpec.n_models (tests/test_dataset_location.py)
DATA_ROOT = os.environ.get("R2N2_DATA_ROOT", EMBEDDED_DATA_ROOT)
# The smoke profile's data (train_model.py --profile smoke): a small world of its own, generated on
# first use, so a first run takes minutes; its numbers are not results.
SMOKE_DATA_ROOT = os.path.join(REPO_DIR, "data", "smoke")
SMOKE_MODELS = 60


def detect_layout(data_root: str | None) -> Layout:
    """The layout of a data root (`r2n2.layout.detect_layout`); None: the default root (`DATA_ROOT`)."""
    return _layout.detect_layout(data_root or DATA_ROOT)


__all__ = ["DATA_ROOT", "EMBEDDED_DATA_ROOT", "Layout", "ShapeEntry", "detect_layout", "shape_paths"]
