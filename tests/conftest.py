"""Shared fixtures: one tiny generated dataset per test session."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> str:
    """9 models (3 per category: 2 train, 1 test, no val), 2 views each."""
    import procedural

    root = str(tmp_path_factory.mktemp("data") / "tiny")
    procedural.write_dataset(root, n_models=9, n_views=2, seed=0, workers=1, quiet=True)
    return root


def run_script(*args, timeout=600, env=None):
    """Run a repo script as a user does (env: more environment variables); returns the CompletedProcess."""
    import subprocess

    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def tiny_checkpoints(tiny_root, tmp_path_factory):
    """Two-step training runs of every type, in runs/<type>/ (their quality does not matter)."""
    runs = tmp_path_factory.mktemp("runs")
    for model_type in ("vox", "point", "mesh", "occupancy", "voxmesh"):
        proc = run_script(
            "train_model.py",
            "--type",
            model_type,
            "--data_root",
            tiny_root,
            "--out_dir",
            str(runs / model_type),
            "--max_iter",
            "2",
            "--batch_size",
            "2",
            "--image_size",
            "64",
            "--n_points",
            "100",
            "--device",
            "cpu",
            "--init",
            "none",
        )
        assert proc.returncode == 0, proc.stderr
    return runs


def call_main(module_name: str, *argv):
    """Run a script's main() in this process as `python <module_name>.py argv` would.

    Returns (exit code, stdout, stderr). Much cheaper than run_script (no interpreter, torch and
    PyTorch3D start-up, about 5 s each), so the bad-input tests use it; an exception other than
    SystemExit propagates and fails the test, the in-process form of "no traceback".
    """
    import contextlib
    import importlib
    import io

    module = importlib.import_module(module_name)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            argv = [str(a) for a in argv]
            parse = getattr(module, "parse_args", None) or module.get_args_parser().parse_args
            module.main(parse(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(result, message: str) -> None:
    """call_main's result is exit status 2 with `message` on the last stderr line."""
    code, _, err = result
    assert code == 2, err[-1500:]
    last_line = err.strip().splitlines()[-1]  # argparse prints its usage above the error line
    assert "error:" in last_line and message in last_line, err[-1500:]


@pytest.fixture(scope="session")
def archives_root(tmp_path_factory) -> str:
    """What R2N2's two archives hold, for 6 models (3 train, 3 test by the generated split):
    24 RGBA views with 5-number metadata lines and renderings.txt, centred binvox grids; no
    meshes, no split file."""
    import procedural

    root = str(tmp_path_factory.mktemp("data") / "r2n2_like")
    procedural.write_dataset(root, n_models=6, n_views=24, seed=1, workers=1, quiet=True, layout="archives")
    return root


@pytest.fixture()
def archives_copy(archives_root, tmp_path):
    """A private copy of the archives fixture, for tests that damage files."""
    import shutil

    root = str(tmp_path / "copy")
    shutil.copytree(archives_root, root, ignore=shutil.ignore_patterns(".cache"))
    return root


@pytest.fixture(scope="session")
def small_root(tmp_path_factory) -> str:
    """30 models (8 train, 1 val, 1 test per category), 1 view each: enough for a val split."""
    import procedural

    root = str(tmp_path_factory.mktemp("data") / "small")
    procedural.write_dataset(root, n_models=30, n_views=1, seed=2, workers=2, quiet=True)
    return root


def result_folder(results_dir, prefix: str):
    """The one folder eval_model.py wrote under results_dir for `prefix` (<type>[_oracle][_tag]):
    its name goes on with whatever differs from the default evaluation (data root, split...)."""
    import pathlib

    found = [
        p
        for p in pathlib.Path(results_dir).iterdir()
        if p.is_dir() and (p.name == prefix or p.name.startswith(prefix + "_"))
    ]
    assert len(found) == 1, (prefix, sorted(p.name for p in pathlib.Path(results_dir).iterdir()))
    return found[0]


@pytest.fixture(scope="session")
def photo_set(tiny_root, tmp_path_factory):
    """Photo-like JPEGs of the tiny dataset's 3 test models, 2 each, with their true masks."""
    import procedural

    folder = str(tmp_path_factory.mktemp("photos"))
    rows = procedural.write_photo_set(tiny_root, folder, split="test", per_model=2)
    return folder, rows


def loss_for(model_type: str, **values):
    """A type's training loss (`representations.ReconstructionLoss`) with some settings changed:
    each value goes to the type's own settings or to the shared `losses.LossConfig`, whichever
    has it; the type's settings are then made whole (`Settings.validate`)."""
    import dataclasses

    from losses import LossConfig
    from representations import ReconstructionLoss, get

    settings_class = get(model_type).settings
    own = {k: v for k, v in values.items() if k in {f.name for f in settings_class.fields()}}
    shared = {k: v for k, v in values.items() if k in {f.name for f in dataclasses.fields(LossConfig)}}
    unknown = set(values) - set(own) - set(shared)
    assert not unknown, f"no setting {sorted(unknown)} for {model_type}"
    return ReconstructionLoss(model_type, settings_class(**own).validate(), LossConfig(**shared))
