"""What this project writes for a while and may remove later, proven its own: owned names, proofs, the sweep.

    tmp = owned_name("results/vox", "tmp")          # results/vox.sv3d-tmp-<pid>-<hex>: a name no user picks
    claim(tmp, "tmp")                               # its proof, written before the entry exists
    ...                                             # the entry written, then renamed into place
    release(tmp)                                    # its proof removed once the entry is gone
    lines = sweep(folder, settle)                   # what writers that are gone left, settled

A temporary entry (a file being written, a folder being built, a folder moved aside until its
successor is whole) carries a name with this project's tag and, beside it, a proof
(`<entry>.sv3d-owner`: the writer's host, boot, pid namespace, pid and process start time). The
sweep settles only entries whose proof names a writer that is provably gone: on this host since
this boot, in this pid namespace, its pid no longer running or running a process started later.
A live writer in another container (another pid namespace) or on another host sharing the folder
is never touched; an entry named like this project's without a proof is left, and named. Imports
nothing of the project.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable

TAG = "sv3d"  # in every temporary name this project makes
OWNER_SUFFIX = f".{TAG}-owner"
KINDS = ("tmp", "build", "aside")  # in the name: a file being written, a folder being built, one set aside
REMOVABLE = ("tmp", "build")  # proof kinds the sweep removes outright; any other is settled by its owner only
OWNED_NAME = re.compile(rf"\.{TAG}-(?P<kind>{'|'.join(KINDS)})-(?P<pid>\d+)-[0-9a-f]{{8}}")
# Names earlier versions gave their temporary entries, which carried no proof: left, and named.
EARLIER_NAMES = (
    re.compile(r"^.+\.tmp-\d+-[0-9a-f]{8}(\..*)?$"),
    re.compile(r"^.+\.stale-\d+$"),
    re.compile(r"^\.tmp-dataset-\d+-.+$"),
    re.compile(r"^\.overwritten-\d+(\.discard)?$"),
)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (/proc/<pid>/stat), None when unknown."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22: after the parenthesised command
    except (IndexError, ValueError):
        return None


def this_writer() -> dict:
    """This process as a proof names it: host, boot id, pid namespace, pid, start time."""
    namespace = None
    with contextlib.suppress(OSError):
        namespace = os.readlink("/proc/self/ns/pid")
    return {
        "host": socket.gethostname(),
        "boot": _read("/proc/sys/kernel/random/boot_id"),
        "pid_namespace": namespace,
        "pid": os.getpid(),
        "start": process_start(os.getpid()),
    }


def writer_state(writer: dict) -> str:
    """ "gone" (provably: same host, same boot, same pid namespace, and its pid not running or
    running a process that started later), "alive", or "unknown" (another host, boot or pid
    namespace, or this system says too little to tell)."""
    here = this_writer()
    if writer.get("host") != here["host"]:
        return "unknown"
    if writer.get("boot") is None or writer.get("boot") != here["boot"]:
        return "unknown"  # another boot is another machine's run as far as a shared volume can tell
    if writer.get("pid_namespace") is None or writer.get("pid_namespace") != here["pid_namespace"]:
        return "unknown"
    pid = writer.get("pid")
    if not isinstance(pid, int):
        return "unknown"
    if pid == here["pid"]:
        return "alive" if writer.get("start") == here["start"] else "gone"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass  # another user's process runs under that pid
    start = process_start(pid)
    if start is None or writer.get("start") is None:
        return "unknown"
    return "alive" if start == writer["start"] else "gone"


def owned_name(path: str, kind: str, hidden: bool = False) -> str:
    """A temporary name beside `path` that no user would choose: <path>.sv3d-<kind>-<pid>-<hex>
    (with hidden, .<name>.sv3d-...: a dot name that listings skip)."""
    folder, name = os.path.split(path)
    name = f"{'.' if hidden else ''}{name}.{TAG}-{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return os.path.join(folder, name)


def claim(entry: str, kind: str, about: dict | None = None) -> None:
    """Write the proof that this process makes `entry` (before the entry exists): its writer, the
    kind of entry (how `sweep` settles it) and `about` (what the settling needs, e.g. where a
    folder set aside belongs). Created exclusively: a proof is never written over."""
    record = {"by": TAG, "entry": os.path.basename(entry), "kind": kind, "writer": this_writer(), **(about or {})}
    fd = os.open(entry + OWNER_SUFFIX, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        # One write call: a kill lands before or after it, and the entry itself is made only
        # after claim returns, so a proof left empty has no entry (the sweep names it, keeps it).
        os.write(fd, json.dumps(record).encode())
    finally:
        os.close(fd)


def release(entry: str) -> None:
    """Remove an entry's proof (the entry is gone, or is in place under its final name)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(entry + OWNER_SUFFIX)


def proof(entry: str) -> dict | None:
    """The proof beside `entry`, when there is one that this project wrote for it, else None."""
    text = _read(entry + OWNER_SUFFIX)
    try:
        record = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("by") != TAG or not isinstance(record.get("writer"), dict):
        return None
    return record if record.get("entry") == os.path.basename(entry) else None


def remove_entry(path: str) -> None:
    """Remove a file, a link or a folder tree (the entry of a proof)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def sweep(folder: str, settle: dict[str, Callable[[str, dict], str]] | None = None) -> list[str]:
    """Settle what writers that are provably gone left in `folder` (`writer_state`): an owned entry
    of proof kind "tmp" or "build" is removed; one of a kind in settle is settled by
    settle[kind](path, proof) -> a line saying what was done (a folder set aside: put back or
    removed); one of any other kind (another command's folder set aside) is left for that command's
    own sweep. Proofs whose entry is gone are removed. Returns a line per thing done, and one naming
    the entries that look like this project's but are not settled here (a live writer elsewhere,
    no proof, another command's, or an error while settling). Safe to run in two processes at once:
    an entry the other one settled first is skipped."""
    settle = settle or {}
    done, left = [], []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return done
    for name in names:
        if name.endswith(OWNER_SUFFIX) or not (OWNED_NAME.search(name) or any(p.match(name) for p in EARLIER_NAMES)):
            continue
        path = os.path.join(folder, name)
        if not os.path.lexists(path):
            continue  # settled meanwhile by another process's sweep
        record = proof(path)
        if record is None:
            left.append(f"{name} (no proof that this project wrote it)")
            continue
        state = writer_state(record["writer"])
        if state == "alive":
            continue
        if state == "unknown":
            writer = record["writer"]
            left.append(
                f"{name} (its writer, pid {writer.get('pid')} on {writer.get('host')}, cannot be checked from here)"
            )
            continue
        kind = record.get("kind")
        if kind not in settle and kind not in REMOVABLE:
            left.append(f"{name} (a {kind} entry: the command that made it settles it when run there again)")
            continue
        try:
            if kind in settle:
                done.append(settle[kind](path, record))
            else:
                remove_entry(path)
                done.append(f"removed {path}, left by a process that stopped (pid {record['writer'].get('pid')})")
        except FileNotFoundError:
            continue  # another process's sweep got to it first (it releases the proof)
        except OSError as err:
            left.append(f"{name} (could not be settled: {err.strerror or err})")
            continue
        release(path)
    for name in names:  # proofs of entries that never appeared or were put in place
        if name.endswith(OWNER_SUFFIX):
            entry = os.path.join(folder, name[: -len(OWNER_SUFFIX)])
            record = proof(entry)
            if not os.path.lexists(entry) and record is not None and writer_state(record["writer"]) == "gone":
                release(entry)
    if left:
        done.append(f"left in {folder}, named like this project's temporary files: " + "; ".join(left))
    return done
