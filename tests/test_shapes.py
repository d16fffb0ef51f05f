import numpy as np

from shapes import box, cyl, normalize_parts, parts_to_mesh, voxelize_parts


def test_voxels_are_solid_and_zyx():
    """A box part wider in x than in z: the grid's last axis must be x, the interior filled."""
    part = box(-0.4, 0.4, -0.1, 0.1, -0.2, 0.2)
    grid = voxelize_parts([part])
    extent = [int(grid.any(axis=tuple(a for a in range(3) if a != k)).sum()) for k in range(3)]
    # Lengths z 0.4, y 0.2, x 0.8 of the 1.0 cube at 32 cells: 12.8, 6.4 and 25.6 cells, give or
    # take the boundary cells that are at least a quarter covered.
    for cells, length in zip(extent, (0.4, 0.2, 0.8)):
        assert abs(cells - 32 * length) <= 2
    # Solid, not a shell: every cell inside the occupied extents' boundary layer is filled
    # (boundary edge cells may drop out, being under a quarter covered).
    occupied = [np.flatnonzero(grid.any(axis=tuple(a for a in range(3) if a != k))) for k in range(3)]
    inner = tuple(slice(cells[0] + 1, cells[-1]) for cells in occupied)
    assert grid[inner].all() and grid[inner].size >= 10 * 4 * 22


def test_union_of_touching_boxes_has_no_internal_faces():
    """Two boxes sharing a side: the mesh is the union's boundary, so its area is the union's."""
    parts = [box(0, 1, 0, 1, 0, 1), box(1, 2, 0, 1, 0, 1)]
    verts, faces, _ = parts_to_mesh(parts)
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    assert abs(area - 10.0) < 1e-9  # a 2 x 1 x 1 box: 2 * (2 + 2 + 1)


def test_normalize_parts_gives_shapenet_frame():
    parts = normalize_parts([box(0, 2, 0, 1, 0, 0.5), cyl(1, 0.25, 1, 1.6, 0.1)])
    verts, _, _ = parts_to_mesh(parts)
    lo, hi = verts.min(0), verts.max(0)
    assert np.allclose((lo + hi) / 2, 0, atol=1e-12) and abs(np.linalg.norm(hi - lo) - 1) < 1e-12
