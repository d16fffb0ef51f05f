import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import REPO, assert_one_line_error, call_main, run_script

FAST = ["--batch_size", "4", "--image_size", "64", "--n_points", "100", "--device", "cpu", "--log_freq", "1"]


def train(root, out, *extra):
    return run_script("train_model.py", "--data_root", root, "--out_dir", str(out), *FAST, *extra)


def test_killed_run_resumes_to_the_same_weights(tiny_root, tmp_path):
    """SIGKILL a run after a checkpoint, resume it, and compare with an uninterrupted run."""
    common = ["--type", "point", "--max_iter", "8", "--save_freq", "2", "--seed", "3"]
    straight = train(tiny_root, tmp_path / "straight", *common)
    assert straight.returncode == 0, straight.stderr

    out = tmp_path / "killed"
    ckpt = out / "checkpoint_point.pth"
    cmd = [sys.executable, "train_model.py", "--data_root", tiny_root, "--out_dir", str(out), *FAST, *common]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step_killed = torch.load(ckpt, weights_only=False)["step"]
    assert step_killed < 8, "the run finished before it could be killed"

    resumed = train(tiny_root, out, *common, "--load_checkpoint")
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / "straight" / "checkpoint_point.pth", weights_only=False)
    b = torch.load(ckpt, weights_only=False)
    assert a["step"] == b["step"] == 8
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=1e-5, atol=1e-6, msg=key)
    assert not [p for p in os.listdir(out) if ".tmp" in p]  # no half-written files left


def test_ddp_two_cpu_processes_from_no_data_at_all(tmp_path):
    """torchrun on a machine without the data: rank 0 generates the embedded data and builds the
    caches while rank 1 waits (one generation, one cache per split), then voxmesh trains under
    DDP (its refinement gets a gradient even when no grid has a cell to cubify); only rank 0
    validates, logs and writes TensorBoard; the run resumes."""
    out = tmp_path / "ddp"
    env = dict(
        os.environ, R2N2_EMBEDDED_ROOT=str(tmp_path / "embedded"), R2N2_EMBEDDED_MODELS="30", PYTHONUNBUFFERED="1"
    )
    env.pop("R2N2_DATA_ROOT", None)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    train = [
        "train_model.py",
        "--out_dir",
        str(out),
        *FAST,
        "--batch_size",
        "2",
        "--type",
        "voxmesh",
        "--init",
        "none",
        "--val_freq",
        "2",
    ]
    proc = subprocess.run(
        [*torchrun, *train, "--max_iter", "3"], cwd=REPO, capture_output=True, text=True, timeout=900, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("embedded dataset not found: generating it") == 1, proc.stderr[-3000:]
    assert proc.stdout.count("training voxmesh on cpu x2") == 1  # only rank 0 logs
    assert proc.stdout.count("val at step 2:") == 1 and proc.stdout.count("val at step 3:") == 1  # and validates, once
    caches = os.listdir(tmp_path / "embedded" / ".cache")
    assert len([name for name in caches if name.startswith("train-") and name.endswith(".pt")]) == 1, caches
    assert len([name for name in os.listdir(out / "tensorboard") if "tfevents" in name]) == 1
    ckpt = torch.load(out / "checkpoint_voxmesh.pth", weights_only=True)
    assert ckpt["step"] == 3 and not any(k.startswith("module.") for k in ckpt["model"])
    assert [v["step"] for v in ckpt["val_history"]] == [2, 3]
    resumed = subprocess.run(
        [*torchrun, *train, "--max_iter", "4", "--load_checkpoint"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(out / "checkpoint_voxmesh.pth", weights_only=True)["step"] == 4


def train_in_process(root, out, *extra):
    return call_main("train_model", "--data_root", root, "--out_dir", out, *FAST, *extra)


def test_bad_flags(tiny_root, tmp_path):
    assert_one_line_error(train_in_process(tiny_root, tmp_path / "a", "--type", "foo"), "invalid choice: 'foo'")
    assert_one_line_error(
        train_in_process(tiny_root, tmp_path / "b", "--type", "vox", "--load_checkpoint"), "not found"
    )
    code, _, err = train_in_process(tiny_root, tmp_path / "c", "--type", "vox", "--max_iter", "1")
    assert code == 0, err
    os.replace(tmp_path / "c" / "checkpoint_vox.pth", tmp_path / "c" / "checkpoint_point.pth")
    assert_one_line_error(
        train_in_process(tiny_root, tmp_path / "c", "--type", "point", "--load_checkpoint"), "holds a 'vox' model"
    )
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "checkpoint_vox.pth").write_bytes(b"not a checkpoint")
    assert_one_line_error(
        train_in_process(tiny_root, tmp_path / "corrupt", "--type", "vox", "--load_checkpoint"), "corrupt"
    )
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(train_in_process(tiny_root, blocker / "sub", "--type", "vox"), "not writable")
    assert_one_line_error(
        train_in_process(tiny_root, tmp_path / "lr", "--type", "vox", "--lr", "nan"),
        "argument --lr: must be a positive number",
    )


def test_cli_error_is_one_line_without_traceback(tiny_root, tmp_path):
    """The real command line, once: the in-process checks above cover the other cases."""
    proc = train(tiny_root, tmp_path / "b", "--type", "vox", "--load_checkpoint")
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-1500:]


def test_non_finite_loss_stops_with_step_and_checkpoint(tiny_root, tmp_path, monkeypatch, capsys):
    import train_model
    from representations import ReconstructionLoss

    real_loss = ReconstructionLoss.__call__
    calls = []

    def loss_that_diverges(self, model, batch):
        calls.append(1)
        loss, terms = real_loss(self, model, batch)
        return (loss * float("nan") if len(calls) == 4 else loss), terms

    monkeypatch.setattr(ReconstructionLoss, "__call__", loss_that_diverges)
    args = train_model.get_args_parser().parse_args(
        [
            "--data_root",
            tiny_root,
            "--out_dir",
            str(tmp_path / "nan"),
            *FAST,
            "--type",
            "point",
            "--max_iter",
            "6",
            "--save_freq",
            "2",
        ]
    )
    with pytest.raises(SystemExit) as exit_info:
        train_model.main(args)
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "non-finite loss nan at step 3" in err and "checkpoint_point.pth (step 2)" in err
    assert torch.load(tmp_path / "nan" / "checkpoint_point.pth", weights_only=False)["step"] == 2


def test_more_points_than_the_ground_truth_holds_are_refused(tiny_root, tmp_path):
    assert_one_line_error(
        train_in_process(tiny_root, tmp_path / "p", "--type", "point", "--n_points", "6000"),
        "holds 5000 surface samples",
    )


def test_zero_or_negative_budgets_are_refused(tiny_root, tmp_path):
    for flag in ("--max_iter", "--batch_size", "--save_freq"):
        assert_one_line_error(
            train_in_process(tiny_root, tmp_path / "zero", "--type", "vox", flag, "0"),
            f"argument {flag}: must be at least 1",
        )
    assert not os.path.exists(tmp_path / "zero")


def test_every_flag_with_an_impossible_value_is_refused_in_one_line(tiny_root, tmp_path):
    """Counts below 0, weights below 0 (a data weight of 0), and scripts beside train_model.py."""
    for flag, value, message in [
        ("--num_workers", "-1", "must be 0 or more"),
        ("--w_chamfer", "0", "must be a positive number"),
        ("--w_smooth", "-0.1", "must be 0 or a positive number"),
        ("--w_edge", "nan", "must be 0 or a"),
        ("--w_normal", "-1", "must be 0 or a"),
        ("--pos_weight", "0", "must be a positive number"),
    ]:
        assert_one_line_error(
            train_in_process(tiny_root, tmp_path / "bad", "--type", "vox", flag, value), f"argument {flag}: {message}"
        )
    assert not os.path.exists(tmp_path / "bad")
    assert_one_line_error(call_main("tools.study_mesh", "--max_iter", "0"), "argument --max_iter: must be at least 1")
    assert_one_line_error(
        call_main("tools.study_mesh", "--w_chamfer", "-1"), "argument --w_chamfer: must be a positive number"
    )
    assert_one_line_error(
        call_main("fit_data", "--w_smooth", "-1"), "argument --w_smooth: must be 0 or a positive number"
    )


def test_a_second_run_never_replaces_the_first_unless_asked(tiny_root, tmp_path):
    out = tmp_path / "run"
    code, _, err = train_in_process(tiny_root, out, "--type", "vox", "--max_iter", "2")
    assert code == 0, err
    before = {name: (out / name).read_bytes() for name in ("checkpoint_vox.pth", "args.json")}
    result = train_in_process(tiny_root, out, "--type", "vox", "--max_iter", "3")
    assert_one_line_error(
        result, "already holds a vox run (checkpoint_vox.pth at step 2 of 2): resume it with --load_checkpoint"
    )
    assert {name: (out / name).read_bytes() for name in before} == before  # nothing touched
    code, _, err = train_in_process(tiny_root, out, "--type", "vox", "--max_iter", "1", "--overwrite")
    assert code == 0, err
    assert torch.load(out / "checkpoint_vox.pth", weights_only=False)["step"] == 1
    assert_one_line_error(
        train_in_process(tiny_root, out, "--type", "vox", "--load_checkpoint", "--overwrite"), "give one of them"
    )


def logged_lrs(stdout: str) -> dict[int, float]:
    """{step: learning rate} from train_model.py's log lines."""
    import re

    return {int(step): float(lr) for step, lr in re.findall(r"step\s+(\d+) \|.*\| lr ([0-9.e+-]+) \|", stdout)}


def test_resuming_with_a_larger_max_iter_stretches_the_schedule(tiny_root, tmp_path):
    import math

    out = tmp_path / "longer"
    code, _, err = train_in_process(tiny_root, out, "--type", "point", "--max_iter", "4")
    assert code == 0, err
    code, stdout, err = train_in_process(tiny_root, out, "--type", "point", "--load_checkpoint", "--max_iter", "8")
    assert code == 0, err
    assert "--max_iter 8 differs from the run's 4: the cosine schedule now ends at step 8" in stdout
    lrs = logged_lrs(stdout)
    assert sorted(lrs) == [5, 6, 7, 8]
    for step, lr in lrs.items():  # the 8-step cosine from step 4 on, not a climb after the old end
        assert lr == pytest.approx(1e-3 * (1 + math.cos(math.pi * step / 8)) / 2, abs=2e-6), step
    assert torch.load(out / "checkpoint_point.pth", weights_only=False)["step"] == 8
    # Resuming without --max_iter keeps the run's own (now 8-step) plan: nothing left to do.
    code, stdout, err = train_in_process(tiny_root, out, "--type", "point", "--load_checkpoint")
    assert code == 0 and "at step 8 of 8" in stdout, err
    assert_one_line_error(
        train_in_process(tiny_root, out, "--type", "point", "--load_checkpoint", "--max_iter", "6"), "already at step 8"
    )


def train_in_process_args(root, out, *extra):
    return ["--data_root", root, "--out_dir", out, *FAST, *extra]


def test_resume_restores_the_runs_own_flags_and_refuses_others(tiny_root, tmp_path):
    """A bare --load_checkpoint continues with the run's data root, batch, seed, augmentation,
    weights and lr; a flag given with another value is refused naming the stored one; flags
    that do not change the run may differ; args.json keeps the start and every resume."""
    import json

    out = tmp_path / "run"
    first = [
        "--type",
        "point",
        "--max_iter",
        "2",
        "--batch_size",
        "3",
        "--seed",
        "5",
        "--augment",
        "none",
        "--lr",
        "5e-4",
    ]
    code, _, err = call_main("train_model", *train_in_process_args(tiny_root, out, *first))
    assert code == 0, err
    bare = ["--data_root", tiny_root, "--out_dir", out, "--device", "cpu", "--type", "point"]
    code, _, err = call_main("train_model", *bare, "--load_checkpoint", "--max_iter", "3", "--log_freq", "1")
    assert code == 0, err
    record = json.load(open(out / "args.json"))
    assert (record["batch_size"], record["seed"], record["augment"], record["lr"], record["n_points"]) == (
        3,
        5,
        "none",
        5e-4,
        100,
    )
    assert [(h["event"], h["from_step"], h["to_step"]) for h in record["history"]] == [
        ("start", 0, 2),
        ("resume", 2, 3),
    ]
    assert record["train_seconds"] == pytest.approx(sum(h["seconds"] for h in record["history"]))
    checkpoint = torch.load(out / "checkpoint_point.pth", weights_only=True)
    assert checkpoint["args"]["batch_size"] == 3 and len(checkpoint["history"]) == 2
    refusals = [
        ("--batch_size", "8", "8", "3"),
        ("--seed", "0", "0", "5"),
        ("--augment", "full", "full", "none"),
        ("--lr", "1e-3", "0.001", "0.0005"),
        ("--data_root", str(tmp_path), str(tmp_path), tiny_root),
    ]
    for flag, value, shown, stored in refusals:
        resume = ["--out_dir", out, "--device", "cpu", "--type", "point", "--load_checkpoint", "--max_iter", "4"]
        given = ["--data_root", tiny_root] if flag != "--data_root" else []
        result = call_main("train_model", *resume, *given, flag, value)
        assert_one_line_error(result, f"{flag} {shown} differs from the run's {flag} {stored}")
    assert torch.load(out / "checkpoint_point.pth", weights_only=True)["step"] == 3  # nothing was trained or lost


def test_validation_best_checkpoint_and_tensorboard_logs_survive_a_resume(small_root, tmp_path):
    """--val_freq 2 on a dataset with a val split: every 2 steps the val subset is scored, the
    best checkpoint is kept beside the last one with its step and score, and TensorBoard holds
    each step's loss (the very values training returned), the learning rate, the data share and
    the val metrics. A resume continues the same logs: every step once, none twice."""
    from training.monitor import scalars_of

    out = tmp_path / "run"
    args = ["--data_root", small_root, "--out_dir", out, *FAST, "--type", "vox", "--val_freq", "2"]
    code, stdout, err = call_main("train_model", *args, "--max_iter", "4")
    assert code == 0, err
    assert "validating on 3 shapes of the val split every 2 steps" in stdout and "val at step 2: F1@0.01" in stdout
    last = torch.load(out / "checkpoint_vox.pth", weights_only=True)
    best = torch.load(out / "checkpoint_vox.best.pth", weights_only=True)
    assert [v["step"] for v in last["val_history"]] == [2, 4]
    best_entry = max(last["val_history"], key=lambda v: v["F1@0.05"])
    assert last["best"] == best["best"] and best["step"] == best_entry["step"] == best["best"]["step"]
    assert best["best"]["F1@0.05"] == best_entry["F1@0.05"] and "IoU_vox32" in best_entry and "IoU_labels" in best_entry
    # The best checkpoint is for evaluation: its weights, model and record, not the optimizer (the last keeps it).
    assert "optimizer" not in best and "scheduler" not in best and "optimizer" in last
    assert (out / "checkpoint_vox.best.pth").stat().st_size < 0.5 * (out / "checkpoint_vox.pth").stat().st_size
    scalars = scalars_of(str(out / "tensorboard"))
    assert [s for s, _ in scalars["loss/total"]] == [1, 2, 3, 4] and [s for s, _ in scalars["loss/bce"]] == [1, 2, 3, 4]
    assert [s for s, _ in scalars["val/F1@0.05"]] == [2, 4]
    for (_, logged), entry in zip(scalars["val/F1@0.05"], last["val_history"]):
        assert logged == pytest.approx(entry["F1@0.05"], rel=1e-6)
    assert {"lr", "time/step_seconds", "time/data_seconds", "time/data_share", "val/IoU_vox32", "val/seconds"} <= set(
        scalars
    )
    assert all(0 <= share <= 1 for _, share in scalars["time/data_share"])

    code, _, err = call_main(
        "train_model", "--out_dir", out, "--device", "cpu", "--type", "vox", "--load_checkpoint", "--max_iter", "6"
    )
    assert code == 0, err
    scalars = scalars_of(str(out / "tensorboard"))
    assert [s for s, _ in scalars["loss/total"]] == [1, 2, 3, 4, 5, 6] and [s for s, _ in scalars["val/F1@0.05"]] == [
        2,
        4,
        6,
    ]
    assert [v["step"] for v in torch.load(out / "checkpoint_vox.pth", weights_only=True)["val_history"]] == [2, 4, 6]


def test_tensorboard_losses_are_the_losses_trained_on(small_root, tmp_path):
    import train_model
    from training.monitor import scalars_of

    args = train_model.parse_args(
        [
            str(a)
            for a in [
                "--data_root",
                small_root,
                "--out_dir",
                tmp_path,
                *FAST,
                "--type",
                "point",
                "--max_iter",
                "3",
                "--val_freq",
                "0",
            ]
        ]
    )
    result = train_model.main(args)
    logged = [value for _, value in scalars_of(str(tmp_path / "tensorboard"))["loss/total"]]
    assert logged == pytest.approx(result["losses"], rel=1e-6) and len(logged) == 3
    assert not os.path.exists(tmp_path / "checkpoint_point.best.pth")  # --val_freq 0: no validation, no best


def test_eval_model_picks_the_best_checkpoint(small_root, tmp_path):
    out = tmp_path / "run"
    code, _, err = call_main(
        "train_model",
        "--data_root",
        small_root,
        "--out_dir",
        out,
        *FAST,
        "--type",
        "vox",
        "--max_iter",
        "2",
        "--val_freq",
        "1",
    )
    assert code == 0, err
    code, stdout, err = call_main(
        "eval_model",
        "--type",
        "vox",
        "--load_checkpoint",
        "--best",
        "--out_dir",
        out,
        "--data_root",
        small_root,
        "--device",
        "cpu",
        "--results_dir",
        tmp_path / "eval",
        "--no_baseline",
        "--vis_ids",
        "--n_points",
        "300",
        "--no_frame_check",
    )
    assert code == 0, err
    result = json.load(open(next((tmp_path / "eval").glob("*/metrics.json"))))
    assert result["checkpoint"].endswith("checkpoint_vox.best.pth")
    assert_one_line_error(
        call_main("eval_model", "--type", "vox", "--best", "--data_root", small_root), "use it with --load_checkpoint"
    )


def test_a_run_resumed_from_an_earlier_checkpoint_logs_each_step_once(small_root, tmp_path):
    """Steps logged after the checkpoint a run resumes from (by the interrupted run) are hidden
    by the resumed run's own, not shown twice."""
    import shutil

    from training.monitor import scalars_of

    out = tmp_path / "run"
    args = ["--data_root", small_root, "--out_dir", out, *FAST, "--type", "point", "--val_freq", "0"]
    code, _, err = call_main("train_model", *args, "--max_iter", "4", "--save_freq", "2", "--keep_checkpoints")
    assert code == 0, err
    first = dict(scalars_of(str(out / "tensorboard"))["loss/total"])
    shutil.copyfile(out / "checkpoint_point.step000002.pth", out / "checkpoint_point.pth")  # as if killed after step 3
    code, _, err = call_main("train_model", "--out_dir", out, "--device", "cpu", "--type", "point", "--load_checkpoint")
    assert code == 0, err
    losses = scalars_of(str(out / "tensorboard"))["loss/total"]
    assert [s for s, _ in losses] == [1, 2, 3, 4]
    assert dict(losses)[1] == first[1] and dict(losses)[3] == pytest.approx(
        first[3], rel=1e-5
    )  # resumed exactly, logged once


def test_overwrite_clears_the_earlier_run_and_other_types_are_refused(small_root, tmp_path):
    """--overwrite removes what the earlier run left (best and step checkpoints, TensorBoard
    events, args.json), so `eval_model --best` can never score the previous run's model; a run
    folder holding another type's run is refused; --keep_checkpoints works under a folder named
    like a checkpoint."""
    out = tmp_path / "runs.pth" / "vox"
    first = ["--type", "vox", "--max_iter", "2", "--val_freq", "1", "--save_freq", "1", "--keep_checkpoints"]
    code, _, err = train_in_process(small_root, out, *first)
    assert code == 0, err
    names = sorted(os.listdir(out))
    assert "checkpoint_vox.best.pth" in names and "checkpoint_vox.step000001.pth" in names and "tensorboard" in names
    events_before = sorted(os.listdir(out / "tensorboard"))
    before = (out / "checkpoint_vox.pth").read_bytes()
    missing = tmp_path / "no.pth"
    failed = train_in_process(
        small_root, out, "--type", "vox", "--max_iter", "1", "--overwrite", "--pretrained", missing
    )
    assert failed[0] == 2 and (out / "checkpoint_vox.pth").read_bytes() == before  # a failed start removes nothing
    code, stdout, err = train_in_process(
        small_root, out, "--type", "vox", "--max_iter", "1", "--val_freq", "0", "--overwrite"
    )
    assert code == 0, err
    assert "set aside in" in stdout and "--overwrite: removed the earlier run set aside" in stdout
    left = sorted(os.listdir(out))
    assert "checkpoint_vox.best.pth" not in left and not [n for n in left if ".step" in n]
    assert not set(os.listdir(out / "tensorboard")) & set(events_before)  # only the new run's events
    assert_one_line_error(train_in_process(small_root, out, "--type", "point", "--max_iter", "1"), "holds a vox run")


HOLD_LOCK = (
    "from training.run_folder import RunLock; RunLock({out!r}).acquire(); print('held', flush=True); "
    "import time; time.sleep(60)"
)


def test_a_second_process_cannot_train_into_a_folder_in_use(tiny_root, tmp_path):
    """A process holding a run folder's lock (another training) keeps a second one out; once it
    is gone, however it ended, the folder is free again (the system drops its lock)."""
    out = tmp_path / "busy"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK.format(out=str(out))], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert_one_line_error(
            train_in_process(tiny_root, out, "--type", "vox", "--max_iter", "1"),
            f"in use by another training process (pid {holder.pid}",
        )
    finally:
        holder.kill()
        holder.wait()
    code, _, err = train_in_process(tiny_root, out, "--type", "vox", "--max_iter", "1")  # killed: the folder is free
    assert code == 0, err


def test_resume_refuses_other_data_another_size_or_another_world_size(tiny_root, tmp_path, monkeypatch):
    import shutil

    from procedural import default_data
    from training import resume

    out = tmp_path / "run"
    code, _, err = train_in_process(tiny_root, out, "--type", "vox", "--max_iter", "1", "--val_freq", "0")
    assert code == 0, err
    checkpoint = torch.load(out / "checkpoint_vox.pth", weights_only=True)
    assert checkpoint["data"]["root"] == tiny_root and checkpoint["world_size"] == 1
    assert len(checkpoint["train_shapes"]) == checkpoint["data"]["n_shapes"] == 6
    # The data changed under the run: a shape removed from its split.
    changed = str(tmp_path / "changed")
    shutil.copytree(tiny_root, changed, ignore=shutil.ignore_patterns(".cache"))
    splits = json.load(open(os.path.join(changed, "splits.json")))
    synset = sorted(splits["train"])[0]
    splits["train"][synset].pop(sorted(splits["train"][synset])[0])
    json.dump(splits, open(os.path.join(changed, "splits.json"), "w"))
    data_args = ["--type", "vox", "--load_checkpoint", "--max_iter", "2", *FAST]
    assert_one_line_error(
        call_main("train_model", "--data_root", changed, "--out_dir", out, *data_args),
        "differs from the run's --data_root",
    )
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    ckpt = torch.load(moved / "checkpoint_vox.pth", weights_only=True)
    ckpt["args"]["data_root"] = changed  # as if the run had trained on `changed` before it changed
    ckpt["data"]["root"] = changed
    torch.save(ckpt, moved / "checkpoint_vox.pth")
    assert_one_line_error(
        call_main("train_model", "--out_dir", moved, *data_args), "train split's train shapes (digest) differs"
    )
    # Another size of the default embedded data: refused before anything regenerates it.
    monkeypatch.setattr(resume, "EMBEDDED_DATA_ROOT", tiny_root)
    monkeypatch.setattr(resume, "DATA_ROOT", tiny_root)
    monkeypatch.setattr(resume, "EMBEDDED_MODELS", 30)
    monkeypatch.setattr(default_data, "write_default_data", lambda root: pytest.fail("must not be regenerated"))
    assert_one_line_error(
        call_main("train_model", "--out_dir", out, "--data_root", tiny_root, *data_args),
        "R2N2_EMBEDDED_MODELS asks for 30",
    )
    monkeypatch.setattr(resume, "EMBEDDED_MODELS", 9)
    # The run's --data_root left out, the default root moved (R2N2_DATA_ROOT): refused before reading.
    default_run = tmp_path / "default_run"
    monkeypatch.setattr(resume, "DATA_ROOT", tiny_root)
    monkeypatch.setattr(default_data, "DATA_ROOT", tiny_root)
    code, _, err = call_main("train_model", "--out_dir", default_run, *FAST, "--type", "vox", "--max_iter", "1")
    assert code == 0, err
    monkeypatch.setattr(resume, "DATA_ROOT", changed)
    assert_one_line_error(
        call_main("train_model", "--out_dir", default_run, *data_args),
        f"trained on {tiny_root}, this resume would read",
    )
    monkeypatch.setattr(resume, "DATA_ROOT", tiny_root)
    monkeypatch.setenv("WORLD_SIZE", "2")  # the run trained on one process
    assert_one_line_error(
        call_main("train_model", "--out_dir", out, "--data_root", tiny_root, *data_args),
        "trained on 1 process(es), this resume has 2",
    )


def test_a_checkpoint_without_optimizer_state_is_refused_on_resume(tiny_root, tmp_path):
    out = tmp_path / "run"
    code, _, err = train_in_process(tiny_root, out, "--type", "vox", "--max_iter", "1", "--val_freq", "0")
    assert code == 0, err
    checkpoint = torch.load(out / "checkpoint_vox.pth", weights_only=True)
    del checkpoint["optimizer"]
    torch.save(checkpoint, out / "checkpoint_vox.pth")
    assert_one_line_error(
        train_in_process(tiny_root, out, "--type", "vox", "--load_checkpoint", "--max_iter", "2"),
        "cannot be resumed: it holds no optimizer",
    )
