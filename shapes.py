"""Analytic solids and their union: the shape grammar's building blocks, in numpy only.

    parts = [box(-0.3, 0.3, 0.4, 0.45, -0.3, 0.3), cyl(0.25, 0.25, 0.0, 0.4, 0.02)]
    verts, faces, groups = parts_to_mesh(normalize_parts(parts))
    voxels = voxelize_parts(normalize_parts(parts))          # (32, 32, 32) bool, [z, y, x]

A shape is a list of `Part`s (oriented boxes, cylinders); the solid is their union. Every part
has an exact inside test, so voxels (and occupancy labels) are those of the true solid, and a
triangle mesh; axis-aligned boxes contribute only the boundary of their union, so the mesh's
surface is the solid's surface. This module imports nothing of the project: the category
grammars (`furniture.py`) build on it, and `embedded_dataset.py` turns shapes into files.

Frame: raw grammar units are about a metre (y up, front towards +z); `normalize_parts` maps a
shape to ShapeNet v1's object frame (bounding box centred on the origin, diagonal 1).
"""

import math
from dataclasses import dataclass

import numpy as np

# The R2N2 voxel resolution (ShapeNetVox32); `r2n2.VOXEL_RES` is the same number.
VOXEL_RES = 32


@dataclass
class Part:
    """An oriented box or a y-axis cylinder, in some frame.

    kind: "box" or "cyl". For a box, `half` is its half extents (x, y, z) in its local frame;
    for a cylinder, `half` is (radius, half height, radius). `rot` (3, 3) maps local to frame
    coordinates: p_frame = rot @ p_local + center. `group` picks the part's colour.
    """

    kind: str
    center: np.ndarray
    half: np.ndarray
    rot: np.ndarray
    group: int = 0

    def contains(self, points: np.ndarray) -> np.ndarray:
        """points: (N, 3) in the part's frame -> (N,) bool."""
        local = (points - self.center) @ self.rot  # rot^T (p - c), row-vector form
        if self.kind == "box":
            return np.all(np.abs(local) <= self.half, axis=1)
        radius, half_height = self.half[0], self.half[1]
        return (local[:, 0] ** 2 + local[:, 2] ** 2 <= radius**2) & (
            np.abs(local[:, 1]) <= half_height
        )

    def mesh(self, n_segments: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Triangle mesh of the part: verts (V, 3), faces (F, 3), outward-facing."""
        if self.kind == "box":
            verts, faces = _unit_box()
        else:
            verts, faces = _unit_cylinder(n_segments)
        verts = (verts * self.half) @ self.rot.T + self.center
        return verts, faces

    def transformed(self, shift: np.ndarray, scale: float) -> "Part":
        """The same part after p -> (p + shift) * scale."""
        return Part(self.kind, (self.center + shift) * scale, self.half * scale, self.rot, self.group)


def _unit_box() -> tuple[np.ndarray, np.ndarray]:
    # Four vertices per side (24 in all) so each side shades flat.
    verts, faces = [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            u, v = [a for a in range(3) if a != axis]
            quad = []
            for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = np.zeros(3)
                p[axis], p[u], p[v] = sign, du, dv
                quad.append(p)
            base = len(verts)
            verts.extend(quad)
            # Orient so the normal points along +sign*axis.
            normal = np.cross(quad[1] - quad[0], quad[2] - quad[0])
            if normal[axis] * sign > 0:
                faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
            else:
                faces += [[base, base + 2, base + 1], [base, base + 3, base + 2]]
    return np.array(verts), np.array(faces)


def _unit_cylinder(n: int) -> tuple[np.ndarray, np.ndarray]:
    angles = np.arange(n) * 2 * np.pi / n
    ring = np.stack([np.cos(angles), np.zeros(n), np.sin(angles)], axis=1)
    bottom, top = ring + [0, -1, 0], ring + [0, 1, 0]
    verts = np.concatenate([bottom, top, bottom, top, [[0, -1, 0], [0, 1, 0]]])
    faces = []
    for i in range(n):
        j = (i + 1) % n
        faces += [[i, n + j, j], [i, n + i, n + j]]  # side
        faces += [[2 * n + i, 2 * n + j, 4 * n]]  # bottom cap, normal -y
        faces += [[3 * n + i, 4 * n + 1, 3 * n + j]]  # top cap, normal +y
    return verts, np.array(faces)


def rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def box(x0, x1, y0, y1, z0, z1, group=0) -> Part:
    """Axis-aligned box from its extents."""
    lo, hi = np.array([x0, y0, z0], float), np.array([x1, y1, z1], float)
    return Part("box", (lo + hi) / 2, (hi - lo) / 2, np.eye(3), group)


def cyl(x, z, y0, y1, radius, group=0) -> Part:
    """Vertical cylinder standing on y0, reaching y1."""
    return Part("cyl", np.array([x, (y0 + y1) / 2, z]), np.array([radius, (y1 - y0) / 2, radius]), np.eye(3), group)


def rotate_about(parts: list[Part], rot: np.ndarray, pivot: np.ndarray) -> list[Part]:
    """Rigidly rotate parts about a pivot point."""
    return [Part(p.kind, rot @ (p.center - pivot) + pivot, p.half, rot @ p.rot, p.group) for p in parts]


def _is_aligned_box(part: Part) -> bool:
    return part.kind == "box" and np.allclose(part.rot, np.eye(3))


def _aligned_box_boundary(part: Part, aligned: list[Part]) -> tuple[np.ndarray, np.ndarray]:
    """The faces of an axis-aligned box that lie on the boundary of the union of boxes.

    Each side is cut at every other aligned box's extents, so each cell of a side is either
    wholly covered by some other box (an internal face: dropped) or wholly exposed. Without
    this, touching and overlapping boxes (a sofa's arms, base and back) leave large faces
    inside the solid, and samples of the OBJ's surface would not lie on the shape's surface.
    """
    lo, hi = part.center - part.half, part.center + part.half
    others = [p for p in aligned if p is not part]
    verts, faces = [], []
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3  # e_u x e_v = e_axis
        cuts = []
        for a in (u, v):
            c = {lo[a], hi[a]}
            for p in others:
                c |= {x for x in (p.center[a] - p.half[a], p.center[a] + p.half[a]) if lo[a] < x < hi[a]}
            cuts.append(np.array(sorted(c)))
        cu, cv = cuts
        gu, gv = np.meshgrid(np.arange(len(cu) - 1), np.arange(len(cv) - 1), indexing="ij")
        gu, gv = gu.ravel(), gv.ravel()
        for sign, plane in ((-1.0, lo[axis]), (1.0, hi[axis])):
            probe = np.zeros((len(gu), 3))
            probe[:, axis] = plane + sign * 1e-7  # just outside this side
            probe[:, u] = (cu[gu] + cu[gu + 1]) / 2
            probe[:, v] = (cv[gv] + cv[gv + 1]) / 2
            covered = np.zeros(len(gu), bool)
            for p in others:
                covered |= p.contains(probe)
            for i in np.flatnonzero(~covered):
                quad = np.zeros((4, 3))
                quad[:, axis] = plane
                quad[:, u] = cu[[gu[i], gu[i] + 1, gu[i] + 1, gu[i]]]
                quad[:, v] = cv[[gv[i], gv[i], gv[i] + 1, gv[i] + 1]]
                base = len(verts) * 4
                verts.append(quad)
                tri = [[0, 1, 2], [0, 2, 3]] if sign > 0 else [[0, 2, 1], [0, 3, 2]]
                faces.extend([[base + a, base + b, base + c] for a, b, c in tri])
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), int)
    return np.concatenate(verts), np.array(faces)


def parts_to_mesh(parts: list[Part]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shape's mesh: verts (V, 3), faces (F, 3) int, group (V,) of each vertex (its colour).

    Axis-aligned boxes contribute only the boundary of their union; other parts (tilted boxes,
    cylinders: legs, backs) their whole surface, whose hidden parts are small.
    """
    aligned = [p for p in parts if _is_aligned_box(p)]
    verts, faces, groups, offset = [], [], [], 0
    for part in parts:
        v, f = _aligned_box_boundary(part, aligned) if _is_aligned_box(part) else part.mesh()
        verts.append(v)
        faces.append(f + offset)
        groups.append(np.full(len(v), part.group))
        offset += len(v)
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(groups)


def normalize_parts(parts: list[Part]) -> list[Part]:
    """Centre the mesh's bounding box on the origin and give its diagonal length 1 (ShapeNet v1)."""
    verts, _, _ = parts_to_mesh(parts)
    lo, hi = verts.min(0), verts.max(0)
    scale = 1.0 / np.linalg.norm(hi - lo)
    return [p.transformed(-(lo + hi) / 2, scale) for p in parts]


def voxel_centers_1d(res: int = VOXEL_RES) -> np.ndarray:
    """Object-frame coordinate of each voxel centre along one axis: the grid spans [-0.5, 0.5]."""
    return (np.arange(res) + 0.5) / res - 0.5


def voxelize_parts(parts: list[Part], res: int = VOXEL_RES, supersample: int = 3, min_fraction: float = 0.25, side: float = 1.0) -> np.ndarray:
    """Solid occupancy of a union of parts on a res^3 grid over the cube [-side/2, side/2]^3.

    A voxel is occupied when at least `min_fraction` of its supersample^3 sub-cell centres lie
    inside some part. A plain centre test would drop parts thinner than a voxel (chair slats,
    legs); counting sub-cells keeps them while not inflating thick parts by a whole voxel.
    side=1 is the object-frame grid the models predict; R2N2's ShapeNetVox32 files use the
    object's largest side instead (see `r2n2.binvox_centers`).

    Returns: (res, res, res) bool, index order [z, y, x] (D, H, W, as PyTorch3D's cubify and
    marching_cubes expect), voxel [k, j, i] centred at (x, y, z) = side * voxel_centers_1d()[[i, j, k]].
    """
    s = supersample
    fine = res * s
    coords = side * ((np.arange(fine) + 0.5) / fine - 0.5)
    inside_fine = np.zeros((fine, fine, fine), dtype=bool)  # [z, y, x] sub-cells
    for part in parts:
        # Test only the sub-cells in the part's bounding box.
        verts, _ = part.mesh()
        lo = np.clip(np.floor((verts.min(0) / side + 0.5) * fine).astype(int), 0, fine)
        hi = np.clip(np.ceil((verts.max(0) / side + 0.5) * fine).astype(int), 0, fine)
        (x0, y0, z0), (x1, y1, z1) = lo, hi
        if min(x1 - x0, y1 - y0, z1 - z0) <= 0:
            continue
        zz, yy, xx = np.meshgrid(coords[z0:z1], coords[y0:y1], coords[x0:x1], indexing="ij")
        inside = part.contains(np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1))
        inside_fine[z0:z1, y0:y1, x0:x1] |= inside.reshape(zz.shape)
    fraction = inside_fine.reshape(res, s, res, s, res, s).mean(axis=(1, 3, 5))
    return fraction >= min_fraction
