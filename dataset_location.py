"""Where the data lives.

The course kit hard-codes three paths here; we keep their names so course code ports over, but
derive them from one data root. The default root holds the embedded procedural dataset, which
`make_dataset.py` writes on first use. To use the real R2N2 ShapeNet data, pass
`--data_root DIR` to any script (DIR holds `r2n2/`, `shapenet/` and `splits.json`) or set the
environment variable `R2N2_DATA_ROOT`; no file needs editing.
"""

import os

REPO_DIR = os.path.dirname(os.path.abspath(__file__))

# The embedded dataset is generated here (git-ignored) the first time a script needs it.
EMBEDDED_DATA_ROOT = os.path.join(REPO_DIR, "data", "embedded")
DATA_ROOT = os.environ.get("R2N2_DATA_ROOT", EMBEDDED_DATA_ROOT)

R2N2_PATH = os.path.join(DATA_ROOT, "r2n2")
SHAPENET_PATH = os.path.join(DATA_ROOT, "shapenet")
SPLITS_PATH = os.path.join(DATA_ROOT, "splits.json")


def data_paths(data_root: str | None = None) -> dict[str, str]:
    """The three course paths under `data_root` (default: `DATA_ROOT`)."""
    root = os.path.abspath(data_root or DATA_ROOT)
    return {
        "root": root,
        "r2n2": os.path.join(root, "r2n2"),
        "shapenet": os.path.join(root, "shapenet"),
        "splits": os.path.join(root, "splits.json"),
    }
