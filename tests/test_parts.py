import numpy as np
import pytest

from procedural.parts import Box, Lathe, RoundedBox, box, cyl, rot_x, rot_y
from procedural.swept_parts import ArcSlab, Tube

PARTS = {
    "box": box(-0.3, 0.3, 0.0, 0.1, -0.2, 0.2),
    "cylinder": cyl(0.1, 0.0, 0.0, 0.5, 0.15),
    "rounded_box": RoundedBox(center=[0, 0.2, 0], half=[0.3, 0.1, 0.2], radius=0.05),
    "tube": Tube(path=np.array([[0, 0, 0], [0, 0.5, 0], [0.2, 0.7, 0], [0.5, 0.7, 0.1]]), radius=0.04),
    "ring": Tube(
        path=np.array([[np.cos(a) * 0.3, 0, np.sin(a) * 0.3] for a in np.linspace(0, 2 * np.pi, 24, endpoint=False)]),
        radius=0.03,
        closed=True,
    ),
    "arc_slab": ArcSlab(
        center=[0, 0, 0.5], radius=0.5, thickness=0.05, angle0=np.pi - 0.6, angle1=np.pi + 0.6, y0=0, y1=0.4
    ),
    "lathe": Lathe(profile=np.array([[0, 0.3], [0.05, 0.1], [0.6, 0.05], [0.65, 0.25]]), segments=24),
}


def mesh_volume(verts, faces):
    tri = verts[faces]
    return np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6


@pytest.mark.parametrize("name", sorted(PARTS))
def test_mesh_is_closed_outward_and_matches_the_inside_test(name):
    """The mesh's volume (divergence theorem: positive only if outward) matches the inside
    test's Monte Carlo volume, and points just inside / outside each face test accordingly."""
    part = PARTS[name].rotated(rot_y(0.4) @ rot_x(0.3), [0.1, 0.2, 0.3])
    verts, faces, normals = part.mesh()
    lo, hi = part.bounds()
    points = np.random.default_rng(0).uniform(lo, hi, (200_000, 3))
    mc_volume = part.contains(points).mean() * np.prod(hi - lo)
    assert mesh_volume(verts, faces) == pytest.approx(mc_volume, rel=0.12)  # tessellated curves lie a little inside
    tri = verts[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    big = np.linalg.norm(face_normals, axis=1) > 1e-8
    face_normals = face_normals[big] / np.linalg.norm(face_normals[big], axis=1, keepdims=True)
    centroids = tri.mean(1)[big]
    assert part.contains(centroids - 0.003 * face_normals).mean() > 0.97
    assert part.contains(centroids + 0.012 * face_normals).mean() < 0.03
    assert np.allclose(np.linalg.norm(normals, axis=1), 1)


def test_inside_tests_against_hand_computed_points():
    assert PARTS["box"].contains(np.array([[0.29, 0.05, 0.19], [0.31, 0.05, 0]])).tolist() == [True, False]
    inner_corner = np.array([0.25, 0.25, 0.15])  # the rounded corner is the ball of radius 0.05 about it
    corner_points = [inner_corner + 0.049 / np.sqrt(3), inner_corner + 0.051 / np.sqrt(3), [0.29, 0.29, 0.19]]
    assert PARTS["rounded_box"].contains(np.array(corner_points)).tolist() == [True, False, False]
    assert PARTS["tube"].contains(np.array([[0.0, -0.039, 0.0], [0.0, -0.041, 0.0], [0.039, 0.25, 0.0]])).tolist() == [
        True,
        False,
        True,
    ]
    # The arc slab: the mid-surface is 0.5 from its axis at (0, 0.5), spanning 0.6 rad each side of -z.
    assert PARTS["arc_slab"].contains(
        np.array(
            [
                [0, 0.2, 0.0],
                [0.5 * np.sin(0.59), 0.2, 0.5 - 0.5 * np.cos(0.59)],
                [0.5 * np.sin(0.61), 0.2, 0.5 - 0.5 * np.cos(0.61)],
            ]
        )
    ).tolist() == [True, True, False]
    assert PARTS["lathe"].contains(np.array([[0.09, 0.05, 0.0], [0.11, 0.05, 0.0], [0.0, 0.66, 0.0]])).tolist() == [
        True,
        False,
        False,
    ]


def test_transformed_scales_every_kind_about_the_origin():
    points = np.random.default_rng(1).uniform(-1, 1, (20_000, 3))
    for name, part in PARTS.items():
        moved = part.transformed([0.1, -0.2, 0.05], 2.0)
        assert np.array_equal(moved.contains((points + [0.1, -0.2, 0.05]) * 2.0), part.contains(points)), name
        assert isinstance(moved, type(part))
    assert isinstance(PARTS["box"], Box)
