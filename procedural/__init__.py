"""The procedural world: chairs, tables and sofas generated as R2N2 / ShapeNet files.

    from procedural import write_dataset, GENERATOR_VERSION
    write_dataset("data/embedded", DatasetSpec(n_models=1000, n_views=4, seed=0))

The rest of the project enters the package only here: `write_dataset` writes a dataset that
every reader treats as R2N2 data (the embedded default, or a fixture of R2N2's archives),
`write_photo_set` photo-like JPEGs of a dataset's models (what reconstruct.py meets), and
`GENERATOR_VERSION` lets readers refuse data of another generator. Inside, bottom to top:

    parts.py        the grammar's solids, each with an exact inside test and a mesh
    shapes.py       a shape as a union of parts: mesh, ShapeNet frame, voxels, exact samples
    furniture.py    pieces the grammars share (legs, tube paths, pedestals, star bases)
    chairs.py, tables.py, sofas.py   the families of each category
    categories.py   the categories and their families, drawn by weight
    materials.py    per-part materials and solid textures
    rendering.py    R2N2-style RGBA renderings with those materials
    shape_files.py  one shape written as OBJ, exact samples, binvox, renderings and metadata
    photos.py       photo-like JPEGs of a dataset's models: backgrounds, framing, photo viewpoints
    assemblies.py   random assemblies of boards, rods and tubes: shapes of no family (--assemblies)
    writer.py       a whole dataset: shapes over worker processes, splits, the record
    default_data.py the data root made ready: the default one generated on first use, stale ones refused
"""

from .categories import SYNSETS
from .default_data import ready_layout
from .photos import write_photo_set
from .shape_files import shape_id, shape_parts
from .shapes import union_contains, voxelize_parts
from .spec import DEFAULT_WORLD, DatasetSpec
from .writer import (
    GENERATOR_VERSION,
    check_replaceable,
    check_request,
    foreign_files,
    read_manifest,
    recover,
    write_dataset,
)

__all__ = [
    "DEFAULT_WORLD",
    "DatasetSpec",
    "SYNSETS",
    "GENERATOR_VERSION",
    "check_replaceable",
    "check_request",
    "foreign_files",
    "read_manifest",
    "ready_layout",
    "recover",
    "shape_id",
    "shape_parts",
    "union_contains",
    "voxelize_parts",
    "write_dataset",
    "write_photo_set",
]
