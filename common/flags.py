"""Config fields that are also command-line flags: the default lives on the field, once.

    @dataclass(frozen=True)
    class LossConfig:
        w_chamfer: float = flag(1.0, "the Chamfer data term", "positive_float")

`common.cli.add_flags` turns such fields into argparse flags (a script's job); this module only
describes them, so library configs stay free of argparse. Imports nothing of the project.
"""

import dataclasses


class ConfigError(Exception):
    """Settings that cannot go together or cannot make a run; the message says which and what to do."""


def flag(
    default,
    help: str,
    type: str | None = None,
    choices=None,
    action: str | None = None,
    metavar=None,
    model: bool = False,
    nargs=None,
    positional: bool = False,
    required: bool = False,
):
    """A dataclass field with its flag's description: help, the flag type's name (`common.cli.FLAG_TYPES`:
    "positive_int", "non_negative_float", ...), choices (a tuple, or a callable read when the parser is
    built: the registered types), action ("store_true", or "boolean" for --x / --no-x), nargs
    (argparse's: "+", "*"), positional (an argument without --) and required. model: the field is a
    model argument (a type's `Settings`: stored in checkpoints, rebuilds the network)."""
    metadata = {
        "help": help,
        "type": type,
        "choices": choices,
        "action": action,
        "metavar": metavar,
        "model": model,
        "nargs": nargs,
        "positional": positional,
        "required": required,
    }
    return dataclasses.field(default=default, metadata=metadata)


def setting(default, model: bool = True):
    """A settings field that is no flag: a model argument decided by the other settings (a
    `validate` rule) or fixed by the design, stored with the others."""
    return dataclasses.field(default=default, metadata={"model": model})
