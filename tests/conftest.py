"""Shared fixtures: one tiny generated dataset per test session."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> str:
    """9 models (3 per category: 2 train, 1 test, no val), 2 views each."""
    import make_dataset

    root = str(tmp_path_factory.mktemp("data") / "tiny")
    make_dataset.generate(root, n_models=9, n_views=2, seed=0, workers=1, quiet=True)
    return root


def run_script(*args, timeout=600):
    """Run a repo script as a user does; returns the CompletedProcess."""
    import subprocess

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def tiny_checkpoints(tiny_root, tmp_path_factory):
    """Two-step training runs of every type, in runs/<type>/ (their quality does not matter)."""
    runs = tmp_path_factory.mktemp("runs")
    for model_type in ("vox", "point", "mesh", "occupancy"):
        proc = run_script("train_model.py", "--type", model_type, "--data_root", tiny_root, "--out_dir", str(runs / model_type),
                          "--max_iter", "2", "--batch_size", "2", "--image_size", "64", "--n_points", "100", "--device", "cpu")
        assert proc.returncode == 0, proc.stderr
    return runs
