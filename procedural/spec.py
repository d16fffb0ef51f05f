"""What a generated dataset is: its world (size, views, seed, layout, held-out families, frame, viewpoints).

    spec = DatasetSpec(n_models=30, layout="archives", seed=1)    # make_dataset.py's flags are its fields
    spec.views()                                                  # 24 for the archives layout
    DEFAULT_WORLD                                                 # the embedded default, as its record states it

Each field is also make_dataset.py's flag of the same name (`common.flags.flag`); its default
here is the embedded dataset's, and the only one.
"""

import dataclasses
from dataclasses import dataclass

from common.flags import flag

from .shape_files import LAYOUTS, TURNS, VIEWPOINTS


@dataclass(frozen=True)
class DatasetSpec:
    n_models: int = flag(1000, "models over all categories (about a third per category)", "positive_int")
    n_views: int | None = flag(
        None, "rendered views per model (left out: 4; 24, as R2N2, with --layout archives)", "positive_int"
    )
    seed: int = flag(0, "a shape's identity is (seed, category, index)", "int")
    layout: str = flag(
        "course", "course: the course layout with meshes and splits.json; archives: exactly what R2N2's "
        "ShapeNetRendering + ShapeNetVox32 archives hold (no meshes, no split file, centred binvox grids)",
        choices=LAYOUTS,
    )  # fmt: skip
    holdout: tuple = flag(
        (), "shape families whose models go to a split 'heldout' (never trained on), e.g. cantilever folding_x",
        nargs="*", metavar="FAMILY",
    )  # fmt: skip
    holdout_report: tuple = flag(
        (), "a second group of held-out families, in a split 'heldout_report' (looked at once, for the final table), "
        "e.g. rocking trestle chaise", nargs="*", metavar="FAMILY",
    )  # fmt: skip
    assemblies: int = flag(
        0, "also write this many random assemblies of boards, rods and tubes, to the train split only "
        "(procedural/assemblies.py); the world's own shapes stay the same", "non_negative_int",
    )  # fmt: skip
    turn: int = flag(
        0, "write every model turned by this many degrees about y, out of ShapeNet's frame: a fixture for "
        "eval_model.py's frame check", "int", choices=TURNS,
    )  # fmt: skip
    viewpoints: str = flag(
        "r2n2", "r2n2: every view from 25-30 degrees of elevation, as R2N2; photo: every other view from 0-20 "
        "degrees, the height product and phone photos are taken from (for reconstruct.py on photos)",
        choices=VIEWPOINTS,
    )  # fmt: skip

    def views(self) -> int:
        """The views per model: n_views, or the layout's default (R2N2's 24 in the archives layout)."""
        return self.n_views or (24 if self.layout == "archives" else 4)

    def request(self) -> dict:
        """The world as a generator record states it (lists for the families, views resolved)."""
        values = dataclasses.asdict(self)
        values.update(n_views=self.views(), holdout=list(self.holdout), holdout_report=list(self.holdout_report))
        return values


# The embedded default world (everything but its size, which R2N2_EMBEDDED_MODELS may change).
DEFAULT_WORLD = {k: v for k, v in DatasetSpec().request().items() if k != "n_models"}
