"""Parts swept along a path, with the same exact inside tests and meshes as `parts.py`.

    leg = Tube(np.array([[0, 0, 0], [0, 0.4, 0.05]]), radius=0.02)   # a bent tube (capsules)
    back = ArcSlab(radius=0.5, thickness=0.03, angle0=-0.6, angle1=0.6, y0=0.5, y1=0.9)

`Tube`: a polyline swept by a ball (bent steel tubes, spindles, casters, rings). `ArcSlab`: a
panel bent round a vertical axis (curved backs). numpy only, like `parts.py`.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .parts import Part, lathe_mesh


def _segment_distances(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, S) distance from each point (N, 3) to each segment a[s]-b[s] (S, 3)."""
    ab = b - a  # (S, 3)
    t = np.einsum("nsk,sk->ns", points[:, None] - a[None], ab) / np.maximum((ab**2).sum(1), 1e-18)
    closest = a[None] + np.clip(t, 0, 1)[..., None] * ab[None]
    return np.linalg.norm(points[:, None] - closest, axis=2)


@dataclass
class Tube(Part):
    """A ball of `radius` swept along a polyline path (K, 3) (local frame): a union of capsules,
    so bends are round and open ends are hemispherical. `closed` joins the last point to the first."""

    path: np.ndarray = field(default_factory=lambda: np.array([[0.0, 0, 0], [0, 1, 0]]))
    radius: float = 0.02
    closed: bool = False
    sides: int = 10

    def _segments(self):
        path = np.asarray(self.path, float)
        if self.closed:
            return path, np.roll(path, -1, axis=0)
        if len(path) == 1:
            return path, path
        return path[:-1], path[1:]

    def _inside(self, local):
        a, b = self._segments()
        return _segment_distances(local, a, b).min(1) <= self.radius

    def _local_mesh(self, detail=1):
        path, r, n = np.asarray(self.path, float), self.radius, self.sides * detail
        if len(path) == 1:  # a ball
            return _ball(path[0], r, n)
        tangents = np.diff(np.concatenate([path[-1:], path, path[:1]]) if self.closed else path, axis=0)
        tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
        if self.closed:
            joint = tangents[:-1] + tangents[1:]
        else:
            joint = np.concatenate([tangents[:1], tangents[:-1] + tangents[1:], tangents[-1:]])
        joint /= np.linalg.norm(joint, axis=1, keepdims=True)
        # Frames transported along the path, so rings do not twist.
        ref = np.array([0.0, 1.0, 0.0]) if abs(joint[0, 1]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = np.cross(joint[0], ref)
        frames = []
        for t in joint:
            u = u - t * (u @ t)
            u /= np.linalg.norm(u)
            frames.append((u, np.cross(t, u)))
        angles = np.arange(n) * 2 * np.pi / n
        around = [np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * w for u, w in frames]  # (n, 3) per ring
        verts = [np.concatenate([p + r * d for p, d in zip(path, around)])]
        normals = [np.concatenate(around)]
        rings, faces = len(path), []
        for k in range(rings if self.closed else rings - 1):
            k2 = (k + 1) % rings
            for i in range(n):
                j = (i + 1) % n
                a, b, c, d = k * n + i, k * n + j, k2 * n + j, k2 * n + i
                faces += [[a, b, c], [a, c, d]]
        faces = [np.array(faces)]
        if not self.closed:  # hemispherical caps, bulging out of each end
            for end, axis in ((0, -joint[0]), (rings - 1, joint[-1])):
                cap_v, cap_f, cap_n = _cap(path[end], axis, around[end], r, rings=3 * detail)
                faces.append(cap_f + sum(len(v) for v in verts))
                verts.append(cap_v)
                normals.append(cap_n)
        return np.concatenate(verts), np.concatenate(faces), np.concatenate(normals)

    def _scaled(self, scale):
        return replace(self, path=np.asarray(self.path, float) * scale, radius=self.radius * scale)


def _cap(center, axis, around, r, rings: int = 3):
    """A hemisphere of radius r on `center` bulging along unit `axis`; around (n, 3) are the unit
    directions of the tube's end ring (its equator). Returns verts, faces, normals."""
    n = len(around)
    verts, normals = [], []
    for k in range(rings):
        phi = k * (np.pi / 2) / rings
        directions = np.cos(phi) * around + np.sin(phi) * axis
        verts.append(center + r * directions)
        normals.append(directions)
    verts.append((center + r * axis)[None])
    normals.append(axis[None])
    faces = []
    for k in range(rings - 1):
        for i in range(n):
            j = (i + 1) % n
            a, b, c, d = k * n + i, k * n + j, (k + 1) * n + j, (k + 1) * n + i
            faces += [[a, b, c], [a, c, d]]
    apex = rings * n
    faces += [[(rings - 1) * n + i, (rings - 1) * n + (i + 1) % n, apex] for i in range(n)]
    return np.concatenate(verts), np.array(faces), np.concatenate(normals)


def _ball(center, r, n):
    phis = np.linspace(0, np.pi, 7)
    profile = np.stack([-r * np.cos(phis), r * np.sin(phis)], 1)
    verts, faces, normals = lathe_mesh(profile, n)
    normals = verts / np.linalg.norm(verts, axis=1, keepdims=True)
    return verts + center, faces, normals


@dataclass
class ArcSlab(Part):
    """A panel bent round the local y axis: radius `radius` (mid-surface), thickness `thickness`,
    angles [angle0, angle1] measured from +z towards +x, heights [y0, y1]. With the centre in
    front of a chair's back, the back curves round the sitter."""

    radius: float = 1.0
    thickness: float = 0.05
    angle0: float = -0.5
    angle1: float = 0.5
    y0: float = 0.0
    y1: float = 1.0
    steps: int = 10

    def _inside(self, local):
        rho = np.hypot(local[:, 0], local[:, 2])
        middle, half_span = (self.angle0 + self.angle1) / 2, (self.angle1 - self.angle0) / 2
        offset = np.angle(np.exp(1j * (np.arctan2(local[:, 0], local[:, 2]) - middle)))  # wrapped to (-pi, pi]
        return (
            (np.abs(rho - self.radius) <= self.thickness / 2)
            & (np.abs(offset) <= half_span)
            & (local[:, 1] >= self.y0)
            & (local[:, 1] <= self.y1)
        )

    def _local_mesh(self, detail=1):
        angles = np.linspace(self.angle0, self.angle1, self.steps * detail + 1)
        radial = np.stack([np.sin(angles), np.zeros_like(angles), np.cos(angles)], 1)  # (A, 3)
        r_in, r_out = self.radius - self.thickness / 2, self.radius + self.thickness / 2
        verts, faces, normals = [], [], []

        def quad_strip(lower, upper, normal_rows, outward):
            base = sum(len(v) for v in verts)
            m = len(lower)
            verts.append(np.concatenate([lower, upper]))
            normals.append(np.concatenate([normal_rows, normal_rows]))
            for i in range(m - 1):
                a, b, c, d = base + i, base + i + 1, base + m + i + 1, base + m + i
                faces.extend([[a, b, c], [a, c, d]] if outward else [[a, c, b], [a, d, c]])

        y0, y1 = np.array([0, self.y0, 0]), np.array([0, self.y1, 0])
        quad_strip(radial * r_out + y0, radial * r_out + y1, radial, False)  # outer (convex) side
        quad_strip(radial * r_in + y0, radial * r_in + y1, -radial, True)  # inner side
        quad_strip(radial * r_in + y1, radial * r_out + y1, np.tile([0, 1.0, 0], (len(angles), 1)), False)  # top
        quad_strip(radial * r_in + y0, radial * r_out + y0, np.tile([0, -1.0, 0], (len(angles), 1)), True)  # bottom
        for k, sign in ((0, -1.0), (-1, 1.0)):  # the two ends
            tangent = sign * np.array([math.cos(angles[k]), 0, -math.sin(angles[k])])
            corners = np.array(
                [radial[k] * r_in + y0, radial[k] * r_out + y0, radial[k] * r_out + y1, radial[k] * r_in + y1]
            )
            base = sum(len(v) for v in verts)
            verts.append(corners)
            normals.append(np.tile(tangent, (4, 1)))
            tri = [[0, 1, 2], [0, 2, 3]]
            if np.dot(np.cross(corners[1] - corners[0], corners[2] - corners[0]), tangent) < 0:
                tri = [[0, 2, 1], [0, 3, 2]]
            faces += [[base + a, base + b, base + c] for a, b, c in tri]
        return np.concatenate(verts), np.array(faces), np.concatenate(normals)

    def _scaled(self, scale):
        return replace(
            self, radius=self.radius * scale, thickness=self.thickness * scale, y0=self.y0 * scale, y1=self.y1 * scale
        )
