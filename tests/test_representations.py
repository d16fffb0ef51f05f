"""The representation registry: a type is one module, looked up by name; nothing else branches on it."""

import ast
import json
import os

import pytest
import torch
from conftest import REPO, call_main, result_folder

from model import Prediction
from representations import BUILT_IN, Representation, get, names, register, unregister


class ToyDecoder(torch.nn.Module):
    """A cloud of a few points from the pooled feature: the smallest decoder there is."""

    uses_feature_map = False

    def __init__(self, n_points: int):
        super().__init__()
        self.n_points = n_points
        self.head = torch.nn.Linear(512, n_points * 3)

    def forward(self, encoding, queries=None) -> Prediction:
        points = 0.5 * torch.tanh(self.head(encoding.features.float())).view(-1, self.n_points, 3)
        return Prediction(points=points)


class Toy(Representation):
    """A new type, declared in this file alone."""

    name = "toy"
    model_defaults = {"toy_points": 40}
    max_iter = {"cpu": 2, "gpu": 2}
    image_size = {"cpu": 64, "gpu": 64}
    surface = "points"

    def build_decoder(self, model_args):
        return ToyDecoder(model_args["toy_points"])

    def targets(self, batch, config):
        return {"points": batch["points"]}

    def loss(self, prediction, batch, targets, config):
        from losses import chamfer_loss

        chamfer = chamfer_loss(prediction.points.float(), targets["points"])
        return chamfer, {"chamfer": chamfer.detach()}


@pytest.fixture()
def toy():
    register(Toy())
    yield "toy"
    unregister("toy")


def test_a_new_type_trains_and_evaluates_from_one_class_and_one_register_call(toy, tiny_root, tmp_path):
    """The toy type goes through train_model.py and eval_model.py for two steps, added here only."""
    out = tmp_path / "toy_run"
    code, stdout, err = call_main(
        "train_model",
        "--type", "toy", "--data_root", tiny_root, "--out_dir", out, "--batch_size", "2", "--n_points", "100",
        "--device", "cpu", "--val_freq", "1",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    assert "toy_points 40" in stdout  # the resolved config, printed
    record = json.load(open(out / "args.json"))
    assert record["type"] == "toy" and record["max_iter"] == 2 and record["model_args"]["toy_points"] == 40
    code, stdout, err = call_main(
        "eval_model",
        "--type", "toy", "--load_checkpoint", "--out_dir", out, "--data_root", tiny_root, "--device", "cpu",
        "--n_points", "300", "--results_dir", tmp_path / "results", "--vis_ids", "0",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    result = json.load(open(result_folder(tmp_path / "results", "toy") / "metrics.json"))
    assert result["n_samples"] == 3 and 0 <= result["model"]["F1@0.05"] <= 100
    assert "IoU_vox32" not in result["model"]  # a cloud has no volume


def test_each_type_declares_what_the_code_asks_and_unknown_ones_are_refused():
    from model import ModelError

    assert names()[:5] == ("vox", "point", "mesh", "occupancy", "voxmesh")
    for representation in BUILT_IN:
        assert representation.surface in ("mesh", "points")
        assert representation.thin_cover in ("volume", "surface", "both")
        assert set(representation.max_iter) == set(representation.image_size) == {"cpu", "gpu"}
        assert representation.init_from is None or representation.init_from in names()
    with pytest.raises(ModelError, match="unknown type 'nope'"):
        get("nope")


def test_no_module_outside_the_representations_names_a_type():
    """Scripts, training and evaluation ask a type; they never compare its name with a literal.
    (fit_data.py's --type names the free representations it fits, not the models'.)"""
    type_literals = set(names())
    offenders = []
    for folder, _, files in os.walk(REPO):
        rel = os.path.relpath(folder, REPO)
        if rel.split(os.sep)[0] in ("tests", "representations", "data", "output", ".git", "checkpoints"):
            continue
        for name in files:
            if not name.endswith(".py") or name == "fit_data.py":
                continue
            path = os.path.join(folder, name)
            for node in ast.walk(ast.parse(open(path).read())):
                operands = [node.left, *node.comparators] if isinstance(node, ast.Compare) else []
                names_a_type = any(
                    "type" in (o.id if isinstance(o, ast.Name) else o.attr if isinstance(o, ast.Attribute) else "")
                    for o in operands
                )  # model_type, args.type, model.type: not layout.surfaces == "mesh", a data's surfaces
                if names_a_type:
                    literals = [c for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
                    containers = [c for c in node.comparators if isinstance(c, (ast.Tuple, ast.List, ast.Set))]
                    values = {c.value for c in literals} | {
                        e.value for c in containers for e in c.elts if isinstance(e, ast.Constant)
                    }
                    if values & type_literals:
                        offenders.append(f"{os.path.relpath(path, REPO)}:{node.lineno}")
    assert not offenders, f"modules that branch on a type's name: {offenders}"
