"""Random assemblies of boards, rods and tubes: shapes no family has, so none can be recognised.

    parts = assembly(rng)        # 3-10 parts joined at random angles and thicknesses, in raw units

LRM-Zero's Zeroverse trains on random unions of primitives with thin wire-like parts and transfers
to real objects; a network that meets such shapes cannot answer an image with the template of a
family it recognises and has to read the shape off the image. Each part is attached to one placed
before it (its end or centre inside the other's box), so an assembly is one object, as furniture
is. Only generic parts: no held-out family's own part (cantilever frame, X legs, rockers, trestle,
chaise end) is among them. Materials are drawn from every style (`materials.py`).
"""

import math

import numpy as np

from .parts import ACCENT, BACK, FRAME, METAL, SEAT, Box, RoundedBox, cyl, rot_x, rot_y, rot_z
from .swept_parts import Tube

GROUPS = (FRAME, SEAT, BACK, METAL, ACCENT)


def random_rotation(rng) -> np.ndarray:
    """Half the time axis-aligned (as furniture mostly is), else turned by random angles."""
    if rng.random() < 0.5:
        return rot_y(rng.choice([0, math.pi / 2]))
    return (
        rot_z(rng.uniform(-math.pi, math.pi)) @ rot_x(rng.uniform(-math.pi, math.pi)) @ rot_y(rng.uniform(0, math.pi))
    )


def board(rng, center, group) -> Box:
    """A flat board: two sides 0.1-0.6, a thickness 0.015-0.06, rounded or sharp."""
    half = np.array([rng.uniform(0.05, 0.3), rng.uniform(0.0075, 0.03), rng.uniform(0.05, 0.3)])
    rot = random_rotation(rng)
    if rng.random() < 0.3:
        return RoundedBox(center=center, rot=rot, half=half, radius=float(min(half) * 0.9), group=group)
    return Box(center=center, rot=rot, half=half, group=group)


def rod(rng, center, group):
    """A straight rod: length 0.2-0.7, radius 0.008-0.03."""
    length, radius = rng.uniform(0.2, 0.7), rng.uniform(0.008, 0.03)
    part = cyl(0.0, 0.0, -length / 2, length / 2, radius, group=group)
    return part.rotated(random_rotation(rng), np.zeros(3)).transformed(np.asarray(center, float), 1.0)


def tube(rng, center, group) -> Tube:
    """A bent tube of 2-4 straight runs, radius 0.008-0.025."""
    points = [np.zeros(3)]
    for _ in range(rng.integers(2, 5)):
        step = rng.normal(size=3)
        points.append(points[-1] + rng.uniform(0.1, 0.35) * step / np.linalg.norm(step))
    path = np.array(points) - np.mean(points, axis=0)
    return Tube(center=np.asarray(center, float), path=path, radius=rng.uniform(0.008, 0.025), group=group)


MAKERS = (board, rod, tube)
WEIGHTS = np.array([0.4, 0.35, 0.25])


def assembly(rng) -> list:
    """3-10 random parts, each attached to one placed before it: its centre inside that part's
    bounding box, so the parts meet."""
    parts = []
    for k in range(int(rng.integers(3, 11))):
        group = GROUPS[int(rng.integers(len(GROUPS)))]
        if not parts:
            center = np.zeros(3)
        else:
            lo, hi = parts[int(rng.integers(len(parts)))].bounds()
            center = rng.uniform(lo, hi)
        maker = MAKERS[int(rng.choice(len(MAKERS), p=WEIGHTS))]
        parts.append(maker(rng, center, group))
    return parts
