"""Materials of the embedded dataset: per-part wood, fabric, leather, metal, chrome and paint, as
procedural (solid) textures and their reflectance, evaluated per pixel by `rendering.py`.

    materials = assign_materials("office", groups, axes, rng)    # one Material per part
    table = material_table(materials)                            # tensors the shader indexes
    albedo, specular, shininess, mirror = surface(table, part_ids, positions)

Textures are solid: a function of the object-frame position, so they need no UV maps and stay
put on every view. Wood shows growth rings round a grain axis (the part's longest direction)
with streaks along it; fabric a fine noisy weave; leather a mottled grain with glossy highlights;
chrome mostly reflects an environment of sky and floor. A family's style picks which materials
its parts may take (an office chair: metal base, fabric or leather upholstery).
"""

from dataclasses import dataclass

import numpy as np
import torch

from .parts import ACCENT, BACK, CUSHION, FRAME, METAL, SEAT

KINDS = ("paint", "wood", "fabric", "leather", "metal", "chrome")

WOODS = [
    (0.78, 0.62, 0.42),
    (0.55, 0.36, 0.2),
    (0.42, 0.25, 0.14),
    (0.28, 0.17, 0.1),
    (0.7, 0.52, 0.33),
    (0.86, 0.76, 0.6),
]
FABRICS = [
    (0.55, 0.55, 0.55),
    (0.3, 0.3, 0.32),
    (0.72, 0.66, 0.56),
    (0.25, 0.33, 0.48),
    (0.45, 0.22, 0.2),
    (0.3, 0.42, 0.3),
    (0.85, 0.83, 0.78),
    (0.16, 0.16, 0.17),
    (0.6, 0.45, 0.3),
    (0.5, 0.55, 0.62),
]
LEATHERS = [
    (0.1, 0.08, 0.07),
    (0.35, 0.2, 0.11),
    (0.55, 0.33, 0.17),
    (0.85, 0.82, 0.76),
    (0.45, 0.1, 0.08),
    (0.2, 0.2, 0.22),
]
PAINTS = [
    (0.92, 0.92, 0.9),
    (0.12, 0.12, 0.13),
    (0.7, 0.12, 0.1),
    (0.15, 0.3, 0.55),
    (0.9, 0.7, 0.2),
    (0.3, 0.5, 0.35),
    (0.6, 0.6, 0.62),
]
METALS = [(0.6, 0.6, 0.62), (0.12, 0.12, 0.13), (0.85, 0.85, 0.83), (0.5, 0.45, 0.38)]

# Which materials each family style gives each part role, as (kind, weight) choices.
STYLES = {
    "wood": {
        FRAME: [("wood", 0.75), ("paint", 0.25)],
        SEAT: [("same", 0.6), ("fabric", 0.2), ("leather", 0.1), ("paint", 0.1)],
        BACK: [("same", 0.8), ("fabric", 0.2)],
        CUSHION: [("fabric", 0.7), ("leather", 0.3)],
    },
    "office": {
        METAL: [("metal", 0.6), ("chrome", 0.4)],
        CUSHION: [("fabric", 0.6), ("leather", 0.4)],
        ACCENT: [("paint", 1.0)],
        FRAME: [("metal", 1.0)],
        SEAT: [("fabric", 1.0)],
        BACK: [("fabric", 1.0)],
    },
    "upholstered": {
        CUSHION: [("fabric", 0.7), ("leather", 0.3)],
        SEAT: [("same", 0.7), ("fabric", 0.3)],
        FRAME: [("wood", 0.8), ("metal", 0.2)],
        BACK: [("same", 1.0)],
    },
    "tube": {
        METAL: [("chrome", 0.6), ("metal", 0.4)],
        SEAT: [("leather", 0.3), ("wood", 0.35), ("fabric", 0.2), ("paint", 0.15)],
        BACK: [("same", 0.8), ("fabric", 0.2)],
        CUSHION: [("leather", 0.5), ("fabric", 0.5)],
        FRAME: [("metal", 1.0)],
    },
    "wood_or_metal": {
        FRAME: [("wood", 0.5), ("metal", 0.3), ("paint", 0.2)],
        METAL: [("chrome", 0.5), ("metal", 0.5)],
        SEAT: [("wood", 0.4), ("leather", 0.3), ("fabric", 0.15), ("paint", 0.15)],
        BACK: [("same", 1.0)],
        CUSHION: [("leather", 0.5), ("fabric", 0.5)],
    },
    "modern": {
        METAL: [("metal", 0.4), ("chrome", 0.3), ("paint", 0.3)],
        SEAT: [("paint", 0.5), ("fabric", 0.3), ("leather", 0.2)],
        BACK: [("same", 1.0)],
        FRAME: [("paint", 1.0)],
        CUSHION: [("fabric", 1.0)],
    },
    "table": {
        SEAT: [("wood", 0.65), ("paint", 0.25), ("metal", 0.1)],
        FRAME: [("same", 0.55), ("wood", 0.15), ("metal", 0.2), ("paint", 0.1)],
        METAL: [("metal", 0.5), ("chrome", 0.3), ("paint", 0.2)],
        ACCENT: [("metal", 1.0)],
    },
    "sofa": {
        CUSHION: [("fabric", 0.75), ("leather", 0.25)],
        SEAT: [("same", 0.8), ("fabric", 0.2)],
        BACK: [("same", 1.0)],
        FRAME: [("same", 0.85), ("wood", 0.15)],
    },
    "sofa_frame": {
        FRAME: [("wood", 0.7), ("metal", 0.3)],
        SEAT: [("fabric", 0.75), ("leather", 0.25)],
        BACK: [("same", 1.0)],
        CUSHION: [("fabric", 1.0)],
    },
}


@dataclass
class Material:
    kind: str
    color: tuple  # base albedo (3,)
    color2: tuple  # second tone: dark wood rings, fabric weave, leather mottling
    specular: float  # strength of the highlight
    shininess: float  # Blinn-Phong exponent
    mirror: float  # share of environment reflection (chrome)
    scale: float  # texture frequency, per object unit
    axis: tuple  # grain direction (unit, object frame)
    origin: tuple  # a point on the growth rings' axis


def _jitter(rng, color, amount=0.06):
    return tuple(np.clip(np.asarray(color) * rng.uniform(0.85, 1.15) + rng.normal(0, amount, 3), 0.02, 0.98))


def make_material(kind: str, rng, axis, centre) -> Material:
    axis = tuple(axis)
    origin = tuple(
        np.asarray(centre) + rng.normal(0, 0.6, 3)
    )  # far off: rings cross a board as near-parallel grain lines
    # Each Material(kind, colour, colour2, specular, shininess, mirror, scale, axis, origin), drawn in that order.
    if kind == "wood":
        base = np.asarray(WOODS[int(rng.integers(len(WOODS)))])
        colours = _jitter(rng, base, 0.03), tuple(base * rng.uniform(0.65, 0.85))
        return Material(
            kind, *colours, rng.uniform(0.1, 0.35), rng.uniform(10, 30), 0.0, rng.uniform(40, 90), axis, origin
        )
    if kind == "fabric":
        base = np.asarray(FABRICS[int(rng.integers(len(FABRICS)))])
        colours = _jitter(rng, base), tuple(base * rng.uniform(0.7, 0.9))
        return Material(kind, *colours, rng.uniform(0.0, 0.06), 4.0, 0.0, rng.uniform(60, 140), axis, origin)
    if kind == "leather":
        base = np.asarray(LEATHERS[int(rng.integers(len(LEATHERS)))])
        colours = _jitter(rng, base, 0.03), tuple(base * 0.75)
        return Material(
            kind, *colours, rng.uniform(0.3, 0.6), rng.uniform(25, 60), 0.0, rng.uniform(30, 70), axis, origin
        )
    if kind == "chrome":
        return Material(kind, (0.35, 0.35, 0.37), (0.3, 0.3, 0.3), 0.9, 90.0, rng.uniform(0.55, 0.8), 1.0, axis, origin)
    if kind == "metal":
        base = np.asarray(METALS[int(rng.integers(len(METALS)))])
        colours = _jitter(rng, base, 0.02), tuple(base)
        shine = rng.uniform(0.4, 0.7), rng.uniform(30, 70), rng.uniform(0.05, 0.2)  # specular, shininess, mirror
        return Material(kind, *colours, *shine, 1.0, axis, origin)
    base = np.asarray(PAINTS[int(rng.integers(len(PAINTS)))])
    colours = _jitter(rng, base, 0.05), tuple(base)
    return Material(
        "paint", *colours, rng.uniform(0.15, 0.4), rng.uniform(15, 40), 0.0, rng.uniform(8, 20), axis, origin
    )


def _choose(rng, options):
    kinds, weights = zip(*options)
    weights = np.asarray(weights, float)
    return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]


def assign_materials(style: str, groups: list[int], axes: np.ndarray, centres: np.ndarray, rng) -> list[Material]:
    """One material per part: parts of the same role share one; "same" reuses the material of
    the first role drawn (a chair's seat in its frame's wood, a sofa upholstered all over).
    axes, centres (P, 3): each part's grain direction and centre."""
    if style == "any":  # a style drawn for the shape (random assemblies belong to none)
        style = sorted(STYLES)[int(rng.integers(len(STYLES)))]
    table = STYLES[style]
    prototypes: dict[int, Material] = {}
    first = None
    # Roles that may copy another come after those that cannot, so "same" has a material to copy.
    for group in sorted(set(groups), key=lambda g: (any(kind == "same" for kind, _ in table.get(g, [])), g)):
        kind = _choose(rng, table.get(group, [("paint", 1.0)]))
        if kind == "same" and first is not None:
            prototypes[group] = first
            continue
        kind = "paint" if kind == "same" else kind
        if group == ACCENT and kind == "paint":  # knobs, handles, mechanisms: dark plastic
            prototypes[group] = Material(
                "paint",
                tuple(rng.uniform(0.05, 0.2) * np.ones(3)),
                (0.1, 0.1, 0.1),
                0.3,
                30.0,
                0.0,
                10.0,
                (0, 1, 0),
                (0, 0, 0),
            )
        else:
            prototypes[group] = make_material(kind, rng, (0, 1, 0), (0, 0, 0))
        first = first or prototypes[group]
    # The grain follows each part's own axis, its rings centred off the part (flat-sawn look).
    return [
        Material(
            **{
                **prototypes[g].__dict__,
                "axis": tuple(a),
                "origin": tuple(np.asarray(c) + np.asarray(prototypes[g].origin)),
            }
        )
        for g, a, c in zip(groups, axes, centres)
    ]


def material_table(materials: list[Material]) -> dict[str, torch.Tensor]:
    """Per-part parameters as tensors (P, ...) for the shader."""
    return {
        "kind": torch.tensor([KINDS.index(m.kind) for m in materials]),
        "color": torch.tensor([m.color for m in materials], dtype=torch.float32),
        "color2": torch.tensor([m.color2 for m in materials], dtype=torch.float32),
        "specular": torch.tensor([m.specular for m in materials], dtype=torch.float32),
        "shininess": torch.tensor([m.shininess for m in materials], dtype=torch.float32),
        "mirror": torch.tensor([m.mirror for m in materials], dtype=torch.float32),
        "scale": torch.tensor([m.scale for m in materials], dtype=torch.float32),
        "axis": torch.tensor([m.axis for m in materials], dtype=torch.float32),
        "origin": torch.tensor([m.origin for m in materials], dtype=torch.float32),
    }


def _hash(ix: torch.Tensor, iy: torch.Tensor, iz: torch.Tensor) -> torch.Tensor:
    """A pseudo-random value in [0, 1) per integer lattice point (int64 tensors)."""
    h = ix * 374761393 + iy * 668265263 + iz * 2147483647
    h = (h ^ (h >> 13)) * 1274126177
    h = h ^ (h >> 16)
    return (h & 0xFFFF).float() / 65536.0


def value_noise(points: torch.Tensor) -> torch.Tensor:
    """Smooth lattice noise in [0, 1] of points (M, 3): trilinear blend of hashed corner values."""
    cell = points.floor()
    frac = points - cell
    frac = frac * frac * (3 - 2 * frac)  # smoothstep: no creases at cell faces
    i = cell.long()
    out = torch.zeros(len(points), device=points.device)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                weight = (
                    (frac[:, 0] if dx else 1 - frac[:, 0])
                    * (frac[:, 1] if dy else 1 - frac[:, 1])
                    * (frac[:, 2] if dz else 1 - frac[:, 2])
                )
                out += weight * _hash(i[:, 0] + dx, i[:, 1] + dy, i[:, 2] + dz)
    return out


def fbm(points: torch.Tensor, octaves: int = 3) -> torch.Tensor:
    """Fractal sum of value noise, about [0, 1]."""
    total, amplitude, norm = torch.zeros(len(points), device=points.device), 1.0, 0.0
    for k in range(octaves):
        total += amplitude * value_noise(points * (2.0**k) + 17.0 * k)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


def surface(table: dict, part_ids: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Albedo (M, 3), specular (M,), shininess (M,), mirror (M,) of surface points positions
    (M, 3) (object frame) on parts part_ids (M,)."""
    kind = table["kind"][part_ids]
    color, color2, scale = table["color"][part_ids], table["color2"][part_ids], table["scale"][part_ids]
    albedo = color.clone()
    p = positions * scale[:, None]

    wood = kind == KINDS.index("wood")
    if wood.any():
        axis, origin = table["axis"][part_ids[wood]], table["origin"][part_ids[wood]]
        d = positions[wood] - origin
        radial = (d - (d * axis).sum(1, keepdim=True) * axis).norm(dim=1)  # distance to the grain axis
        wobble = fbm(positions[wood] * 6.0)
        rings = torch.frac(radial * scale[wood] * 0.6 + 1.5 * wobble)
        tone = torch.sigmoid((rings - 0.75) * 14)  # thin dark latewood bands
        along = (d * axis).sum(1, keepdim=True)
        streaks = 0.15 * value_noise(
            (d - along * axis) * 90.0 + along * axis * 4.0
        )  # fibres: fine across the grain, long along it
        albedo[wood] = (color[wood] * (1 - tone[:, None]) + color2[wood] * tone[:, None]) * (0.92 + streaks)[:, None]
    fabric = kind == KINDS.index("fabric")
    if fabric.any():
        grain = fbm(p[fabric], 2)
        weave = 0.5 + 0.5 * torch.sin(p[fabric][:, 0] * 6.28) * torch.sin((p[fabric][:, 1] + p[fabric][:, 2]) * 6.28)
        mix = (0.55 * grain + 0.45 * weave)[:, None]
        albedo[fabric] = color[fabric] * (1 - 0.35 * mix) + color2[fabric] * 0.35 * mix
    leather = kind == KINDS.index("leather")
    if leather.any():
        mottle = fbm(p[leather], 3)[:, None]
        albedo[leather] = color[leather] * (0.8 + 0.35 * mottle)
    paint = kind == KINDS.index("paint")
    if paint.any():
        albedo[paint] = color[paint] * (0.96 + 0.08 * value_noise(p[paint]))[:, None]
    return albedo.clamp(0, 1), table["specular"][part_ids], table["shininess"][part_ids], table["mirror"][part_ids]
