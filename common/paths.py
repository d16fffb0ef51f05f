"""Folders a user owns: which ones this code may replace or empty, decided on the resolved path.

    reason = unsafe_root("data/x")      # None, or why the folder may not be replaced

A dataset root, a run folder or a results folder is replaced by moving it aside and removing what
this code wrote there (`procedural.writer`, `training.run_folder`); before any of that the path
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
    """Another process holds the lock of the folder; the message names it, `holder` says which."""

    def __init__(self, message: str, holder: str = "another process"):
        super().__init__(message)
        self.holder = holder


_HELD: dict[str, object] = {}


def lock_name(path: str, name: str) -> None:
    """Hold an advisory lock (flock) on the file `path` until `unlock_name` (or the process's end,
    however it ends: the system drops it), the lock named `name` in messages; FolderBusy when another
    process holds it. A process taking the same lock again keeps it. The file is removed on unlock;
    a process that opened it before that finds, once it holds the lock, that the name now points
    elsewhere (or nowhere) and opens it again, so two processes never hold locks of one name."""
    import fcntl

    path = os.path.abspath(path)
    if path in _HELD:
        return
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise FolderBusy(f"{name} is being written by another process ({holder}): wait for it", holder) from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        held = os.fstat(handle.fileno())
        if current is not None and (current.st_ino, current.st_dev) == (held.st_ino, held.st_dev):
            break
        handle.close()  # removed by its holder's unlock after this process opened it: open the name again
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    _HELD[path] = handle


def unlock_name(path: str) -> None:
    """Drop a lock `lock_name` took and remove its file (while still holding it: see lock_name)."""
    path = os.path.abspath(path)
    handle = _HELD.pop(path, None)
    if handle is not None:
        try:
            os.unlink(path)
        except OSError:
            pass  # already gone, or a read-only folder: the lock itself is dropped below all the same
        handle.close()


def aside_kind(what: str) -> str:
    """The proof kind of a folder `what` ("dataset", "results", "run") set aside: each command's
    sweep settles only its own (`common.ownership.sweep`), never another's."""
    return f"{what}-aside"


_RENAME_NOREPLACE = 1  # linux/fs.h


def rename_no_replace(source: str, target: str) -> None:
    """Rename source to target, refused (FileExistsError) when target exists, even an empty folder
    made a moment ago: os.rename would silently replace that one. renameat2(RENAME_NOREPLACE)
    where the system has it (Linux 3.15, glibc 2.28), else a check just before the rename."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_cwd = -100  # AT_FDCWD
        if renameat2(at_cwd, os.fsencode(source), at_cwd, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL):  # the call or the flag unknown to this file system
            raise OSError(code, os.strerror(code), source, None, target)
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), source, None, target)
    os.rename(source, target)


def replace_folder(new: str, target: str, remove_old, what: str) -> list[str]:
    """Put the complete folder `new` (claimed by this process, `common.ownership`) at `target`: a
    folder already there is moved aside first, under a name no user picks and with its proof
    (a later `sweep` settles it if this process stops), and removed after by remove_old(aside) ->
    what it kept (the files this code did not write, named by the caller); on an error in between
    it is put back. Returns what was kept. `what` names the folder in the fault points."""
    from common.atomic_io import fault_point
    from common.ownership import claim, owned_name, release

    if not os.path.exists(target):
        rename_no_replace(new, target)
        release(new)
        return []
    aside = owned_name(target, "aside")
    claim(aside, aside_kind(what), {"target": os.path.basename(target)})
    rename_no_replace(target, aside)
    try:
        fault_point(f"{what} {target} moved aside")
        rename_no_replace(new, target)
    except BaseException:
        if not os.path.exists(target):
            rename_no_replace(aside, target)
            release(aside)
        raise
    release(new)
    fault_point(f"{what} {target} replaced")
    left = remove_old(aside)
    if not left:
        release(aside)
    return left
