"""The table grammar (ShapeNet 04379243): legged, round, pedestal and tulip, trestle, folding X-leg,
desk, coffee, side and slab-sided tables.

    parts = FAMILIES["trestle"].maker(np.random.default_rng(0))    # raw units

Raw units: about a metre; y up, floor at y = 0, the top centred on x = z = 0, its long side along x.
"""

import math

import numpy as np

from .furniture import LEG_STYLES, Family, four_legs, pedestal
from .parts import ACCENT, FRAME, METAL, SEAT, Lathe, Part, RoundedBox, box, rot_z
from .swept_parts import Tube


def _top(rng, half_w, half_d, height, thickness, shape: str) -> list[Part]:
    """The top, its upper face at `height`: a board, a board with rounded edges, or a round
    (lathe) top with a bevelled or rounded rim."""
    if shape == "round":
        bevel = thickness * rng.uniform(0.0, 0.6)
        profile = np.array([[-thickness, half_w - bevel], [-thickness + bevel, half_w], [0, half_w]])
        return [Lathe(center=[0, height, 0], profile=profile, segments=32, group=SEAT)]
    if shape == "rounded":
        return [
            RoundedBox(
                center=[0, height - thickness / 2, 0],
                half=[half_w, thickness / 2, half_d],
                radius=thickness * rng.uniform(0.3, 0.49),
                group=SEAT,
            )
        ]
    return [box(-half_w, half_w, height - thickness, height, -half_d, half_d, SEAT)]


def _rect_top(rng, half_w, half_d, height, thickness) -> list[Part]:
    return _top(rng, half_w, half_d, height, thickness, "rounded" if rng.random() < 0.35 else "board")


def _aprons(half_w, half_d, y_under, depth, t, group=FRAME) -> list[Part]:
    """Rails under the top joining legs at (+-half_w, +-half_d)."""
    return [
        box(-half_w, half_w, y_under - depth, y_under, sz * half_d - t, sz * half_d + t, group) for sz in (-1, 1)
    ] + [box(sx * half_w - t, sx * half_w + t, y_under - depth, y_under, -half_d, half_d, group) for sx in (-1, 1)]


def legged(rng, height=None, size=None) -> list[Part]:
    height = height or rng.uniform(0.68, 0.78)
    half_w, half_d = size or (rng.uniform(0.4, 0.95), rng.uniform(0.3, 0.5))
    top_t = rng.uniform(0.025, 0.06)
    leg_t = rng.uniform(0.04, 0.08)
    style = LEG_STYLES[int(rng.integers(len(LEG_STYLES)))]
    inset = rng.uniform(0.02, 0.1) + leg_t / 2
    hw, hd = half_w - inset, half_d - inset
    y_under = height - top_t
    parts = _rect_top(rng, half_w, half_d, height, top_t)
    parts += four_legs(rng, hw, hd, 0.0, y_under, leg_t, style, rng.uniform(0, 0.06) if rng.random() < 0.25 else 0.0)
    if rng.random() < 0.6:
        parts += _aprons(hw, hd, y_under, rng.uniform(0.05, 0.12), leg_t * 0.35)
    if rng.random() < 0.25:  # a lower shelf
        y = rng.uniform(0.1, 0.25)
        parts.append(box(-hw, hw, y, y + rng.uniform(0.02, 0.04), -hd, hd, SEAT))
    elif rng.random() < 0.25:  # stretchers
        y, t = rng.uniform(0.1, 0.25), leg_t * 0.3
        parts += [box(sx * hw - t, sx * hw + t, y - t, y + t, -hd, hd, FRAME) for sx in (-1, 1)] + [
            box(-hw, hw, y - t, y + t, -t, t, FRAME)
        ]
    return parts


def round_legged(rng) -> list[Part]:
    height, radius = rng.uniform(0.6, 0.78), rng.uniform(0.3, 0.6)
    top_t = rng.uniform(0.025, 0.06)
    parts = _top(rng, radius, radius, height, top_t, "round")
    n = 3 if rng.random() < 0.35 else 4
    leg_r = rng.uniform(0.018, 0.035)
    splay = rng.uniform(0.0, 0.15)
    for k in range(n):
        angle = math.pi / 4 + 2 * math.pi * k / n
        top = np.array([math.cos(angle), 0, math.sin(angle)]) * radius * rng.uniform(0.55, 0.75) + [
            0,
            height - top_t,
            0,
        ]
        foot = top + np.array([math.cos(angle), 0, math.sin(angle)]) * (height - top_t) * math.tan(splay)
        foot[1] = leg_r
        parts.append(Tube(path=np.array([foot, top]), radius=leg_r, sides=10, group=FRAME))
    return parts


def pedestal_table(rng) -> list[Part]:
    height = rng.uniform(0.55, 0.78)
    top_t = rng.uniform(0.025, 0.06)
    round_top = rng.random() < 0.7
    radius = rng.uniform(0.35, 0.65)
    parts = (
        _top(rng, radius, radius, height, top_t, "round")
        if round_top
        else _rect_top(rng, radius, radius * rng.uniform(0.6, 1.0), height, top_t)
    )
    base = ("disc", "tulip", "cross", "star")[int(rng.integers(4))]
    parts += pedestal(
        rng,
        height - top_t,
        rng.uniform(0.04, 0.09),
        radius * rng.uniform(0.5, 0.8),
        base,
        group=FRAME if base != "tulip" else METAL,
    )
    return parts


def trestle(rng) -> list[Part]:
    """Two trestles (an upright or an A of two legs on a foot bar) joined by a stretcher."""
    height = rng.uniform(0.7, 0.78)
    half_w, half_d = rng.uniform(0.7, 1.1), rng.uniform(0.35, 0.5)
    top_t = rng.uniform(0.03, 0.07)
    y_under = height - top_t
    parts = _rect_top(rng, half_w, half_d, height, top_t)
    t = rng.uniform(0.04, 0.08)
    x_end = half_w - rng.uniform(0.1, 0.25)
    a_frame = rng.random() < 0.5
    for sx in (-1, 1):
        x = sx * x_end
        parts.append(box(x - t / 2, x + t / 2, 0, t, -half_d * 0.9, half_d * 0.9, FRAME))  # foot bar
        parts.append(box(x - t / 2, x + t / 2, y_under - t, y_under, -half_d * 0.8, half_d * 0.8, FRAME))  # top bar
        if a_frame:
            for sz in (-1, 1):
                parts.append(
                    Tube(
                        path=np.array([[x, t, sz * half_d * 0.7], [x, y_under - t, sz * half_d * 0.15]]),
                        radius=t * 0.4,
                        sides=8,
                        group=FRAME,
                    )
                )
        else:
            parts.append(box(x - t / 2, x + t / 2, t, y_under - t, -t * 1.5, t * 1.5, FRAME))
    y = rng.uniform(0.15, 0.4) * height
    parts.append(box(-x_end, x_end, y - t / 3, y + t / 3, -t / 3, t / 3, FRAME))
    return parts


def folding_x(rng) -> list[Part]:
    """A folding table: at each end two legs crossing in an X under the top, on floor bars."""
    height = rng.uniform(0.66, 0.76)
    half_w, half_d = rng.uniform(0.45, 0.9), rng.uniform(0.3, 0.45)
    top_t = rng.uniform(0.02, 0.045)
    y_under = height - top_t
    parts = _rect_top(rng, half_w, half_d, height, top_t)
    tube_r = rng.uniform(0.012, 0.02)
    x_end = half_w - rng.uniform(0.05, 0.15)
    along_x = rng.random() < 0.5  # the X in the length (xy) plane, or across the width (zy)
    for s in (-1, 1):
        if along_x:
            z = s * (half_d - 0.05)
            ends = [
                ([-x_end, tube_r, z], [x_end, y_under - tube_r, z]),
                ([x_end, tube_r, z], [-x_end, y_under - tube_r, z]),
            ]
            parts.append(
                Tube(path=np.array([[-x_end, tube_r, z], [x_end, tube_r, z]]), radius=tube_r, sides=8, group=METAL)
            )
        else:
            x = s * x_end
            ends = [
                ([x, tube_r, -half_d * 0.85], [x, y_under - tube_r, half_d * 0.85]),
                ([x, tube_r, half_d * 0.85], [x, y_under - tube_r, -half_d * 0.85]),
            ]
            parts.append(
                Tube(
                    path=np.array([[x, tube_r, -half_d * 0.85], [x, tube_r, half_d * 0.85]]),
                    radius=tube_r,
                    sides=8,
                    group=METAL,
                )
            )
        parts += [Tube(path=np.array([a, b]), radius=tube_r, sides=8, group=METAL) for a, b in ends]
    return parts


def desk(rng) -> list[Part]:
    """A desk: one or two drawer pedestals, or slab sides, with a modesty panel at the back."""
    height = rng.uniform(0.72, 0.77)
    half_w, half_d = rng.uniform(0.55, 0.9), rng.uniform(0.28, 0.4)
    top_t = rng.uniform(0.025, 0.05)
    y_under = height - top_t
    parts = _rect_top(rng, half_w, half_d, height, top_t)
    side_t = rng.uniform(0.02, 0.05)
    cabinet_w = rng.uniform(0.3, 0.45)
    layout = ("one", "two", "slabs")[int(rng.integers(3))]
    for sx in (-1, 1):
        x_out = sx * (half_w - rng.uniform(0.0, 0.03))
        if layout == "two" or (layout == "one" and sx == 1):
            x_in = x_out - sx * cabinet_w
            parts.append(box(min(x_in, x_out), max(x_in, x_out), 0, y_under, -half_d + 0.01, half_d - 0.01, FRAME))
            n_drawers = int(rng.integers(2, 5))
            for k in range(n_drawers):  # handles on the drawer fronts
                y = y_under - (k + 0.5) * y_under / n_drawers
                xc = (x_in + x_out) / 2
                parts.append(box(xc - 0.05, xc + 0.05, y - 0.008, y + 0.008, half_d - 0.01, half_d + 0.012, ACCENT))
        else:
            parts.append(box(x_out - side_t / 2, x_out + side_t / 2, 0, y_under, -half_d + 0.02, half_d - 0.02, FRAME))
    if rng.random() < 0.8:
        panel_h = y_under * rng.uniform(0.3, 0.7)
        parts.append(
            box(
                -half_w + 0.02,
                half_w - 0.02,
                y_under - panel_h,
                y_under,
                -half_d + 0.02,
                -half_d + 0.02 + side_t,
                FRAME,
            )
        )
    return parts


def coffee(rng) -> list[Part]:
    height = rng.uniform(0.35, 0.5)
    half_w, half_d = rng.uniform(0.4, 0.7), rng.uniform(0.25, 0.45)
    if rng.random() < 0.3:
        return round_legged_low(rng, height, half_w)
    if rng.random() < 0.3:  # slab ends with a shelf
        top_t = rng.uniform(0.025, 0.06)
        parts = _rect_top(rng, half_w, half_d, height, top_t)
        t = rng.uniform(0.03, 0.08)
        parts += [
            box(-half_w, -half_w + t, 0, height - top_t, -half_d, half_d, FRAME),
            box(half_w - t, half_w, 0, height - top_t, -half_d, half_d, FRAME),
        ]
        y = rng.uniform(0.06, 0.15)
        parts.append(box(-half_w + t, half_w - t, y, y + 0.025, -half_d + 0.02, half_d - 0.02, SEAT))
        return parts
    return legged(rng, height=height, size=(half_w, half_d))


def round_legged_low(rng, height, radius) -> list[Part]:
    top_t = rng.uniform(0.02, 0.05)
    parts = _top(rng, radius, radius, height, top_t, "round")
    parts += pedestal(
        rng, height - top_t, rng.uniform(0.05, 0.12), radius * 0.7, ("disc", "tulip")[int(rng.integers(2))]
    )
    return parts


def side(rng) -> list[Part]:
    height = rng.uniform(0.5, 0.66)
    half = rng.uniform(0.2, 0.3)
    if rng.random() < 0.4:
        return round_legged_low(rng, height, half)
    parts = legged(rng, height=height, size=(half, half * rng.uniform(0.8, 1.0)))
    if rng.random() < 0.4:  # a drawer box under the top
        parts.append(box(-half * 0.85, half * 0.85, height - 0.16, height - 0.03, -half * 0.8, half * 0.8, FRAME))
    return parts


def slab_sides(rng) -> list[Part]:
    height = rng.uniform(0.45, 0.78)
    half_w, half_d = rng.uniform(0.35, 0.8), rng.uniform(0.25, 0.45)
    top_t = rng.uniform(0.03, 0.07)
    parts = _rect_top(rng, half_w, half_d, height, top_t)
    panel_t = rng.uniform(0.03, 0.08)
    inset = rng.uniform(0.0, 0.1)
    lean = rng.uniform(-0.12, 0.12) if rng.random() < 0.3 else 0.0
    for sx in (-1, 1):
        x = sx * (half_w - inset - panel_t / 2)
        panel = box(x - panel_t / 2, x + panel_t / 2, 0, height - top_t, -half_d * 0.9, half_d * 0.9, FRAME)
        parts.append(panel.rotated(rot_z(sx * lean), [x, height - top_t, 0]) if lean else panel)
    return parts


FAMILIES = {
    "legged": Family(0.28, legged, "table"),
    "round": Family(0.08, round_legged, "table"),
    "pedestal": Family(0.12, pedestal_table, "table"),
    "trestle": Family(0.08, trestle, "table"),
    "folding_x": Family(0.06, folding_x, "tube"),
    "desk": Family(0.14, desk, "table"),
    "coffee": Family(0.12, coffee, "table"),
    "side": Family(0.06, side, "table"),
    "slab": Family(0.06, slab_sides, "table"),
}
