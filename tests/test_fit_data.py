import re

import pytest
from conftest import assert_one_line_error, call_main, run_script


@pytest.mark.parametrize("fit_type", ["vox", "point", "mesh"])
def test_fit_lowers_the_loss_and_writes_a_gif(tiny_root, tmp_path, fit_type):
    out = tmp_path / "fit"
    proc = run_script(
        "fit_data.py",
        "--type",
        fit_type,
        "--data_root",
        tiny_root,
        "--max_iter",
        "30",
        "--n_points",
        "300",
        "--device",
        "cpu",
        "--out_dir",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    first, last = map(float, re.search(r"loss ([\d.]+) -> ([\d.]+)", proc.stdout).groups())
    assert last < 0.7 * first
    assert (out / f"{fit_type}_0.gif").stat().st_size > 1000


@pytest.mark.parametrize(
    "args,message",
    [
        (["--type", "foo"], "invalid choice: 'foo'"),
        (["--data_root", "/nonexistent/data"], "does not exist"),
        (["--index", "100000"], "out of range"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tiny_root, args, message):
    base = [] if "--data_root" in args else ["--data_root", tiny_root]
    assert_one_line_error(
        call_main("fit_data", *base, *args, "--max_iter", "1", "--no_vis", "--device", "cpu"), message
    )
