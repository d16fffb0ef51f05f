"""The registry of output types: each type's `Representation` by name, and the model arguments it declares.

register(Toy())              # a type added (representations/__init__.py registers the built-in ones)
get("vox").has_volume        # what the code asks of a type
default_model_args("vox", image_size=64)
"""

from model import ModelError

from .base import Representation

REGISTRY: dict[str, Representation] = {}
# Every model's arguments besides its type's own: the encoder and the size of its input (None: the
# type's for the cpu profile, `Representation.image_size`; a run's config sets the profile's).
COMMON_MODEL_ARGS = {"arch": "resnet18", "image_size": None}


def register(representation: Representation) -> Representation:
    """Add a type (replacing one of the same name)."""
    if not representation.name:
        raise ValueError("a representation needs a name (its --type)")
    REGISTRY[representation.name] = representation
    return representation


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """The registered types, in the order they were registered."""
    return tuple(REGISTRY)


def get(name: str) -> Representation:
    """The representation of a --type, or ModelError naming the known ones."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ModelError(f"unknown type {name!r}: choose one of {', '.join(REGISTRY)}") from None


def model_defaults(type: str) -> dict:
    """A type's own model arguments and their defaults (its settings' model fields)."""
    return {f.name: f.default for f in get(type).settings.fields(model=True)}


def default_model_args(type: str, **overrides) -> dict:
    """The full model arguments of a type with overrides applied (None leaves the default);
    ModelError for an argument the type does not have."""
    representation = get(type)
    args = {"type": type, **COMMON_MODEL_ARGS, **model_defaults(type)}
    unknown = set(overrides) - set(args)
    if unknown:
        raise ModelError(f"unknown model arguments for {type}: {sorted(unknown)}")
    args.update({k: v for k, v in overrides.items() if v is not None})
    if args["image_size"] is None:
        args["image_size"] = representation.image_size["cpu"]
    return representation.complete(args)


def complete_model_args(model_args: dict) -> dict:
    """A checkpoint's model_args made complete: as this version names them, with the settings of
    older versions for keys they predate (`common.legacy.upgrade_model_args`, so a change of a
    default never changes what an old checkpoint builds), the defaults for the rest."""
    from common.legacy import upgrade_model_args

    model_type = model_args.get("type")
    known = {*COMMON_MODEL_ARGS, *model_defaults(model_type)}
    stored = upgrade_model_args(model_args, known)
    stored.pop("type", None)
    return default_model_args(model_type, **stored)
