"""The chair grammar (ShapeNet 03001627): dining, office, armchair, wingback, cantilever, sled, stool,
bar stool, bench, folding, rocking and tulip (pedestal) chairs.

    parts = FAMILIES["office"].maker(np.random.default_rng(0))    # a swivel chair, raw units

Raw units: about a metre; y up, the sitter faces +z, floor at y = 0, the seat centred on x = 0.
Each maker draws its proportions, part styles and options from the generator it is given.
"""

import math

import numpy as np

from furniture import LEG_STYLES, Family, arc_points, four_legs, pedestal, ring, rounded_path, star_base
from parts import ACCENT, BACK, CUSHION, FRAME, METAL, SEAT, ArcSlab, Lathe, Part, RoundedBox, Tube, box, rot_x


def _seat(rng, width, depth, y_top, thickness, padded: bool) -> list[Part]:
    """A seat board (or a rounded pad) whose top is at y_top."""
    if padded:
        radius = min(thickness * rng.uniform(0.3, 0.5), width / 4)
        return [RoundedBox(center=[0, y_top - thickness / 2, 0], half=[width / 2, thickness / 2, depth / 2], radius=radius, group=CUSHION)]
    return [box(-width / 2, width / 2, y_top - thickness, y_top, -depth / 2, depth / 2, SEAT)]


def _back(rng, style: str, width, y0, height, thickness, z_back, tilt) -> list[Part]:
    """A chair back standing on y0 at z_back, built upright, then tilted back about its foot."""
    y1 = y0 + height
    zb0, zb1 = z_back - thickness / 2, z_back + thickness / 2
    post_w = rng.uniform(0.03, 0.05)
    parts: list[Part] = []
    if style == "solid":
        parts.append(box(-width / 2, width / 2, y0, y1, zb0, zb1, BACK))
    elif style == "padded":
        radius = min(thickness * 0.45, 0.04)
        parts.append(RoundedBox(center=[0, (y0 + y1) / 2, z_back], half=[width / 2, height / 2, thickness / 2], radius=radius, group=CUSHION))
    elif style == "curved":  # a panel bent round the sitter
        radius = rng.uniform(0.35, 0.8)
        half_angle = min(math.asin(min(width / 2 / radius, 0.95)), 1.1)
        # The axis stands in front of the back, so the panel curves forwards round the sitter.
        parts.append(ArcSlab(center=[0, 0, z_back + radius], radius=radius, thickness=thickness, angle0=math.pi - half_angle,
                             angle1=math.pi + half_angle, y0=y0 + height * rng.uniform(0.0, 0.35), y1=y1, steps=10, group=BACK))
        for sx in (-1, 1):
            x = sx * (width / 2 - post_w / 2) * rng.uniform(0.75, 1.0)
            parts.append(box(x - post_w / 2, x + post_w / 2, y0, y0 + height * 0.5, zb0, zb1, FRAME))
    else:  # a frame of two posts and a top rail, filled with slats, rails or spindles
        rail_h = rng.uniform(0.04, 0.09)
        for x in (-width / 2, width / 2 - post_w):
            parts.append(box(x, x + post_w, y0, y1, zb0, zb1, FRAME))
        parts.append(box(-width / 2, width / 2, y1 - rail_h, y1, zb0, zb1, BACK))
        inner0, inner1 = -width / 2 + post_w, width / 2 - post_w
        n = int(rng.integers(2, 6))
        if style == "vertical_slats":
            slat_w = rng.uniform(0.025, 0.06)
            for k in range(n):
                x = inner0 + (k + 1) * (inner1 - inner0) / (n + 1)
                parts.append(box(x - slat_w / 2, x + slat_w / 2, y0, y1 - rail_h, z_back - thickness / 3, z_back + thickness / 3, BACK))
        elif style == "ladder":
            slat_h = rng.uniform(0.035, 0.07)
            for k in range(n - 1):
                y = y0 + (k + 1) * (height - rail_h) / n
                parts.append(box(inner0, inner1, y - slat_h / 2, y + slat_h / 2, z_back - thickness / 3, z_back + thickness / 3, BACK))
        elif style == "spindles":
            radius = rng.uniform(0.007, 0.014)
            for k in range(n + 2):
                x = inner0 + (k + 1) * (inner1 - inner0) / (n + 3)
                parts.append(Tube(path=np.array([[x, y0, z_back], [x, y1 - rail_h / 2, z_back]]), radius=radius, sides=8, group=BACK))
        # style "open": the frame alone
    return [p.rotated(rot_x(-tilt), [0, y0, z_back]) for p in parts]


BACK_STYLES = ("solid", "padded", "curved", "vertical_slats", "ladder", "spindles", "open")


def _arms(rng, width, depth, seat_h, padded: bool) -> list[Part]:
    """Armrests on front posts, one each side."""
    arm_h = rng.uniform(0.17, 0.26)
    arm_w = rng.uniform(0.04, 0.07)
    parts = []
    for sx in (-1, 1):
        x = sx * (width / 2 - arm_w / 2)
        if padded:
            parts.append(RoundedBox(center=[x, seat_h + arm_h, -0.02], half=[arm_w / 2 + 0.01, 0.025, depth * 0.4], radius=0.02, group=CUSHION))
        else:
            parts.append(box(x - arm_w / 2, x + arm_w / 2, seat_h + arm_h - 0.035, seat_h + arm_h, -depth / 2, depth / 2 - 0.02, FRAME))
        parts.append(box(x - 0.018, x + 0.018, seat_h - 0.02, seat_h + arm_h, depth / 2 - 0.08, depth / 2 - 0.045, FRAME))
    return parts


def dining(rng, rockers: bool = False) -> list[Part]:
    width, depth = rng.uniform(0.40, 0.56), rng.uniform(0.40, 0.52)
    seat_h, seat_t = rng.uniform(0.42, 0.49), rng.uniform(0.03, 0.07)
    leg_t = rng.uniform(0.03, 0.055)
    style = LEG_STYLES[int(rng.integers(len(LEG_STYLES)))]
    splay = rng.uniform(0, 0.08) if rng.random() < 0.3 else 0.0
    inset = rng.uniform(0.0, 0.03) + leg_t / 2
    hw, hd = width / 2 - inset, depth / 2 - inset
    parts = _seat(rng, width, depth, seat_h, seat_t, padded=rng.random() < 0.3)
    parts += four_legs(rng, hw, hd, 0.0, seat_h - seat_t, leg_t, style, splay)
    if rng.random() < 0.5:  # apron rails under the seat
        apron = rng.uniform(0.04, 0.08)
        t = leg_t * 0.4
        y = seat_h - seat_t
        parts += [box(-hw, hw, y - apron, y, sz * hd - t, sz * hd + t, FRAME) for sz in (-1, 1)]
        parts += [box(sx * hw - t, sx * hw + t, y - apron, y, -hd, hd, FRAME) for sx in (-1, 1)]
    if rng.random() < 0.35:  # stretchers between the legs
        y, t = rng.uniform(0.08, 0.2), leg_t * 0.3
        parts += [box(sx * hw - t, sx * hw + t, y - t, y + t, -hd, hd, FRAME) for sx in (-1, 1)]
        if rng.random() < 0.5:
            parts.append(box(-hw, hw, y - t, y + t, -t, t, FRAME))
    back_style = BACK_STYLES[int(rng.integers(len(BACK_STYLES)))]
    back_t = rng.uniform(0.025, 0.06) if back_style != "padded" else rng.uniform(0.05, 0.09)
    parts += _back(rng, back_style, width * rng.uniform(0.85, 1.0), seat_h, rng.uniform(0.3, 0.55), back_t, -depth / 2 + back_t / 2, rng.uniform(0.0, 0.25))
    if rng.random() < (0.6 if rockers else 0.2):
        parts += _arms(rng, width, depth, seat_h, padded=False)
    if rockers:  # lift the chair onto two curved runners under its legs
        lift = rng.uniform(0.04, 0.07)
        parts = [p.transformed([0, lift, 0], 1.0) for p in parts]
        radius, tube_r = rng.uniform(0.9, 1.5), max(leg_t / 2, 0.015)
        half_angle = min(0.5, (hd + 0.2) / radius)
        for sx in (-1, 1):
            path = arc_points([0, radius + tube_r, 0], radius, -math.pi / 2 - half_angle, -math.pi / 2 + half_angle, 12, plane="zy")
            path[:, 0] = sx * hw
            parts.append(Tube(path=path, radius=tube_r, sides=8, group=FRAME))
            parts += [box(sx * hw - leg_t / 2, sx * hw + leg_t / 2, 0.0, lift + 0.01, sz * hd - leg_t / 2, sz * hd + leg_t / 2, FRAME) for sz in (-1, 1)]
    return parts


def office(rng) -> list[Part]:
    width, depth = rng.uniform(0.44, 0.54), rng.uniform(0.42, 0.52)
    seat_h, seat_t = rng.uniform(0.44, 0.53), rng.uniform(0.06, 0.11)
    hub_y = rng.uniform(0.09, 0.13)
    parts = star_base(rng, hub_y, rng.uniform(0.26, 0.34), n_arms=5, casters=rng.random() < 0.85)
    parts.append(Lathe(center=[0, 0, 0], profile=np.array([[hub_y, 0.025], [seat_h - seat_t - 0.04, 0.025], [seat_h - seat_t - 0.04, 0.03]]), segments=12, group=METAL))
    parts.append(box(-0.09, 0.09, seat_h - seat_t - 0.05, seat_h - seat_t + 0.005, -0.1, 0.1, ACCENT))  # the mechanism
    parts += _seat(rng, width, depth, seat_h, seat_t, padded=True)
    back_w = width * rng.uniform(0.85, 1.0)
    back_h, back_t = rng.uniform(0.4, 0.75), rng.uniform(0.05, 0.1)
    gap = rng.uniform(0.03, 0.12)
    z_back = -depth / 2 - back_t / 2 + 0.02
    tilt = rng.uniform(0.05, 0.25)
    back: list[Part] = [box(-0.03, 0.03, seat_h - seat_t - 0.02, seat_h + gap + 0.1, z_back - 0.015, z_back + 0.015, METAL)]  # the spine
    if rng.random() < 0.35:
        radius = rng.uniform(0.4, 0.8)
        half_angle = min(math.asin(min(back_w / 2 / radius, 0.95)), 1.0)
        back.append(ArcSlab(center=[0, 0, z_back + radius], radius=radius, thickness=back_t, angle0=math.pi - half_angle, angle1=math.pi + half_angle,
                            y0=seat_h + gap, y1=seat_h + gap + back_h, steps=10, group=CUSHION))
    else:
        back.append(RoundedBox(center=[0, seat_h + gap + back_h / 2, z_back], half=[back_w / 2, back_h / 2, back_t / 2], radius=min(back_t * 0.45, 0.04), group=CUSHION))
    if rng.random() < 0.25:  # headrest
        back.append(RoundedBox(center=[0, seat_h + gap + back_h + 0.1, z_back], half=[back_w * 0.3, 0.06, back_t / 2], radius=0.025, group=CUSHION))
    parts += [p.rotated(rot_x(-tilt), [0, seat_h, z_back]) for p in back]
    if rng.random() < 0.6:
        arm_h = rng.uniform(0.18, 0.26)
        for sx in (-1, 1):
            x = sx * (width / 2 + 0.02)
            parts.append(box(x - 0.015, x + 0.015, seat_h - seat_t, seat_h + arm_h, -0.04, 0.0, METAL))
            parts.append(RoundedBox(center=[x, seat_h + arm_h, -0.02], half=[0.035, 0.02, 0.13], radius=0.018, group=ACCENT))
    return parts


def _upholstered(rng, wing: bool) -> list[Part]:
    width, depth = rng.uniform(0.68, 0.95), rng.uniform(0.68, 0.92)
    seat_h = rng.uniform(0.38, 0.46)
    leg_h = rng.uniform(0.04, 0.2) if rng.random() < 0.75 else 0.0
    arm_w = rng.uniform(0.08, 0.2) if not wing else rng.uniform(0.07, 0.12)
    arm_top = seat_h + rng.uniform(0.14, 0.26)
    back_t = rng.uniform(0.12, 0.25)
    back_top = seat_h + (rng.uniform(0.55, 0.8) if wing else rng.uniform(0.3, 0.5))
    cushion_t = rng.uniform(0.08, 0.15)
    r = rng.uniform(0.02, 0.07)
    hw, hd = width / 2, depth / 2
    base_top = seat_h - cushion_t
    parts: list[Part] = [RoundedBox(center=[0, (leg_h + base_top) / 2, 0], half=[hw, (base_top - leg_h) / 2, hd], radius=min(r, (base_top - leg_h) / 2.2), group=CUSHION)]
    parts.append(RoundedBox(center=[0, (leg_h + back_top) / 2, -hd + back_t / 2], half=[hw, (back_top - leg_h) / 2, back_t / 2], radius=min(r * 1.5, back_t / 2.2), group=CUSHION))
    for sx in (-1, 1):
        x = sx * (hw - arm_w / 2)
        arm_r = min(arm_w / 2.1, r * rng.uniform(1, 2.5))
        parts.append(RoundedBox(center=[x, (leg_h + arm_top) / 2, 0], half=[arm_w / 2, (arm_top - leg_h) / 2, hd], radius=arm_r, group=CUSHION))
        if wing:
            wing_z = rng.uniform(0.2, 0.35)
            parts.append(RoundedBox(center=[x, (arm_top + back_top) / 2 - 0.03, -hd + back_t + wing_z / 2 - 0.05], half=[arm_w / 2, (back_top - arm_top) / 2, wing_z / 2],
                                    radius=min(arm_w / 2.2, 0.04), group=CUSHION))
    inner = hw - arm_w
    parts.append(RoundedBox(center=[0, seat_h - cushion_t / 2, back_t / 2], half=[inner, cushion_t / 2, hd - back_t / 2], radius=min(cushion_t / 2.2, 0.05), group=SEAT))
    if rng.random() < 0.5:  # a back cushion
        parts.append(RoundedBox(center=[0, seat_h + (back_top - seat_h) * 0.45, -hd + back_t + 0.05], half=[inner, (back_top - seat_h) * 0.4, 0.06], radius=0.05, group=SEAT))
    if leg_h > 0:
        style = ("taper_round", "round", "taper_square", "turned")[int(rng.integers(4))]
        parts += four_legs(rng, hw - 0.05, hd - 0.05, 0.0, leg_h + 0.01, rng.uniform(0.03, 0.05), style, rng.uniform(0, 0.1))
    return parts


def armchair(rng) -> list[Part]:
    return _upholstered(rng, wing=False)


def wingback(rng) -> list[Part]:
    return _upholstered(rng, wing=True)


def _tube_chair_seat_and_back(rng, width, depth, seat_h, back_h, tilt, tube_r) -> list[Part]:
    seat = _seat(rng, width, depth * 0.95, seat_h + rng.uniform(0.01, 0.04), rng.uniform(0.02, 0.06), padded=rng.random() < 0.5)
    z_back = -depth / 2 - tube_r
    back_t = rng.uniform(0.02, 0.05)
    back = _back(rng, "padded" if rng.random() < 0.5 else "solid", width, seat_h + rng.uniform(0.15, 0.2), back_h * rng.uniform(0.45, 0.75), back_t, z_back + back_t / 2 + tube_r, tilt)
    return seat + [p for p in back if p.group != FRAME]


def cantilever(rng) -> list[Part]:
    """A bent steel tube per side: floor runner, a front upright raked back, the seat rail, the
    back post; no rear legs (the seat is cantilevered)."""
    width, depth = rng.uniform(0.42, 0.52), rng.uniform(0.42, 0.5)
    seat_h, back_h = rng.uniform(0.42, 0.47), rng.uniform(0.35, 0.5)
    tube_r = rng.uniform(0.009, 0.015)
    tilt = rng.uniform(0.05, 0.25)
    front_floor = depth / 2 + rng.uniform(0.0, 0.1)
    back_floor = -depth / 2 + rng.uniform(-0.05, 0.15)
    bend = rng.uniform(0.04, 0.1)
    parts: list[Part] = []
    for sx in (-1, 1):
        x = sx * width / 2
        corners = [[x, tube_r, back_floor], [x, tube_r, front_floor], [x, seat_h, depth / 2 - rng.uniform(0.0, 0.05)], [x, seat_h, -depth / 2],
                   [x, seat_h + back_h * math.cos(tilt), -depth / 2 - back_h * math.sin(tilt)]]
        parts.append(Tube(path=rounded_path(corners, bend), radius=tube_r, sides=8, group=METAL))
    if rng.random() < 0.7:  # a cross tube joining the runners at the back
        parts.append(Tube(path=np.array([[-width / 2, tube_r, back_floor], [width / 2, tube_r, back_floor]]), radius=tube_r, sides=8, group=METAL))
    return parts + _tube_chair_seat_and_back(rng, width, depth, seat_h, back_h, tilt, tube_r)


def sled(rng) -> list[Part]:
    """Each side a closed tube loop (floor runner, front and rear uprights, seat rail), the rear
    upright running on up as the back post."""
    width, depth = rng.uniform(0.42, 0.52), rng.uniform(0.42, 0.5)
    seat_h, back_h = rng.uniform(0.42, 0.47), rng.uniform(0.35, 0.5)
    tube_r = rng.uniform(0.009, 0.015)
    tilt = rng.uniform(0.0, 0.2)
    bend = rng.uniform(0.03, 0.08)
    over = rng.uniform(0.0, 0.06)
    parts: list[Part] = []
    for sx in (-1, 1):
        x = sx * width / 2
        corners = [[x, seat_h, depth / 2], [x, tube_r, depth / 2 + over], [x, tube_r, -depth / 2 - over], [x, seat_h, -depth / 2],
                   [x, seat_h + back_h * math.cos(tilt), -depth / 2 - back_h * math.sin(tilt)]]
        parts.append(Tube(path=rounded_path(corners, bend), radius=tube_r, sides=8, group=METAL))
        parts.append(Tube(path=np.array([[x, seat_h, depth / 2], [x, seat_h, -depth / 2]]), radius=tube_r, sides=8, group=METAL))
    return parts + _tube_chair_seat_and_back(rng, width, depth, seat_h, back_h, tilt, tube_r)


def _stool(rng, height: float, back: bool) -> list[Part]:
    radius = rng.uniform(0.15, 0.22)
    seat_t = rng.uniform(0.03, 0.08)
    round_seat = rng.random() < 0.7
    if round_seat:
        bevel = seat_t * rng.uniform(0.2, 0.5)
        profile = np.array([[-seat_t, radius - bevel], [-seat_t + bevel, radius], [0, radius]])
        parts: list[Part] = [Lathe(center=[0, height, 0], profile=profile, segments=24, group=SEAT)]
    else:
        parts = _seat(rng, 2 * radius, 2 * radius, height, seat_t, padded=rng.random() < 0.4)
    under = height - seat_t
    if rng.random() < 0.4:
        parts += pedestal(rng, under, rng.uniform(0.025, 0.045), rng.uniform(0.18, 0.24), ("disc", "tulip", "star")[int(rng.integers(3))], group=METAL)
        if height > 0.6:
            parts.append(ring(height * rng.uniform(0.35, 0.45), rng.uniform(0.14, 0.2), 0.01))
    else:
        n = 3 if rng.random() < 0.4 else 4
        leg_r = rng.uniform(0.012, 0.025)
        splay = rng.uniform(0.05, 0.2)
        offset = rng.uniform(0, 2 * math.pi) if n == 3 else math.pi / 4
        feet = []
        for k in range(n):
            angle = offset + 2 * math.pi * k / n
            top = np.array([math.cos(angle) * radius * 0.65, under, math.sin(angle) * radius * 0.65])
            foot = np.array([math.cos(angle) * (radius * 0.65 + under * math.tan(splay)), 0.0, math.sin(angle) * (radius * 0.65 + under * math.tan(splay))])
            feet.append((top, foot))
            parts.append(Tube(path=np.array([foot + [0, leg_r, 0], top]), radius=leg_r, sides=8, group=FRAME))
        if rng.random() < 0.6:  # a footrest ring (or rungs) at the legs
            y = height * rng.uniform(0.3, 0.45)
            t = 1 - y / under
            points = [top * (1 - t) + foot * t for top, foot in feet]
            ring_r = float(np.hypot(points[0][0], points[0][2]))
            parts.append(ring(y, ring_r, leg_r * 0.7, group=FRAME))
    if back:
        back_r = radius * rng.uniform(1.0, 1.3)
        parts.append(ArcSlab(center=[0, 0, 0], radius=back_r, thickness=0.025, angle0=math.pi - 0.9, angle1=math.pi + 0.9, y0=height + 0.12, y1=height + rng.uniform(0.22, 0.35), steps=10, group=BACK))
        for sx in (-1, 1):
            x, z = sx * back_r * math.sin(0.7), -back_r * math.cos(0.7)
            parts.append(Tube(path=np.array([[x, height - 0.01, z * 0.8], [x, height + 0.2, z]]), radius=0.01, sides=8, group=METAL))
    return parts


def stool(rng) -> list[Part]:
    return _stool(rng, rng.uniform(0.42, 0.55), back=False)


def bar_stool(rng) -> list[Part]:
    return _stool(rng, rng.uniform(0.62, 0.8), back=rng.random() < 0.4)


def bench(rng) -> list[Part]:
    length, depth = rng.uniform(0.9, 1.6), rng.uniform(0.3, 0.45)
    seat_h, seat_t = rng.uniform(0.4, 0.48), rng.uniform(0.03, 0.07)
    parts = _seat(rng, length, depth, seat_h, seat_t, padded=rng.random() < 0.3)
    if rng.random() < 0.5:
        style = LEG_STYLES[int(rng.integers(len(LEG_STYLES)))]
        parts += four_legs(rng, length / 2 - 0.06, depth / 2 - 0.05, 0.0, seat_h - seat_t, rng.uniform(0.035, 0.06), style, rng.uniform(0, 0.06))
    else:  # slab ends
        t = rng.uniform(0.03, 0.06)
        inset = rng.uniform(0.0, 0.15)
        parts += [box(sx * (length / 2 - inset) - t / 2, sx * (length / 2 - inset) + t / 2, 0, seat_h - seat_t, -depth / 2 + 0.02, depth / 2 - 0.02, FRAME) for sx in (-1, 1)]
    if rng.random() < 0.4:
        parts += _back(rng, ("ladder", "solid", "vertical_slats")[int(rng.integers(3))], length, seat_h, rng.uniform(0.3, 0.45), 0.03, -depth / 2 + 0.015, rng.uniform(0, 0.2))
    return parts


def folding(rng) -> list[Part]:
    """Two tubes crossing in an X on each side under the seat; the rear one runs on up as the back post."""
    width, depth = rng.uniform(0.4, 0.46), rng.uniform(0.38, 0.45)
    seat_h, back_h = rng.uniform(0.43, 0.47), rng.uniform(0.3, 0.42)
    tube_r = rng.uniform(0.009, 0.014)
    tilt = rng.uniform(0.1, 0.25)
    parts: list[Part] = []
    for sx in (-1, 1):
        x = sx * width / 2
        parts.append(Tube(path=np.array([[x, tube_r, depth / 2 + 0.03], [x, seat_h, -depth / 2],
                                         [x, seat_h + back_h * math.cos(tilt), -depth / 2 - back_h * math.sin(tilt)]]), radius=tube_r, sides=8, group=METAL))
        parts.append(Tube(path=np.array([[x, tube_r, -depth / 2 - 0.05], [x, seat_h - 0.02, depth / 2 - 0.02]]), radius=tube_r, sides=8, group=METAL))
    parts += _seat(rng, width - 0.02, depth, seat_h + 0.02, rng.uniform(0.015, 0.03), padded=False)
    back = _back(rng, "solid", width - 0.02, seat_h + back_h * 0.5, back_h * 0.45, 0.02, -depth / 2, 0.0)
    return parts + [p.rotated(rot_x(-tilt), [0, seat_h, -depth / 2]) for p in back]


def rocking(rng) -> list[Part]:
    """A dining-style chair (arms more often) on two curved runners."""
    return dining(rng, rockers=True)


def pedestal_chair(rng) -> list[Part]:
    """A tulip-style chair: a shell seat (round pad and a curved back wrapping round) on a column."""
    radius = rng.uniform(0.22, 0.3)
    seat_h = rng.uniform(0.42, 0.48)
    parts = pedestal(rng, seat_h - 0.05, rng.uniform(0.025, 0.045), rng.uniform(0.2, 0.27), ("disc", "tulip", "star", "cross")[int(rng.integers(4))], group=METAL)
    parts.append(Lathe(center=[0, seat_h, 0], profile=np.array([[-0.06, radius * 0.6], [-0.02, radius], [0, radius]]), segments=24, group=SEAT))
    wrap = rng.uniform(0.8, 1.4)
    parts.append(ArcSlab(center=[0, 0, 0], radius=radius - 0.02, thickness=0.03, angle0=math.pi - wrap, angle1=math.pi + wrap, y0=seat_h - 0.03, y1=seat_h + rng.uniform(0.25, 0.45), steps=14, group=BACK))
    return parts


FAMILIES = {
    "dining": Family(0.30, dining, "wood"),
    "office": Family(0.15, office, "office"),
    "armchair": Family(0.11, armchair, "upholstered"),
    "wingback": Family(0.05, wingback, "upholstered"),
    "cantilever": Family(0.06, cantilever, "tube"),
    "sled": Family(0.04, sled, "tube"),
    "stool": Family(0.06, stool, "wood_or_metal"),
    "bar_stool": Family(0.05, bar_stool, "wood_or_metal"),
    "bench": Family(0.05, bench, "wood"),
    "folding": Family(0.04, folding, "tube"),
    "rocking": Family(0.04, rocking, "wood"),
    "tulip": Family(0.05, pedestal_chair, "modern"),
}
