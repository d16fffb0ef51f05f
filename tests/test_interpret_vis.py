import os

import nbformat
from conftest import REPO
from nbclient import NotebookClient


def test_notebook_runs_headless_and_writes_figures(tiny_root, tiny_checkpoints, tmp_path, monkeypatch):
    out = tmp_path / "interpretation"
    monkeypatch.setenv("INTERP_CHECKPOINT", str(tiny_checkpoints / "vox" / "checkpoint_vox.pth"))
    monkeypatch.setenv("INTERP_DATA_ROOT", tiny_root)
    monkeypatch.setenv("INTERP_OUT_DIR", str(out))
    notebook = nbformat.read(os.path.join(REPO, "interpret_vis.ipynb"), as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": REPO}}).execute()
    for stage in ("proj_4", "up_8", "up_16", "refine_16", "logits_32"):
        assert (out / f"feat_map={stage}.png").stat().st_size > 1000, stage
    for name in ("saliency.png", "views.png"):
        assert (out / name).stat().st_size > 1000, name
