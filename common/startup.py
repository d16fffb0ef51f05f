"""A Ctrl-C while a script starts is one line, not a traceback: its imports (torch, PyTorch3D) take seconds.

    import common.startup  # noqa: F401     first of all, in each script a user runs (ruff.toml sorts it first)
    ...
    common.startup.ready()                    # in the script's main block: main's own Ctrl-C handling from here

The handler is installed only when the importing script is the program being run from the repo's
root (`python train_model.py ...`), never when a test or a notebook imports the script. Until
`ready`, a Ctrl-C prints one line and ends the process with status 130: nothing has been written
yet. Imports nothing of the project.
"""

import os
import signal
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _interrupted(signum, frame):
    sys.stderr.write("error: interrupted while starting; nothing was written\n")
    sys.stderr.flush()
    os._exit(130)  # no traceback from a module half imported


_BEFORE = {}  # the handler found at import, put back by `ready`


def ready() -> None:
    """Hand Ctrl-C back to what it was (Python's KeyboardInterrupt, which the script's main
    handles; or ignored, as a shell leaves it for a job started in the background)."""
    if "handler" in _BEFORE:
        signal.signal(signal.SIGINT, _BEFORE.pop("handler"))


_main = sys.modules.get("__main__")
_program = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
if _main is not None and os.path.abspath(getattr(_main, "__file__", "") or "") == _program and _program:
    # Only over Python's own handler: a SIGINT that was ignored (a background job) stays ignored.
    if os.path.dirname(_program) == REPO and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        _BEFORE["handler"] = signal.signal(signal.SIGINT, _interrupted)
