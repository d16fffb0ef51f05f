"""What this project wrote into a folder, proven by content: a record of each file's size and hash.

    record_folder("data/embedded", ".manifest.json")           # every file and folder below, as written
    record = read_record("data/embedded", ".manifest.json")
    not_ours = differences("data/embedded", record)            # added, changed, links: one phrase each
    left = remove_recorded("data/embedded", record)            # only what still matches the record

A folder this project wrote whole (a dataset, an evaluation's results) holds a record of every
file it wrote there (size and sha256) and every folder it made. Replacing it removes only what the
record still describes: a file the user edited since (even to the same size), added (a file, an
empty folder, a symbolic link, dangling or not) is never removed, and is named. A single file a
reader writes into such a folder later (a split's cache) carries a record of its own beside it
(`mark_written`). Imports nothing of the project.
"""

import contextlib
import hashlib
import json
import os

from common.ownership import OWNER_SUFFIX, TAG

MARK_SUFFIX = f".{TAG}-written"  # beside a single file a reader wrote: its size and hash


def file_digest(path: str) -> str:
    """sha256 of a file's content, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def walk(folder: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """(files, folders, links, unreadable) below folder, relative to it, links never followed (a
    link to a folder is a link, not a folder to go into); unreadable: the folders that could not
    be listed (what is in them cannot be known, so never taken for nothing)."""
    files, dirs, links, unreadable = [], [], [], []

    def could_not_list(err: OSError) -> None:
        if err.filename and os.path.abspath(err.filename) != os.path.abspath(folder):
            unreadable.append(os.path.relpath(err.filename, folder))

    for base, subdirs, names in os.walk(folder, onerror=could_not_list):
        for name in list(subdirs):
            rel = os.path.relpath(os.path.join(base, name), folder)
            if os.path.islink(os.path.join(base, name)):
                links.append(rel)
                subdirs.remove(name)
            else:
                dirs.append(rel)
        for name in names:
            rel = os.path.relpath(os.path.join(base, name), folder)
            (links if os.path.islink(os.path.join(base, name)) else files).append(rel)
    return sorted(files), sorted(dirs), sorted(links), sorted(unreadable)


def write_whole(path: str, obj) -> None:
    """JSON written to a temporary name beside path (owned and claimed, `common.ownership`), then
    renamed onto it: a kill leaves the earlier file or the new one, never half a record."""
    from common.ownership import claim, owned_name, release

    tmp = owned_name(path, "tmp")
    claim(tmp, "tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    finally:
        release(tmp)


def record_folder(folder: str, name: str, extra: dict | None = None) -> dict:
    """Write `name` in folder: every file below it (size, sha256) and every folder, as they are
    now, with `extra` (a generator's version...). Returns the record."""
    files, dirs, links, unreadable = walk(folder)
    if links or unreadable:
        if unreadable:
            raise ValueError(f"{folder} holds folders that cannot be read ({', '.join(unreadable[:3])})")
        raise ValueError(f"{folder} holds symbolic links ({', '.join(links[:3])}): this project writes none")
    record = {
        "by": TAG,
        **(extra or {}),
        "files": {
            rel: {"size": os.path.getsize(os.path.join(folder, rel)), "sha256": file_digest(os.path.join(folder, rel))}
            for rel in files
            if rel != name
        },
        "dirs": dirs,
    }
    write_whole(os.path.join(folder, name), record)
    return record


def add_to_record(folder: str, name: str, paths: list[str]) -> None:
    """Add files just written in folder (paths below it) to its record `name`, made if missing: a
    folder a command writes into a file at a time (reconstruct.py's --out), beside a user's own."""
    record = read_record(folder, name) or {"by": TAG, "files": {}, "dirs": []}
    for path in paths:
        rel = os.path.relpath(path, folder)
        record["files"][rel] = {"size": os.path.getsize(path), "sha256": file_digest(path)}
    write_whole(os.path.join(folder, name), record)


def not_written(folder: str, name: str, paths: list[str]) -> list[str]:
    """The paths among `paths` (below folder) that exist but are not as its record `name` says this
    project wrote them, a phrase each: what a command may not write over."""
    record = read_record(folder, name) or {"files": {}}
    found = []
    for path in paths:
        if os.path.lexists(path):
            entry = record["files"].get(os.path.relpath(path, folder))
            if entry is None or not matches(path, entry):
                why = "changed since written" if entry else "not written here by this project"
                found.append(f"{os.path.basename(path)} ({why})")
    return found


def safe_relative(rel) -> bool:
    """A path a record may name: relative, normalised, never leaving its folder."""
    return (
        isinstance(rel, str)
        and bool(rel)
        and not os.path.isabs(rel)
        and os.path.normpath(rel) == rel
        and ".." not in rel.split(os.sep)
    )


def read_record(folder: str, name: str) -> dict | None:
    """The record `name` in folder ({"files": {rel: {"size", "sha256"}}, "dirs": [rel]}), None when
    there is none this project wrote (absent, unreadable, another shape). Names that would leave
    the folder are dropped: a record never grants anything outside it."""
    path = os.path.join(folder, name)
    if os.path.islink(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("by") != TAG or not isinstance(record.get("files"), dict):
        return None
    files = {
        rel: entry
        for rel, entry in record["files"].items()
        if safe_relative(rel)
        and isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
    }
    dirs = [rel for rel in record.get("dirs", []) if safe_relative(rel)]
    return {**record, "files": files, "dirs": dirs}


def matches(path: str, entry: dict) -> bool:
    """Whether the file at path is the one a record entry describes (a plain file of that size and hash)."""
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    try:
        return os.path.getsize(path) == entry["size"] and file_digest(path) == entry["sha256"]
    except OSError:  # cannot be read: cannot be proven the one written, so never removed
        return False


def mark_written(path: str) -> None:
    """Record beside a single file (a reader's cache) that this project wrote it, as it is now."""
    write_whole(path + MARK_SUFFIX, {"by": TAG, "size": os.path.getsize(path), "sha256": file_digest(path)})


def read_mark(mark_path: str) -> dict | None:
    """A mark file's content when this project wrote it ({"size", "sha256"}), else None."""
    if os.path.islink(mark_path):
        return None
    try:
        with open(mark_path) as f:
            mark = json.load(f)
    except (OSError, ValueError):
        return None
    ok = isinstance(mark, dict) and mark.get("by") == TAG and isinstance(mark.get("size"), int)
    return mark if ok and isinstance(mark.get("sha256"), str) else None


def is_mark(mark_path: str) -> bool:
    """Whether a file is a mark this project wrote (whatever became of the file it marks)."""
    return mark_path.endswith(MARK_SUFFIX) and read_mark(mark_path) is not None


def marked(path: str) -> bool:
    """Whether a file carries a mark (`mark_written`) that it still matches."""
    mark = read_mark(path + MARK_SUFFIX)
    return mark is not None and matches(path, mark)


def differences(folder: str, record: dict | None, name: str, also_ours=None) -> list[str]:
    """What in folder this project did not write as its record says, a phrase each: a file added
    or changed since, a folder added, a symbolic link (dangling or not). The record file itself
    and what also_ours(rel) -> bool accepts (a reader's marked cache) are not differences."""
    record = record or {"files": {}, "dirs": []}
    files, dirs, links, unreadable = walk(folder)
    found = [
        f"{rel} (a symbolic link{'' if os.path.exists(os.path.join(folder, rel)) else ', dangling'})" for rel in links
    ]
    found += [f"{rel}/ (a folder that cannot be read)" for rel in unreadable]
    recorded_dirs = set(record["dirs"])
    found += [
        f"{rel}/ (a folder added)" for rel in dirs if rel not in recorded_dirs and not (also_ours and also_ours(rel))
    ]
    for rel in files:
        if rel == name or (also_ours and also_ours(rel)):
            continue
        entry = record["files"].get(rel)
        if entry is None:
            found.append(f"{rel} (added)")
        elif not matches(os.path.join(folder, rel), entry):
            found.append(f"{rel} (changed since written)")
    return found


def remove_recorded(folder: str, record: dict | None, name: str, also_ours=None) -> list[str]:
    """Remove from folder the files its record still describes (size and hash), what also_ours
    accepts, the record, then the recorded folders left empty and folder itself if empty; returns
    what is left, a phrase each (`differences`)."""
    record = record or {"files": {}, "dirs": []}
    files = walk(folder)[0]
    for rel in files:
        path = os.path.join(folder, rel)
        entry = record["files"].get(rel)
        if (entry is not None and matches(path, entry)) or (also_ours and also_ours(rel)):
            os.remove(path)
    left = differences(folder, record, name, also_ours)
    if not left:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(folder, name))
    for rel in sorted(
        set(record["dirs"]) | {d for d in walk(folder)[1] if also_ours and also_ours(d)}, key=lambda r: -r.count(os.sep)
    ):
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(folder, rel))  # only when empty
    with contextlib.suppress(OSError):
        os.rmdir(folder)
    return left


__all__ = [
    "MARK_SUFFIX",
    "add_to_record",
    "not_written",
    "OWNER_SUFFIX",
    "differences",
    "file_digest",
    "mark_written",
    "marked",
    "read_mark",
    "read_record",
    "record_folder",
    "remove_recorded",
]
