"""The chair grammar (ShapeNet 03001627): its families; the dining, office, upholstered, rocking and tulip chairs.

    parts = FAMILIES["office"].maker(np.random.default_rng(0))    # a swivel chair, raw units

Raw units: about a metre; y up, the sitter faces +z, floor at y = 0, the seat centred on x = 0.
Each maker draws its proportions, part styles and options from the generator it is given. The
pieces they share are `chair_parts.py`'s; tube-framed chairs are `tube_chairs.py`'s, stools and
benches `stools.py`'s.
"""

import math

import numpy as np

from .chair_parts import BACK_STYLES, make_arms, make_back, make_seat
from .furniture import LEG_STYLES, Family, arc_points, four_legs, pedestal, star_base
from .parts import ACCENT, BACK, CUSHION, FRAME, METAL, SEAT, Lathe, Part, RoundedBox, box, rot_x
from .stools import bar_stool, bench, stool
from .swept_parts import ArcSlab, Tube
from .tube_chairs import cantilever, folding, sled


def dining(rng, rockers: bool = False) -> list[Part]:
    width, depth = rng.uniform(0.40, 0.56), rng.uniform(0.40, 0.52)
    seat_h, seat_t = rng.uniform(0.42, 0.49), rng.uniform(0.03, 0.07)
    leg_t = rng.uniform(0.03, 0.055)
    style = LEG_STYLES[int(rng.integers(len(LEG_STYLES)))]
    splay = rng.uniform(0, 0.08) if rng.random() < 0.3 else 0.0
    inset = rng.uniform(0.0, 0.03) + leg_t / 2
    hw, hd = width / 2 - inset, depth / 2 - inset
    parts = make_seat(rng, width, depth, seat_h, seat_t, padded=rng.random() < 0.3)
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
    parts += make_back(
        rng,
        back_style,
        width * rng.uniform(0.85, 1.0),
        seat_h,
        rng.uniform(0.3, 0.55),
        back_t,
        -depth / 2 + back_t / 2,
        rng.uniform(0.0, 0.25),
    )
    if rng.random() < (0.6 if rockers else 0.2):
        parts += make_arms(rng, width, depth, seat_h, padded=False)
    if rockers:  # lift the chair onto two curved runners under its legs
        lift = rng.uniform(0.04, 0.07)
        parts = [p.transformed([0, lift, 0], 1.0) for p in parts]
        radius, tube_r = rng.uniform(0.9, 1.5), max(leg_t / 2, 0.015)
        half_angle = min(0.5, (hd + 0.2) / radius)
        for sx in (-1, 1):
            path = arc_points(
                [0, radius + tube_r, 0], radius, -math.pi / 2 - half_angle, -math.pi / 2 + half_angle, 12, plane="zy"
            )
            path[:, 0] = sx * hw
            parts.append(Tube(path=path, radius=tube_r, sides=8, group=FRAME))
            parts += [
                box(
                    sx * hw - leg_t / 2,
                    sx * hw + leg_t / 2,
                    0.0,
                    lift + 0.01,
                    sz * hd - leg_t / 2,
                    sz * hd + leg_t / 2,
                    FRAME,
                )
                for sz in (-1, 1)
            ]
    return parts


def office(rng) -> list[Part]:
    width, depth = rng.uniform(0.44, 0.54), rng.uniform(0.42, 0.52)
    seat_h, seat_t = rng.uniform(0.44, 0.53), rng.uniform(0.06, 0.11)
    hub_y = rng.uniform(0.09, 0.13)
    parts = star_base(rng, hub_y, rng.uniform(0.26, 0.34), n_arms=5, casters=rng.random() < 0.85)
    lift_top = seat_h - seat_t - 0.04
    parts.append(
        Lathe(
            center=[0, 0, 0],
            profile=np.array([[hub_y, 0.025], [lift_top, 0.025], [lift_top, 0.03]]),
            segments=12,
            group=METAL,
        )
    )
    parts.append(box(-0.09, 0.09, seat_h - seat_t - 0.05, seat_h - seat_t + 0.005, -0.1, 0.1, ACCENT))  # the mechanism
    parts += make_seat(rng, width, depth, seat_h, seat_t, padded=True)
    back_w = width * rng.uniform(0.85, 1.0)
    back_h, back_t = rng.uniform(0.4, 0.75), rng.uniform(0.05, 0.1)
    gap = rng.uniform(0.03, 0.12)
    z_back = -depth / 2 - back_t / 2 + 0.02
    tilt = rng.uniform(0.05, 0.25)
    back = _office_back(rng, seat_h, seat_t, gap, back_w, back_h, back_t, z_back)
    parts += [p.rotated(rot_x(-tilt), [0, seat_h, z_back]) for p in back]
    if rng.random() < 0.6:
        arm_h = rng.uniform(0.18, 0.26)
        for sx in (-1, 1):
            x = sx * (width / 2 + 0.02)
            parts.append(box(x - 0.015, x + 0.015, seat_h - seat_t, seat_h + arm_h, -0.04, 0.0, METAL))
            parts.append(
                RoundedBox(center=[x, seat_h + arm_h, -0.02], half=[0.035, 0.02, 0.13], radius=0.018, group=ACCENT)
            )
    return parts


def _office_back(rng, seat_h, seat_t, gap, back_w, back_h, back_t, z_back) -> list[Part]:
    """An office chair's back, upright: the spine, a curved or flat padded panel, maybe a headrest."""
    back: list[Part] = [
        box(-0.03, 0.03, seat_h - seat_t - 0.02, seat_h + gap + 0.1, z_back - 0.015, z_back + 0.015, METAL)
    ]
    if rng.random() < 0.35:
        radius = rng.uniform(0.4, 0.8)
        half_angle = min(math.asin(min(back_w / 2 / radius, 0.95)), 1.0)
        back.append(
            ArcSlab(
                center=[0, 0, z_back + radius],
                radius=radius,
                thickness=back_t,
                angle0=math.pi - half_angle,
                angle1=math.pi + half_angle,
                y0=seat_h + gap,
                y1=seat_h + gap + back_h,
                steps=10,
                group=CUSHION,
            )
        )
    else:
        half, radius = [back_w / 2, back_h / 2, back_t / 2], min(back_t * 0.45, 0.04)
        back.append(RoundedBox(center=[0, seat_h + gap + back_h / 2, z_back], half=half, radius=radius, group=CUSHION))
    if rng.random() < 0.25:  # headrest
        half = [back_w * 0.3, 0.06, back_t / 2]
        back.append(RoundedBox(center=[0, seat_h + gap + back_h + 0.1, z_back], half=half, radius=0.025, group=CUSHION))
    return back


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

    def pad(centre_y, half_y, centre_xz, half_xz, radius, group=CUSHION):  # a rounded block
        (x, z), (half_x, half_z) = centre_xz, half_xz
        return RoundedBox(center=[x, centre_y, z], half=[half_x, half_y, half_z], radius=radius, group=group)

    base = pad((leg_h + base_top) / 2, (base_top - leg_h) / 2, (0, 0), (hw, hd), min(r, (base_top - leg_h) / 2.2))
    back_xz, back_half_xz = (0, -hd + back_t / 2), (hw, back_t / 2)
    parts: list[Part] = [
        base,
        pad((leg_h + back_top) / 2, (back_top - leg_h) / 2, back_xz, back_half_xz, min(r * 1.5, back_t / 2.2)),
    ]
    for sx in (-1, 1):
        x = sx * (hw - arm_w / 2)
        arm_r = min(arm_w / 2.1, r * rng.uniform(1, 2.5))
        parts.append(pad((leg_h + arm_top) / 2, (arm_top - leg_h) / 2, (x, 0), (arm_w / 2, hd), arm_r))
        if wing:
            wing_z = rng.uniform(0.2, 0.35)
            wing_xz, wing_half_xz = (x, -hd + back_t + wing_z / 2 - 0.05), (arm_w / 2, wing_z / 2)
            centre_y, half_y = (arm_top + back_top) / 2 - 0.03, (back_top - arm_top) / 2
            parts.append(pad(centre_y, half_y, wing_xz, wing_half_xz, min(arm_w / 2.2, 0.04)))
    inner = hw - arm_w
    seat_xz, seat_half_xz = (0, back_t / 2), (inner, hd - back_t / 2)
    parts.append(pad(seat_h - cushion_t / 2, cushion_t / 2, seat_xz, seat_half_xz, min(cushion_t / 2.2, 0.05), SEAT))
    if rng.random() < 0.5:  # a back cushion
        centre_y, half_y = seat_h + (back_top - seat_h) * 0.45, (back_top - seat_h) * 0.4
        parts.append(pad(centre_y, half_y, (0, -hd + back_t + 0.05), (inner, 0.06), 0.05, SEAT))
    if leg_h > 0:
        style = ("taper_round", "round", "taper_square", "turned")[int(rng.integers(4))]
        leg_r = rng.uniform(0.03, 0.05)
        parts += four_legs(rng, hw - 0.05, hd - 0.05, 0.0, leg_h + 0.01, leg_r, style, rng.uniform(0, 0.1))
    return parts


def armchair(rng) -> list[Part]:
    return _upholstered(rng, wing=False)


def wingback(rng) -> list[Part]:
    return _upholstered(rng, wing=True)


def rocking(rng) -> list[Part]:
    """A dining-style chair (arms more often) on two curved runners."""
    return dining(rng, rockers=True)


def tulip_chair(rng) -> list[Part]:
    """A tulip-style chair: a shell seat (round pad and a curved back wrapping round) on a column."""
    radius = rng.uniform(0.22, 0.3)
    seat_h = rng.uniform(0.42, 0.48)
    parts = pedestal(
        rng,
        seat_h - 0.05,
        rng.uniform(0.025, 0.045),
        rng.uniform(0.2, 0.27),
        ("disc", "tulip", "star", "cross")[int(rng.integers(4))],
        group=METAL,
    )
    parts.append(
        Lathe(
            center=[0, seat_h, 0],
            profile=np.array([[-0.06, radius * 0.6], [-0.02, radius], [0, radius]]),
            segments=24,
            group=SEAT,
        )
    )
    wrap = rng.uniform(0.8, 1.4)
    parts.append(
        ArcSlab(
            center=[0, 0, 0],
            radius=radius - 0.02,
            thickness=0.03,
            angle0=math.pi - wrap,
            angle1=math.pi + wrap,
            y0=seat_h - 0.03,
            y1=seat_h + rng.uniform(0.25, 0.45),
            steps=14,
            group=BACK,
        )
    )
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
    "tulip": Family(0.05, tulip_chair, "modern"),
}
