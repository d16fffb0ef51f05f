"""The frame check: transforms of points and voxels, the decision, and a fixture in a turned frame."""

import itertools
import json

import numpy as np
import pytest
import torch
from conftest import call_main, result_folder

from geometry.frames import FRAME_MARGIN, FRAME_TRANSFORMS, frame_check, transform_points, transform_voxels


def cell_centres(voxels: torch.Tensor) -> torch.Tensor:
    """Object-frame (x, y, z) centres (N, 3) of the occupied cells of a [z, y, x] grid."""
    R = voxels.shape[-1]
    k, j, i = torch.nonzero(voxels, as_tuple=True)
    return (torch.stack([i, j, k], 1).float() + 0.5) / R - 0.5


def test_voxel_transforms_move_cells_as_the_point_transforms_move_their_centres():
    voxels = torch.rand(8, 8, 8) > 0.8
    for name, matrix in FRAME_TRANSFORMS.items():
        moved = transform_voxels(voxels, matrix)
        expected = transform_points(cell_centres(voxels), matrix)
        assert len(cell_centres(moved)) == len(expected) and same_points(cell_centres(moved), expected), name
    assert torch.equal(transform_voxels(voxels, FRAME_TRANSFORMS["turn90"]), torch.rot90(voxels, 1, dims=(0, 2)))


def same_points(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same set of cell centres (N, 3) of an 8^3 grid (on multiples of 1/16), in any order."""
    return {tuple(p) for p in a.mul(16).round().int().tolist()} == {tuple(p) for p in b.mul(16).round().int().tolist()}


def test_the_eight_transforms_are_the_symmetries_of_the_square_about_y():
    matrices = list(FRAME_TRANSFORMS.values())
    keys = {tuple(m.flatten().tolist()) for m in matrices}
    assert len(keys) == 8 and torch.equal(FRAME_TRANSFORMS["identity"], torch.eye(3))
    for a in matrices:  # closed under composition, y kept, orthogonal
        assert torch.equal(a[1], torch.tensor([0.0, 1.0, 0.0])) and torch.allclose(a @ a.T, torch.eye(3))
        for b in matrices:
            assert tuple((a @ b).flatten().tolist()) in keys
    assert torch.allclose(
        transform_points(torch.tensor([1.0, 2.0, 3.0]), FRAME_TRANSFORMS["turn90"]), torch.tensor([3.0, 2.0, -1.0])
    )
    assert torch.allclose(
        transform_points(torch.tensor([1.0, 2.0, 3.0]), FRAME_TRANSFORMS["mirror_z"]), torch.tensor([1.0, 2.0, -3.0])
    )
    with pytest.raises(ValueError, match="signed permutation"):
        transform_voxels(torch.zeros(4, 4, 4), torch.eye(3) * 0.5)


def test_frame_check_flags_a_clear_winner_only():
    torch.manual_seed(0)
    base = 0.5 + 0.05 * torch.randn(40)
    ties = {name: base + 0.01 * torch.randn(40) for name in FRAME_TRANSFORMS}
    ties["identity"] = base
    agree = frame_check(ties, "IoU")
    assert not agree["mismatch"] and abs(agree["gain"]) < FRAME_MARGIN["IoU"]
    turned = dict(ties, turn270=base + 0.15)
    report = frame_check(turned, "IoU")
    assert report["mismatch"] and report["best"] == "turn270" and abs(report["gain"] - 0.15) < 1e-6
    few = {
        "identity": torch.tensor([0.5, 0.2]),
        "turn90": torch.tensor([0.9, 0.1]),
    }  # a big mean gain from 2 noisy samples
    assert not frame_check(few, "IoU")["mismatch"]


@pytest.fixture(scope="module")
def frame_fixtures(tmp_path_factory):
    """The same 6 models written as R2N2's archives twice: in ShapeNet's frame, and turned a
    quarter turn about y (renderings, cameras and voxels alike: data in another object frame)."""
    import procedural

    base = tmp_path_factory.mktemp("frames")
    roots = {}
    for turn in (0, 90):
        roots[turn] = str(base / f"turn{turn}")
        procedural.write_dataset(
            roots[turn], n_models=6, n_views=1, seed=1, workers=1, quiet=True, layout="archives", turn=turn
        )
    return roots


def test_a_turned_world_holds_the_same_models_turned(frame_fixtures):
    from dataset import R2N2Dataset
    from evaluation.metrics import voxel_iou

    plain, turned = (R2N2Dataset(frame_fixtures[t], "all", views="first", quiet=True) for t in (0, 90))
    assert plain.cache["model_ids"] == turned.cache["model_ids"]
    iou = voxel_iou(transform_voxels(plain.cache["voxels"], FRAME_TRANSFORMS["turn90"]), turned.cache["voxels"])
    assert iou.min() > 0.97, iou  # the same solids a quarter turn round, voxelised again
    assert turned.layout.generator["turn"] == 90 and "turned 90 degrees" in turned.layout.generator["object_frame"]


def test_frame_check_finds_the_turn_of_a_fixture_in_a_turned_frame(frame_fixtures):
    """Predictions in ShapeNet's frame (the plain fixture's GT voxels, a perfect model of this
    world), scored on both fixtures: the check agrees on the plain one and names the turn on the
    turned one."""
    from dataset import R2N2Dataset, collate_batch
    from evaluation.protocol import evaluate, mesh_prediction, summarize_frame_check
    from geometry.grids import voxels_to_meshes

    plain = R2N2Dataset(frame_fixtures[0], "all", views="first", quiet=True)
    by_model = {model_id: plain.cache["voxels"][m].float() for m, model_id in enumerate(plain.cache["model_ids"])}

    def predict_in_shapenet_frame(batch, with_voxels: bool):
        voxels = torch.stack([by_model[model_id] for model_id in batch["model_id"]])
        pred = mesh_prediction(voxels_to_meshes(voxels, 0.5), voxels, 2000)
        return pred if with_voxels else {**pred, "voxels": None}  # scored as a point or mesh type

    for (turn, expected), (with_voxels, metric) in itertools.product(
        ((0, None), (90, "turn90")), ((True, "IoU"), (False, "F1@0.05"))
    ):
        dataset = R2N2Dataset(frame_fixtures[turn], "all", n_points=2000, views="first", quiet=True)
        loader = torch.utils.data.DataLoader(dataset, batch_size=3, collate_fn=collate_batch)
        frame_rows = []
        torch.manual_seed(0)
        evaluate(lambda b: predict_in_shapenet_frame(b, with_voxels), loader, "cpu", (0.05,), frame_rows=frame_rows)
        report = summarize_frame_check(frame_rows)
        assert report["decided_on"] == metric and set(report) == {"decided_on", metric}
        check = report[metric]
        assert check["mismatch"] == (expected is not None), (turn, check)
        if expected:
            assert (
                check["best"] == expected and check["means"][expected] > check["means"]["identity"] + check["margin"]
            ), check
        else:
            assert check["means"]["identity"] >= max(check["means"].values()) - 1e-6, check


def test_eval_model_reports_the_frame_check(tiny_root, tiny_checkpoints, tmp_path):
    checkpoint = tiny_checkpoints / "vox" / "checkpoint_vox.pth"
    evaluate = [
        "eval_model",
        "--type",
        "vox",
        "--checkpoint",
        checkpoint,
        "--data_root",
        tiny_root,
        "--results_dir",
        tmp_path,
        "--device",
        "cpu",
        "--no_baseline",
        "--vis_ids",
        "--n_points",
        "500",
    ]
    code, out, err = call_main(*evaluate)
    assert code == 0, err[-2000:]
    assert "frame check (IoU under the turns and mirrors about y): identity" in out
    result = json.load(open(result_folder(tmp_path, "vox") / "metrics.json"))
    check = result["frame_check"]
    assert check["decided_on"] == "IoU" and set(check["IoU"]["means"]) == set(FRAME_TRANSFORMS)
    assert np.isclose(check["IoU"]["means"]["identity"], result["model"]["IoU_vox32"], atol=1e-6)  # the reported IoU
    code, out, _ = call_main(*evaluate, "--no_frame_check")
    assert code == 0 and "frame check" not in out
    # another setting, another folder beside the first (the setting is part of the name)
    (without,) = [p for p in tmp_path.iterdir() if p.is_dir() and "noframecheck" in p.name]
    assert json.load(open(without / "metrics.json"))["frame_check"] is None
