"""The sofa grammar (ShapeNet 04256520): straight sofas and loveseats, L-shaped sectionals, chaises,
rounded modern sofas and slim-framed sofas on legs.

    parts = FAMILIES["sectional"].maker(np.random.default_rng(0))    # raw units

Raw units: about a metre; y up, the sitter faces +z, floor at y = 0, centred on x = z = 0.
"""

import numpy as np

from .furniture import Family, four_legs, leg
from .parts import BACK, CUSHION, FRAME, SEAT, Part, RoundedBox, box


def _block(x0, x1, y0, y1, z0, z1, radius, group=CUSHION) -> Part:
    """An upholstered block: a rounded box (a plain box when radius is 0)."""
    half = np.array([x1 - x0, y1 - y0, z1 - z0]) / 2
    if radius <= 0:
        return box(x0, x1, y0, y1, z0, z1, group)
    return RoundedBox(
        center=[(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2],
        half=half,
        radius=min(radius, 0.49 * half.min()),
        group=group,
    )


def _sofa(
    rng,
    width,
    depth,
    arms: tuple[bool, bool],
    chaise: float = 0.0,
    chaise_side: int = 1,
    radius=None,
    legs: bool | None = None,
) -> list[Part]:
    """A sofa `width` wide: base, back, arms (left, right), seat cushions; a chaise extends the
    seat forwards by `chaise` on one side (an L)."""
    seat_h = rng.uniform(0.38, 0.46)
    legs = rng.random() < 0.6 if legs is None else legs
    foot_h = rng.uniform(0.05, 0.16) if legs else 0.0
    cushion_t = rng.uniform(0.08, 0.16)
    back_t, back_h = rng.uniform(0.15, 0.28), rng.uniform(0.3, 0.5)
    arm_w = rng.uniform(0.1, 0.26)
    arm_top = seat_h + rng.uniform(0.08, 0.25)
    radius = rng.uniform(0.0, 0.07) if radius is None else radius
    hw, hd = width / 2, depth / 2
    base_top = seat_h - cushion_t
    cushion_r = min(cushion_t / 2.2, 0.05)
    parts = [_block(-hw, hw, foot_h, base_top, -hd, hd, radius * 0.5, FRAME)]
    parts.append(_block(-hw, hw, foot_h, seat_h + back_h, -hd, -hd + back_t, radius, BACK))
    inner0 = -hw + (arm_w if arms[0] else 0.0)
    inner1 = hw - (arm_w if arms[1] else 0.0)
    for present, x0 in zip(arms, (-hw, hw - arm_w)):
        if present:
            front = hd + (chaise if (x0 > 0) == (chaise_side > 0) and chaise else 0.0)
            parts.append(_block(x0, x0 + arm_w, foot_h, arm_top, -hd, front, radius * rng.uniform(1, 2.5)))
    if chaise:
        length = (inner1 - inner0) * 0.42
        x0, x1 = (inner1 - length, inner1) if chaise_side > 0 else (inner0, inner0 + length)
        parts.append(_block(x0, x1, foot_h, base_top, hd - 0.02, hd + chaise, radius * 0.5, FRAME))
        parts.append(_block(x0 + 0.01, x1 - 0.01, base_top, seat_h, hd - 0.02, hd + chaise - 0.02, cushion_r, SEAT))
    parts += _cushions(rng, inner0, inner1, base_top, seat_h, back_h, -hd + back_t, hd, cushion_r)
    if legs:
        style = ("taper_round", "square", "round", "taper_square")[int(rng.integers(4))]
        leg_r = rng.uniform(0.03, 0.06)
        parts += four_legs(rng, hw - 0.06, hd - 0.06, 0.0, foot_h + 0.01, leg_r, style, rng.uniform(0, 0.15))
        if chaise:
            x = (hw - 0.06) * chaise_side
            parts.append(leg(rng, x, hd + chaise - 0.06, 0.0, foot_h + 0.01, 0.04, style))
    return parts


def _cushions(rng, inner0, inner1, base_top, seat_h, back_h, back_front, front, cushion_r) -> list[Part]:
    """1 to 3 seat cushions side by side between the arms, each with a back cushion or not."""
    n_cushions = int(rng.integers(1, 4))
    step = (inner1 - inner0) / n_cushions
    gap = -0.003 if n_cushions > 1 else 0.0  # cushions pressed together: their rounded edges make the seams
    parts = []
    for k in range(n_cushions):
        x0, x1 = inner0 + k * step + gap, inner0 + (k + 1) * step - gap
        parts.append(_block(x0, x1, base_top, seat_h, back_front, front, cushion_r, SEAT))
        if rng.random() < 0.5:  # back cushions
            thickness = rng.uniform(0.1, 0.18)
            parts.append(_block(x0, x1, seat_h, seat_h + back_h * 0.85, back_front, back_front + thickness, 0.05, SEAT))
    return parts


def straight(rng) -> list[Part]:
    return _sofa(rng, rng.uniform(1.6, 2.3), rng.uniform(0.8, 1.0), (rng.random() < 0.9,) * 2)


def loveseat(rng) -> list[Part]:
    return _sofa(rng, rng.uniform(1.15, 1.6), rng.uniform(0.78, 0.95), (rng.random() < 0.9,) * 2)


def sectional(rng) -> list[Part]:
    return _sofa(
        rng,
        rng.uniform(2.0, 2.8),
        rng.uniform(0.85, 1.0),
        (True, True),
        chaise=rng.uniform(0.5, 0.8),
        chaise_side=1 if rng.random() < 0.5 else -1,
    )


def chaise(rng) -> list[Part]:
    """A chaise longue / daybed: one arm (or none), a long seat, a back along part of it."""
    one_arm = rng.random() < 0.7
    return _sofa(rng, rng.uniform(1.5, 1.9), rng.uniform(0.65, 0.85), (one_arm, False), legs=rng.random() < 0.8)


def modern(rng) -> list[Part]:
    """Low, thick and rounded everywhere."""
    return _sofa(
        rng,
        rng.uniform(1.6, 2.4),
        rng.uniform(0.85, 1.05),
        (True, True),
        radius=rng.uniform(0.06, 0.12),
        legs=rng.random() < 0.4,
    )


def slim_frame(rng) -> list[Part]:
    """A wooden or metal frame on legs with slim arms, cushions laid in it."""
    width, depth = rng.uniform(1.3, 2.1), rng.uniform(0.7, 0.9)
    seat_h = rng.uniform(0.38, 0.45)
    hw, hd = width / 2, depth / 2
    t = rng.uniform(0.03, 0.05)
    frame_y = seat_h - rng.uniform(0.12, 0.18)
    parts = four_legs(
        rng,
        hw - t,
        hd - t,
        0.0,
        frame_y,
        t,
        ("square", "taper_round", "round")[int(rng.integers(3))],
        rng.uniform(0, 0.08),
    )
    parts.append(box(-hw, hw, frame_y - 0.04, frame_y, -hd, hd, FRAME))
    arm_top = seat_h + rng.uniform(0.12, 0.22)
    for sx in (-1, 1):
        x0 = hw - t if sx > 0 else -hw
        parts.append(box(x0, x0 + t, frame_y, arm_top, -hd, hd, FRAME))
    parts.append(_block(-hw + t, hw - t, frame_y, seat_h, -hd, hd, 0.04, SEAT))
    back_top = seat_h + rng.uniform(0.3, 0.45)
    parts.append(_block(-hw + t, hw - t, seat_h - 0.02, back_top, -hd, -hd + rng.uniform(0.12, 0.2), 0.05, BACK))
    return parts


FAMILIES = {
    "straight": Family(0.30, straight, "sofa"),
    "loveseat": Family(0.18, loveseat, "sofa"),
    "sectional": Family(0.18, sectional, "sofa"),
    "chaise": Family(0.10, chaise, "sofa"),
    "modern": Family(0.14, modern, "sofa"),
    "slim_frame": Family(0.10, slim_frame, "sofa_frame"),
}
