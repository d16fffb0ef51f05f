"""The representation registry: a type is one package, looked up by name; nothing else branches on it."""

import ast
import glob
import json
import os
from dataclasses import dataclass

import pytest
import torch
from conftest import REPO, call_main, result_folder

from common.flags import flag, setting
from model import Prediction
from representations import BUILT_IN, Representation, Settings, get, names, register, unregister


class BallsDecoder(torch.nn.Module):
    """A few balls from the pooled feature, each a centre and a radius: a new kind of output."""

    uses_feature_map = False

    def __init__(self, n_balls: int):
        super().__init__()
        self.n_balls = n_balls
        self.head = torch.nn.Linear(512, n_balls * 4)

    def forward(self, encoding, queries=None) -> Prediction:
        out = self.head(encoding.features.float()).view(-1, self.n_balls, 4)
        centres, radii = 0.4 * torch.tanh(out[..., :3]), 0.02 + 0.1 * torch.sigmoid(out[..., 3])
        return Prediction(outputs={"centres": centres, "radii": radii})  # (B, K, 3), (B, K)


@dataclass(frozen=True)
class BallsSettings(Settings):
    n_balls: int = flag(12, "balls the model predicts", "positive_int", model=True)
    w_spread: float = flag(0.1, "keeps the balls apart (mean inverse distance between centres)", "non_negative_float")
    ball_points: int = setting(20, model=False)  # surface samples per ball for the Chamfer term


class Balls(Representation):
    """A new type with a flag, a loss weight and an output field of its own, declared in this file alone."""

    name = "balls"
    settings = BallsSettings
    max_iter = {"cpu": 2, "gpu": 2}
    image_size = {"cpu": 64, "gpu": 64}
    surface = "points"

    def build_decoder(self, model_args):
        return BallsDecoder(model_args["n_balls"])

    def targets(self, batch, settings, shared, memo=None):
        return {"points": batch["points"][:, : shared.n_points]}

    def loss(self, prediction, batch, targets, settings, shared):
        from losses import chamfer_loss

        points = self.surface_points(prediction, settings)
        chamfer = chamfer_loss(points, targets["points"])
        centres = prediction.outputs["centres"]
        spread = (1 / (torch.cdist(centres, centres) + 0.1)).mean()
        return shared.w_chamfer * chamfer + settings.w_spread * spread, {"chamfer": chamfer.detach()}

    @staticmethod
    def surface_points(prediction, settings) -> torch.Tensor:
        """(B, K * ball_points, 3) points on the balls (a fixed Fibonacci sphere per ball)."""
        k = torch.arange(settings.ball_points, dtype=torch.float32) + 0.5
        z = 1 - 2 * k / settings.ball_points
        phi = torch.pi * (1 + 5**0.5) * k
        unit = torch.stack([(1 - z**2).sqrt() * phi.cos(), (1 - z**2).sqrt() * phi.sin(), z], -1)  # (P, 3)
        centres, radii = prediction.outputs["centres"], prediction.outputs["radii"]
        return (centres[:, :, None] + radii[:, :, None, None] * unit).flatten(1, 2)

    def predict(self, model, images, grid_res, iso, cameras=None, intrinsics=None, masks=None, camera_search=0):
        prediction = model(images, cameras=cameras, intrinsics=intrinsics)
        prediction.points = self.surface_points(prediction, BallsSettings())
        return prediction


@pytest.fixture()
def balls():
    register(Balls())
    yield "balls"
    unregister("balls")


def test_a_new_type_with_a_flag_a_loss_weight_and_an_output_of_its_own_is_one_class(balls, tiny_root, tmp_path):
    """The balls type (this file only: no other file names it) trains with its own flags, then
    evaluates and reconstructs, through train_model.py, eval_model.py and reconstruct.py."""
    out = tmp_path / "balls_run"
    code, stdout, err = call_main(
        "train_model",
        "--type", "balls", "--data_root", tiny_root, "--out_dir", out, "--batch_size", "2", "--n_points", "100",
        "--n_balls", "7", "--w_spread", "0.5", "--device", "cpu", "--val_freq", "1",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    assert "n_balls 7" in stdout and "w_spread 0.5" in stdout  # the resolved config, printed
    record = json.load(open(out / "args.json"))
    assert record["type"] == "balls" and record["max_iter"] == 2 and record["model_args"]["n_balls"] == 7
    assert record["w_spread"] == 0.5
    code, _, err = call_main(
        "eval_model",
        "--load_checkpoint", "--out_dir", out, "--data_root", tiny_root, "--device", "cpu", "--n_points", "140",
        "--results_dir", tmp_path / "results", "--vis_ids", "0",
    )  # fmt: skip  # --type left out: the checkpoint's
    assert code == 0, err[-2000:]
    result = json.load(open(result_folder(tmp_path / "results", "balls") / "metrics.json"))
    assert result["n_samples"] == 3 and 0 <= result["model"]["F1@0.05"] <= 100
    assert "IoU_vox32" not in result["model"]  # balls have no volume
    image = sorted(glob.glob(os.path.join(tiny_root, "r2n2", "ShapeNetRendering", "*", "*", "rendering", "00.png")))[0]
    code, _, err = call_main(
        "reconstruct", image, "--checkpoint", out / "checkpoint_balls.pth", "--out", tmp_path / "rec", "--device",
        "cpu", "--no_gif",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    assert (tmp_path / "rec" / "00_balls.ply").exists()
    code, _, err = call_main("train_model", "--type", "balls", "--w_smooth", "1", "--data_root", tiny_root)
    assert code == 2 and "--w_smooth is a setting of mesh, not of --type balls" in err


def test_each_type_declares_what_the_code_asks_and_unknown_ones_are_refused():
    from model import ModelError

    assert names()[:5] == ("vox", "point", "mesh", "occupancy", "voxmesh")
    for representation in BUILT_IN:
        assert representation.surface in ("mesh", "points")
        assert representation.thin_cover in ("volume", "surface", "both")
        assert set(representation.max_iter) == set(representation.image_size) == {"cpu", "gpu"}
        assert representation.init_from is None or representation.init_from in names()
        assert issubclass(representation.settings, Settings)
    with pytest.raises(ModelError, match="unknown type 'nope'"):
        get("nope")


# Attributes whose values are other vocabularies that share a word with a type's name ("mesh" is a
# type and a kind of surface): a comparison with them is not a branch on a type.
OTHER_VOCABULARIES = {"surface", "surfaces", "silhouette_ceiling", "ceiling", "thin_cover", "cover", "kind"}


def type_name_uses(tree: ast.AST, type_names: set) -> list[tuple[int, str]]:
    """(line, what) of every branch on a type's name in a module: a comparison (==, !=, in, not
    in) with a type name or a literal holding one, a `match` case of one, a dict keyed by two or
    more (a dispatch table) and a tuple, list or set of two or more (a type list)."""

    def names_in(node) -> set:
        if isinstance(node, ast.Constant) and node.value in type_names:
            return {node.value}
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in type_names}
        return set()

    def vocabulary(node) -> str:
        return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            named = set().union(*(names_in(o) for o in operands))
            if named and not any(vocabulary(o) in OTHER_VOCABULARIES for o in operands):
                found.append((node.lineno, f"compares with {sorted(named)}"))
        elif isinstance(node, ast.match_case):
            named = {n.value.value for n in ast.walk(node.pattern) if isinstance(n, ast.MatchValue)} & type_names
            if named:
                found.append((node.pattern.lineno, f"matches {sorted(named)}"))
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)} & type_names
            if len(keys) >= 2:
                found.append((node.lineno, f"dispatches on {sorted(keys)}"))
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(names_in(node)) >= 2:
            found.append((node.lineno, f"lists {sorted(names_in(node))}"))
    return sorted(found)


def test_the_guard_finds_every_kind_of_branch_on_a_type():
    source = """
if model_type == "vox": pass
if "mesh" in kinds: pass
if layout.surfaces == "mesh": pass
LR = {"vox": 0.05, "point": 0.005}
TYPES = ("vox", "point", "mesh")
match t:
    case "occupancy": pass
run(["--type", "point"])
"""
    found = [what for _, what in type_name_uses(ast.parse(source), set(names()))]
    assert found == [
        "compares with ['vox']", "compares with ['mesh']", "dispatches on ['point', 'vox']",
        "lists ['mesh', 'point', 'vox']", "matches ['occupancy']",
    ]  # fmt: skip  # a surface kind and a type named as an argument are not branches


def test_no_module_outside_a_types_package_branches_on_a_type():
    """Scripts, training, evaluation, tools and benchmarks ask a type; they never branch on its
    name (no file exempted): only a type's own package (representations/<type>/ or
    representations/<type>.py) may."""
    type_names = set(names())
    offenders = []
    for folder, _, files in os.walk(REPO):
        rel = os.path.relpath(folder, REPO)
        if rel.split(os.sep)[0] in ("tests", "data", "output", ".git", "checkpoints", ".gpu"):
            continue
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, REPO).split(os.sep)
            own = parts[1].removesuffix(".py") if parts[0] == "representations" and len(parts) > 1 else None
            for line, what in type_name_uses(ast.parse(open(path).read()), type_names - {own}):
                offenders.append(f"{os.path.relpath(path, REPO)}:{line} {what}")
    assert not offenders, f"modules that branch on a type's name: {offenders}"
