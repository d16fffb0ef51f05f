"""Comparing evaluated runs: one plot, one page of their predictions side by side."""

from conftest import call_main, result_folder, run_script


def test_compare_plots_runs_and_puts_their_predictions_side_by_side(tiny_root, tiny_checkpoints, tmp_path):
    for model_type in ("vox", "point"):
        code, _, err = call_main(
            "eval_model",
            "--type",
            model_type,
            "--checkpoint",
            tiny_checkpoints / model_type / f"checkpoint_{model_type}.pth",
            "--data_root",
            tiny_root,
            "--device",
            "cpu",
            "--n_points",
            "200",
            "--results_dir",
            tmp_path,
            "--vis_ids",
            "0",
            "2",
            "--no_baseline",
        )
        assert code == 0, err
    runs = [str(result_folder(tmp_path, model_type)) for model_type in ("vox", "point")]
    proc = run_script("-m", "tools.compare_runs", *runs, "--out", str(tmp_path / "cmp" / "cmp.png"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cmp" / "cmp.png").stat().st_size > 1000
    page = open(tmp_path / "cmp" / "compare.html").read()
    assert page.count('class="sample"') == 2 and "vox (F1@0.05" in page and "point (F1@0.05" in page
