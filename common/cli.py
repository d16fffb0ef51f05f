"""Helpers every command-line script shares: one-line errors, flag types, device choice.

    from common.cli import fail, positive_int, default_device, resolve_device

The scripts (`make_dataset.py`, `fit_data.py`, `train_model.py`, `eval_model.py`,
`reconstruct.py`, ...) import this module; it imports nothing of the project, so no library
module ever needs to import a script.
"""

import argparse
import os
import sys

import torch


def fail(message: str) -> None:
    """One clear line on stderr and exit status 2 (argparse's status for bad input)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _integer(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (0 is refused, never read as "not given")."""
    return _integer(text, 1, "at least 1")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a count that may be zero, such as DataLoader workers)."""
    return _integer(text, 0, "0 or more")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    value = _number(text)
    if not (value > 0 and value != float("inf")):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite float >= 0 (a loss weight: 0 turns its term off)."""
    value = _number(text)
    if not (value >= 0 and value != float("inf")):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {text}")
    return value


def probability(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    value = _number(text)
    if not 0 < value < 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def default_device() -> str:
    """CUDA when present (where most users train), else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str) -> torch.device:
    """torch.device for --device, or a one-line exit when it cannot be used here."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        fail(f"--device {name}: {err}")
    if device.type == "cuda" and not torch.cuda.is_available():
        fail(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return device


def check_writable_dir(path: str, flag: str) -> None:
    """Create `path` if needed and prove a file can be written there, or exit with one line."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        fail(f"{flag} {path} is not writable ({err.strerror})")
