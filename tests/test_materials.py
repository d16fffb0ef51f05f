import numpy as np
import torch

from procedural.materials import KINDS, STYLES, assign_materials, fbm, material_table, surface, value_noise
from procedural.parts import BACK, CUSHION, FRAME, METAL, SEAT


def test_noise_is_smooth_bounded_and_deterministic():
    points = torch.rand(2000, 3) * 10
    noise = value_noise(points)
    assert noise.min() >= 0 and noise.max() <= 1 and noise.std() > 0.05
    torch.testing.assert_close(value_noise(points), noise)
    # Continuous: a tiny step changes the value a little.
    assert (value_noise(points + 1e-3) - noise).abs().max() < 0.02
    assert 0 <= fbm(points).min() and fbm(points).max() <= 1


def test_same_role_shares_a_material_and_same_reuses_the_first():
    rng = np.random.default_rng(0)
    groups = [FRAME, FRAME, SEAT, BACK, CUSHION, METAL]
    axes, centres = np.tile([0.0, 1.0, 0.0], (6, 1)), np.zeros((6, 3))
    for style in STYLES:
        materials = assign_materials(style, groups, axes, centres, rng)
        assert len(materials) == 6 and materials[0].color == materials[1].color and materials[0].kind in KINDS
    sofa = assign_materials("sofa", [CUSHION, SEAT, BACK], axes[:3], centres[:3], np.random.default_rng(1))
    assert sofa[2].color == sofa[0].color  # "same": a sofa is upholstered in one cloth


def test_each_kind_gives_valid_albedo_and_wood_has_grain():
    rng = np.random.default_rng(2)
    from procedural.materials import make_material

    materials = [make_material(kind, rng, (1.0, 0.0, 0.0), (0.0, 0.0, 0.0)) for kind in KINDS]
    table = material_table(materials)
    positions = torch.rand(3000, 3) - 0.5
    for k, kind in enumerate(KINDS):
        albedo, specular, shininess, mirror = surface(table, torch.full((3000,), k), positions)
        assert albedo.shape == (3000, 3) and albedo.min() >= 0 and albedo.max() <= 1, kind
        assert (specular >= 0).all() and (shininess > 0).all() and ((mirror >= 0) & (mirror <= 1)).all()
        if kind == "wood":
            assert albedo.mean(1).std() > 0.02  # rings and streaks, not a flat colour
        if kind == "chrome":
            assert mirror[0] > 0.5
