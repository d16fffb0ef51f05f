"""Analytic solid parts of the shape grammar, each with an exact inside test and a triangle mesh.

    leg = cyl(0.2, 0.2, 0.0, 0.4, radius=0.02)                            # a vertical cylinder
    seat = RoundedBox(center=[0, 0.45, 0], half=[0.25, 0.04, 0.25], radius=0.03)
    leg.contains(points)            # (N, 3) -> (N,) bool, the true solid
    verts, faces, normals = seat.mesh()                                   # outward, unit normals

Kinds: `Box` (oriented box), `RoundedBox` (a box with rounded
edges and corners: cushions, padded seats), `Lathe` (a profile revolved round its local y:
cylinders, tulip bases, round seats, turned columns); the swept kinds, `Tube` and `ArcSlab`,
are in `swept_parts.py`.

Every part has a local frame placed by `rot` (3, 3) and `center` (3,): p = rot @ p_local +
center. Inside tests are exact for the ideal solid; meshes are fine enough that their surface
lies within a small fraction of a 32^3 voxel of it. `group` names the part's role (frame, seat,
back, cushion, metal...), which picks its material when rendered. numpy only: this module
imports nothing of the project.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

FRAME, SEAT, BACK, CUSHION, METAL, ACCENT = range(6)  # part roles (`group`)


@dataclass
class Part:
    """Base: an oriented solid. Subclasses define `_inside(local)` and `_local_mesh()`."""

    center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rot: np.ndarray = field(default_factory=lambda: np.eye(3))
    group: int = FRAME

    def __post_init__(self):
        self.center = np.asarray(self.center, float)
        self.rot = np.asarray(self.rot, float)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """points (N, 3) in the shape's frame -> (N,) bool: inside the ideal solid."""
        return self._inside((points - self.center) @ self.rot)  # rot^T (p - c), row-vector form

    def mesh(self, detail: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """verts (V, 3), faces (F, 3) int (outward winding), normals (V, 3) unit, in the shape's frame.
        detail multiplies the tessellation of curved surfaces (renderings use 1, exact surface
        samples more, so their chords hug the ideal surface)."""
        verts, faces, normals = self._local_mesh(detail)
        faces = orient_outward(verts, faces, normals)
        return verts @ self.rot.T + self.center, faces, normals @ self.rot.T

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """An axis-aligned box (lo, hi) holding the whole ideal solid (computed once)."""
        if "_bounds" not in self.__dict__:
            verts = self.mesh()[0]
            pad = 0.02 * float(np.max(verts.max(0) - verts.min(0)))  # chords of curved meshes lie inside the solid
            self.__dict__["_bounds"] = (verts.min(0) - pad, verts.max(0) + pad)
        return self.__dict__["_bounds"]

    def rotated(self, rot: np.ndarray, pivot) -> "Part":
        """The part rigidly rotated by rot (3, 3) about the point pivot."""
        pivot = np.asarray(pivot, float)
        return replace(self, center=rot @ (self.center - pivot) + pivot, rot=rot @ self.rot)

    def transformed(self, shift, scale: float) -> "Part":
        """The same part after p -> (p + shift) * scale."""
        return replace(self._scaled(scale), center=(self.center + np.asarray(shift, float)) * scale)

    def _scaled(self, scale: float) -> "Part":
        raise NotImplementedError


@dataclass
class Box(Part):
    half: np.ndarray = field(default_factory=lambda: np.ones(3))  # half extents (x, y, z)

    def _inside(self, local):
        return np.all(np.abs(local) <= self.half, axis=1)

    def _local_mesh(self, detail=1):
        verts, faces, normals = [], [], []
        for axis in range(3):
            for sign in (-1.0, 1.0):
                u, v = (axis + 1) % 3, (axis + 2) % 3  # e_u x e_v = e_axis
                quad = np.zeros((4, 3))
                quad[:, axis] = sign
                quad[:, u] = [-1, 1, 1, -1]
                quad[:, v] = [-1, -1, 1, 1]
                base = len(verts) * 4
                verts.append(quad * self.half)
                normal = np.zeros(3)
                normal[axis] = sign
                normals.append(np.tile(normal, (4, 1)))
                tri = [[0, 1, 2], [0, 2, 3]] if sign > 0 else [[0, 2, 1], [0, 3, 2]]
                faces += [[base + a, base + b, base + c] for a, b, c in tri]
        return np.concatenate(verts), np.array(faces), np.concatenate(normals)

    def _scaled(self, scale):
        return replace(self, half=np.asarray(self.half, float) * scale)

    def rotated(self, rot: np.ndarray, pivot) -> "Box":
        """As `Part.rotated`; a box turned by a signed permutation (a quarter turn, a mirror) is
        kept axis-aligned, with its half extents permuted: the same solid, and the union's mesh
        keeps treating it as an aligned box (`shapes.parts_to_mesh` cuts those along each other)."""
        turned = super().rotated(rot, pivot)
        is_signed_permutation = np.allclose(np.abs(turned.rot).sum(0), 1) and np.allclose(np.abs(turned.rot).max(0), 1)
        if not is_signed_permutation:
            return turned
        return replace(turned, rot=np.eye(3), half=np.abs(turned.rot) @ np.asarray(self.half, float))


def orient_outward(verts: np.ndarray, faces: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """faces (F, 3) re-wound where needed so each triangle's normal agrees with its vertices'
    mean (outward) normal: the meshes are built by hand, and a wrong winding flips shading."""
    tri = verts[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = (face_normals * normals[faces].sum(1)).sum(1) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


def box(x0, x1, y0, y1, z0, z1, group=FRAME) -> Box:
    """Axis-aligned box from its extents."""
    lo, hi = np.array([x0, y0, z0], float), np.array([x1, y1, z1], float)
    return Box(center=(lo + hi) / 2, half=(hi - lo) / 2, group=group)


def _ring(n: int) -> np.ndarray:
    angles = np.arange(n) * 2 * np.pi / n
    return np.stack([np.cos(angles), np.zeros(n), np.sin(angles)], axis=1)


def lathe_mesh(profile: np.ndarray, n: int):
    """Surface of revolution round y of profile (K, 2) rows (y, r), bottom to top, with flat caps
    where r > 0 at the ends. Side normals follow the profile's slope."""
    ring = _ring(n)
    verts, faces, normals = [], [], []
    ys, rs = profile[:, 0], profile[:, 1]
    for k in range(len(profile) - 1):  # one band per profile segment, its own vertices (crisp edges)
        dy, dr = ys[k + 1] - ys[k], rs[k + 1] - rs[k]
        length = math.hypot(dy, dr)
        if length < 1e-12:
            continue
        radial, up = dy / length, -dr / length  # outward normal of the segment in (r, y)
        base = sum(len(v) for v in verts)
        lower = ring * rs[k] + [0, ys[k], 0]
        upper = ring * rs[k + 1] + [0, ys[k + 1], 0]
        verts.append(np.concatenate([lower, upper]))
        normals.append(np.tile(ring * radial + [0, up, 0], (2, 1)))
        for i in range(n):
            j = (i + 1) % n
            faces += [[base + i, base + n + j, base + j], [base + i, base + n + i, base + n + j]]
    for end, sign in ((0, -1.0), (len(profile) - 1, 1.0)):
        if rs[end] > 1e-9:
            base = sum(len(v) for v in verts)
            verts.append(np.concatenate([ring * rs[end] + [0, ys[end], 0], [[0, ys[end], 0]]]))
            normals.append(np.tile([0, sign, 0], (n + 1, 1)))
            for i in range(n):
                j = (i + 1) % n
                faces.append([base + i, base + j, base + n] if sign < 0 else [base + i, base + n, base + j])
    return np.concatenate(verts), np.array(faces), np.concatenate(normals)


@dataclass
class Lathe(Part):
    """A profile (K, 2) of rows (y, r), y increasing, revolved round the local y axis."""

    profile: np.ndarray = field(default_factory=lambda: np.array([[-1.0, 1.0], [1.0, 1.0]]))
    segments: int = 20

    def _inside(self, local):
        ys, rs = self.profile[:, 0], self.profile[:, 1]
        y = local[:, 1]
        radius = np.interp(y, ys, rs)
        return (y >= ys[0]) & (y <= ys[-1]) & (local[:, 0] ** 2 + local[:, 2] ** 2 <= radius**2)

    def _local_mesh(self, detail=1):
        return lathe_mesh(np.asarray(self.profile, float), self.segments * detail)

    def _scaled(self, scale):
        return replace(self, profile=np.asarray(self.profile, float) * scale)


def cyl(x, z, y0, y1, radius, group=FRAME) -> Lathe:
    """Vertical cylinder standing on y0, reaching y1 (a two-row lathe)."""
    return Lathe(
        center=[x, (y0 + y1) / 2, z],
        profile=np.array([[-(y1 - y0) / 2, radius], [(y1 - y0) / 2, radius]]),
        segments=16,
        group=group,
    )


@dataclass
class RoundedBox(Part):
    """A box of half extents `half` whose edges and corners are rounded with `radius`: the points
    within `radius` of the inner box of half extents half - radius."""

    half: np.ndarray = field(default_factory=lambda: np.ones(3))
    radius: float = 0.1
    steps: int = 1  # subdivisions of each rounded quarter (the analytic normals make even one look round)

    def _inside(self, local):
        inner = np.asarray(self.half) - self.radius
        excess = np.maximum(np.abs(local) - inner, 0.0)
        return (excess**2).sum(1) <= self.radius**2

    def _local_mesh(self, detail=1):
        half, r = np.asarray(self.half, float), self.radius
        inner = half - r
        theta = np.linspace(0, np.pi / 2, self.steps * detail + 1)
        verts, faces, normals = [], [], []
        for axis in range(3):
            for sign in (-1.0, 1.0):
                u, v = (axis + 1) % 3, (axis + 2) % 3
                # Grid on the flat face extended into the rounded zones: positions along u and v.
                cu = np.concatenate(
                    [-inner[u] - r * np.sin(theta[::-1][:-1]), [-inner[u], inner[u]], inner[u] + r * np.sin(theta[1:])]
                )
                cv = np.concatenate(
                    [-inner[v] - r * np.sin(theta[::-1][:-1]), [-inner[v], inner[v]], inner[v] + r * np.sin(theta[1:])]
                )
                gu, gv = np.meshgrid(cu, cv, indexing="ij")
                grid = np.zeros(gu.shape + (3,))
                grid[..., axis], grid[..., u], grid[..., v] = sign * half[axis], gu, gv
                points = grid.reshape(-1, 3)
                core = np.clip(points, -inner, inner)
                direction = points - core
                direction /= np.linalg.norm(direction, axis=1, keepdims=True)
                base = sum(len(p) for p in verts)
                verts.append(core + r * direction)
                normals.append(direction)
                nu, nv = gu.shape
                for i in range(nu - 1):
                    for j in range(nv - 1):
                        a, b, c, d = (
                            base + i * nv + j,
                            base + (i + 1) * nv + j,
                            base + (i + 1) * nv + j + 1,
                            base + i * nv + j + 1,
                        )
                        faces += [[a, b, c], [a, c, d]] if sign > 0 else [[a, c, b], [a, d, c]]
        return np.concatenate(verts), np.array(faces), np.concatenate(normals)

    def _scaled(self, scale):
        return replace(self, half=np.asarray(self.half, float) * scale, radius=self.radius * scale)


def rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
