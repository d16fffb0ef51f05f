import argparse

import pytest

from common.cli import fail, positive_float, positive_int, probability


def test_positive_int_refuses_zero_and_junk():
    assert positive_int("3") == 3
    for text in ("0", "-2", "1.5", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(text)


def test_positive_float_refuses_zero_nan_and_inf():
    assert positive_float("1e-3") == pytest.approx(1e-3)
    for text in ("0", "-1", "nan", "inf", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_float(text)


def test_probability_is_strictly_between_0_and_1():
    assert probability("0.3") == pytest.approx(0.3)
    for text in ("0", "1", "1.5", "-0.1", "nan", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            probability(text)


def test_fail_is_one_line_with_status_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        fail("something is wrong")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: something is wrong\n"


SCRIPTS = (
    "train_model.py", "eval_model.py", "fit_data.py", "make_dataset.py", "reconstruct.py",
    "tools/collect_results.py", "tools/compare_runs.py", "tools/study_mesh.py", "tools/fault_injection.py",
    "benchmarks/bench_train.py", "benchmarks/bench_loader.py", "benchmarks/framing.py", "benchmarks/gpu_check.py",
    "benchmarks/occupancy_ceiling.py", "benchmarks/paired.py", "benchmarks/photo_like.py",
    "benchmarks/photo_figure.py",
)  # fmt: skip


def test_every_scripts_help_names_it_describes_it_and_shows_its_defaults():
    """`--help` of every script: its own file name in the usage line, a description below it, and
    a default after each optional flag that has one (run together: each starts Python and torch)."""
    import os
    import re
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def command(script):  # the root's scripts as files, tools/ and benchmarks/ as modules (python -m tools.x)
        return [script] if "/" not in script else ["-m", script[: -len(".py")].replace("/", ".")]

    procs = {
        script: subprocess.Popen(
            [sys.executable, *command(script), "--help"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in SCRIPTS
    }
    for script, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (script, err)
        name = os.path.basename(script)
        assert out.startswith(f"usage: {name}"), (script, out[:80])
        description = out.split("\n\n")[1]
        assert description.strip() and not description.lstrip().startswith(("options:", "positional")), script
        if name == "bench_train.py":
            assert "writes nothing" in out and "Train a single-view" not in out
        # an optional flag's help entry ends with its default, unless it is a switch or says it itself
        usage = out.split("\n\n")[0]
        required = set(re.findall(r"(?<!\[)(--\w+)", usage))  # flags the usage line shows without brackets
        entries = re.split(r"\n  (?=-)", out.split("options:", 1)[1])
        for entry in entries[1:]:
            flag = entry.split()[0].rstrip(",")
            takes_value = len(entry.split("  ")[0].split()) > 1
            if takes_value and flag not in required and not entry.startswith("-h"):
                assert "default" in entry, (script, entry[:120])


def test_run_or_fail_turns_the_named_errors_into_one_line(capsys):
    """A named library error is fail's line and status 2; any other error still propagates."""
    import pytest

    from common.cli import run_or_fail

    def main(args):
        raise args("data root /x does not exist")

    with pytest.raises(SystemExit) as stop:
        run_or_fail(main, LookupError, LookupError)
    assert stop.value.code == 2 and capsys.readouterr().err == "error: data root /x does not exist\n"
    with pytest.raises(ValueError):
        run_or_fail(main, ValueError, LookupError)
    assert run_or_fail(lambda args: args + 1, 1, LookupError) == 2
