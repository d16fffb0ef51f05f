"""Furniture pieces every category grammar shares: legs, bent-tube paths, pedestals, star bases, rings.

    legs = four_legs(rng, 0.2, 0.2, 0.0, 0.45, 0.04, "taper_round", splay=0.05)
    path = rounded_path([[0, 0, 0.3], [0, 0.45, 0.25], [0, 0.45, -0.2]], radius=0.06)

Raw units: about a metre; y up, front towards +z, floor at y = 0 (ShapeNet v1's axes before
normalisation). `chairs.py`, `tables.py` and `sofas.py` build their families from these and
describe each by a `Family` (weight, maker, material style); `categories.py` gathers them.
"""

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .parts import FRAME, METAL, Lathe, Part, box, rot_x, rot_y, rot_z
from .swept_parts import Tube

# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------


def leg(rng, x, z, y0, y1, thickness, style: str, splay=(0.0, 0.0), group=FRAME) -> Part:
    """One leg from the floor (y0) to y1 at (x, z); style square, round, taper_round,
    taper_square or turned; splay (about z, about x) tilts its foot outwards about its top."""
    height, half = y1 - y0, thickness / 2
    centre = [x, (y0 + y1) / 2, z]
    if style == "square":
        part = box(x - half, x + half, y0, y1, z - half, z + half, group)
    elif style == "round":
        part = Lathe(
            center=centre, profile=np.array([[-height / 2, half], [height / 2, half]]), segments=12, group=group
        )
    elif style == "taper_round":
        part = Lathe(
            center=centre, profile=np.array([[-height / 2, 0.6 * half], [height / 2, half]]), segments=12, group=group
        )
    elif style == "taper_square":  # a 4-sided lathe turned by 45 degrees is a tapered square leg
        r = half * math.sqrt(2)
        part = Lathe(
            center=centre,
            rot=rot_y(math.pi / 4),
            profile=np.array([[-height / 2, 0.65 * r], [height / 2, r]]),
            segments=4,
            group=group,
        )
    elif style == "turned":
        ys = np.linspace(-height / 2, height / 2, 7)
        radii = half * np.array([0.6, 0.75, 0.55, 0.8, 0.6, 0.9, 1.0])
        part = Lathe(center=centre, profile=np.stack([ys, radii], 1), segments=12, group=group)
    else:
        raise ValueError(f"unknown leg style {style!r}")
    if splay[0] or splay[1]:
        part = part.rotated(rot_z(splay[0]) @ rot_x(splay[1]), [x, y1, z])
    return part


LEG_STYLES = ("square", "round", "taper_round", "taper_square", "turned")


def four_legs(rng, half_w, half_d, y0, y1, thickness, style, splay: float = 0.0, group=FRAME) -> list[Part]:
    """Legs at (+-half_w, +-half_d), feet splayed outwards by `splay` radians."""
    return [
        leg(rng, sx * half_w, sz * half_d, y0, y1, thickness, style, (-sx * splay, sz * splay), group)
        for sx in (-1, 1)
        for sz in (-1, 1)
    ]


def rounded_path(corners, radius: float, steps: int = 5) -> np.ndarray:
    """A polyline through corners (K, 3) whose inner corners are filleted with arcs of `radius`
    (shrunk where the segments are short): the centre line of a bent steel tube."""
    corners = np.asarray(corners, float)
    points = [corners[0]]
    for k in range(1, len(corners) - 1):
        a, b, c = corners[k - 1], corners[k], corners[k + 1]
        u, v = a - b, c - b
        lu, lv = np.linalg.norm(u), np.linalg.norm(v)
        u, v = u / lu, v / lv
        angle = math.acos(float(np.clip(u @ v, -1, 1)))
        if angle > math.pi - 1e-3:  # straight through
            points.append(b)
            continue
        tangent_len = min(radius / math.tan(angle / 2), 0.45 * lu, 0.45 * lv)
        start, end = b + u * tangent_len, b + v * tangent_len
        for t in np.linspace(0, 1, steps):  # quadratic Bezier: close to a circular fillet
            points.append((1 - t) ** 2 * start + 2 * (1 - t) * t * b + t**2 * end)
    points.append(corners[-1])
    return np.array(points)


def arc_points(center, radius: float, angle0: float, angle1: float, steps: int, plane: str = "xz") -> np.ndarray:
    """Points on a circular arc (angles from the first axis of `plane` towards the second)."""
    angles = np.linspace(angle0, angle1, steps)
    points = np.zeros((steps, 3)) + np.asarray(center, float)
    a, b = {"xz": (0, 2), "xy": (0, 1), "zy": (2, 1)}[plane]
    points[:, a] += radius * np.cos(angles)
    points[:, b] += radius * np.sin(angles)
    return points


def ring(y: float, radius: float, tube_radius: float, group=METAL) -> Tube:
    """A horizontal ring (a stool's footrest)."""
    return Tube(
        path=arc_points([0, y, 0], radius, 0, 2 * math.pi, 24)[:-1],
        radius=tube_radius,
        closed=True,
        sides=8,
        group=group,
    )


def star_base(rng, y_hub: float, span: float, n_arms: int = 5, casters: bool = True, group=METAL) -> list[Part]:
    """An office chair's base: arms sloping from a hub down to feet, with caster balls."""
    arm_r = rng.uniform(0.014, 0.022)
    caster_r = rng.uniform(0.022, 0.03) if casters else 0.0
    foot_y = 2 * caster_r + arm_r if casters else arm_r
    offset = rng.uniform(0, 2 * math.pi)
    parts = [Lathe(center=[0, y_hub, 0], profile=np.array([[-0.03, 0.035], [0.03, 0.035]]), segments=12, group=group)]
    for k in range(n_arms):
        angle = offset + 2 * math.pi * k / n_arms
        direction = np.array([math.cos(angle), 0, math.sin(angle)])
        tip = direction * span + [0, foot_y, 0]
        parts.append(Tube(path=np.array([[0, y_hub, 0], tip]), radius=arm_r, sides=8, group=group))
        if casters:
            parts.append(Tube(path=np.array([tip - [0, foot_y - caster_r, 0]]), radius=caster_r, sides=10, group=group))
    return parts


def pedestal(rng, y_top: float, column_radius: float, foot_span: float, base: str, group=FRAME) -> list[Part]:
    """A central column on a base: disc, tulip (a flared lathe), cross (four feet) or star."""
    foot_h = rng.uniform(0.025, 0.06)
    parts = []
    if base == "disc":
        parts.append(
            Lathe(
                center=[0, 0, 0],
                profile=np.array([[0, foot_span], [foot_h, foot_span], [foot_h * 1.5, column_radius * 1.5]]),
                segments=24,
                group=group,
            )
        )
        parts.append(
            Lathe(
                center=[0, 0, 0],
                profile=np.array([[foot_h, column_radius], [y_top, column_radius]]),
                segments=16,
                group=group,
            )
        )
    elif base == "tulip":  # one turned piece flaring from the column to a wide round foot
        ys = np.array([0, foot_h, 0.12, 0.3, 0.6, 1.0]) * y_top
        radii = np.array(
            [foot_span, foot_span * 0.9, foot_span * 0.45, column_radius * 1.3, column_radius, column_radius * 1.6]
        )
        parts.append(Lathe(center=[0, 0, 0], profile=np.stack([ys, radii], 1), segments=24, group=group))
    else:  # cross or star feet
        parts.append(
            Lathe(
                center=[0, 0, 0],
                profile=np.array([[foot_h * 0.5, column_radius], [y_top, column_radius]]),
                segments=16,
                group=group,
            )
        )
        n_feet = 4 if base == "cross" else int(rng.integers(4, 6))
        width = rng.uniform(0.035, 0.06)
        offset = rng.uniform(0, 2 * math.pi)
        for k in range(n_feet):
            foot = box(0, foot_span, 0, foot_h, -width / 2, width / 2, group)
            parts.append(foot.rotated(rot_y(offset + 2 * math.pi * k / n_feet), np.zeros(3)))
    return parts


@dataclass
class Family:
    weight: float  # relative frequency within its category
    maker: Callable  # rng -> list[Part]
    style: str  # which materials suit it (materials.py)
