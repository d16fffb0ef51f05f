"""Config fields that are also command-line flags: the default lives on the field, once.

    @dataclass(frozen=True)
    class LossConfig:
        w_dice: float = flag(1.0, "the soft Dice loss beside the BCE", "non_negative_float")

`common.cli.add_flags` turns such fields into argparse flags (a script's job); this module only
describes them, so library configs stay free of argparse. Imports nothing of the project.
"""

import dataclasses


def flag(default, help: str, type: str | None = None, choices=None, action: str | None = None, metavar=None):
    """A dataclass field with its flag's description: help, the flag type's name (`common.cli.FLAG_TYPES`:
    "positive_int", "non_negative_float", ...), choices (a tuple, or a callable read when the parser is
    built: the registered types) and action ("store_true", or "boolean" for --x / --no-x)."""
    metadata = {"help": help, "type": type, "choices": choices, "action": action, "metavar": metavar}
    return dataclasses.field(default=default, metadata=metadata)
