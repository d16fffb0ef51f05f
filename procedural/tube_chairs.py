"""Chairs framed in bent steel tube: cantilever, sled and folding X-frame chairs.

parts = cantilever(np.random.default_rng(0))    # raw units, as `chairs.py`
"""

import math

import numpy as np

from .chair_parts import make_back, make_seat, tube_seat_and_back
from .furniture import rounded_path
from .parts import METAL, Part, rot_x
from .swept_parts import Tube


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
        corners = [
            [x, tube_r, back_floor],
            [x, tube_r, front_floor],
            [x, seat_h, depth / 2 - rng.uniform(0.0, 0.05)],
            [x, seat_h, -depth / 2],
            [x, seat_h + back_h * math.cos(tilt), -depth / 2 - back_h * math.sin(tilt)],
        ]
        parts.append(Tube(path=rounded_path(corners, bend), radius=tube_r, sides=8, group=METAL))
    if rng.random() < 0.7:  # a cross tube joining the runners at the back
        parts.append(
            Tube(
                path=np.array([[-width / 2, tube_r, back_floor], [width / 2, tube_r, back_floor]]),
                radius=tube_r,
                sides=8,
                group=METAL,
            )
        )
    return parts + tube_seat_and_back(rng, width, depth, seat_h, back_h, tilt, tube_r)


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
        corners = [
            [x, seat_h, depth / 2],
            [x, tube_r, depth / 2 + over],
            [x, tube_r, -depth / 2 - over],
            [x, seat_h, -depth / 2],
            [x, seat_h + back_h * math.cos(tilt), -depth / 2 - back_h * math.sin(tilt)],
        ]
        parts.append(Tube(path=rounded_path(corners, bend), radius=tube_r, sides=8, group=METAL))
        parts.append(
            Tube(path=np.array([[x, seat_h, depth / 2], [x, seat_h, -depth / 2]]), radius=tube_r, sides=8, group=METAL)
        )
    return parts + tube_seat_and_back(rng, width, depth, seat_h, back_h, tilt, tube_r)


def folding(rng) -> list[Part]:
    """Two tubes crossing in an X on each side under the seat; the rear one runs on up as the back post."""
    width, depth = rng.uniform(0.4, 0.46), rng.uniform(0.38, 0.45)
    seat_h, back_h = rng.uniform(0.43, 0.47), rng.uniform(0.3, 0.42)
    tube_r = rng.uniform(0.009, 0.014)
    tilt = rng.uniform(0.1, 0.25)
    parts: list[Part] = []
    for sx in (-1, 1):
        x = sx * width / 2
        parts.append(
            Tube(
                path=np.array(
                    [
                        [x, tube_r, depth / 2 + 0.03],
                        [x, seat_h, -depth / 2],
                        [x, seat_h + back_h * math.cos(tilt), -depth / 2 - back_h * math.sin(tilt)],
                    ]
                ),
                radius=tube_r,
                sides=8,
                group=METAL,
            )
        )
        parts.append(
            Tube(
                path=np.array([[x, tube_r, -depth / 2 - 0.05], [x, seat_h - 0.02, depth / 2 - 0.02]]),
                radius=tube_r,
                sides=8,
                group=METAL,
            )
        )
    parts += make_seat(rng, width - 0.02, depth, seat_h + 0.02, rng.uniform(0.015, 0.03), padded=False)
    back = make_back(rng, "solid", width - 0.02, seat_h + back_h * 0.5, back_h * 0.45, 0.02, -depth / 2, 0.0)
    return parts + [p.rotated(rot_x(-tilt), [0, seat_h, -depth / 2]) for p in back]
