"""The R2N2 file formats: cameras, rendering metadata, binvox voxels, images, OBJ meshes.

    R, T = r2n2_camera(azim, elev, dist_ratio)     # x_view = x_object @ R + T, for BlenderCamera
    coords, dim, translate, scale = read_binvox("model.binvox")
    image = prepare_image(imageio.imread("00.png"))  # (137, 137, 3) float, RGBA over white

Conventions (see the README's "Coordinate conventions"):
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

This module reads and writes single files; it knows nothing of splits, caches or datasets.
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
    [
        [2.1875, 0.0, 0.0, 0.0],
        [0.0, 2.1875, 0.0, 0.0],
        [0.0, 0.0, -1.002002, -0.2002002],
        [0.0, 0.0, 1.0, 0.0],
    ]
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


def metadata_line(azim: float, elev: float, dist_ratio: float, fov: float = R2N2_FOV) -> str:
    """One rendering_metadata.txt line as R2N2 writes it: azim elev yaw dist_ratio fov."""
    return f"{azim:.6f} {elev:.6f} 0 {dist_ratio:.6f} {fov:g}\n"


def prepare_image(image: np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Any uint8 image -> the network's input convention, (size, size, 3) float in [0, 1].

    image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8. RGBA is composited over white, as
    the dataset does for R2N2's transparent renderings; grey is repeated to RGB; other sizes are
    resized (antialiased bilinear) to size x size.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W[, 1|2|3|4]) image, got shape {image.shape}")
    pixels = torch.from_numpy(image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0))
    channels = pixels.shape[2]
    if channels in (2, 4):  # grey+alpha or RGBA: composite over white
        alpha = pixels[..., -1:]
        pixels = pixels[..., :-1] * alpha + (1.0 - alpha)
    if pixels.shape[2] == 1:
        pixels = pixels.expand(-1, -1, 3)
    if pixels.shape[:2] != (size, size):
        pixels = torch.nn.functional.interpolate(
            pixels.permute(2, 0, 1)[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )[0].permute(1, 2, 0)
    return pixels.clamp(0, 1).contiguous()


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


def binvox_centers(coords: torch.Tensor, dim: int, translate, scale: float, placement: str, verts: torch.Tensor | None = None) -> torch.Tensor:
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


def voxels_object_frame(coords, dim, translate, scale, verts: torch.Tensor | None, placement: str, res: int = VOXEL_RES) -> torch.Tensor:
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


def sample_surface(verts: torch.Tensor, faces: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """(n, 3) area-uniform surface samples of one mesh, deterministic for a seed."""
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    points = sample_points_from_meshes(Meshes([verts], [faces]), n)[0]
    torch.random.set_rng_state(state)
    return points


def write_binvox(path: str, voxels_zyx: np.ndarray, translate=(-0.5, -0.5, -0.5), scale: float = 1.0) -> None:
    """Write a (D, D, D) [z, y, x] bool grid as binvox, with the given header.

    binvox stores voxels with y fastest, then z, then x (linear index x*D*D + z*D + y), as
    PyTorch3D's `read_binvox_coords` reads them. The defaults describe the embedded dataset's grid
    (the cube [-0.5, 0.5]^3); R2N2's real files carry the object's bounding-box corner and largest
    side instead, with the grid centred (see `binvox_centers`).
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
    tx, ty, tz = (f"{t:g}" for t in translate)
    header = f"#binvox 1\ndim {dim} {dim} {dim}\ntranslate {tx} {ty} {tz}\nscale {scale:g}\ndata\n"
    with open(path, "wb") as f:
        f.write(header.encode() + bytes(out))
