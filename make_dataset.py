"""Generate the embedded procedural dataset in the R2N2 / ShapeNet layout.

    python make_dataset.py --root data/embedded --n_models 1000 --n_views 4 --seed 0

Writes, for chairs (03001627), tables (04379243) and sofas (04256520):

    ROOT/shapenet/<synset>/<model>/model.obj                 ShapeNet v1 style mesh
    ROOT/r2n2/ShapeNetRendering/<synset>/<model>/rendering/  00.png .. NN.png (137x137 RGBA)
                                                             rendering_metadata.txt
    ROOT/r2n2/ShapeNetVoxels/<synset>/<model>/model.binvox   32^3 solid occupancy
    ROOT/splits.json                                         {split: {synset: {model: [views]}}}
    ROOT/embedded.json                                       how this dataset was made

Every shape is a union of analytic parts (boxes, cylinders). That lets the voxels be the exact
solid (a point is inside if it is inside any part), not a guess from a non-watertight mesh, and
the same parts give the OBJ. Output is deterministic for a seed: each model draws from its own
generator seeded by (seed, category, index), whatever the number of worker processes.

Frames: the object frame is ShapeNet v1's (y up; the mesh's bounding box is centred on the
origin and its diagonal has length 1, so the shape lies in [-0.5, 0.5]^3). Views are rendered
with PyTorch3D's R2N2 camera utilities from the metadata lines, exactly as
`pytorch3d.datasets.R2N2` reconstructs the camera.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from dataset import IMAGE_SIZE, R2N2_K, VOXEL_RES, r2n2_camera

SYNSETS = {"03001627": "chair", "04379243": "table", "04256520": "sofa"}
GENERATOR_VERSION = 2

# R2N2 records fov 25 in the metadata although its renderer's intrinsics (R2N2_K) are fixed.
R2N2_FOV = 25.0


# --------------------------------------------------------------------------------------------
# Parts: analytic solids with a mesh and an inside test
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Categories. Raw units: about a metre; y up, front towards +z, floor at y = 0.
# --------------------------------------------------------------------------------------------

FRAME, SEAT, BACK = 0, 1, 2


def _leg_parts(rng, xs, zs, y0, y1, thickness, round_legs, group=FRAME) -> list[Part]:
    parts = []
    for x in xs:
        for z in zs:
            if round_legs:
                parts.append(cyl(x, z, y0, y1, thickness / 2, group))
            else:
                t = thickness / 2
                parts.append(box(x - t, x + t, y0, y1, z - t, z + t, group))
    return parts


def _pedestal(rng, y_top, column_radius, foot_span, group=FRAME) -> list[Part]:
    foot_h = rng.uniform(0.03, 0.06)
    parts = [cyl(0, 0, foot_h * 0.5, y_top, column_radius, group)]
    if rng.random() < 0.5:
        parts.append(cyl(0, 0, 0, foot_h, foot_span, group))  # disc base
    else:
        n_feet = int(rng.integers(4, 6))
        width = rng.uniform(0.04, 0.06)
        offset = rng.uniform(0, 2 * np.pi)
        for k in range(n_feet):
            foot = box(0, foot_span, 0, foot_h, -width / 2, width / 2, group)
            parts += rotate_about([foot], rot_y(offset + 2 * np.pi * k / n_feet), np.zeros(3))
    return parts


def make_chair(rng: np.random.Generator) -> list[Part]:
    width, depth = rng.uniform(0.42, 0.62), rng.uniform(0.40, 0.60)
    seat_h, seat_t = rng.uniform(0.38, 0.52), rng.uniform(0.04, 0.10)
    leg_t = rng.uniform(0.045, 0.08)
    y_seat_bottom = seat_h - seat_t
    parts = [box(-width / 2, width / 2, y_seat_bottom, seat_h, -depth / 2, depth / 2, SEAT)]

    base = rng.choice(["legs", "pedestal", "sled"], p=[0.5, 0.25, 0.25])
    if base == "legs":
        inset = rng.uniform(0.0, 0.05) + leg_t / 2
        xs, zs = (-width / 2 + inset, width / 2 - inset), (-depth / 2 + inset, depth / 2 - inset)
        parts += _leg_parts(rng, xs, zs, 0.0, y_seat_bottom, leg_t, rng.random() < 0.4)
        if rng.random() < 0.35:  # stretchers between the legs
            y = rng.uniform(0.08, 0.2)
            t = leg_t * 0.35
            for x in xs:
                parts.append(box(x - t, x + t, y - t, y + t, zs[0], zs[1], FRAME))
    elif base == "pedestal":
        parts += _pedestal(rng, y_seat_bottom, rng.uniform(0.03, 0.05), rng.uniform(0.22, 0.32))
    else:  # sled: two floor runners with uprights at front and back
        t = leg_t / 2
        for x in (-width / 2 + t, width / 2 - t):
            parts.append(box(x - t, x + t, 0, leg_t, -depth / 2 - 0.03, depth / 2 + 0.03, FRAME))
            for z in (-depth / 2 + t, depth / 2 - t):
                parts.append(box(x - t, x + t, leg_t, y_seat_bottom, z - t, z + t, FRAME))

    # Back, built upright on the back edge of the seat, then tilted backwards about that edge.
    back_h, back_t = rng.uniform(0.25, 0.6), rng.uniform(0.035, 0.07)
    z_back = -depth / 2 + back_t / 2
    back_parts = []
    if rng.random() < 0.5:
        back_parts.append(box(-width / 2, width / 2, seat_h, seat_h + back_h, z_back - back_t / 2, z_back + back_t / 2, BACK))
    else:
        post_w = rng.uniform(0.045, 0.07)
        rail_h = rng.uniform(0.05, 0.1)
        zb0, zb1 = z_back - back_t / 2, z_back + back_t / 2
        for x in (-width / 2, width / 2 - post_w):
            back_parts.append(box(x, x + post_w, seat_h, seat_h + back_h, zb0, zb1, FRAME))
        back_parts.append(box(-width / 2, width / 2, seat_h + back_h - rail_h, seat_h + back_h, zb0, zb1, BACK))
        n_slats = int(rng.integers(2, 5))
        inner0, inner1 = -width / 2 + post_w, width / 2 - post_w
        if rng.random() < 0.5:  # vertical slats
            slat_w = rng.uniform(0.045, 0.06)
            for k in range(n_slats):
                x = inner0 + (k + 1) * (inner1 - inner0) / (n_slats + 1)
                back_parts.append(box(x - slat_w / 2, x + slat_w / 2, seat_h, seat_h + back_h - rail_h, zb0, zb1, BACK))
        else:  # horizontal slats
            slat_h = rng.uniform(0.045, 0.06)
            for k in range(n_slats - 1):
                y = seat_h + (k + 1) * (back_h - rail_h) / n_slats
                back_parts.append(box(inner0, inner1, y - slat_h / 2, y + slat_h / 2, zb0, zb1, BACK))
    tilt = rng.uniform(0.0, 0.35)
    parts += rotate_about(back_parts, rot_x(-tilt), np.array([0.0, seat_h, z_back]))

    if rng.random() < 0.35:  # arms: a rail on each side on a front support
        arm_h = rng.uniform(0.16, 0.26)
        arm_w = rng.uniform(0.045, 0.07)
        for x in (-width / 2, width / 2 - arm_w):
            parts.append(box(x, x + arm_w, seat_h + arm_h - 0.04, seat_h + arm_h, -depth / 2, depth / 2, FRAME))
            parts.append(box(x, x + arm_w, seat_h, seat_h + arm_h, depth / 2 - arm_w, depth / 2, FRAME))
    return parts


def make_table(rng: np.random.Generator) -> list[Part]:
    height, top_t = rng.uniform(0.45, 0.8), rng.uniform(0.035, 0.08)
    y_under = height - top_t
    round_top = rng.random() < 0.3
    if round_top:
        radius = rng.uniform(0.35, 0.6)
        parts = [cyl(0, 0, y_under, height, radius, SEAT)]
        half_w = half_d = radius / math.sqrt(2)
    else:
        half_w, half_d = rng.uniform(0.35, 0.75), rng.uniform(0.25, 0.45)
        parts = [box(-half_w, half_w, y_under, height, -half_d, half_d, SEAT)]
    leg_t = rng.uniform(0.05, 0.09)
    base = rng.choice(["legs", "pedestal", "panels"], p=[0.5, 0.25, 0.25])
    if base == "legs" or (base == "panels" and round_top):
        inset = rng.uniform(0.02, 0.08) + leg_t / 2
        xs, zs = (-half_w + inset, half_w - inset), (-half_d + inset, half_d - inset)
        parts += _leg_parts(rng, xs, zs, 0.0, y_under, leg_t, rng.random() < 0.4)
        if rng.random() < 0.3:  # lower shelf
            y = rng.uniform(0.1, 0.25)
            parts.append(box(xs[0], xs[1], y, y + 0.04, zs[0], zs[1], SEAT))
    elif base == "pedestal":
        parts += _pedestal(rng, y_under, rng.uniform(0.05, 0.09), min(half_w, half_d) * rng.uniform(0.6, 0.9))
    else:  # two slab sides
        panel_t = rng.uniform(0.04, 0.08)
        inset = rng.uniform(0.0, 0.1)
        for x in (-half_w + inset, half_w - inset - panel_t):
            parts.append(box(x, x + panel_t, 0, y_under, -half_d * 0.9, half_d * 0.9, FRAME))
    return parts


def make_sofa(rng: np.random.Generator) -> list[Part]:
    width, depth = rng.uniform(1.2, 2.2), rng.uniform(0.75, 1.0)
    seat_h, foot_h = rng.uniform(0.38, 0.48), rng.choice([0.0, rng.uniform(0.05, 0.12)])
    cushion_t = rng.uniform(0.08, 0.15)
    back_t, back_h = rng.uniform(0.15, 0.25), rng.uniform(0.3, 0.5)
    has_arms = rng.random() < 0.8
    arm_w = rng.uniform(0.1, 0.25) if has_arms else 0.0
    hw, hd = width / 2, depth / 2
    parts = [box(-hw, hw, foot_h, seat_h - cushion_t, -hd, hd, FRAME)]
    parts.append(box(-hw, hw, foot_h, seat_h + back_h, -hd, -hd + back_t, BACK))
    n_cushions = int(rng.integers(1, 4))
    inner0, inner1 = -hw + arm_w, hw - arm_w
    step = (inner1 - inner0) / n_cushions
    for k in range(n_cushions):
        gap = 0.01 if n_cushions > 1 else 0.0
        parts.append(box(inner0 + k * step + gap, inner0 + (k + 1) * step - gap, seat_h - cushion_t, seat_h, -hd + back_t, hd, SEAT))
    if has_arms:
        arm_top = seat_h + rng.uniform(0.1, 0.25)
        for x in (-hw, hw - arm_w):
            parts.append(box(x, x + arm_w, foot_h, arm_top, -hd, hd, FRAME))
    if foot_h > 0:
        t = 0.05
        parts += _leg_parts(rng, (-hw + t, hw - t), (-hd + t, hd - t), 0.0, foot_h + 0.001, 2 * t, rng.random() < 0.5)
    return parts


MAKERS = {"03001627": make_chair, "04379243": make_table, "04256520": make_sofa}


# --------------------------------------------------------------------------------------------
# Mesh, normalisation, voxels
# --------------------------------------------------------------------------------------------


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


def voxelize_parts(parts: list[Part], res: int = VOXEL_RES, supersample: int = 3, min_fraction: float = 0.25) -> np.ndarray:
    """Solid occupancy of a union of parts on the [-0.5, 0.5]^3 grid.

    A voxel is occupied when at least `min_fraction` of its supersample^3 sub-cell centres lie
    inside some part. A plain centre test would drop parts thinner than a voxel (chair slats,
    legs); counting sub-cells keeps them while not inflating thick parts by a whole voxel.

    Returns: (res, res, res) bool, index order [z, y, x] (D, H, W, as PyTorch3D's cubify and
    marching_cubes expect), voxel [k, j, i] centred at (x, y, z) = voxel_centers_1d()[[i, j, k]].
    """
    s = supersample
    fine = res * s
    coords = (np.arange(fine) + 0.5) / fine - 0.5
    inside_fine = np.zeros((fine, fine, fine), dtype=bool)  # [z, y, x] sub-cells
    for part in parts:
        # Test only the sub-cells in the part's bounding box.
        verts, _ = part.mesh()
        lo = np.clip(np.floor((verts.min(0) + 0.5) * fine).astype(int), 0, fine)
        hi = np.clip(np.ceil((verts.max(0) + 0.5) * fine).astype(int), 0, fine)
        (x0, y0, z0), (x1, y1, z1) = lo, hi
        if min(x1 - x0, y1 - y0, z1 - z0) <= 0:
            continue
        zz, yy, xx = np.meshgrid(coords[z0:z1], coords[y0:y1], coords[x0:x1], indexing="ij")
        inside = part.contains(np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1))
        inside_fine[z0:z1, y0:y1, x0:x1] |= inside.reshape(zz.shape)
    fraction = inside_fine.reshape(res, s, res, s, res, s).mean(axis=(1, 3, 5))
    return fraction >= min_fraction


def write_binvox(path: str, voxels_zyx: np.ndarray) -> None:
    """Write a (D, D, D) [z, y, x] bool grid covering [-0.5, 0.5]^3 as binvox.

    binvox stores voxels with y fastest, then z, then x (linear index x*D*D + z*D + y), as
    PyTorch3D's `read_binvox_coords` reads them. The header's translate/scale place the grid:
    voxel centre = translate + (index + 0.5) * scale / D.
    """
    dim = voxels_zyx.shape[0]
    data = np.ascontiguousarray(voxels_zyx.transpose(2, 0, 1)).ravel().astype(np.uint8)  # [x, z, y]
    # Run-length encode as (value, count) byte pairs, counts at most 255.
    change = np.flatnonzero(np.diff(data)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(data)]]))
    out = bytearray()
    for start, length in zip(starts, lengths):
        value = data[start]
        while length > 0:
            run = min(length, 255)
            out += bytes([value, run])
            length -= run
    header = f"#binvox 1\ndim {dim} {dim} {dim}\ntranslate -0.5 -0.5 -0.5\nscale 1.0\ndata\n"
    with open(path, "wb") as f:
        f.write(header.encode() + bytes(out))


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def render_rgba(verts, faces, vert_colors, Rs, Ts, light_dirs, ambient: float) -> np.ndarray:
    """Render one mesh from V R2N2 cameras.

    verts (V0, 3), faces (F, 3), vert_colors (V0, 3) in [0, 1]; Rs (V, 3, 3), Ts (V, 3),
    light_dirs (V, 3). Returns (V, 137, 137, 4) uint8 RGBA with a transparent background.
    """
    import torch
    from pytorch3d.datasets.r2n2.utils import BlenderCamera
    from pytorch3d.renderer import (
        BlendParams,
        DirectionalLights,
        HardPhongShader,
        Materials,
        MeshRasterizer,
        MeshRenderer,
        RasterizationSettings,
        TexturesVertex,
    )
    from pytorch3d.structures import Meshes

    n_views = len(Rs)
    mesh = Meshes(
        verts=[torch.as_tensor(verts, dtype=torch.float32)],
        faces=[torch.as_tensor(faces, dtype=torch.int64)],
        textures=TexturesVertex([torch.as_tensor(vert_colors, dtype=torch.float32)]),
    ).extend(n_views)
    cameras = BlenderCamera(R=Rs, T=Ts, K=R2N2_K.expand(n_views, 4, 4))
    lights = DirectionalLights(
        direction=torch.as_tensor(light_dirs, dtype=torch.float32),
        ambient_color=((ambient,) * 3,),
        diffuse_color=((1.0 - ambient,) * 3,),
        specular_color=((0.1,) * 3,),
    )
    renderer = MeshRenderer(
        MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=IMAGE_SIZE, faces_per_pixel=1)),
        HardPhongShader(cameras=cameras, lights=lights, materials=Materials(shininess=20.0), blend_params=BlendParams(background_color=(1.0, 1.0, 1.0))),
    )
    with torch.no_grad():
        rgba = renderer(mesh).clamp(0, 1)
    return (rgba.numpy() * 255 + 0.5).astype(np.uint8)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(h, s, v))


# --------------------------------------------------------------------------------------------
# One model, the whole dataset
# --------------------------------------------------------------------------------------------


def model_id(seed: int, synset: str, index: int) -> str:
    """A ShapeNet-like 32-hex-digit id, deterministic for (seed, synset, index)."""
    return hashlib.md5(f"embedded-{seed}-{synset}-{index}".encode()).hexdigest()


def write_model(root: str, synset: str, index: int, seed: int, n_views: int) -> str:
    """Generate and write one model (mesh, views, metadata, voxels). Returns its id."""
    import imageio.v3 as iio
    import torch
    from pytorch3d.io import save_obj

    rng = np.random.default_rng([seed, int(synset), index])
    parts = normalize_parts(MAKERS[synset](rng))
    verts, faces, groups = parts_to_mesh(parts)
    mid = model_id(seed, synset, index)

    mesh_dir = os.path.join(root, "shapenet", synset, mid)
    os.makedirs(mesh_dir, exist_ok=True)
    save_obj(os.path.join(mesh_dir, "model.obj"), torch.as_tensor(verts, dtype=torch.float32), torch.as_tensor(faces))

    vox_dir = os.path.join(root, "r2n2", "ShapeNetVoxels", synset, mid)
    os.makedirs(vox_dir, exist_ok=True)
    write_binvox(os.path.join(vox_dir, "model.binvox"), voxelize_parts(parts))

    # Colours: a main hue per model, the parts' groups in related or contrasting tones.
    hue = rng.random()
    palette = np.stack(
        [_hsv_to_rgb((hue + rng.normal(0, 0.08)) % 1, rng.uniform(0.2, 0.8), rng.uniform(0.5, 0.95)) for _ in range(3)]
    )
    if rng.random() < 0.3:
        palette[:] = palette[0]
    vert_colors = palette[groups]

    azims = rng.uniform(0, 360, n_views)
    elevs = rng.uniform(25, 30, n_views)
    dist_ratios = rng.uniform(0.65, 0.9, n_views)
    Rs, Ts, lines = [], [], []
    for azim, elev, dist_ratio in zip(azims, elevs, dist_ratios):
        R, T = r2n2_camera(azim, elev, dist_ratio)
        Rs.append(R)
        Ts.append(T)
        lines.append(f"{azim:.6f} {elev:.6f} 0 {dist_ratio:.6f} {R2N2_FOV:g}\n")
    # Lights roughly from the camera side, in view space (+z is away from the camera there).
    light_dirs = np.stack([rng.uniform(-0.6, 0.6, n_views), rng.uniform(0.2, 0.9, n_views), -np.ones(n_views)], 1)
    light_dirs = torch.as_tensor(light_dirs, dtype=torch.float32)
    Rs_t, Ts_t = torch.stack(Rs), torch.stack(Ts)
    # DirectionalLights work in world (object) coordinates: rotate view-space directions back.
    light_dirs_world = torch.einsum("vij,vj->vi", Rs_t, light_dirs)
    rgba = render_rgba(verts, faces, vert_colors, Rs_t, Ts_t, -light_dirs_world, ambient=rng.uniform(0.45, 0.65))

    render_dir = os.path.join(root, "r2n2", "ShapeNetRendering", synset, mid, "rendering")
    os.makedirs(render_dir, exist_ok=True)
    for view, image in enumerate(rgba):
        iio.imwrite(os.path.join(render_dir, f"{view:02d}.png"), image)
    with open(os.path.join(render_dir, "rendering_metadata.txt"), "w") as f:
        f.writelines(lines)
    return mid


def split_counts(n: int) -> tuple[int, int, int]:
    """(train, val, test) sizes of one category of n models: 80/10/10, test first so tiny
    datasets still get a test model, train keeps at least one."""
    if n <= 1:
        return n, 0, 0
    n_test = max(1, round(0.1 * n))
    n_val = round(0.1 * n) if n - n_test >= 3 else 0
    return n - n_test - n_val, n_val, n_test


def _worker(job):
    import torch

    torch.set_num_threads(1)
    root, synset, index, seed, n_views = job
    return synset, index, write_model(root, synset, index, seed, n_views)


def generate(root: str, n_models: int = 1000, n_views: int = 4, seed: int = 0, workers: int | None = None, quiet: bool = False) -> dict:
    """Write the dataset to `root` atomically (built in a temp folder, then renamed).

    `n_models` counts all categories together, split as evenly as possible.
    """
    from multiprocessing import get_context

    from tqdm import tqdm

    if n_models < 1 or n_views < 1:
        raise ValueError("--n_models and --n_views must be at least 1")
    if os.path.exists(root):
        raise FileExistsError(f"{root} already exists; remove it or choose another --root")
    synsets = list(SYNSETS)
    per_cat = [n_models // len(synsets) + (k < n_models % len(synsets)) for k in range(len(synsets))]
    jobs_meta = [(s, i) for s, n in zip(synsets, per_cat) for i in range(n)]

    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-dataset-", dir=parent)
    start = time.time()
    try:
        jobs = [(tmp, s, i, seed, n_views) for s, i in jobs_meta]
        workers = workers or min(len(jobs), os.cpu_count() or 1)
        ids = {}
        bar = tqdm(total=len(jobs), desc=f"generating dataset in {root}", disable=quiet, unit="model")
        if workers > 1:
            with get_context("spawn").Pool(workers) as pool:
                for synset, index, mid in pool.imap_unordered(_worker, jobs, chunksize=4):
                    ids[(synset, index)] = mid
                    bar.update()
        else:
            for job in jobs:
                synset, index, mid = _worker(job)
                ids[(synset, index)] = mid
                bar.update()
        bar.close()

        splits = {"train": {}, "val": {}, "test": {}}
        for synset, n in zip(synsets, per_cat):
            n_train, n_val, _ = split_counts(n)
            for i in range(n):
                split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
                splits[split].setdefault(synset, {})[ids[(synset, i)]] = list(range(n_views))
        with open(os.path.join(tmp, "splits.json"), "w") as f:
            json.dump(splits, f, indent=1)
        info = {
            "generator_version": GENERATOR_VERSION,
            "n_models": n_models,
            "n_views": n_views,
            "seed": seed,
            "categories": {s: SYNSETS[s] for s in synsets},
            "voxel_frame": "header",
            "seconds": round(time.time() - start, 1),
        }
        with open(os.path.join(tmp, "embedded.json"), "w") as f:
            json.dump(info, f, indent=1)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("Generate the embedded procedural R2N2-layout dataset", add_help=True)
    parser.add_argument("--root", type=str, default=None, help="output folder (default: the embedded data root of dataset_location.py)")
    parser.add_argument("--n_models", type=int, default=1000, help="models over all categories (default 1000: about 333 per category)")
    parser.add_argument("--n_views", type=int, default=4, help="rendered views per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    return parser


def main(args: argparse.Namespace) -> None:
    from dataset_location import EMBEDDED_DATA_ROOT

    root = args.root or EMBEDDED_DATA_ROOT
    start = time.time()
    try:
        info = generate(root, args.n_models, args.n_views, args.seed, args.workers)
    except (FileExistsError, ValueError) as err:
        from train_model import fail

        fail(str(err))
    print(f"wrote {info['n_models']} models x {info['n_views']} views to {root} in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
