"""Conversions between 3D representations in the object frame: voxel grids, meshes, point samples.

    meshes = voxels_to_meshes(torch.sigmoid(logits))        # (B, 32, 32, 32) [z, y, x] -> Meshes
    points, normals, lengths = sample_meshes(meshes, 5000)   # empty meshes give length 0

Grids cover the cube [-0.5, 0.5]^3 with index order [z, y, x] (see `r2n2/formats.py`).
"""

import torch

# The probability at which a surface is read off a grid, and at or above which a cell counts as
# occupied: every type's and the GT's (marching cubes, voxel IoU, --iso's default).
ISO = 0.5


def sample_surface(verts: torch.Tensor, faces: torch.Tensor, n: int, seed: int, return_normals: bool = False):
    """(n, 3) area-uniform surface samples of one mesh, deterministic for a seed; with
    return_normals, also the (n, 3) unit normals of the faces they lie on. The caller's random
    stream is left as it was."""
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes

    with torch.random.fork_rng(devices=[]):  # the CPU stream, restored on exit
        torch.manual_seed(seed)
        samples = sample_points_from_meshes(Meshes([verts], [faces]), n, return_normals=return_normals)
    if return_normals:
        return samples[0][0], samples[1][0]
    return samples[0]


def voxels_to_meshes(voxels: torch.Tensor, threshold: float = ISO):
    """Marching-cubes surfaces of a batch of grids, in the object frame.

    voxels: (B, D, D, D) occupancy probabilities (or 0/1), [z, y, x], covering [-0.5, 0.5]^3.
    Returns a `Meshes` batch with outward normals; an empty grid gives an empty mesh.
    The grid is padded with one empty cell on every side so shapes touching the border still
    get closed surfaces; PyTorch3D's marching_cubes returns vertices as (x, y, z) in index
    units, so index i maps to the object coordinate (i + 0.5) / D - 0.5.
    """
    from pytorch3d.ops.marching_cubes import marching_cubes
    from pytorch3d.structures import Meshes

    if voxels.dim() != 4:
        raise ValueError(f"voxels must be (B, D, H, W), got shape {tuple(voxels.shape)}")
    res = voxels.shape[-1]
    padded = torch.nn.functional.pad(voxels.float(), (1, 1, 1, 1, 1, 1))
    verts_list, faces_list = marching_cubes(padded.cpu(), threshold, return_local_coords=False)
    verts_out, faces_out = [], []
    for verts, faces in zip(verts_list, faces_list):
        if isinstance(verts, list) or len(verts) == 0:  # marching_cubes gives [] for an empty grid
            verts, faces = torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.long)
        verts_out.append(((verts - 1.0 + 0.5) / res - 0.5).to(voxels.device))
        # PyTorch3D's marching_cubes winds faces so normals point into the solid (up the
        # occupancy gradient); flip them to point outwards, as rendering and meshes expect.
        faces_out.append(faces[:, [0, 2, 1]].to(voxels.device))
    return Meshes(verts_out, faces_out)


def sample_meshes(meshes, n_points: int):
    """(points (B, n, 3), normals (B, n, 3), lengths (B,)) from a Meshes batch; empty meshes
    get length 0 (they score 0, they do not crash)."""
    from pytorch3d.ops import sample_points_from_meshes

    # From faces_list: when every mesh of a batch is empty, Meshes' per-mesh counts are empty.
    faces_counts = torch.tensor([len(f) for f in meshes.faces_list()], device=meshes.device)
    B = len(faces_counts)
    lengths = (faces_counts > 0).long() * n_points
    points = torch.zeros(B, n_points, 3, device=meshes.device)
    normals = torch.zeros(B, n_points, 3, device=meshes.device)
    nonempty = torch.nonzero(lengths > 0)[:, 0]
    if len(nonempty):
        p, n = sample_points_from_meshes(meshes[nonempty.tolist()], n_points, return_normals=True)
        points[nonempty], normals[nonempty] = p, n
    return points, normals, lengths


def grid_centres(resolution: int, device="cpu") -> torch.Tensor:
    """(R, R, R, 3) object-frame centres (x, y, z) of the cells of a grid over [-0.5, 0.5]^3,
    indexed [z, y, x]."""
    centres = (torch.arange(resolution, device=device) + 0.5) / resolution - 0.5
    zz, yy, xx = torch.meshgrid(centres, centres, centres, indexing="ij")
    return torch.stack([xx, yy, zz], dim=-1)


def refine_grid(grid: torch.Tensor, query, resolution: int, threshold: float = ISO) -> torch.Tensor:
    """One coarse-to-fine step (Occupancy Networks' MISE): grid (B, r, r, r) -> (B, R, R, R).

    The coarse grid is upsampled trilinearly; cells near the iso-surface (where the upsampled
    values cross `threshold` within a cell's 3x3x3 neighbourhood) are queried exactly with
    query(points (B, P, 3)) -> (B, P); elsewhere the interpolated value stands, which is already
    on the right side of the threshold."""
    B = grid.shape[0]
    fine = torch.nn.functional.interpolate(
        grid[:, None], size=(resolution,) * 3, mode="trilinear", align_corners=False
    )[:, 0]
    above = (fine >= threshold).float()[:, None]
    near = (torch.nn.functional.max_pool3d(above, 3, 1, 1) != -torch.nn.functional.max_pool3d(-above, 3, 1, 1))[
        :, 0
    ]  # a neighbour differs
    count = int(near.flatten(1).sum(1).max())
    if count == 0:
        return fine
    centres = grid_centres(resolution, grid.device).view(-1, 3)
    # The same number of queries per item (padded with the first cell) keeps the batch dense.
    order = torch.argsort(near.flatten(1).float(), dim=1, descending=True)[:, :count]  # (B, count)
    values = query(centres[order])  # (B, count, 3) -> (B, count)
    flat = fine.flatten(1).clone()
    valid = torch.gather(near.flatten(1), 1, order)
    flat.scatter_(1, order, torch.where(valid, values, torch.gather(flat, 1, order)))
    return flat.view(B, resolution, resolution, resolution)


def grid_at_points(grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """A (B, D, H, W) [z, y, x] grid on the cube [-0.5, 0.5]^3 read trilinearly at object-frame
    points (B, P, 3): (B, P). Cell centres are where the grid's values sit (align_corners=False
    puts -1 and 1 on the cube's outer faces), as everywhere in this project."""
    B, P, _ = points.shape
    values = torch.nn.functional.grid_sample(
        grid[:, None].float(),
        2 * points.float().view(B, P, 1, 1, 3),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return values.view(B, P)


def face_components(faces: torch.Tensor, n_verts: int) -> torch.Tensor:
    """The connected part of each face of one mesh (faces (F, 3) long, vertices shared by index):
    (F,) long, the smallest vertex index of the part. Labels spread along the faces until they
    settle (as many rounds as the longest part's diameter in faces)."""
    labels = torch.arange(n_verts, device=faces.device)
    while True:
        face_min = labels[faces].amin(1)  # (F,)
        spread = labels.scatter_reduce(0, faces.flatten(), face_min.repeat_interleave(3), "amin")
        if torch.equal(spread, labels):
            return labels[faces[:, 0]]
        labels = spread


def keep_largest_parts(meshes, min_share: float = 0.1):
    """Each mesh's connected parts with at least min_share of its largest part's faces (loose
    fragments removed; a mesh with no faces stays empty): a new Meshes, vertices unused by what
    is kept dropped. Marching cubes' meshes share vertices between faces, so a part is a set of
    faces connected through vertices."""
    from pytorch3d.structures import Meshes

    verts_out, faces_out = [], []
    for verts, faces in zip(meshes.verts_list(), meshes.faces_list()):
        if len(faces) == 0:
            verts_out.append(verts)
            faces_out.append(faces)
            continue
        parts = face_components(faces, len(verts))
        ids, counts = torch.unique(parts, return_counts=True)
        kept_ids = ids[counts >= min_share * counts.max()]
        faces = faces[torch.isin(parts, kept_ids)]
        used = torch.unique(faces)
        remap = torch.full((len(verts),), -1, dtype=torch.long, device=verts.device)
        remap[used] = torch.arange(len(used), device=verts.device)
        verts_out.append(verts[used])
        faces_out.append(remap[faces])
    return Meshes(verts_out, faces_out)
