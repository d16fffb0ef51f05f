"""A run folder on disk: what a run left in it, setting an earlier run aside for --overwrite, recovery, its lock.

    files = run_files(out_dir, "vox")                      # the run's checkpoints, record and logs
    aside, moved = set_aside_run(out_dir, "vox")           # --overwrite: the earlier run out of the way
    lines = recover_run(out_dir, "vox")                    # what a run killed halfway left, settled
    RunLock(out_dir).acquire()                             # one training process per folder

The checkpoint files themselves (paths, reading, rebuilding the model) are `training.checkpoints`'.
"""

import atexit
import glob
import json
import os
import shutil

from common.atomic_io import fault_point, sweep_orphans
from common.ownership import claim, owned_name, release
from common.paths import FolderBusy, aside_kind, lock_name, unlock_name
from training.checkpoints import STEP_CHECKPOINT, RunError, best_checkpoint_path, checkpoint_path

LOCK_NAME = ".train.lock"  # held by the process training into a run folder


def run_record(out_dir: str) -> dict:
    """The run record (args.json) in out_dir, {} when there is none or it is not one."""
    try:
        with open(os.path.join(out_dir, "args.json")) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def run_type_of(out_dir: str) -> str | None:
    """The type of the run whose args.json is in out_dir, None when there is none."""
    found = run_record(out_dir).get("type")
    return found if isinstance(found, str) else None


def event_files(out_dir: str, record: dict) -> list[str]:
    """The TensorBoard event files a run's record says it wrote (paths relative to out_dir, under
    tensorboard/), those present; a record from before runs listed theirs: the files named as
    TensorBoard names its own (`common.legacy.EARLIER_EVENT_FILES`)."""
    from common.legacy import EARLIER_EVENT_FILES

    listed = record.get("event_files")
    if isinstance(listed, list):
        names = [os.path.normpath(rel) for rel in listed if isinstance(rel, str)]
        names = [rel for rel in names if rel.startswith("tensorboard" + os.sep) and ".." not in rel.split(os.sep)]
    else:
        folder = os.path.join(out_dir, "tensorboard")
        found = os.listdir(folder) if os.path.isdir(folder) and not os.path.islink(folder) else []
        names = [os.path.join("tensorboard", name) for name in found if EARLIER_EVENT_FILES.match(name)]
    return [rel for rel in names if os.path.isfile(os.path.join(out_dir, rel))]


def named_checkpoints(out_dir: str, model_type: str) -> list[str]:
    """The files in out_dir named as a run of `model_type` names its checkpoints (last, best, steps)."""
    ckpt = checkpoint_path(out_dir, model_type)
    stem = ckpt[: -len(".pth")]
    steps = [p for p in sorted(glob.glob(glob.escape(stem) + ".step*.pth")) if STEP_CHECKPOINT.search(p[len(stem) :])]
    return [path for path in [ckpt, best_checkpoint_path(ckpt)] + steps if os.path.lexists(path)]


def recorded_checkpoints(out_dir: str, record: dict) -> list[str] | None:
    """The checkpoints a run's record lists (`Trainer.save_checkpoint`: size and sha256) that are still
    as written; None for a record from before runs listed theirs."""
    from common.written import matches, safe_relative

    listed = record.get("checkpoint_files")
    if not isinstance(listed, dict):
        return None
    found = []
    for rel, entry in sorted(listed.items()):
        ok = safe_relative(rel) and isinstance(entry, dict) and {"size", "sha256"} <= set(entry)
        if ok and matches(os.path.join(out_dir, rel), entry):
            found.append(os.path.join(out_dir, rel))
    return found


def run_files(out_dir: str, model_type: str) -> list[str]:
    """What a run of `model_type` left in its folder, when args.json is that run's record: the
    checkpoints it lists, still as written (by size and hash), args.json and the TensorBoard event
    files it wrote. A record from before runs listed their checkpoints: those named as a run names
    them (`common.legacy`). A file the run did not write (beside them, or in tensorboard/) is never
    among them, nor one of a checkpoint's name that it does not list (`foreign_checkpoints`)."""
    record = run_record(out_dir)
    if record.get("type") != model_type or not isinstance(record.get("history"), list):
        return []  # no record a run of this type wrote (a trainer's has its history): nothing here is proven its
    checkpoints = recorded_checkpoints(out_dir, record)
    if checkpoints is None:
        checkpoints = named_checkpoints(out_dir, model_type)
    files = checkpoints + [os.path.join(out_dir, "args.json")]
    files += [os.path.join(out_dir, rel) for rel in event_files(out_dir, record)]
    return [path for path in files if os.path.isfile(path) and not os.path.islink(path)]


def earlier_checkpoint_files(out_dir: str, model_type: str) -> dict:
    """{rel: {"size", "sha256"}} of the checkpoints of the run in out_dir (being resumed), for the
    record the resumed run keeps: its record's list, or, for a record from before runs listed them,
    the run's files by name, hashed now."""
    from common.written import file_digest

    checkpoints = [p for p in run_files(out_dir, model_type) if p.endswith(".pth")]
    return {os.path.relpath(p, out_dir): {"size": os.path.getsize(p), "sha256": file_digest(p)} for p in checkpoints}


def foreign_checkpoints(out_dir: str, model_type: str) -> list[str]:
    """Files of a checkpoint's name in out_dir that no run's record there proves its own (a user's
    copy, one edited since, or one whose record is gone): a new run would write over them."""
    ours = set(run_files(out_dir, model_type))
    return [path for path in named_checkpoints(out_dir, model_type) if path not in ours]


ASIDE_COMPLETE = ".complete"  # in a set-aside folder once every file of the earlier run is in it
DISCARDING = ".discarding"  # in a set-aside folder being removed: its successor is safe


def set_aside_run(out_dir: str, model_type: str) -> tuple[str | None, list[str]]:
    """--overwrite: move the files an earlier run of `model_type` wrote in out_dir (`run_files`)
    into a folder inside it with a name no user picks and its proof (`common.ownership`), so a
    replacing run never mixes with it and nothing of it is lost before the new run is safe
    (`discard_aside` once the new run's first checkpoint is written, `restore_aside` if it stops
    first). Files the run did not write stay where they are. Returns (the folder, or None when
    there was nothing; what was moved)."""
    moved = run_files(out_dir, model_type)
    if not moved:
        return None, []
    aside = owned_name(os.path.join(out_dir, "run"), "aside", hidden=True)
    claim(aside, aside_kind("run"), {"run_type": model_type})
    os.makedirs(aside)
    try:
        for path in moved:
            rel = os.path.relpath(path, out_dir)
            os.makedirs(os.path.dirname(os.path.join(aside, rel)), exist_ok=True)
            os.rename(path, os.path.join(aside, rel))
            fault_point(f"{path} moved aside")
        # Only once every file is aside can a file in out_dir be the new run's: until this marker
        # exists, what is in out_dir is the earlier run's still (`restore_aside`, `recover_run`).
        open(os.path.join(aside, ASIDE_COMPLETE), "w").close()
    except BaseException:  # an error or Ctrl-C halfway: what was moved goes back now
        restore_aside(out_dir, aside, model_type)
        raise
    fault_point("the earlier run wholly set aside")
    return aside, moved


def discard_aside(aside: str) -> None:
    """Remove an earlier run set aside once its successor is safe: marked first (so a removal
    stopped halfway is never taken for a run to put back: `recover_run` finishes it), then its
    files, then the folder and its proof."""
    open(os.path.join(aside, DISCARDING), "w").close()
    fault_point("the run set aside marked for removal")
    for base, _, names in os.walk(aside, topdown=False):
        for name in names:
            if name != DISCARDING:
                os.remove(os.path.join(base, name))
                fault_point(f"{name} of the run set aside removed")
    shutil.rmtree(aside, ignore_errors=True)
    release(aside)


def restore_aside(out_dir: str, aside: str, model_type: str) -> None:
    """Put an earlier run set aside back in out_dir. When it was wholly set aside (`ASIDE_COMPLETE`),
    what of its type is in out_dir is the replacing run's, which stopped before its first
    checkpoint: removed first. When it was not, what is in out_dir is the earlier run's own, not yet
    moved, and stays. Files the runs did not write are not touched."""
    complete = os.path.join(aside, ASIDE_COMPLETE)
    if os.path.exists(complete):
        for path in run_files(out_dir, model_type):
            os.remove(path)
        os.remove(complete)
    for base, _, names in os.walk(aside):
        for name in names:
            source = os.path.join(base, name)
            target = os.path.join(out_dir, os.path.relpath(source, aside))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(source, target)
            fault_point(f"{name} of the run set aside put back")
    shutil.rmtree(aside, ignore_errors=True)
    release(aside)


def recover_run(out_dir: str, model_type: str) -> list[str]:
    """What a training killed halfway left in its folder, settled before another run starts there
    (the caller holds the folder's lock): temporary files and earlier runs set aside by processes
    provably gone (`common.ownership.sweep`); a run set aside is removed when its successor wrote
    a checkpoint, else put back. Returns a line per thing done."""

    def settle(aside: str, proof: dict) -> str:
        kind = proof.get("run_type", model_type)
        if os.path.exists(os.path.join(aside, DISCARDING)):  # its successor had written its checkpoint
            discard_aside(aside)
            return f"removed the rest of the run {aside} held (its successor had written its checkpoint)"
        # Once the earlier run is wholly aside, a checkpoint in out_dir can only be its successor's,
        # written whole (`atomic_torch_save`): that run was safe, though stopped before it discarded this.
        successor = os.path.exists(os.path.join(aside, ASIDE_COMPLETE)) and os.path.exists(
            checkpoint_path(out_dir, kind)
        )
        if successor:
            discard_aside(aside)
            return f"removed the run {aside} held: the run that replaced it had written its checkpoint"
        restore_aside(out_dir, aside, kind)
        return f"put back the run {aside} held: the run that was to replace it stopped first"

    return sweep_orphans(out_dir, {aside_kind("run"): settle})


class RunLock:
    """A run folder's lock (LOCK_NAME): one process trains into a folder at a time.

    An advisory lock (flock) on the file, held while the process lives: the system drops it when
    the process ends, however it ends, so there is no stale lock to take over and no race in
    taking one. The file says which process holds it ("pid host"), for the message. This process
    taking the same folder again (a second run in one Python session) keeps its lock."""

    def __init__(self, out_dir: str):
        self.path = os.path.abspath(os.path.join(out_dir, LOCK_NAME))

    def acquire(self) -> None:
        """Take the lock or raise RunError naming the process that holds it."""
        try:
            lock_name(self.path, os.path.dirname(self.path))
        except FolderBusy as err:
            raise RunError(
                f"{os.path.dirname(self.path)} is in use by another training process ({err.holder}); wait for it or "
                "use another --out_dir"
            ) from None
        atexit.register(self.release)

    def release(self) -> None:
        """Drop the lock and remove its file (`common.paths.unlock_name`)."""
        unlock_name(self.path)
