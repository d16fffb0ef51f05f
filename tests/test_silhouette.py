"""Silhouettes from the input view's camera: PyTorch3D's rasterizer as reference, the masks as the convention."""

import torch

from evaluation.silhouette import mesh_silhouettes, point_silhouettes, silhouette_iou
from r2n2.formats import R2N2_K, r2n2_camera


def cameras(views):
    Rs, Ts = zip(*(r2n2_camera(*view) for view in views))
    return torch.stack(Rs), torch.stack(Ts), R2N2_K.expand(len(views), 4, 4)


def test_mesh_silhouettes_match_pytorch3ds_rasterizer():
    from pytorch3d.datasets.r2n2.utils import BlenderCamera
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.utils import ico_sphere

    from geometry.grids import voxels_to_meshes

    torch.manual_seed(0)
    grid = torch.zeros(2, 32, 32, 32)
    grid[:, 4:28, 10:14, 4:28] = 1  # a seat, legs, a back: [z, y, x]
    grid[:, 4:10, 14:28, 4:28] = 1
    grid[:, 14:28, 4:10, 6:8] = 1
    sphere = ico_sphere(3)
    meshes = [voxels_to_meshes(grid, 0.5)[0], sphere.update_padded(0.35 * sphere.verts_padded())]
    for mesh, view in zip(meshes, [(40.0, 27.0, 0.8), (250.0, 25.0, 0.65)]):
        R, T, K = cameras([view])
        ours = mesh_silhouettes(mesh, R, T, K)[0]
        rasterizer = MeshRasterizer(
            cameras=BlenderCamera(R=R, T=T, K=K), raster_settings=RasterizationSettings(image_size=137)
        )
        reference = rasterizer(mesh).pix_to_face[0, ..., 0] >= 0
        assert 0.1 < reference.float().mean() < 0.6
        assert silhouette_iou(ours[None], reference[None]).item() > 0.98


def test_the_gt_mesh_seen_from_the_views_camera_is_the_renderings_mask(tiny_root):
    """The convention the real data fixes: a rendering's alpha is the GT mesh drawn with the view's
    R2N2 camera (rendering_metadata.txt). Fails if the frame, the camera or the pixel order drift."""
    from pytorch3d.structures import Meshes

    from dataset import R2N2Dataset

    dataset = R2N2Dataset(tiny_root, "train", quiet=True)
    batch = dataset.__getitems__(list(range(len(dataset))))
    meshes = Meshes([v.float() for v in batch["verts"]], batch["faces"])
    silhouettes = mesh_silhouettes(meshes, batch["R"], batch["T"], batch["K"])
    iou = silhouette_iou(silhouettes, batch["masks"])
    assert iou.mean() > 0.96 and iou.min() > 0.9, iou  # thin legs lose a pixel here and there
    flipped = silhouette_iou(silhouettes.flip(-1), batch["masks"])  # a mirrored camera would not pass
    assert flipped.mean() < iou.mean() - 0.05


def test_point_silhouettes_and_empty_shapes():
    R, T, K = cameras([(30.0, 25.0, 0.8)] * 2)
    points = torch.zeros(2, 3, 3)
    silhouettes = point_silhouettes(points, torch.tensor([3, 0]), R, T, K)
    assert silhouettes[0].sum() > 0 and silhouettes[1].sum() == 0  # an empty cloud covers nothing
    rows, cols = silhouettes[0].nonzero(as_tuple=True)
    assert abs(rows.float().mean() - 68) < 3 and abs(cols.float().mean() - 68) < 3  # the origin is near the centre
    assert silhouette_iou(silhouettes[1:], torch.zeros(1, 137, 137, dtype=torch.bool)).item() == 1.0
