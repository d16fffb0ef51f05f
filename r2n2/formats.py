"""Reading the R2N2 file formats: cameras, rendering metadata, binvox voxels, images, OBJ meshes.

    R, T = r2n2_camera(azim, elev, dist_ratio)     # x_view = x_object @ R + T, for BlenderCamera
    coords, dim, translate, scale = read_binvox("model.binvox")
    voxels = voxels_object_frame(coords, dim, translate, scale, None, "centred")   # (32, 32, 32) [z, y, x]

Conventions (docs/data.md, "Coordinate conventions"):
- Object frame: ShapeNet v1's, in which the OBJ is stored (y up, shape within [-0.5, 0.5]^3).
- Voxels: (32, 32, 32) occupancy on the cube [-0.5, 0.5]^3, index order [z, y, x] (D, H, W, as
  PyTorch3D's `cubify` and `marching_cubes` expect): voxels[k, j, i] is the cell centred at
  x = (i + 0.5) / 32 - 0.5, y = (j + 0.5) / 32 - 0.5, z = (k + 0.5) / 32 - 0.5.
- Camera: R (3, 3), T (3,), K (4, 4) exactly as `pytorch3d.datasets.R2N2` computes them, to be
  used with `pytorch3d.datasets.r2n2.utils.BlenderCamera`: x_view = x_object @ R + T.
- Image: (137, 137, 3) float in [0, 1], the RGBA rendering composited over a white background.

Binvox placement (`binvox_centers`): R2N2's ShapeNetVox32 grids are cubes of side `scale`
centred on the origin, whatever the header's translate says; with an OBJ at hand they can
instead be aligned to the mesh's bounding box, as Mesh R-CNN does.

This module reads single files; it knows nothing of splits, caches or datasets. Images become
the network's input in `images.py`; the procedural world writes these formats
(`procedural/shape_files.py`).
"""

import warnings

import numpy as np
import torch

VOXEL_RES = 32
IMAGE_SIZE = 137

# R2N2's constants, as in `pytorch3d.datasets.r2n2.r2n2`: camera distance = dist_ratio * 1.75,
# and the fixed Blender intrinsics in PyTorch3D's convention.
MAX_CAMERA_DISTANCE = 1.75
R2N2_K = torch.tensor(
    [[2.1875, 0.0, 0.0, 0.0], [0.0, 2.1875, 0.0, 0.0], [0.0, 0.0, -1.002002, -0.2002002], [0.0, 0.0, 1.0, 0.0]]
)

# R2N2 records fov 25 in the metadata although its renderer's intrinsics (R2N2_K) are fixed.
R2N2_FOV = 25.0


class DatasetError(Exception):
    """Bad or missing data; the message names the file and what to do."""


def r2n2_camera(azim: float, elev: float, dist_ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """R (3, 3), T (3,) of an R2N2 view, as `pytorch3d.datasets.R2N2` computes them.

    The ShapeNet-to-PyTorch3D axis flip is folded in, so x_view = x_object @ R + T maps the
    OBJ's own coordinates to PyTorch3D view space.
    """
    from pytorch3d.datasets.r2n2.utils import compute_extrinsic_matrix

    RT = compute_extrinsic_matrix(azim, elev, dist_ratio * MAX_CAMERA_DISTANCE)
    shapenet_to_pytorch3d = torch.diag(torch.tensor([-1.0, 1.0, -1.0, 1.0]))
    RT = RT.t().mm(shapenet_to_pytorch3d)
    return RT[:3, :3].contiguous(), RT[3, :3].contiguous()


def read_metadata(path: str, n_views: int | None = None) -> list[tuple[float, float, float]]:
    """(azim, elev, dist_ratio) of each view from rendering_metadata.txt.

    Each line holds five numbers, azim elev yaw dist_ratio fov (e.g. `166.34 29.75 0 0.889 25`);
    a line with fewer, or fewer than `n_views` lines, is an error naming the file."""
    try:
        with open(path) as f:
            rows = [line.split() for line in f if line.strip()]
        cameras = []
        for number, row in enumerate(rows, 1):
            if len(row) < 5:
                raise ValueError(f"line {number} has {len(row)} numbers, expected 5 (azim elev yaw dist_ratio fov)")
            cameras.append((float(row[0]), float(row[1]), float(row[3])))
    except (OSError, ValueError) as err:
        raise DatasetError(f"cannot read camera metadata {path}: {err}") from None
    if n_views is not None and len(cameras) < n_views:
        raise DatasetError(f"camera metadata {path} has {len(cameras)} lines but view {n_views - 1} is used")
    return cameras


def read_png(path: str) -> np.ndarray:
    import imageio.v3 as iio

    try:
        return iio.imread(path)
    except Exception as err:  # imageio raises many types for a broken file
        raise DatasetError(f"cannot read image {path}: {type(err).__name__}: {err}") from None


def read_binvox(path: str) -> tuple[torch.Tensor, int, tuple[float, float, float], float]:
    """Occupied voxel indices of a binvox file.

    Returns coords (N, 3) long, binvox index order (x, y, z); dim; translate; scale.
    """
    from pytorch3d.datasets.r2n2.utils import _read_binvox_header, read_binvox_coords

    try:
        with open(path, "rb") as f, warnings.catch_warnings():
            # read_binvox_coords uses the deprecated TypedStorage API; the result is right.
            warnings.simplefilter("ignore", UserWarning)
            dim, translate, scale = _read_binvox_header(f)
            runs = f.read()
            if not any(runs[0::2]):  # an empty grid (legal), which read_binvox_coords cannot index
                coords = torch.zeros(0, 3, dtype=torch.long)
            else:
                f.seek(0)
                coords = read_binvox_coords(f, dtype=torch.long)
        if coords.numel() and (coords.min() < 0 or coords.max() >= dim or len(coords) > dim**3):
            raise ValueError("run lengths do not match the header's dim")
    except (OSError, ValueError, RuntimeError, IndexError) as err:
        raise DatasetError(f"cannot read voxels {path}: {err}") from None
    return coords, dim, translate, scale


VOXEL_PLACEMENTS = ("centred", "bbox", "translate")


def binvox_centers(
    coords: torch.Tensor, dim: int, translate, scale: float, placement: str, verts: torch.Tensor | None = None
) -> torch.Tensor:
    """Object-frame centres (N, 3) of occupied binvox voxels coords (N, 3), (x, y, z) indices.

    placement:
      "centred": R2N2's ShapeNetVox32 grids, measured on the real files: a cube of side `scale`
          (the object's largest side) centred on the origin, centre = (i + 0.5) * scale / dim -
          scale / 2. The header's translate (the bounding box's minimum corner) is NOT the grid's
          corner. The embedded dataset's headers (translate -0.5, scale 1) read the same either way.
      "bbox": Mesh R-CNN / PyTorch3D's R2N2: the occupied centres' bounding box stretched onto the
          mesh's `verts` (V, 3) bounding box (`align_bbox`).
      "translate": binvox's own convention, translate + (i + 0.5) * scale / dim; wrong for R2N2's
          files (kept to measure how wrong).
    """
    coords = coords.float()
    if placement == "centred":
        return (coords + 0.5) * (scale / dim) - scale / 2
    if placement == "translate":
        return torch.tensor(translate, dtype=torch.float32) + (coords + 0.5) * (scale / dim)
    if placement == "bbox":
        from pytorch3d.datasets.r2n2.utils import align_bbox

        if verts is None:
            raise ValueError("placement 'bbox' needs the mesh's verts")
        return align_bbox(coords, verts)
    raise ValueError(f"voxel placement must be one of {VOXEL_PLACEMENTS}, got {placement!r}")


def voxels_from_centers(centers: torch.Tensor, res: int = VOXEL_RES) -> torch.Tensor:
    """(res, res, res) float occupancy, [z, y, x], on [-0.5, 0.5]^3: a cell is occupied when some
    centre (N, 3) falls in it. Any binvox dim is resampled this way (a 128^3 grid to 32^3 too)."""
    voxels = torch.zeros(res, res, res)
    if len(centers) == 0:
        return voxels
    idx = ((centers + 0.5) * res).floor().long().clamp(0, res - 1)  # (N, 3) as (x, y, z)
    voxels[idx[:, 2], idx[:, 1], idx[:, 0]] = 1.0
    return voxels


def voxels_object_frame(
    coords, dim, translate, scale, verts: torch.Tensor | None, placement: str, res: int = VOXEL_RES
) -> torch.Tensor:
    """Binvox occupied indices -> (res, res, res) float occupancy, [z, y, x], on [-0.5, 0.5]^3."""
    return voxels_from_centers(binvox_centers(coords, dim, translate, scale, placement, verts), res)


def read_mesh(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    """verts (V, 3) float32, faces (F, 3) int64 of an OBJ, in the object frame."""
    from pytorch3d.io import load_obj

    try:
        verts, faces, _ = load_obj(path, load_textures=False)
    except Exception as err:  # load_obj raises ValueError, OSError, IndexError...
        raise DatasetError(f"cannot read mesh {path}: {type(err).__name__}: {err}") from None
    faces = faces.verts_idx
    if len(verts) == 0 or len(faces) == 0 or not torch.isfinite(verts).all():
        raise DatasetError(f"cannot read mesh {path}: no faces or non-finite vertices")
    return verts, faces
