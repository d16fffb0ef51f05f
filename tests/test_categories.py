"""Every shape family of the grammar gives a valid, aligned ground truth."""

import numpy as np
import pytest
import torch

from evaluation.metrics import compute_sampling_metrics
from geometry.grids import voxels_to_meshes
from procedural.categories import FAMILIES, SYNSETS, draw_family, family_synset, make_shape
from procedural.shapes import normalize_parts, parts_to_mesh, sample_union_surface, union_contains, voxelize_parts

ALL = [(synset, family) for synset, members in FAMILIES.items() for family in sorted(members)]


@pytest.mark.parametrize("synset,family", ALL, ids=[f for _, f in ALL])
def test_family_builds_an_aligned_shape(synset, family):
    rng = np.random.default_rng(5)
    name, parts = make_shape(synset, rng, family=family)
    parts = normalize_parts(parts)
    mesh = parts_to_mesh(parts)
    lo, hi = mesh.verts.min(0), mesh.verts.max(0)
    assert name == family and np.allclose((lo + hi) / 2, 0, atol=1e-9) and abs(np.linalg.norm(hi - lo) - 1) < 1e-9
    assert hi[1] - lo[1] > 0.1 and len(mesh.faces) < 6000  # standing, and cheap enough to render
    points, normals = sample_union_surface(parts, 3000, rng)
    assert union_contains(parts, points - 0.002 * normals).mean() > 0.97  # samples lie on the solid's surface
    # The voxels of the solid and its exact surface agree (the alignment every model must pass).
    voxels = torch.from_numpy(voxelize_parts(parts)).float()
    torch.manual_seed(0)
    from pytorch3d.ops import sample_points_from_meshes

    voxel_points = sample_points_from_meshes(voxels_to_meshes(voxels[None]), 3000)[0]
    f1 = compute_sampling_metrics(voxel_points, torch.from_numpy(points).float(), (0.05,))["F1@0.05"]
    assert f1 >= 95.0, f"{family}: F1@0.05 {f1:.1f}"


def test_families_are_drawn_by_weight_and_can_be_held_out():
    rng = np.random.default_rng(0)
    draws = [draw_family("03001627", rng) for _ in range(2000)]
    weights = {name: f.weight for name, f in FAMILIES["03001627"].items()}
    expected = weights["dining"] / sum(weights.values())
    assert abs(draws.count("dining") / len(draws) - expected) < 0.04
    assert "cantilever" not in {draw_family("03001627", rng, exclude=("cantilever",)) for _ in range(300)}
    assert family_synset("folding_x") == "04379243" and set(FAMILIES) == set(SYNSETS)
    with pytest.raises(ValueError, match="unknown family 'throne'"):
        family_synset("throne")


def test_family_names_are_unique_across_categories():
    names = [family for members in FAMILIES.values() for family in members]
    assert len(names) == len(set(names))  # families.json and --holdout name families alone
