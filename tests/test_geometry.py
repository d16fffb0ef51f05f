import torch

from geometry.grids import sample_meshes, sample_surface, voxels_to_meshes


def test_voxels_to_meshes_places_cells_in_object_frame():
    voxels = torch.zeros(1, 32, 32, 32)
    voxels[0, 8:24, 4:28, 0:32] = 1  # z in [-0.25, 0.25], y in [-0.375, 0.375], x the full width
    verts = voxels_to_meshes(voxels).verts_list()[0]
    lo, hi = verts.min(0).values, verts.max(0).values
    # The 0.5 iso-surface lies half a cell outside the occupied centres, on the cell faces.
    torch.testing.assert_close(lo, torch.tensor([-0.5, -0.375, -0.25]), atol=1e-5, rtol=0)
    torch.testing.assert_close(hi, torch.tensor([0.5, 0.375, 0.25]), atol=1e-5, rtol=0)
    assert len(voxels_to_meshes(torch.zeros(1, 32, 32, 32)).verts_list()[0]) == 0
    mesh = voxels_to_meshes(voxels)
    outward = (mesh.verts_normals_packed() * (mesh.verts_packed() - mesh.verts_packed().mean(0))).sum(-1)
    assert (outward > 0).float().mean() > 0.99  # normals point out of the solid


def test_sample_meshes_marks_empty_meshes_and_sample_surface_is_seeded():
    voxels = torch.zeros(2, 8, 8, 8)
    voxels[0, 2:6, 2:6, 2:6] = 1
    meshes = voxels_to_meshes(voxels)
    points, normals, lengths = sample_meshes(meshes, 40)
    assert points.shape == (2, 40, 3) and lengths.tolist() == [40, 0]
    torch.testing.assert_close(normals[0].norm(dim=1), torch.ones(40))
    verts, faces = meshes.verts_list()[0], meshes.faces_list()[0]
    state = torch.random.get_rng_state()
    a, b = sample_surface(verts, faces, 100, seed=1), sample_surface(verts, faces, 100, seed=1)
    torch.testing.assert_close(a, b)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's random stream is untouched


def test_coarse_to_fine_grid_matches_the_dense_grid_with_few_queries():
    from geometry.grids import grid_centres, refine_grid

    def query(points):  # two balls, one thin enough to need the fine grid
        return (
            ((points - torch.tensor([0.1, 0.0, 0.0])).norm(dim=-1) < 0.2)
            | ((points + torch.tensor([0.25, 0.1, 0.0])).norm(dim=-1) < 0.06)
        ).float()

    calls = []

    def counted(points):
        calls.append(points.shape[1])
        return query(points)

    coarse = counted(grid_centres(32).view(1, -1, 3).expand(2, -1, -1)).view(2, 32, 32, 32)
    fine = refine_grid(refine_grid(coarse, counted, 64), counted, 128)
    dense = query(grid_centres(128).view(1, -1, 3).expand(2, -1, -1)).view(2, 128, 128, 128)
    assert torch.equal(fine >= 0.5, dense >= 0.5)
    assert sum(calls) < 0.05 * 128**3


def test_coarse_to_fine_grid_follows_the_iso_level():
    from geometry.grids import grid_centres, refine_grid

    def query(points):  # a soft ball: probability 0.5 at radius 0.2, 0.3 further out
        return torch.sigmoid((0.2 - points.norm(dim=-1)) / 0.01)

    coarse = query(grid_centres(32).view(1, -1, 3)).view(1, 32, 32, 32)
    dense = query(grid_centres(64).view(1, -1, 3)).view(1, 64, 64, 64)
    for iso in (0.3, 0.5, 0.7):
        assert torch.equal(refine_grid(coarse, query, 64, iso) >= iso, dense >= iso)
    assert (dense >= 0.3).sum() > (dense >= 0.7).sum()  # the level moves the surface
