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
