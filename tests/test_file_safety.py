"""Nothing of the user's is deleted, and no earlier state is lost before its successor is safe."""

import json
import os
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
    assert_one_line_error(
        make(generated, "--replace_stale", "--seed", "4"), "holds files make_dataset.py did not write"
    )
    assert (generated / "ShapeNetCore.v1" / "model.obj").exists()


def test_replacing_a_dataset_removes_exactly_what_was_written_and_keeps_it_until_the_new_one_is_in(generated):
    before = json.load(open(generated / ".manifest.json"))["files"]
    (generated / ".cache").mkdir()
    (generated / ".cache" / "generated_splits.json").write_text("{}")  # what a reader wrote: the cache's
    code, out, err = make(generated, "--replace_stale", "--seed", "4")
    assert code == 0, err
    assert json.load(open(generated / "embedded.json"))["seed"] == 4
    assert not [p for p in os.listdir(generated.parent) if ".stale-" in p or p.startswith(".tmp-dataset")]
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
        assert not [p for p in os.listdir(generated.parent) if ".stale-" in p or p.startswith(".tmp-dataset")], out
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
    assert json.load(open(out / "args.json"))["max_iter"] == 2 and not [
        p for p in os.listdir(out) if "overwritten" in p
    ]
    code, out_text, err = call_main("train_model", *common, "--max_iter", "3", "--overwrite")
    assert code == 0, err
    assert torch.load(out / "checkpoint_point.pth", weights_only=True)["step"] == 3
    assert (out / "checkpoint_point.step_best_so_far.pth").read_text() == "mine"
    assert not [p for p in os.listdir(out) if "overwritten" in p]


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
    (out / "args.json").write_text(json.dumps({"type": "point", "max_iter": 2}))
    (out / "tensorboard").mkdir()
    (out / "tensorboard" / "events.out.tfevents.1.host").write_text("log")
    return {p: (out / p).read_text() for p in ("checkpoint_point.pth", "checkpoint_point.best.pth", "args.json")}


def test_a_set_aside_killed_halfway_loses_none_of_the_earlier_run(tmp_path):
    """--overwrite killed while it moves the earlier run aside file by file: the files not yet
    moved are the earlier run's, not a new run's, and the next run puts the whole run back."""
    from model import ModelError
    from training.checkpoints import load_checkpoint
    from training.run_folder import recover_run

    out = tmp_path / "run"
    before = earlier_run(out)
    aside = out / f".overwritten-{dead_pid()}"
    aside.mkdir()
    os.rename(out / "checkpoint_point.best.pth", aside / "checkpoint_point.best.pth")  # one file moved, then killed
    os.remove(out / "checkpoint_point.pth")  # as if it had been moved too: a reader is told where the run is
    with pytest.raises(ModelError, match="set the earlier run aside in"):
        load_checkpoint(str(out / "checkpoint_point.pth"))
    (out / "checkpoint_point.pth").write_text(before["checkpoint_point.pth"])
    done = recover_run(str(out), "point")
    assert done and "put back" in done[0]
    assert {p: (out / p).read_text() for p in before} == before and (out / "tensorboard").is_dir()
    assert not aside.exists()


def test_a_replacing_run_killed_before_its_checkpoint_gives_the_earlier_run_back(tmp_path):
    """Once the earlier run is wholly aside, what of its type is in the folder is the new run's:
    removed, and the earlier run put back."""
    from training.run_folder import recover_run, set_aside_run

    out = tmp_path / "run"
    before = earlier_run(out)
    aside, moved = set_aside_run(str(out), "point")
    assert len(moved) == 4
    os.rename(aside, out / f".overwritten-{dead_pid()}")  # as if its process had died
    (out / "args.json").write_text(json.dumps({"type": "point", "max_iter": 3}))  # the new run's record
    (out / "tensorboard").mkdir()
    recover_run(str(out), "point")
    assert {p: (out / p).read_text() for p in before} == before
    assert not [p for p in os.listdir(out) if "overwritten" in p]
    # A removal of the set-aside run stopped halfway (its successor was safe) is finished, never put back.
    discarding = out / f".overwritten-{dead_pid()}.discard"
    discarding.mkdir()
    (discarding / "checkpoint_point.best.pth").write_text("old best")
    done = recover_run(str(out), "point")
    assert "removed the rest" in done[0] and not discarding.exists()
    assert (out / "checkpoint_point.best.pth").read_text() == before["checkpoint_point.best.pth"]


def test_a_manifest_never_grants_deleting_outside_its_dataset(tmp_path):
    """A manifest naming files outside its root ("../x", "/x") or through a link out of it is
    ignored for them: nothing outside the dataset is deleted."""
    from procedural.writer import MANIFEST, read_manifest, remove_written

    root, outside = tmp_path / "d", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (tmp_path / "thesis.tex").write_text("mine")
    (outside / "data.npz").write_text("mine")
    (root / "link").symlink_to(outside)
    (root / "a.txt").write_text("x")
    files = {"a.txt": 1, "../thesis.tex": 4, str(tmp_path / "thesis.tex"): 4, "link/data.npz": 4}
    (root / MANIFEST).write_text(json.dumps({"files": files}))
    assert set(read_manifest(str(root))) == {"a.txt", "link/data.npz"}
    remove_written(str(root))
    assert (tmp_path / "thesis.tex").read_text() == "mine" and (outside / "data.npz").read_text() == "mine"
    assert not (root / "a.txt").exists()


def test_orphans_of_dead_processes_are_swept_and_said(tiny_root, tmp_path):
    from common.atomic_io import sweep_orphans

    folder = tmp_path / "run"
    folder.mkdir()
    dead = 2**22 + 12345  # no such process
    (folder / f"checkpoint_vox.pth.tmp-{dead}-0123abcd").write_bytes(b"x" * 10)
    (folder / f"checkpoint_vox.pth.tmp-{os.getpid()}-0123abcd").write_bytes(b"x")  # this process: kept
    (folder / "notes.tmp-keep").write_text("a user's")
    removed = sweep_orphans(str(folder))
    assert [os.path.basename(p) for p in removed] == [f"checkpoint_vox.pth.tmp-{dead}-0123abcd"]
    assert sorted(os.listdir(folder)) == sorted([f"checkpoint_vox.pth.tmp-{os.getpid()}-0123abcd", "notes.tmp-keep"])


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


def test_fault_injection_sample():
    """A sample of the fault-injection sweep (tools/fault_injection.py gives the full figure):
    a dataset replacement killed at every other point loses no state."""
    proc = run_script("-m", "tools.fault_injection", "--every", "3", "--signals", "KILL", "--processes", "dataset")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 states lost" in proc.stdout, proc.stdout


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
