import numpy as np

from parts import Tube, box, cyl
from shapes import normalize_parts, parts_to_mesh, union_contains, voxelize_parts


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
    mesh = parts_to_mesh(parts)
    tri = mesh.verts[mesh.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    assert abs(area - 10.0) < 1e-9  # a 2 x 1 x 1 box: 2 * (2 + 2 + 1)


def test_normalize_parts_gives_shapenet_frame():
    parts = normalize_parts([box(0, 2, 0, 1, 0, 0.5), cyl(1, 0.25, 1, 1.6, 0.1)])
    verts = parts_to_mesh(parts).verts
    lo, hi = verts.min(0), verts.max(0)
    assert np.allclose((lo + hi) / 2, 0, atol=1e-12) and abs(np.linalg.norm(hi - lo) - 1) < 1e-12


def test_faces_buried_in_another_part_are_dropped():
    """A leg whose top end is inside the seat: its faces in there are not on the surface."""
    seat = box(-0.3, 0.3, 0.4, 0.5, -0.3, 0.3)
    leg = Tube(path=np.array([[0.0, 0.0, 0.0], [0.0, 0.45, 0.0]]), radius=0.03)  # its round top (to 0.48) is in the seat
    mesh = parts_to_mesh([seat, leg])
    tri = mesh.verts[mesh.faces]
    centroids = tri.mean(1)
    leg_faces = mesh.part_index[mesh.faces[:, 0]] == 1
    assert leg_faces.any() and (centroids[leg_faces][:, 1] < 0.42).all()  # nothing of the leg's cap is left in the seat
    assert len(mesh.normals) == len(mesh.verts) and np.allclose(np.linalg.norm(mesh.normals, axis=1), 1)


def test_union_contains_is_any_part_and_voxels_follow_it():
    parts = [box(-0.4, 0.0, -0.1, 0.1, -0.1, 0.1), Tube(path=np.array([[0.0, 0.0, 0.0], [0.3, 0.3, 0.0]]), radius=0.05)]
    points = np.array([[-0.2, 0, 0], [0.15, 0.15, 0], [0.3, -0.3, 0], [0.3, 0.3, 0.049]])
    assert union_contains(parts, points).tolist() == [True, True, False, True]
    grid = voxelize_parts(parts, supersample=1, min_fraction=1.0)  # plain centre test
    centres = (np.argwhere(grid)[:, ::-1] + 0.5) / 32 - 0.5  # [z, y, x] indices -> (x, y, z)
    assert union_contains(parts, centres).all()
