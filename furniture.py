"""The category grammars of the embedded dataset: chairs, tables and sofas as unions of parts.

    rng = np.random.default_rng(0)
    parts = make_chair(rng)                  # list[shapes.Part], raw units (about a metre)
    parts = MAKERS["04379243"](rng)          # by ShapeNet synset: a table

Raw units: about a metre; y up, front towards +z, floor at y = 0. Each part's `group` picks
its colour when rendered (FRAME, SEAT, BACK).
"""

import math

import numpy as np

from shapes import Part, box, cyl, rot_x, rot_y, rotate_about

SYNSETS = {"03001627": "chair", "04379243": "table", "04256520": "sofa"}

FRAME, SEAT, BACK = 0, 1, 2


def _leg_parts(rng, xs, zs, y0, y1, thickness, round_legs, group=FRAME) -> list[Part]:
    parts = []
    for x in xs:
        for z in zs:
            if round_legs:
                parts.append(cyl(x, z, y0, y1, thickness / 2, group))
            else:
                t = thickness / 2
                parts.append(box(x - t, x + t, y0, y1, z - t, z + t, group))
    return parts


def _pedestal(rng, y_top, column_radius, foot_span, group=FRAME) -> list[Part]:
    foot_h = rng.uniform(0.03, 0.06)
    parts = [cyl(0, 0, foot_h * 0.5, y_top, column_radius, group)]
    if rng.random() < 0.5:
        parts.append(cyl(0, 0, 0, foot_h, foot_span, group))  # disc base
    else:
        n_feet = int(rng.integers(4, 6))
        width = rng.uniform(0.04, 0.06)
        offset = rng.uniform(0, 2 * np.pi)
        for k in range(n_feet):
            foot = box(0, foot_span, 0, foot_h, -width / 2, width / 2, group)
            parts += rotate_about([foot], rot_y(offset + 2 * np.pi * k / n_feet), np.zeros(3))
    return parts


def make_chair(rng: np.random.Generator) -> list[Part]:
    width, depth = rng.uniform(0.42, 0.62), rng.uniform(0.40, 0.60)
    seat_h, seat_t = rng.uniform(0.38, 0.52), rng.uniform(0.04, 0.10)
    leg_t = rng.uniform(0.045, 0.08)
    y_seat_bottom = seat_h - seat_t
    parts = [box(-width / 2, width / 2, y_seat_bottom, seat_h, -depth / 2, depth / 2, SEAT)]

    base = rng.choice(["legs", "pedestal", "sled"], p=[0.5, 0.25, 0.25])
    if base == "legs":
        inset = rng.uniform(0.0, 0.05) + leg_t / 2
        xs, zs = (-width / 2 + inset, width / 2 - inset), (-depth / 2 + inset, depth / 2 - inset)
        parts += _leg_parts(rng, xs, zs, 0.0, y_seat_bottom, leg_t, rng.random() < 0.4)
        if rng.random() < 0.35:  # stretchers between the legs
            y = rng.uniform(0.08, 0.2)
            t = leg_t * 0.35
            for x in xs:
                parts.append(box(x - t, x + t, y - t, y + t, zs[0], zs[1], FRAME))
    elif base == "pedestal":
        parts += _pedestal(rng, y_seat_bottom, rng.uniform(0.03, 0.05), rng.uniform(0.22, 0.32))
    else:  # sled: two floor runners with uprights at front and back
        t = leg_t / 2
        for x in (-width / 2 + t, width / 2 - t):
            parts.append(box(x - t, x + t, 0, leg_t, -depth / 2 - 0.03, depth / 2 + 0.03, FRAME))
            for z in (-depth / 2 + t, depth / 2 - t):
                parts.append(box(x - t, x + t, leg_t, y_seat_bottom, z - t, z + t, FRAME))

    # Back, built upright on the back edge of the seat, then tilted backwards about that edge.
    back_h, back_t = rng.uniform(0.25, 0.6), rng.uniform(0.035, 0.07)
    z_back = -depth / 2 + back_t / 2
    back_parts = []
    if rng.random() < 0.5:
        back_parts.append(box(-width / 2, width / 2, seat_h, seat_h + back_h, z_back - back_t / 2, z_back + back_t / 2, BACK))
    else:
        post_w = rng.uniform(0.045, 0.07)
        rail_h = rng.uniform(0.05, 0.1)
        zb0, zb1 = z_back - back_t / 2, z_back + back_t / 2
        for x in (-width / 2, width / 2 - post_w):
            back_parts.append(box(x, x + post_w, seat_h, seat_h + back_h, zb0, zb1, FRAME))
        back_parts.append(box(-width / 2, width / 2, seat_h + back_h - rail_h, seat_h + back_h, zb0, zb1, BACK))
        n_slats = int(rng.integers(2, 5))
        inner0, inner1 = -width / 2 + post_w, width / 2 - post_w
        if rng.random() < 0.5:  # vertical slats
            slat_w = rng.uniform(0.045, 0.06)
            for k in range(n_slats):
                x = inner0 + (k + 1) * (inner1 - inner0) / (n_slats + 1)
                back_parts.append(box(x - slat_w / 2, x + slat_w / 2, seat_h, seat_h + back_h - rail_h, zb0, zb1, BACK))
        else:  # horizontal slats
            slat_h = rng.uniform(0.045, 0.06)
            for k in range(n_slats - 1):
                y = seat_h + (k + 1) * (back_h - rail_h) / n_slats
                back_parts.append(box(inner0, inner1, y - slat_h / 2, y + slat_h / 2, zb0, zb1, BACK))
    tilt = rng.uniform(0.0, 0.35)
    parts += rotate_about(back_parts, rot_x(-tilt), np.array([0.0, seat_h, z_back]))

    if rng.random() < 0.35:  # arms: a rail on each side on a front support
        arm_h = rng.uniform(0.16, 0.26)
        arm_w = rng.uniform(0.045, 0.07)
        for x in (-width / 2, width / 2 - arm_w):
            parts.append(box(x, x + arm_w, seat_h + arm_h - 0.04, seat_h + arm_h, -depth / 2, depth / 2, FRAME))
            parts.append(box(x, x + arm_w, seat_h, seat_h + arm_h, depth / 2 - arm_w, depth / 2, FRAME))
    return parts


def make_table(rng: np.random.Generator) -> list[Part]:
    height, top_t = rng.uniform(0.45, 0.8), rng.uniform(0.035, 0.08)
    y_under = height - top_t
    round_top = rng.random() < 0.3
    if round_top:
        radius = rng.uniform(0.35, 0.6)
        parts = [cyl(0, 0, y_under, height, radius, SEAT)]
        half_w = half_d = radius / math.sqrt(2)
    else:
        half_w, half_d = rng.uniform(0.35, 0.75), rng.uniform(0.25, 0.45)
        parts = [box(-half_w, half_w, y_under, height, -half_d, half_d, SEAT)]
    leg_t = rng.uniform(0.05, 0.09)
    base = rng.choice(["legs", "pedestal", "panels"], p=[0.5, 0.25, 0.25])
    if base == "legs" or (base == "panels" and round_top):
        inset = rng.uniform(0.02, 0.08) + leg_t / 2
        xs, zs = (-half_w + inset, half_w - inset), (-half_d + inset, half_d - inset)
        parts += _leg_parts(rng, xs, zs, 0.0, y_under, leg_t, rng.random() < 0.4)
        if rng.random() < 0.3:  # lower shelf
            y = rng.uniform(0.1, 0.25)
            parts.append(box(xs[0], xs[1], y, y + 0.04, zs[0], zs[1], SEAT))
    elif base == "pedestal":
        parts += _pedestal(rng, y_under, rng.uniform(0.05, 0.09), min(half_w, half_d) * rng.uniform(0.6, 0.9))
    else:  # two slab sides
        panel_t = rng.uniform(0.04, 0.08)
        inset = rng.uniform(0.0, 0.1)
        for x in (-half_w + inset, half_w - inset - panel_t):
            parts.append(box(x, x + panel_t, 0, y_under, -half_d * 0.9, half_d * 0.9, FRAME))
    return parts


def make_sofa(rng: np.random.Generator) -> list[Part]:
    width, depth = rng.uniform(1.2, 2.2), rng.uniform(0.75, 1.0)
    seat_h, foot_h = rng.uniform(0.38, 0.48), rng.choice([0.0, rng.uniform(0.05, 0.12)])
    cushion_t = rng.uniform(0.08, 0.15)
    back_t, back_h = rng.uniform(0.15, 0.25), rng.uniform(0.3, 0.5)
    has_arms = rng.random() < 0.8
    arm_w = rng.uniform(0.1, 0.25) if has_arms else 0.0
    hw, hd = width / 2, depth / 2
    parts = [box(-hw, hw, foot_h, seat_h - cushion_t, -hd, hd, FRAME)]
    parts.append(box(-hw, hw, foot_h, seat_h + back_h, -hd, -hd + back_t, BACK))
    n_cushions = int(rng.integers(1, 4))
    inner0, inner1 = -hw + arm_w, hw - arm_w
    step = (inner1 - inner0) / n_cushions
    for k in range(n_cushions):
        gap = 0.01 if n_cushions > 1 else 0.0
        parts.append(box(inner0 + k * step + gap, inner0 + (k + 1) * step - gap, seat_h - cushion_t, seat_h, -hd + back_t, hd, SEAT))
    if has_arms:
        arm_top = seat_h + rng.uniform(0.1, 0.25)
        for x in (-hw, hw - arm_w):
            parts.append(box(x, x + arm_w, foot_h, arm_top, -hd, hd, FRAME))
    if foot_h > 0:
        t = 0.05
        parts += _leg_parts(rng, (-hw + t, hw - t), (-hd + t, hd - t), 0.0, foot_h + 0.001, 2 * t, rng.random() < 0.5)
    return parts


MAKERS = {"03001627": make_chair, "04379243": make_table, "04256520": make_sofa}
