"""Stools, bar stools (round or square seats, pedestals or splayed legs, footrest rings) and benches.

parts = bar_stool(np.random.default_rng(0))    # raw units, as `chairs.py`
"""

import math

import numpy as np

from .chair_parts import make_back, make_seat
from .furniture import LEG_STYLES, four_legs, pedestal, ring
from .parts import BACK, FRAME, METAL, SEAT, Lathe, Part, box
from .swept_parts import ArcSlab, Tube


def _stool(rng, height: float, back: bool) -> list[Part]:
    radius = rng.uniform(0.15, 0.22)
    seat_t = rng.uniform(0.03, 0.08)
    round_seat = rng.random() < 0.7
    if round_seat:
        bevel = seat_t * rng.uniform(0.2, 0.5)
        profile = np.array([[-seat_t, radius - bevel], [-seat_t + bevel, radius], [0, radius]])
        parts: list[Part] = [Lathe(center=[0, height, 0], profile=profile, segments=24, group=SEAT)]
    else:
        parts = make_seat(rng, 2 * radius, 2 * radius, height, seat_t, padded=rng.random() < 0.4)
    under = height - seat_t
    if rng.random() < 0.4:
        column_r, base_r = rng.uniform(0.025, 0.045), rng.uniform(0.18, 0.24)
        parts += pedestal(rng, under, column_r, base_r, ("disc", "tulip", "star")[int(rng.integers(3))], group=METAL)
        if height > 0.6:
            parts.append(ring(height * rng.uniform(0.35, 0.45), rng.uniform(0.14, 0.2), 0.01))
    else:
        parts += _splayed_legs(rng, radius, height, under)
    if back:
        back_r = radius * rng.uniform(1.0, 1.3)
        back_y1 = height + rng.uniform(0.22, 0.35)
        parts.append(
            ArcSlab(
                center=[0, 0, 0],
                radius=back_r,
                thickness=0.025,
                angle0=math.pi - 0.9,
                angle1=math.pi + 0.9,
                y0=height + 0.12,
                y1=back_y1,
                steps=10,
                group=BACK,
            )
        )
        for sx in (-1, 1):
            x, z = sx * back_r * math.sin(0.7), -back_r * math.cos(0.7)
            path = np.array([[x, height - 0.01, z * 0.8], [x, height + 0.2, z]])
            parts.append(Tube(path=path, radius=0.01, sides=8, group=METAL))
    return parts


def _splayed_legs(rng, radius, height, under) -> list[Part]:
    """3 or 4 legs splayed out from under the seat, often with a footrest ring round them."""
    n = 3 if rng.random() < 0.4 else 4
    leg_r = rng.uniform(0.012, 0.025)
    splay = rng.uniform(0.05, 0.2)
    offset = rng.uniform(0, 2 * math.pi) if n == 3 else math.pi / 4
    parts, feet = [], []
    for k in range(n):
        angle = offset + 2 * math.pi * k / n
        direction = np.array([math.cos(angle), 0.0, math.sin(angle)])
        top = direction * radius * 0.65 + [0, under, 0]
        foot = direction * (radius * 0.65 + under * math.tan(splay))
        feet.append((top, foot))
        parts.append(Tube(path=np.array([foot + [0, leg_r, 0], top]), radius=leg_r, sides=8, group=FRAME))
    if rng.random() < 0.6:  # a footrest ring (or rungs) at the legs
        y = height * rng.uniform(0.3, 0.45)
        t = 1 - y / under
        points = [top * (1 - t) + foot * t for top, foot in feet]
        ring_r = float(np.hypot(points[0][0], points[0][2]))
        parts.append(ring(y, ring_r, leg_r * 0.7, group=FRAME))
    return parts


def stool(rng) -> list[Part]:
    return _stool(rng, rng.uniform(0.42, 0.55), back=False)


def bar_stool(rng) -> list[Part]:
    return _stool(rng, rng.uniform(0.62, 0.8), back=rng.random() < 0.4)


def bench(rng) -> list[Part]:
    length, depth = rng.uniform(0.9, 1.6), rng.uniform(0.3, 0.45)
    seat_h, seat_t = rng.uniform(0.4, 0.48), rng.uniform(0.03, 0.07)
    parts = make_seat(rng, length, depth, seat_h, seat_t, padded=rng.random() < 0.3)
    if rng.random() < 0.5:
        style = LEG_STYLES[int(rng.integers(len(LEG_STYLES)))]
        parts += four_legs(
            rng,
            length / 2 - 0.06,
            depth / 2 - 0.05,
            0.0,
            seat_h - seat_t,
            rng.uniform(0.035, 0.06),
            style,
            rng.uniform(0, 0.06),
        )
    else:  # slab ends
        t = rng.uniform(0.03, 0.06)
        inset = rng.uniform(0.0, 0.15)
        parts += [
            box(
                sx * (length / 2 - inset) - t / 2,
                sx * (length / 2 - inset) + t / 2,
                0,
                seat_h - seat_t,
                -depth / 2 + 0.02,
                depth / 2 - 0.02,
                FRAME,
            )
            for sx in (-1, 1)
        ]
    if rng.random() < 0.4:
        parts += make_back(
            rng,
            ("ladder", "solid", "vertical_slats")[int(rng.integers(3))],
            length,
            seat_h,
            rng.uniform(0.3, 0.45),
            0.03,
            -depth / 2 + 0.015,
            rng.uniform(0, 0.2),
        )
    return parts
