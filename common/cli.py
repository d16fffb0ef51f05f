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


class ShowDefaults(argparse.HelpFormatter):
    """--help with every flag's default after its help ("(default: X)"), unless the help says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            action.option_strings
            and action.default is not argparse.SUPPRESS
            and "(default" not in text
            and not action.required
        ):
            if not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                text += f" (default: {shown(action.default)})"
        return text


def script_parser(path: str, description: str) -> argparse.ArgumentParser:
    """A script's parser: its file name in the usage line (and before every error), the
    description below it, every flag's default shown (`ShowDefaults`)."""
    return argparse.ArgumentParser(prog=os.path.basename(path), description=description, formatter_class=ShowDefaults)


def fail(message: str) -> None:
    """One clear line on stderr and exit status 2 (argparse's status for bad input)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def run_or_fail(main, args, *errors: type[Exception]):
    """main(args), for a script's `__main__`: one of `errors` (library errors whose message says what
    to do, such as a missing data root) becomes `fail`'s one line instead of a traceback."""
    try:
        return main(args)
    except errors as err:
        fail(str(err))


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


def shown(value) -> str:
    """A default as --help shows it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value) or "none"
    return str(value)


# The flag types a config field may name (`common.flags.flag`): by name, so config modules need not
# import this module (library code raises; only scripts parse and exit).
FLAG_TYPES = {
    "int": int,
    "positive_int": positive_int,
    "non_negative_int": non_negative_int,
    "positive_float": positive_float,
    "non_negative_float": non_negative_float,
    "probability": probability,
}


def add_flags(group, config_class, defaults: dict | None = None, only=None, owners: dict | None = None) -> None:
    """A --<name> flag for each field of config_class made with `common.flags.flag` (those in `only`,
    when given).
    argparse gets no default: a flag left out is absent from the parsed namespace, so what the user
    gave is exactly what it holds (`given_flags`), and the config's own default applies when it is
    resolved. The help shows that default (or defaults[name], for one decided elsewhere) and, with
    owners ({name: [types]}), the types that have a flag several share."""
    import dataclasses

    for field in dataclasses.fields(config_class):
        meta = field.metadata
        if "help" not in meta or (only is not None and field.name not in only):
            continue
        default = (defaults or {}).get(field.name, field.default)
        shared = (owners or {}).get(field.name, [])
        prefix = f"{', '.join(shared)}: " if len(shared) > 1 else ""
        required = meta.get("required") or meta.get("positional")
        kwargs = {"default": argparse.SUPPRESS, "help": f"{prefix}{meta['help']}"}
        if not required:
            kwargs["help"] += f" (default: {shown(default)})"
        if meta.get("required") and not meta.get("positional"):
            kwargs["required"] = True
        if meta["action"]:
            kwargs["action"] = {"store_true": "store_true", "boolean": argparse.BooleanOptionalAction}[meta["action"]]
        else:
            if meta["type"]:
                kwargs["type"] = FLAG_TYPES[meta["type"]]
            choices = meta["choices"]
            if choices is not None:
                kwargs["choices"] = list(choices() if callable(choices) else choices)
            if meta["metavar"]:
                kwargs["metavar"] = meta["metavar"]
            if meta.get("nargs"):
                kwargs["nargs"] = meta["nargs"]
        if meta.get("positional"):
            kwargs.pop("default")
            group.add_argument(field.name, **kwargs)
        else:
            group.add_argument(f"--{field.name}", **kwargs)


def given_flags(namespace: argparse.Namespace) -> dict:
    """The flags a command line gave (a parser built with `add_flags` leaves out the others)."""
    return dict(vars(namespace))
