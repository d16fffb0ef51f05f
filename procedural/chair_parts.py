"""Pieces the chair families are built from: seats, backs in seven styles, arms, a tube chair's seat and back.

    parts = make_seat(rng, width=0.45, depth=0.42, y_top=0.46, thickness=0.03, padded=True)
    parts += make_back(rng, "ladder", width=0.45, y0=0.46, height=0.45, thickness=0.03, z_back=-0.21, tilt=0.1)

Raw units and axes as in `chairs.py` (about a metre; y up, the sitter faces +z, floor at y = 0).
"""

import math

import numpy as np

from .parts import BACK, CUSHION, FRAME, SEAT, Part, RoundedBox, box, rot_x
from .swept_parts import ArcSlab, Tube


def make_seat(rng, width, depth, y_top, thickness, padded: bool) -> list[Part]:
    """A seat board (or a rounded pad) whose top is at y_top."""
    if padded:
        radius = min(thickness * rng.uniform(0.3, 0.5), width / 4)
        return [
            RoundedBox(
                center=[0, y_top - thickness / 2, 0],
                half=[width / 2, thickness / 2, depth / 2],
                radius=radius,
                group=CUSHION,
            )
        ]
    return [box(-width / 2, width / 2, y_top - thickness, y_top, -depth / 2, depth / 2, SEAT)]


def make_back(rng, style: str, width, y0, height, thickness, z_back, tilt) -> list[Part]:
    """A chair back standing on y0 at z_back, built upright, then tilted back about its foot."""
    y1 = y0 + height
    zb0, zb1 = z_back - thickness / 2, z_back + thickness / 2
    post_w = rng.uniform(0.03, 0.05)
    parts: list[Part] = []
    if style == "solid":
        parts.append(box(-width / 2, width / 2, y0, y1, zb0, zb1, BACK))
    elif style == "padded":
        centre, half = [0, (y0 + y1) / 2, z_back], [width / 2, height / 2, thickness / 2]
        parts.append(RoundedBox(center=centre, half=half, radius=min(thickness * 0.45, 0.04), group=CUSHION))
    elif style == "curved":  # a panel bent round the sitter
        radius = rng.uniform(0.35, 0.8)
        half_angle = min(math.asin(min(width / 2 / radius, 0.95)), 1.1)
        # The axis stands in front of the back, so the panel curves forwards round the sitter.
        angle0, angle1 = math.pi - half_angle, math.pi + half_angle
        panel_y0 = y0 + height * rng.uniform(0.0, 0.35)
        parts.append(
            ArcSlab(
                center=[0, 0, z_back + radius],
                radius=radius,
                thickness=thickness,
                angle0=angle0,
                angle1=angle1,
                y0=panel_y0,
                y1=y1,
                steps=10,
                group=BACK,
            )
        )
        for sx in (-1, 1):
            x = sx * (width / 2 - post_w / 2) * rng.uniform(0.75, 1.0)
            parts.append(box(x - post_w / 2, x + post_w / 2, y0, y0 + height * 0.5, zb0, zb1, FRAME))
    else:
        parts += framed_back(rng, style, width, y0, height, thickness, z_back, post_w)
    return [p.rotated(rot_x(-tilt), [0, y0, z_back]) for p in parts]


def framed_back(rng, style: str, width, y0, height, thickness, z_back, post_w) -> list[Part]:
    """A frame of two posts and a top rail, filled with vertical slats, ladder rails, spindles
    or nothing ("open"), upright (`make_back` tilts it)."""
    y1 = y0 + height
    zb0, zb1 = z_back - thickness / 2, z_back + thickness / 2
    zi0, zi1 = z_back - thickness / 3, z_back + thickness / 3  # the filling, thinner than the frame
    rail_h = rng.uniform(0.04, 0.09)
    parts = [box(x, x + post_w, y0, y1, zb0, zb1, FRAME) for x in (-width / 2, width / 2 - post_w)]
    parts.append(box(-width / 2, width / 2, y1 - rail_h, y1, zb0, zb1, BACK))
    inner0, inner1 = -width / 2 + post_w, width / 2 - post_w
    n = int(rng.integers(2, 6))
    if style == "vertical_slats":
        slat_w = rng.uniform(0.025, 0.06)
        for k in range(n):
            x = inner0 + (k + 1) * (inner1 - inner0) / (n + 1)
            parts.append(box(x - slat_w / 2, x + slat_w / 2, y0, y1 - rail_h, zi0, zi1, BACK))
    elif style == "ladder":
        slat_h = rng.uniform(0.035, 0.07)
        for k in range(n - 1):
            y = y0 + (k + 1) * (height - rail_h) / n
            parts.append(box(inner0, inner1, y - slat_h / 2, y + slat_h / 2, zi0, zi1, BACK))
    elif style == "spindles":
        radius = rng.uniform(0.007, 0.014)
        for k in range(n + 2):
            x = inner0 + (k + 1) * (inner1 - inner0) / (n + 3)
            path = np.array([[x, y0, z_back], [x, y1 - rail_h / 2, z_back]])
            parts.append(Tube(path=path, radius=radius, sides=8, group=BACK))
    return parts


BACK_STYLES = ("solid", "padded", "curved", "vertical_slats", "ladder", "spindles", "open")


def make_arms(rng, width, depth, seat_h, padded: bool) -> list[Part]:
    """Armrests on front posts, one each side."""
    arm_h = rng.uniform(0.17, 0.26)
    arm_w = rng.uniform(0.04, 0.07)
    parts = []
    for sx in (-1, 1):
        x = sx * (width / 2 - arm_w / 2)
        if padded:
            parts.append(
                RoundedBox(
                    center=[x, seat_h + arm_h, -0.02],
                    half=[arm_w / 2 + 0.01, 0.025, depth * 0.4],
                    radius=0.02,
                    group=CUSHION,
                )
            )
        else:
            parts.append(
                box(
                    x - arm_w / 2,
                    x + arm_w / 2,
                    seat_h + arm_h - 0.035,
                    seat_h + arm_h,
                    -depth / 2,
                    depth / 2 - 0.02,
                    FRAME,
                )
            )
        parts.append(
            box(x - 0.018, x + 0.018, seat_h - 0.02, seat_h + arm_h, depth / 2 - 0.08, depth / 2 - 0.045, FRAME)
        )
    return parts


def tube_seat_and_back(rng, width, depth, seat_h, back_h, tilt, tube_r) -> list[Part]:
    seat = make_seat(
        rng, width, depth * 0.95, seat_h + rng.uniform(0.01, 0.04), rng.uniform(0.02, 0.06), padded=rng.random() < 0.5
    )
    z_back = -depth / 2 - tube_r
    back_t = rng.uniform(0.02, 0.05)
    back = make_back(
        rng,
        "padded" if rng.random() < 0.5 else "solid",
        width,
        seat_h + rng.uniform(0.15, 0.2),
        back_h * rng.uniform(0.45, 0.75),
        back_t,
        z_back + back_t / 2 + tube_r,
        tilt,
    )
    return seat + [p for p in back if p.group != FRAME]
