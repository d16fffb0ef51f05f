"""Folders a user owns: which ones this code may replace or empty, decided on the resolved path.

    reason = unsafe_root("data/x")      # None, or why the folder may not be replaced

A dataset root, a run folder or a results folder is replaced by moving it aside and removing what
this code wrote there (`procedural.writer`, `training.checkpoints`); before any of that the path
is resolved and a few are refused outright: a symbolic link (what it points to is someone
else's), the file system's root, the home folder, and any folder that holds the current one
(emptying it would pull the floor from under the shell). Imports nothing of the project.
"""

import os


def unsafe_root(path: str) -> str | None:
    """Why `path` may not be replaced or emptied by this code, in a phrase, or None."""
    given = path.rstrip("/") or "/"
    if os.path.islink(given):
        return f"{path} is a symbolic link (to {os.path.realpath(given)}): name the folder itself"
    real = os.path.realpath(given)
    if real == os.path.realpath(os.sep):
        return f"{path} is the file system's root"
    if real == os.path.realpath(os.path.expanduser("~")):
        return f"{path} is the home folder"
    cwd = os.path.realpath(os.getcwd())
    if cwd == real or cwd.startswith(real + os.sep):
        return f"{path} holds the current folder ({cwd})"
    return None


class FolderBusy(Exception):
    """Another process holds the lock of the folder; the message names it."""


_HELD: dict[str, object] = {}


def lock_name(path: str, name: str) -> None:
    """Hold an advisory lock (flock) on `path` for the life of this process, the lock named `name`
    in messages; FolderBusy when another process holds it (the system drops it when a process
    ends, however it ends). A process taking the same lock again keeps it."""
    import fcntl

    path = os.path.abspath(path)
    if path in _HELD:
        return
    handle = open(path, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise FolderBusy(f"{name} is being written by another process ({holder}): wait for it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    _HELD[path] = handle
