"""A run folder on disk: what a run left in it, setting an earlier run aside for --overwrite, recovery, its lock.

    files = run_files(out_dir, "vox")                      # the run's checkpoints, record and logs
    aside, moved = set_aside_run(out_dir, "vox")           # --overwrite: the earlier run out of the way
    lines = recover_run(out_dir, "vox")                    # what a run killed halfway left, settled
    RunLock(out_dir).acquire()                             # one training process per folder

The checkpoint files themselves (paths, reading, rebuilding the model) are `training.checkpoints`'.
"""

import atexit
import contextlib
import glob
import json
import os
import re

from common.atomic_io import fault_point, sweep_orphans
from common.paths import FolderBusy, lock_name, unlock_name
from training.checkpoints import STEP_CHECKPOINT, RunError, best_checkpoint_path, checkpoint_path

LOCK_NAME = ".train.lock"  # held by the process training into a run folder
EVENTS_FILE = re.compile(r"^events\.out\.tfevents\.")  # what TensorBoard's SummaryWriter writes


def run_files(out_dir: str, model_type: str) -> list[str]:
    """What a run of `model_type` leaves in its folder: last, best and step checkpoints, and, when
    args.json is that run's record, args.json and TensorBoard logs (those present)."""
    ckpt = checkpoint_path(out_dir, model_type)
    stem = ckpt[: -len(".pth")]
    steps = [p for p in sorted(glob.glob(glob.escape(stem) + ".step*.pth")) if STEP_CHECKPOINT.search(p[len(stem) :])]
    files = [ckpt, best_checkpoint_path(ckpt)] + steps
    if run_type_of(out_dir) == model_type:  # the record and logs of a run of this type, not a user's own files
        files += [os.path.join(out_dir, "args.json"), os.path.join(out_dir, "tensorboard")]
    return [path for path in files if os.path.exists(path)]


def run_type_of(out_dir: str) -> str | None:
    """The type of the run whose args.json is in out_dir, None when there is none."""
    try:
        with open(os.path.join(out_dir, "args.json")) as f:
            return json.load(f).get("type")
    except (OSError, ValueError, AttributeError):
        return None


def remove_run_file(path: str) -> None:
    """Remove one of `run_files`: a file, or the TensorBoard folder's event files and then the
    folder if nothing else is in it."""
    if not os.path.isdir(path):
        os.remove(path)
        return
    for name in os.listdir(path):
        if EVENTS_FILE.match(name):
            os.remove(os.path.join(path, name))
    with contextlib.suppress(OSError):
        os.rmdir(path)


ASIDE = ".overwritten-{pid}"  # an earlier run's files, inside its folder, until its successor is safe


def set_aside_run(out_dir: str, model_type: str) -> tuple[str | None, list[str]]:
    """--overwrite: move what an earlier run of `model_type` left in out_dir (`run_files`) into a
    folder inside it (`ASIDE`), so a replacing run never mixes with it and nothing of it is lost
    before the new run is safe (`discard_aside` once the new run's first checkpoint is written,
    `restore_aside` if it fails first). Returns (the folder, or None when there was nothing; what
    was moved)."""
    moved = run_files(out_dir, model_type)
    if not moved:
        return None, []
    aside = os.path.join(out_dir, ASIDE.format(pid=os.getpid()))
    os.makedirs(aside, exist_ok=True)
    for path in moved:
        os.rename(path, os.path.join(aside, os.path.basename(path)))
        fault_point(f"{path} moved aside")
    # Only once every file is aside can a file in out_dir be the new run's: until this marker
    # exists, what is in out_dir is the earlier run's still (`restore_aside`, `recover_run`).
    open(os.path.join(aside, ASIDE_COMPLETE), "w").close()
    fault_point("the earlier run wholly set aside")
    return aside, moved


ASIDE_COMPLETE = ".complete"  # in ASIDE once every file of the earlier run is in it


def discard_aside(aside: str) -> None:
    """Remove an earlier run set aside once its successor is safe: the folder is renamed
    `<aside>.discard` first (one atomic step, so a discard stopped halfway is never taken for a run to
    put back: `recover_run` finishes it), then emptied file by file (`remove_run_file`)."""
    if not aside.endswith(DISCARDING):
        os.rename(aside, aside + DISCARDING)
        aside += DISCARDING
        fault_point("the run set aside marked for removal")
    for name in os.listdir(aside):
        remove_run_file(os.path.join(aside, name))
        fault_point(f"{name} of the run set aside removed")
    with contextlib.suppress(OSError):
        os.rmdir(aside)


DISCARDING = ".discard"  # the suffix of a set-aside run being removed


def restore_aside(out_dir: str, aside: str, model_type: str) -> None:
    """Put an earlier run set aside back in out_dir. When it was wholly set aside (`ASIDE_COMPLETE`),
    what of its type is in out_dir is the replacing run's, which stopped before its first
    checkpoint: removed first (TensorBoard events too, whether or not its args.json was written).
    When it was not, what is in out_dir is the earlier run's own, not yet moved, and stays."""
    complete = os.path.join(aside, ASIDE_COMPLETE)
    if os.path.exists(complete):
        replacing = run_files(out_dir, model_type)
        if os.path.isdir(os.path.join(aside, "tensorboard")):  # the earlier logs are aside: those here are new
            replacing.append(os.path.join(out_dir, "tensorboard"))
        for path in replacing:
            if os.path.exists(path):
                remove_run_file(path)
        os.remove(complete)
    for name in os.listdir(aside):
        source, target = os.path.join(aside, name), os.path.join(out_dir, name)
        if os.path.isdir(source) and os.path.isdir(target):  # a TensorBoard folder holding other files: merged
            for entry in os.listdir(source):
                os.replace(os.path.join(source, entry), os.path.join(target, entry))
            os.rmdir(source)
        else:
            os.replace(source, target)
        fault_point(f"{name} of the run set aside put back")
    with contextlib.suppress(OSError):
        os.rmdir(aside)


def recover_run(out_dir: str, model_type: str) -> list[str]:
    """What a training killed halfway left in its folder, settled before another run starts there:
    an earlier run set aside by a process that is gone is removed when its successor wrote a
    checkpoint, else put back; temporary files of processes that are gone are removed. Returns a
    line per thing done."""
    done = [f"removed {path}, left by a process that stopped while writing" for path in sweep_orphans(out_dir)]
    for name in os.listdir(out_dir) if os.path.isdir(out_dir) else []:
        # Every set-aside folder here is a stopped run's: a live one would hold the folder's lock,
        # which the caller holds (a pid alone would not tell: a container's next job may reuse it).
        match = re.match(r"^\.overwritten-(\d+)(\.discard)?$", name)
        if not match:
            continue
        aside = os.path.join(out_dir, name)
        if match.group(2):  # its successor had written its checkpoint; the removal stopped halfway
            discard_aside(aside)
            done.append(f"removed the rest of the run {aside} held (its successor had written its checkpoint)")
            continue
        successor = (
            os.path.exists(os.path.join(aside, ASIDE_COMPLETE))
            and os.path.exists(checkpoint_path(out_dir, model_type))
            and not os.path.exists(os.path.join(aside, os.path.basename(checkpoint_path(out_dir, model_type))))
        )
        if successor:
            discard_aside(aside)
            done.append(f"removed the run {aside} held: the run that replaced it had written its checkpoint")
        else:
            restore_aside(out_dir, aside, model_type)
            done.append(f"put back the run {aside} held: the run that was to replace it stopped first")
    return done


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
