import torch
from pytorch3d.utils import ico_sphere

from geometry.grids import voxels_to_meshes
from utils_vis import decimate_for_display, plot_f1, render_mesh_turntable


def test_display_decimation_bounds_faces_and_keeps_the_shape():
    torch.manual_seed(0)
    noisy = voxels_to_meshes((torch.rand(1, 32, 32, 32) > 0.5).float())  # an early prediction: ~100k faces
    verts, faces = noisy.verts_list()[0], noisy.faces_list()[0]
    small_verts, small_faces = decimate_for_display(verts, faces, max_faces=2000)
    assert len(faces) > 50_000 and 0 < len(small_faces) <= 2000
    assert small_faces.max() < len(small_verts)
    # Merged vertices stay inside the original bounding box.
    assert (small_verts.min(0).values >= verts.min(0).values - 1e-6).all() and (
        small_verts.max(0).values <= verts.max(0).values + 1e-6
    ).all()
    sphere = ico_sphere(2)  # 320 faces: left as it is
    v, f = decimate_for_display(sphere.verts_packed(), sphere.faces_packed(), max_faces=2000)
    assert v is sphere.verts_packed() and f is sphere.faces_packed()


def test_turntable_of_a_decimated_mesh_is_not_blank_and_empty_is_white():
    sphere = ico_sphere(5)  # 20480 faces, drawn decimated
    frames = render_mesh_turntable(0.4 * sphere.verts_packed(), sphere.faces_packed(), n_frames=2, image_size=48)
    assert frames.shape == (2, 48, 48, 3) and (frames < 250).any(axis=-1).mean() > 0.2
    blank = render_mesh_turntable(torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.long), n_frames=2, image_size=16)
    assert (blank == 255).all()


def test_plot_f1_writes_a_png(tmp_path):
    path = plot_f1(
        str(tmp_path / "f1.png"), {"model": [10, 50, 90], "mean-shape baseline": [5, 20, 40]}, [0.01, 0.03, 0.05], "t"
    )
    assert open(path, "rb").read(4) == b"\x89PNG" and not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
