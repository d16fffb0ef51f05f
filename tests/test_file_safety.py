"""Nothing of the user's is deleted, and no earlier state is lost before its successor is safe."""

import json
import os
import re
import shutil
import signal

import pytest
import torch
from conftest import assert_one_line_error, call_main, run_script


def make(root, *extra):
    return call_main("make_dataset", "--root", root, "--n_models", "3", "--n_views", "1", "--workers", "1", *extra)


@pytest.fixture()
def generated(tmp_path):
    root = tmp_path / "data"
    code, _, err = make(root, "--seed", "3")
    assert code == 0, err
    return root


def test_a_record_alone_never_grants_deletion(generated, tmp_path):
    """A user's folder with a copied embedded.json, a HOME-like folder with a stray record, a
    dataset holding the user's own files: --replace_stale refuses each and deletes nothing."""
    user = tmp_path / "u2"
    user.mkdir()
    shutil.copy(generated / "embedded.json", user / "embedded.json")
    (user / "thesis.tex").write_text("mine")
    assert_one_line_error(make(user, "--replace_stale", "--seed", "5"), "has no .manifest.json")
    assert (user / "thesis.tex").read_text() == "mine"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id").write_text("key")
    shutil.copy(generated / "embedded.json", home / ".embedded.json")
    assert_one_line_error(make(home, "--replace_stale", "--layout", "archives"), "has no .manifest.json")
    assert (home / ".ssh" / "id").read_text() == "key"
    (generated / "ShapeNetCore.v1").mkdir()
    (generated / "ShapeNetCore.v1" / "model.obj").write_text("the user's own mesh")
    assert_one_line_error(make(generated, "--replace_stale", "--seed", "4"), "did not write as recorded")
    assert (generated / "ShapeNetCore.v1" / "model.obj").exists()


def test_replacing_a_dataset_removes_exactly_what_was_written_and_keeps_it_until_the_new_one_is_in(generated):
    before = json.load(open(generated / ".manifest.json"))["files"]
    from common.written import mark_written

    (generated / ".cache").mkdir()
    (generated / ".cache" / "generated_splits.json").write_text("{}")  # what a reader wrote, and marked
    mark_written(str(generated / ".cache" / "generated_splits.json"))
    code, out, err = make(generated, "--replace_stale", "--seed", "4")
    assert code == 0, err
    assert json.load(open(generated / "embedded.json"))["seed"] == 4
    assert not owned_entries(generated.parent)
    assert set(json.load(open(generated / ".manifest.json"))["files"]) != set(before)
    assert oct(os.stat(generated).st_mode & 0o777) != oct(0o700)  # readable by the group, as the umask says


@pytest.mark.parametrize("path", ["link/", "."])
def test_dangerous_roots_are_refused(generated, tmp_path, monkeypatch, path):
    (tmp_path / "link").symlink_to(generated, target_is_directory=True)
    monkeypatch.chdir(tmp_path if path == "link/" else generated)
    files = sorted(os.listdir(generated))
    result = make(path, "--replace_stale", "--seed", "4")
    assert_one_line_error(result, "symbolic link" if path == "link/" else "holds the current folder")
    assert sorted(os.listdir(generated)) == files


def test_a_killed_replacement_leaves_the_old_dataset_and_the_next_run_settles_it(generated, monkeypatch):
    """kill -9 during --replace_stale (after a shape, after moving the old one aside): the old
    dataset is there, or put back by the next run, which then replaces it and leaves no orphan."""
    for point in (2, 5):
        proc = run_script(
            "make_dataset.py", "--root", str(generated), "--n_models", "3", "--n_views", "1", "--workers", "1",
            "--seed", "6", "--replace_stale", env={"R2N2_FAULT_AT": str(point)},
        )  # fmt: skip
        assert proc.returncode == -signal.SIGKILL
        code, out, err = make(generated, "--replace_stale", "--seed", "6")
        assert code == 0, err
        assert json.load(open(generated / "embedded.json"))["seed"] == 6
        assert not owned_entries(generated.parent), out
        code, _, err = make(generated, "--replace_stale", "--seed", "3")
        assert code == 0, err


def test_the_default_root_holding_another_dataset_is_refused_not_regenerated(generated, monkeypatch):
    """R2N2_EMBEDDED_ROOT pointing at a dataset the user made (another world, their notes beside):
    opening it refuses, naming the command that replaces it; nothing is moved or deleted."""
    import procedural
    from procedural import default_data
    from r2n2.formats import DatasetError

    (generated / "my_annotations.csv").write_text("notes")
    monkeypatch.setattr(default_data, "generated_worlds", lambda: {os.path.abspath(generated): 1000})
    with pytest.raises(DatasetError, match="not regenerated in place.*--replace_stale"):
        procedural.ready_layout(str(generated))
    assert (generated / "my_annotations.csv").read_text() == "notes"


def test_overwrite_keeps_the_earlier_run_until_the_new_one_is_safe(tiny_root, tmp_path):
    """--overwrite with a run that diverges at once: the earlier run comes back whole. A user's
    file named like a step checkpoint is never touched."""
    out = tmp_path / "run"
    common = ["--type", "point", "--data_root", tiny_root, "--out_dir", out, "--batch_size", "2"]
    common += ["--image_size", "32", "--n_points", "50", "--device", "cpu", "--val_freq", "0"]
    code, _, err = call_main("train_model", *common, "--max_iter", "2")
    assert code == 0, err
    (out / "checkpoint_point.step_best_so_far.pth").write_text("mine")
    before = torch.load(out / "checkpoint_point.pth", weights_only=True)["step"]
    assert_one_line_error(
        call_main("train_model", *common, "--max_iter", "3", "--lr", "1e30", "--overwrite"), "non-finite"
    )
    assert torch.load(out / "checkpoint_point.pth", weights_only=True)["step"] == before == 2
    assert json.load(open(out / "args.json"))["max_iter"] == 2 and not owned_entries(out)
    code, out_text, err = call_main("train_model", *common, "--max_iter", "3", "--overwrite")
    assert code == 0, err
    assert torch.load(out / "checkpoint_point.pth", weights_only=True)["step"] == 3
    assert (out / "checkpoint_point.step_best_so_far.pth").read_text() == "mine"
    assert not owned_entries(out)


def owned_entries(folder) -> list[str]:
    """This project's temporary entries and proofs in folder."""
    from common.ownership import OWNED_NAME, OWNER_SUFFIX

    return [n for n in os.listdir(folder) if OWNED_NAME.search(n) or n.endswith(OWNER_SUFFIX)]


def pretend_dead(entry) -> None:
    """Rewrite an entry's proof as if its writer had ended (a pid that no longer runs)."""
    from common.ownership import OWNER_SUFFIX

    path = str(entry) + OWNER_SUFFIX
    record = json.load(open(path))
    record["writer"]["pid"] = dead_pid()
    with open(path, "w") as f:
        json.dump(record, f)


def dead_pid() -> int:
    """The id of a process that has ended."""
    import subprocess

    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def earlier_run(out):
    """A run folder of type point as a run leaves it: last and best checkpoints, args.json, logs."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoint_point.pth").write_text("last")
    (out / "checkpoint_point.best.pth").write_text("best")
    (out / "args.json").write_text(json.dumps({"type": "point", "max_iter": 2, "history": []}))
    (out / "tensorboard").mkdir()
    (out / "tensorboard" / "events.out.tfevents.1.host").write_text("log")
    return {p: (out / p).read_text() for p in ("checkpoint_point.pth", "checkpoint_point.best.pth", "args.json")}


def test_a_set_aside_killed_halfway_loses_none_of_the_earlier_run(tmp_path):
    """--overwrite killed while it moves the earlier run aside file by file: the files not yet
    moved are the earlier run's, not a new run's, and the next run puts the whole run back."""
    from common.ownership import claim, owned_name
    from common.paths import aside_kind
    from model import ModelError
    from training.checkpoints import load_checkpoint
    from training.run_folder import recover_run

    out = tmp_path / "run"
    before = earlier_run(out)
    aside = owned_name(str(out / "run"), "aside", hidden=True)
    claim(aside, aside_kind("run"), {"run_type": "point"})
    os.makedirs(aside)
    os.rename(
        out / "checkpoint_point.best.pth", os.path.join(aside, "checkpoint_point.best.pth")
    )  # one moved, then killed
    pretend_dead(aside)
    os.remove(out / "checkpoint_point.pth")  # as if it had been moved too: a reader is told where the run is
    with pytest.raises(ModelError, match="set the earlier run aside in"):
        load_checkpoint(str(out / "checkpoint_point.pth"))
    (out / "checkpoint_point.pth").write_text(before["checkpoint_point.pth"])
    done = recover_run(str(out), "point")
    assert done and "put back" in done[0]
    assert {p: (out / p).read_text() for p in before} == before and (out / "tensorboard").is_dir()
    assert not owned_entries(out)


def test_a_replacing_run_killed_before_its_checkpoint_gives_the_earlier_run_back(tmp_path):
    """Once the earlier run is wholly aside, what of its type is in the folder is the new run's:
    removed, and the earlier run put back."""
    from common.ownership import claim, owned_name
    from common.paths import aside_kind
    from training.run_folder import DISCARDING, recover_run, set_aside_run

    out = tmp_path / "run"
    before = earlier_run(out)
    aside, moved = set_aside_run(str(out), "point")
    assert len(moved) == 4
    pretend_dead(aside)
    (out / "args.json").write_text(json.dumps({"type": "point", "max_iter": 3, "history": []}))  # the new run's
    recover_run(str(out), "point")
    assert {p: (out / p).read_text() for p in before} == before
    assert not owned_entries(out)
    # A removal of the set-aside run stopped halfway (its successor was safe) is finished, never put back.
    discarding = owned_name(str(out / "run"), "aside", hidden=True)
    claim(discarding, aside_kind("run"), {"run_type": "point"})
    os.makedirs(discarding)
    open(os.path.join(discarding, DISCARDING), "w").close()
    with open(os.path.join(discarding, "checkpoint_point.best.pth"), "w") as f:
        f.write("old best")
    pretend_dead(discarding)
    done = recover_run(str(out), "point")
    assert "removed the rest" in done[0] and not os.path.exists(discarding)
    assert (out / "checkpoint_point.best.pth").read_text() == before["checkpoint_point.best.pth"]


def test_a_replacing_run_killed_after_its_first_checkpoint_keeps_it(tmp_path):
    """Killed between its first checkpoint and discarding the earlier run (which held a checkpoint
    of the same name): the new run was safe, so the earlier one is removed, never put back over it."""
    from training.run_folder import recover_run, set_aside_run

    out = tmp_path / "run"
    earlier_run(out)
    aside, _ = set_aside_run(str(out), "point")
    pretend_dead(aside)
    (out / "checkpoint_point.pth").write_text("the new run's first checkpoint")
    done = recover_run(str(out), "point")
    assert "removed the run" in done[0]
    assert (out / "checkpoint_point.pth").read_text() == "the new run's first checkpoint"
    assert not owned_entries(out)


def test_only_the_checkpoints_a_run_recorded_are_its_own(tmp_path):
    """A run's record lists its checkpoints by size and hash: a file of a checkpoint's name it does
    not list (a user's copy, one edited since) is not the run's, so --overwrite never moves it and a
    new run refuses to write over it; a hand-written args.json (no history) grants nothing."""
    from common.written import file_digest
    from training.run_folder import foreign_checkpoints, run_files

    out = tmp_path / "run"
    earlier_run(out)
    last = out / "checkpoint_point.pth"
    record = {"type": "point", "history": [], "checkpoint_files": {"checkpoint_point.pth": {
        "size": last.stat().st_size, "sha256": file_digest(str(last))}}}  # fmt: skip
    (out / "args.json").write_text(json.dumps(record))
    (out / "checkpoint_point.step000005.pth").write_text("a user's copy")
    files = {os.path.basename(p) for p in run_files(str(out), "point")}
    assert files == {"checkpoint_point.pth", "args.json", "events.out.tfevents.1.host"}  # its logs by name (no list)
    foreign = {os.path.basename(p) for p in foreign_checkpoints(str(out), "point")}
    assert foreign == {"checkpoint_point.best.pth", "checkpoint_point.step000005.pth"}
    last.write_text("edit")  # same size as "last": changed all the same
    assert "checkpoint_point.pth" in {os.path.basename(p) for p in foreign_checkpoints(str(out), "point")}
    (out / "args.json").write_text(json.dumps({"type": "point"}))  # the user's own notes
    assert run_files(str(out), "point") == []


def test_a_set_aside_that_fails_halfway_puts_back_what_it_moved(tmp_path, monkeypatch):
    """An error (or Ctrl-C) while the earlier run is moved aside file by file: the files moved so
    far come back at once, and the error reaches the caller."""
    from training.run_folder import set_aside_run

    out = tmp_path / "run"
    before = earlier_run(out)
    real_rename, calls = os.rename, []

    def failing_rename(source, target):
        calls.append(source)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError):
        set_aside_run(str(out), "point")
    monkeypatch.undo()
    assert {p: (out / p).read_text() for p in before} == before
    assert not owned_entries(out)


def test_a_sweep_settles_only_its_own_commands_folders(tmp_path):
    """A results folder set aside by a killed evaluation, found by a training's sweep (the same
    folder as --results_dir and --out_dir), is left and named, with its proof; and the other way."""
    from common.ownership import OWNER_SUFFIX, claim, owned_name
    from common.paths import aside_kind
    from evaluation.reports import recover_results
    from training.run_folder import recover_run

    folder = tmp_path / "shared"
    folder.mkdir()
    results_aside = owned_name(str(folder / "point_n200"), "aside")
    claim(results_aside, aside_kind("results"), {"target": "point_n200"})
    os.makedirs(results_aside)
    (tmp_path / "shared" / os.path.basename(results_aside) / "metrics.json").write_text("{}")
    run_aside = owned_name(str(folder / "run"), "aside", hidden=True)
    claim(run_aside, aside_kind("run"), {"run_type": "point"})
    os.makedirs(run_aside)
    (tmp_path / "shared" / os.path.basename(run_aside) / "checkpoint_point.pth").write_text("earlier run")
    pretend_dead(results_aside)
    pretend_dead(run_aside)
    done = recover_run(str(folder), "point")
    assert os.path.isdir(results_aside) and os.path.exists(results_aside + OWNER_SUFFIX)
    assert any(os.path.basename(results_aside) in line for line in done)
    assert not (folder / "metrics.json").exists()  # nothing of the results moved into the run folder
    done = recover_results(str(folder))
    assert not os.path.exists(results_aside)  # put back as point_n200 (its successor never arrived)
    assert (folder / "point_n200" / "metrics.json").exists()


def test_a_manifest_never_grants_deleting_outside_its_dataset(tmp_path):
    """A manifest naming files outside its root ("../x", "/x") or through a link out of it is
    ignored for them: nothing outside the dataset is deleted."""
    from common.written import file_digest
    from procedural.writer import MANIFEST, read_manifest, remove_written

    root, outside = tmp_path / "d", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (tmp_path / "thesis.tex").write_text("mine")
    (outside / "data.npz").write_text("mine")
    (root / "link").symlink_to(outside)
    (root / "a.txt").write_text("x")
    entry = lambda path: {"size": os.path.getsize(path), "sha256": file_digest(path)}  # noqa: E731
    files = {
        "a.txt": entry(root / "a.txt"), "../thesis.tex": entry(tmp_path / "thesis.tex"),
        str(tmp_path / "thesis.tex"): entry(tmp_path / "thesis.tex"), "link/data.npz": entry(outside / "data.npz"),
    }  # fmt: skip
    (root / MANIFEST).write_text(json.dumps({"by": "sv3d", "files": files, "dirs": []}))
    assert set(read_manifest(str(root))["files"]) == {"a.txt", "link/data.npz"}
    left = remove_written(str(root))
    assert (tmp_path / "thesis.tex").read_text() == "mine" and (outside / "data.npz").read_text() == "mine"
    assert not (root / "a.txt").exists() and left == ["link (a symbolic link)"]


def test_orphans_of_processes_provably_gone_are_swept_and_said(tmp_path):
    """Only entries with a proof naming a writer provably gone are removed; a user's entry named
    like one (this version's or an earlier one's) is left, and said."""
    from common.atomic_io import sweep_orphans
    from common.ownership import claim, owned_name

    folder = tmp_path / "run"
    folder.mkdir()
    gone = owned_name(str(folder / "checkpoint_vox.pth"), "tmp")
    claim(gone, "tmp")
    (folder / os.path.basename(gone)).write_bytes(b"x" * 10)
    pretend_dead(gone)
    mine = owned_name(str(folder / "checkpoint_vox.pth"), "tmp")  # this process's: alive, kept
    claim(mine, "tmp")
    (folder / os.path.basename(mine)).write_bytes(b"x")
    (folder / "notes.tmp-keep").write_text("a user's")
    (folder / "report.tmp-99999-deadbeef").write_text("a user's, named like an earlier version's")
    done = sweep_orphans(str(folder))
    assert done[0].startswith(f"removed {gone}") and "report.tmp-99999-deadbeef (no proof" in done[-1]
    assert sorted(os.listdir(folder)) == sorted(
        [os.path.basename(mine), os.path.basename(mine) + ".sv3d-owner", "notes.tmp-keep", "report.tmp-99999-deadbeef"]
    )


def test_checkpoints_made_by_hand_are_refused_in_one_line(tmp_path):
    from model import ModelError
    from training.checkpoints import check_resumable

    base = {"model": {}, "model_args": {"type": "vox"}, "optimizer": {}, "scheduler": {}, "step": 5}
    for args, step, message in [
        ("oops", 5, "its args are a str"),
        ({}, 5, "no step budget"),
        ({"max_iter": 10}, "5", "its step is '5'"),
    ]:
        with pytest.raises(ModelError, match=message):
            check_resumable({**base, "args": args, "step": step}, "c.pth")


def test_a_pickled_object_is_named_as_code_whatever_torchs_wording(tmp_path, monkeypatch):
    import pickle

    from model import ModelError
    from training import checkpoints

    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError("Weights only load failed ... unsupported GLOBAL builtins.eval")

    monkeypatch.setattr(checkpoints.torch, "load", refuse)
    (tmp_path / "evil.pth").write_bytes(b"x")
    with pytest.raises(ModelError, match="could run code"):
        checkpoints.load_checkpoint(str(tmp_path / "evil.pth"))


def test_a_far_point_and_nan_normals_are_scored_not_propagated():
    from evaluation.metrics import normal_consistency
    from evaluation.protocol import evaluate

    points = torch.rand(1, 50, 3) - 0.5
    far = points.clone()
    far[0, 0] = 1e20
    batch = {
        "points": points.expand(2, -1, -1).clone(),
        "normals": torch.nn.functional.normalize(torch.rand(2, 50, 3), dim=-1),
        "voxels": torch.zeros(2, 32, 32, 32), "synset": ["s"] * 2, "model_id": ["a", "b"],
        "view": torch.zeros(2, dtype=torch.long), "verts": [points[0], points[0]],
    }  # fmt: skip
    prediction = {
        "points": torch.cat([points, far]),
        "lengths": torch.tensor([50, 50]),
        "normals": None,
        "voxels": None,
    }
    rows = evaluate(lambda b: prediction, [batch], "cpu", thresholds=(0.05,))
    assert all(torch.isfinite(torch.tensor(r["ChamferL2"])) for r in rows) and rows[1]["n_pred_points"] == 0
    normals = torch.full((1, 50, 3), float("nan"))
    idx = torch.zeros(1, 50, dtype=torch.long)
    assert normal_consistency(normals, idx, normals, idx, torch.tensor([50])).item() == 0.0


def test_fit_data_refuses_more_points_than_the_ground_truth(tiny_root):
    assert_one_line_error(
        call_main("fit_data", "--data_root", tiny_root, "--n_points", "6000", "--device", "cpu"), "holds 5000 surface"
    )


def test_reconstruct_takes_images_one_pixel_high(tiny_checkpoints, tmp_path):
    import imageio.v3 as iio
    import numpy as np

    iio.imwrite(tmp_path / "wide.png", np.full((1, 5000, 3), 200, np.uint8))
    rgba = np.zeros((1, 600, 4), np.uint8)
    rgba[..., 3] = 255
    iio.imwrite(tmp_path / "wide_rgba.png", rgba)
    checkpoint = tiny_checkpoints / "vox" / "checkpoint_vox.pth"
    for name, extra in (("wide.png", ["--plain"]), ("wide_rgba.png", [])):
        code, _, err = call_main(
            "reconstruct", tmp_path / name, "--checkpoint", checkpoint, "--out", tmp_path / "out", "--device", "cpu",
            "--no_gif", *extra,
        )  # fmt: skip
        assert code in (0, 2) and "Traceback" not in err and "cv2.error" not in err, err


def test_two_evaluations_of_one_name_are_not_written_together(tiny_root, tiny_checkpoints, tmp_path):
    """The folder's lock: a second evaluation of the same name while the first holds it is refused."""
    import multiprocessing

    from common.paths import FolderBusy, lock_name

    lock = tmp_path / ".vox.lock"
    ready, release = multiprocessing.Event(), multiprocessing.Event()

    def hold():
        lock_name(str(lock), "x")
        ready.set()
        release.wait(30)

    child = multiprocessing.get_context("fork").Process(target=hold)
    child.start()
    try:
        assert ready.wait(30)
        with pytest.raises(FolderBusy, match="being written by another process"):
            lock_name(str(lock), "output/eval/vox")
    finally:
        release.set()
        child.join()


def test_a_lock_leaves_no_file_and_a_stale_open_cannot_take_a_second_lock(tmp_path):
    """unlock_name removes the lock file; a process that opened the old file before the removal
    opens the name again once it holds it, so it never holds a lock beside a new holder."""
    import fcntl
    import os

    from common.paths import lock_name, unlock_name

    lock = tmp_path / ".vox.lock"
    lock_name(str(lock), "x")
    stale = open(lock, "a+")  # a second process between its open and its flock
    unlock_name(str(lock))
    assert not lock.exists()
    fcntl.flock(stale.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # it gets the lock of a removed file...
    lock_name(str(lock), "x")  # ...which does not stop a new holder of the name
    assert lock.exists() and os.stat(lock).st_ino != os.fstat(stale.fileno()).st_ino
    stale.close()
    unlock_name(str(lock))
    assert not lock.exists()


def test_fault_injection_sample(tmp_path):
    """A sample of the fault-injection sweep (tools/fault_injection.py gives the full figure): a
    dataset replacement killed at every third point loses no state and none of the user's files
    planted beside it, sets up no training, and leaves nothing in the temporary folder."""
    proc = run_script(
        "-m", "tools.fault_injection", "--every", "3", "--signals", "KILL", "--processes", "dataset",
        env={"TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    planted = re.search(r"(\d+) user files planted, 0 states lost, 0 user files lost", proc.stdout)
    assert planted and int(planted.group(1)) >= 4, proc.stdout  # at least one planted file a point
    assert "training" not in proc.stdout and not os.listdir(tmp_path)


def test_a_resume_is_checked_against_the_ground_truths_size_after_its_flags_come_back(tiny_root, tmp_path):
    """A mesh checkpoint whose record says --n_points 6000 (more than the GT's 5000 samples) is refused
    on resume: the check runs on the run's own flags, restored."""
    out = tmp_path / "mesh"
    common = ["--type", "mesh", "--data_root", tiny_root, "--out_dir", out, "--device", "cpu", "--val_freq", "0"]
    code, _, err = call_main("train_model", *common, "--max_iter", "1", "--batch_size", "2", "--image_size", "32")
    assert code == 0, err
    checkpoint = torch.load(out / "checkpoint_mesh.pth", weights_only=True)
    checkpoint["args"]["n_points"] = 6000
    torch.save(checkpoint, out / "checkpoint_mesh.pth")
    assert_one_line_error(
        call_main("train_model", *common, "--load_checkpoint", "--max_iter", "2"), "holds 5000 surface samples"
    )


# ----- the user's files, as an adversarial user plants them (issue: clean-up that only removes its own)

USER_ENTRIES = ("report.stale-2023", "results.tmp-123-deadbeef.json", "thesis.stale-99999/chapter.txt")


def plant(folder, names=USER_ENTRIES) -> dict:
    """A user's files named like temporary ones; returns {path: content}."""
    planted = {}
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"the user's {name}")
        planted[path] = path.read_text()
    return planted


def test_a_resume_never_sweeps_a_users_files_named_like_leftovers(tiny_root, tmp_path):
    out = tmp_path / "run"
    common = ["--type", "point", "--data_root", tiny_root, "--out_dir", out, "--batch_size", "2", "--image_size", "32"]
    common += ["--n_points", "50", "--device", "cpu", "--val_freq", "0"]
    code, _, err = call_main("train_model", *common, "--max_iter", "1")
    assert code == 0, err
    planted = plant(out)
    code, stdout, err = call_main("train_model", *common, "--max_iter", "2", "--load_checkpoint")
    assert code == 0, err
    assert {p: p.read_text() for p in planted} == planted
    assert "named like this project's temporary files" in stdout and "report.stale-2023 (no proof" in stdout


def test_an_evaluation_never_sweeps_a_users_folders_in_its_results_dir(tiny_root, tiny_checkpoints, tmp_path):
    results = tmp_path / "mine"
    planted = plant(results, ("backup.tmp-99999-deadbeef/copy.txt", ".tmp-dataset-99999-mine/keep.txt"))
    code, _, err = call_main(
        "eval_model", "--checkpoint", tiny_checkpoints / "point" / "checkpoint_point.pth", "--data_root", tiny_root,
        "--device", "cpu", "--results_dir", results, "--vis_ids", "--no_baseline", "--no_frame_check",
    )  # fmt: skip
    assert code == 0, err
    assert {p: p.read_text() for p in planted} == planted


@pytest.mark.parametrize("change", ["edited", "empty_folder", "link_to_folder", "dangling_link"])
def test_a_replacement_refuses_what_the_user_changed_in_the_dataset_and_names_it(generated, change):
    """Edited to the same size, an empty folder, a link to a folder, a dangling link: each refuses
    --replace_stale, named on a line of its own; nothing is removed."""
    record = json.load(open(generated / ".manifest.json"))
    target = next(rel for rel in record["files"] if rel.endswith("rendering_metadata.txt"))
    if change == "edited":
        text = (generated / target).read_text()
        (generated / target).write_text(text[::-1])  # the same size, another content
        name = f"{target} (changed since written)"
    elif change == "empty_folder":
        (generated / "my_empty").mkdir()
        name = "my_empty/ (a folder added)"
    elif change == "link_to_folder":
        (generated / "my_link").symlink_to(generated.parent, target_is_directory=True)
        name = "my_link (a symbolic link)"
    else:
        (generated / "broken").symlink_to(generated / "nowhere")
        name = "broken (a symbolic link, dangling)"
    before = sorted(str(p) for p in generated.rglob("*"))
    code, _, err = make(generated, "--replace_stale", "--seed", "4")
    assert code == 2 and f"  {name}" in err.splitlines() and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("error:") and "did not write as recorded" in err
    assert sorted(str(p) for p in generated.rglob("*")) == before
    assert json.load(open(generated / "embedded.json"))["seed"] == 3


def test_a_file_edited_while_the_new_dataset_is_built_is_kept_and_the_swap_refused(generated, monkeypatch):
    from procedural import writer

    record = json.load(open(generated / ".manifest.json"))
    target = generated / next(rel for rel in record["files"] if rel.endswith("rendering_metadata.txt"))
    real = writer.write_manifest
    edited = target.read_text()[::-1]

    def edit_then_record(folder):  # the user edits the old dataset while the new one is being written
        target.write_text(edited)
        real(folder)

    monkeypatch.setattr(writer, "write_manifest", edit_then_record)
    code, _, err = make(generated, "--replace_stale", "--seed", "4")
    assert code == 2 and "changed since written" in err, err
    assert json.load(open(generated / "embedded.json"))["seed"] == 3 and target.read_text() == edited
    assert not owned_entries(generated.parent)  # the new dataset built beside is removed


def test_a_results_folder_is_ours_only_by_its_record(tiny_root, tiny_checkpoints, tmp_path):
    """A folder of a result's name holding a user's metrics.json (no identity, or a JSON list), or an
    evaluation's folder holding a user's file named like a result: refused in one line, untouched."""
    results = tmp_path / "r"
    base = [
        "eval_model", "--checkpoint", tiny_checkpoints / "point" / "checkpoint_point.pth", "--data_root", tiny_root,
        "--device", "cpu", "--results_dir", results, "--vis_ids", "0", "--no_baseline", "--no_frame_check",
    ]  # fmt: skip
    code, _, err = call_main(*base)
    assert code == 0, err
    folder = result_folder_of(results)
    (folder / "7_gt.png").write_bytes(b"the user's picture")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert_one_line_error(call_main(*base), "7_gt.png (added)")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    shutil.rmtree(folder)
    folder.mkdir()
    for content in ('{"score": 1}', '["a", "list"]'):
        (folder / "metrics.json").write_text(content)
        (folder / "per_sample.csv").write_text("mine")
        assert_one_line_error(call_main(*base), "holds no record of an evaluation's files")
        assert (folder / "metrics.json").read_text() == content and (folder / "per_sample.csv").read_text() == "mine"
    assert not owned_entries(results)


def result_folder_of(results):
    found = [p for p in results.iterdir() if p.is_dir() and not owned_entries_named(p.name)]
    assert len(found) == 1, found
    return found[0]


def owned_entries_named(name: str) -> bool:
    from common.ownership import OWNED_NAME

    return bool(OWNED_NAME.search(name))


def test_overwrite_leaves_a_users_files_in_place_and_puts_the_run_back_after_a_setup_failure(
    tiny_root, tmp_path, monkeypatch
):
    from training import monitor

    out = tmp_path / "run"
    common = ["--type", "point", "--data_root", tiny_root, "--out_dir", out, "--batch_size", "2", "--image_size", "32"]
    common += ["--n_points", "50", "--device", "cpu", "--val_freq", "0"]
    code, _, err = call_main("train_model", *common, "--max_iter", "1")
    assert code == 0, err
    (out / "tensorboard" / "my_notes.txt").write_text("what I saw")
    (out / "notes.md").write_text("mine")
    earlier = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    real = monitor.Monitor.__init__

    def broken(self, *args, **kwargs):
        raise RuntimeError("a failure in setup")

    monkeypatch.setattr(monitor.Monitor, "__init__", broken)
    with pytest.raises(RuntimeError, match="a failure in setup"):
        call_main("train_model", *common, "--max_iter", "2", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == earlier and not owned_entries(out)
    monkeypatch.setattr(monitor.Monitor, "__init__", real)
    for _ in range(2):
        code, stdout, err = call_main("train_model", *common, "--max_iter", "2", "--overwrite")
        assert code == 0, err
        assert (out / "tensorboard" / "my_notes.txt").read_text() == "what I saw"
        assert (out / "notes.md").read_text() == "mine" and "removed the rest of the run" not in stdout
        assert not owned_entries(out)


def test_reconstruct_into_a_file_and_a_ctrl_c_at_start_are_one_line(tiny_checkpoints, tmp_path):
    import imageio.v3 as iio
    import numpy as np

    iio.imwrite(tmp_path / "a.png", np.full((40, 40, 3), 200, np.uint8))
    (tmp_path / "taken").write_text("a file")
    assert_one_line_error(
        call_main(
            "reconstruct", tmp_path / "a.png", "--checkpoint", tiny_checkpoints / "point" / "checkpoint_point.pth",
            "--out", tmp_path / "taken", "--device", "cpu", "--plain",
        ),
        "--out",
    )  # fmt: skip
    import subprocess
    import sys
    import time

    from conftest import REPO

    proc = subprocess.Popen(
        [sys.executable, "train_model.py", "--help"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # inside its imports (torch takes seconds)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (
        proc.returncode == 130
        and "Traceback" not in err
        and err.strip() == ("error: interrupted while starting; nothing was written")
    ), err


def test_ctrl_c_after_the_swap_says_the_new_dataset_is_in_place(generated, monkeypatch):
    from procedural import writer

    def interrupted(root):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "remove_written", interrupted)
    code, _, err = make(generated, "--replace_stale", "--seed", "4")
    assert code == 2 and "holds it, complete" in err and "is as it was" not in err, err
    assert json.load(open(generated / "embedded.json"))["seed"] == 4
    monkeypatch.undo()
    for name in owned_entries(generated.parent):  # the next run is another process: this one has ended
        if not name.endswith(".sv3d-owner"):
            pretend_dead(generated.parent / name)
    code, out, err = make(generated, "--replace_stale", "--seed", "4")  # the next run settles the old one
    assert code == 0 and not owned_entries(generated.parent), err
