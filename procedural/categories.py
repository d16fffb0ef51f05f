"""The categories of the embedded dataset and their shape families, drawn by weight.

    family, parts = make_shape("03001627", rng)              # a chair of a family drawn by weight
    family, parts = make_shape("04379243", rng, family="trestle")
    FAMILIES["03001627"]                                      # {name: Family(weight, maker, style)}

Chairs, tables and sofas carry ShapeNet's synset ids; each category's families live in
`chairs.py`, `tables.py` and `sofas.py`. `exclude` leaves families out (held-out families, to
measure transfer to shapes never seen in training).
"""

import numpy as np

from . import chairs, sofas, tables
from .assemblies import assembly
from .furniture import Family
from .parts import Part

SYNSETS = {"03001627": "chair", "04379243": "table", "04256520": "sofa"}
FAMILIES: dict[str, dict[str, Family]] = {
    "03001627": chairs.FAMILIES,
    "04379243": tables.FAMILIES,
    "04256520": sofas.FAMILIES,
}


# Families never drawn by weight, written only when asked for (make_dataset.py --assemblies):
# shapes of no category's grammar, given to each category in turn. "any": materials of every style.
EXTRA_FAMILIES = {"assembly": Family(0.0, assembly, "any")}


def family_synset(family: str) -> str:
    """The synset a family belongs to; ValueError naming the known families otherwise."""
    for synset, members in FAMILIES.items():
        if family in members:
            return synset
    known = ", ".join(f"{SYNSETS[s]}: {' '.join(sorted(m))}" for s, m in FAMILIES.items())
    raise ValueError(f"unknown family {family!r} (known families, {known})")


def draw_family(synset: str, rng: np.random.Generator, exclude=()) -> str:
    """A family of the category, drawn by weight (families in `exclude` are never drawn)."""
    options = {name: f for name, f in FAMILIES[synset].items() if name not in exclude}
    if not options:
        raise ValueError(f"every {SYNSETS[synset]} family is excluded")
    names = sorted(options)
    weights = np.array([options[n].weight for n in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def family_of(synset: str, family: str) -> Family:
    """A family of the category, or one of `EXTRA_FAMILIES`."""
    return FAMILIES[synset][family] if family in FAMILIES[synset] else EXTRA_FAMILIES[family]


def make_shape(synset: str, rng: np.random.Generator, family: str | None = None, exclude=()) -> tuple[str, list[Part]]:
    """(family, parts) of one model of the category, in raw units."""
    family = family or draw_family(synset, rng, exclude)
    return family, family_of(synset, family).maker(rng)
