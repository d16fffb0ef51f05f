"""A shape as a union of parts: its mesh, its normalisation to ShapeNet's frame, its voxels.

    parts = normalize_parts(make_chair(rng))          # ShapeNet v1 frame: front +x, bbox centred, diagonal 1
    mesh = parts_to_mesh(parts)                       # verts, faces, normals, part index per vertex
    voxels = voxelize_parts(parts)                    # (32, 32, 32) bool, [z, y, x], the true solid
    inside = union_contains(parts, points)            # exact occupancy of any query point

The solid is the union of the parts (`parts.py`), so voxels and occupancy labels are exact.
The mesh is the union's surface: axis-aligned boxes are cut along each other and contribute only
their exposed faces; other parts contribute their faces that are not wholly inside another part
(a leg's end inside a seat is dropped), so the surface samples of the OBJ lie on the solid's
surface up to the triangles that straddle a junction. numpy only; imports `parts.py` and the
R2N2 voxel resolution.
"""

from dataclasses import dataclass

import numpy as np

from r2n2.formats import VOXEL_RES

from .parts import Box, Part


@dataclass
class ShapeMesh:
    verts: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3) int, outward winding
    normals: np.ndarray  # (V, 3) unit, analytic (smooth on curved parts, flat on boxes)
    part_index: np.ndarray  # (V,) int: the part each vertex belongs to


def union_contains(parts: list[Part], points: np.ndarray, skip: Part | None = None) -> np.ndarray:
    """(N,) bool: points (N, 3) inside some part (other than `skip`)."""
    inside = np.zeros(len(points), bool)
    for part in parts:
        if part is skip:
            continue
        lo, hi = part.bounds()
        near = np.all((points >= lo) & (points <= hi), axis=1) & ~inside
        if near.any():
            inside[near] = part.contains(points[near])
    return inside


def _is_aligned_box(part: Part) -> bool:
    return isinstance(part, Box) and np.allclose(part.rot, np.eye(3))


def _aligned_box_boundary(part: Box, aligned: list[Box]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The faces of an axis-aligned box that lie on the boundary of the union of boxes.

    Each side is cut at every other aligned box's extents, so each cell of a side is either
    wholly covered by some other box (an internal face: dropped) or wholly exposed. Without
    this, touching and overlapping boxes (a sofa's arms, base and back) leave large faces
    inside the solid, and samples of the OBJ's surface would not lie on the shape's surface.
    Returns verts, faces, normals.
    """
    lo, hi = part.center - part.half, part.center + part.half
    others = [p for p in aligned if p is not part]
    verts, faces, normals = [], [], []
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
            normal = np.zeros(3)
            normal[axis] = sign
            for i in np.flatnonzero(~covered):
                quad = np.zeros((4, 3))
                quad[:, axis] = plane
                quad[:, u] = cu[[gu[i], gu[i] + 1, gu[i] + 1, gu[i]]]
                quad[:, v] = cv[[gv[i], gv[i], gv[i] + 1, gv[i] + 1]]
                base = len(verts) * 4
                verts.append(quad)
                normals.append(np.tile(normal, (4, 1)))
                tri = [[0, 1, 2], [0, 2, 3]] if sign > 0 else [[0, 2, 1], [0, 3, 2]]
                faces.extend([[base + a, base + b, base + c] for a, b, c in tri])
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), int), np.zeros((0, 3))
    return np.concatenate(verts), np.array(faces), np.concatenate(normals)


def _drop_buried_faces(part: Part, parts: list[Part], verts, faces) -> np.ndarray:
    """faces of `part` minus those buried in other parts: every corner and the centroid, stepped
    a hair outwards along the face's normal, inside another part (so faces pressed flat against
    another part, a cushion on its base, go too)."""
    if len(parts) == 1 or len(faces) == 0:
        return faces
    tri = verts[faces]  # (F, 3, 3)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    probes = np.concatenate([tri, tri.mean(1, keepdims=True)], axis=1) + 1e-3 * normal[:, None]  # (F, 4, 3)
    inside = union_contains(parts, probes.reshape(-1, 3), skip=part).reshape(-1, 4)
    return faces[~inside.all(1)]


def parts_to_mesh(parts: list[Part]) -> ShapeMesh:
    """The shape's surface mesh (see the module docstring)."""
    aligned = [p for p in parts if _is_aligned_box(p)]
    verts, faces, normals, index, offset = [], [], [], [], 0
    for k, part in enumerate(parts):
        if _is_aligned_box(part):
            v, f, n = _aligned_box_boundary(part, aligned)
        else:
            v, f, n = part.mesh()
            f = _drop_buried_faces(part, parts, v, f)
        verts.append(v)
        faces.append(f + offset)
        normals.append(n)
        index.append(np.full(len(v), k))
        offset += len(v)
    return ShapeMesh(np.concatenate(verts), np.concatenate(faces), np.concatenate(normals), np.concatenate(index))


def shape_bounds(parts: list[Part]) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the parts' meshes, the bounding box ShapeNet normalises."""
    corners = np.concatenate([part.mesh()[0] for part in parts])
    return corners.min(0), corners.max(0)


# The grammar builds every shape with y up and its front (where a sitter faces) towards +z, its
# width along x. ShapeNet v1 aligns its objects with the front towards +x and the width along z
# (measured on six real ShapeNet chairs through their R2N2 voxels: the back's centroid lies 0.07
# to 0.17 towards -x of the shape's, within 0.003 in z). This proper rotation, (x, y, z) ->
# (z, y, -x), takes one frame to the other: p_shapenet = SHAPENET_FROM_GRAMMAR @ p_grammar.
SHAPENET_FROM_GRAMMAR = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])


def normalize_parts(parts: list[Part]) -> list[Part]:
    """The grammar's parts in ShapeNet v1's frame: turned so the front faces +x and the width runs
    along z (`SHAPENET_FROM_GRAMMAR`), then the mesh's bounding box centred on the origin with
    diagonal 1. Every category and family goes through here, so all share one convention."""
    turned = [p.rotated(SHAPENET_FROM_GRAMMAR, np.zeros(3)) for p in parts]
    lo, hi = shape_bounds(turned)
    scale = 1.0 / np.linalg.norm(hi - lo)
    return [p.transformed(-(lo + hi) / 2, scale) for p in turned]


def voxel_centers_1d(res: int = VOXEL_RES) -> np.ndarray:
    """Object-frame coordinate of each voxel centre along one axis: the grid spans [-0.5, 0.5]."""
    return (np.arange(res) + 0.5) / res - 0.5


def voxelize_parts(
    parts: list[Part], res: int = VOXEL_RES, supersample: int = 3, min_fraction: float = 1e-6, side: float = 1.0
) -> np.ndarray:
    """Solid occupancy of a union of parts on a res^3 grid over the cube [-side/2, side/2]^3.

    A voxel is occupied when at least `min_fraction` of its supersample^3 sub-cell centres lie
    inside some part: by default any of them, which is what R2N2's ShapeNetVox32 grids are
    (binvox marks every voxel the surface touches, then fills the inside), so thin tubes and
    slats are kept, drawn a cell thick, rather than dropped. side=1 is the object-frame grid
    the models predict; R2N2's files use the object's largest side (see `r2n2.formats.binvox_centers`).

    Returns: (res, res, res) bool, index order [z, y, x] (D, H, W, as PyTorch3D's cubify and
    marching_cubes expect), voxel [k, j, i] centred at (x, y, z) = side * voxel_centers_1d()[[i, j, k]].
    """
    s = supersample
    fine = res * s
    coords = side * ((np.arange(fine) + 0.5) / fine - 0.5)
    inside_fine = np.zeros((fine, fine, fine), dtype=bool)  # [z, y, x] sub-cells
    for part in parts:
        # Test only the sub-cells in the part's bounding box.
        lo_box, hi_box = part.bounds()
        lo = np.clip(np.floor((lo_box / side + 0.5) * fine).astype(int), 0, fine)
        hi = np.clip(np.ceil((hi_box / side + 0.5) * fine).astype(int), 0, fine)
        (x0, y0, z0), (x1, y1, z1) = lo, hi
        if min(x1 - x0, y1 - y0, z1 - z0) <= 0:
            continue
        zz, yy, xx = np.meshgrid(coords[z0:z1], coords[y0:y1], coords[x0:x1], indexing="ij")
        inside = part.contains(np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1))
        inside_fine[z0:z1, y0:y1, x0:x1] |= inside.reshape(zz.shape)
    fraction = inside_fine.reshape(res, s, res, s, res, s).mean(axis=(1, 3, 5))
    return fraction >= min_fraction


def sample_union_surface(parts: list[Part], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points (n, 3) uniform by area on the union's surface and their unit normals (n, 3).

    Points are drawn on every part's own surface (area-weighted, interpolated analytic normals)
    and those inside another part are rejected: what is left is exactly the union's boundary,
    junctions included, which the OBJ's triangles only approximate where they straddle one."""
    meshes = [
        part.mesh(detail=4) for part in parts
    ]  # fine: the chords of curved parts within ~1e-3 of the ideal surface
    tris = [(v[f], nrm[f]) for v, f, nrm in meshes]
    areas = np.concatenate(
        [0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1) for t, _ in tris]
    )
    owner = np.concatenate([np.full(len(t), k) for k, (t, _) in enumerate(tris)])
    corners, corner_normals = np.concatenate([t for t, _ in tris]), np.concatenate([nrm for _, nrm in tris])
    points, normals = np.zeros((0, 3)), np.zeros((0, 3))
    while len(points) < n:
        face = rng.choice(len(areas), size=2 * n, p=areas / areas.sum())
        u, v = rng.random(2 * n), rng.random(2 * n)
        flip = u + v > 1
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        weights = np.stack([1 - u - v, u, v], 1)[..., None]
        candidates = (weights * corners[face]).sum(1)
        candidate_normals = (weights * corner_normals[face]).sum(1)
        # On part `owner`, but inside another part: interior. The probe steps a hair outwards,
        # so where two parts touch face to face (a cushion on its base) the shared face counts
        # as inside, whatever the rounding of the point on it.
        probes = candidates + 1e-3 * candidate_normals / np.linalg.norm(candidate_normals, axis=1, keepdims=True)
        keep = np.ones(len(face), bool)
        for k, part in enumerate(parts):
            others = owner[face] != k
            if others.any():
                keep[others] &= ~part.contains(probes[others])
        points = np.concatenate([points, candidates[keep]])
        normals = np.concatenate([normals, candidate_normals[keep]])
    normals = normals[:n] / np.linalg.norm(normals[:n], axis=1, keepdims=True)
    return points[:n], normals


def occupancy_queries(
    surface: np.ndarray, n_uniform: int, n_near: int, rng: np.random.Generator, sigmas=(0.01, 0.03)
) -> np.ndarray:
    """Query points as Occupancy Networks trains on (label them with `union_contains`): n_uniform
    uniform in the slightly padded cube [-0.55, 0.55]^3 and n_near surface points (n, 3)
    jittered by N(0, sigma^2), half at each sigma. Returns (n_uniform + n_near, 3)."""
    uniform = rng.uniform(-0.55, 0.55, (n_uniform, 3))
    sigma = np.repeat(np.asarray(sigmas, float), [n_near - n_near // 2, n_near // 2])[:, None]
    near = surface[rng.integers(len(surface), size=n_near)] + sigma * rng.standard_normal((n_near, 3))
    return np.concatenate([uniform, near])
