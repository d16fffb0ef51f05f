"""Kill a dataset generation, a training run and an evaluation at every point they write, and check what is left.

    python -m tools.fault_injection                     # every point, SIGKILL and SIGINT: the figure of docs/data.md
    python -m tools.fault_injection --every 4 --signals KILL    # a quicker sample (tests/test_file_safety.py)

Each process replaces an earlier state: `make_dataset.py --replace_stale` replaces a dataset,
`train_model.py --overwrite` a run, `eval_model.py` its own earlier results. Around each, a user's
own files are planted first (`plant_user_files`: files and folders named like this project's
temporary ones, a file inside the run's tensorboard/, a user's metrics.json, an empty folder, a
symbolic link and a dangling one), where the process sweeps and replaces. It is run once per fault
point with R2N2_FAULT_AT=k (`common.atomic_io.fault_point`: every file written whole, before and
after its rename, every step of moving the earlier state aside and back, every generated shape),
stopped there by the signal, and then:
  1. the state must be either the earlier one, whole, or the complete new one (checked file by file);
  2. the same command run again must succeed and leave no orphan (no temporary or moved-aside
     file or folder this project made) behind;
  3. every user file must be there, unchanged (content, link target).
A point where 1 or 2 fails is a state lost; 3 counts user files lost. Prints a line per process
and signal: points tried, user files planted, states and user files lost. Works in a temporary
folder, removed at the end; writes nothing else.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args: list[str], env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("R2N2_FAULT")}
    full_env.update(PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def orphans(folder: str) -> list[str]:
    """This project's temporary or moved-aside entries (and their proofs) anywhere below folder."""
    from common.ownership import OWNED_NAME, OWNER_SUFFIX

    found = []
    for base, dirs, files in os.walk(folder):
        found += [os.path.join(base, n) for n in dirs + files if OWNED_NAME.search(n) or n.endswith(OWNER_SUFFIX)]
    return sorted(found)


def plant_user_files(folder: str, inside_tensorboard: bool = False) -> dict:
    """A user's own entries in folder (made if missing), as a sweep or a replacement meets them: files
    and folders named like temporary ones of this or an earlier version, a results-like metrics.json,
    an empty folder, a symbolic link and a dangling one. Returns {path: what it should stay}."""
    import hashlib

    os.makedirs(folder, exist_ok=True)
    planted = {}

    def put(name: str, text: str) -> None:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        planted[path] = ("file", hashlib.sha256(text.encode()).hexdigest())

    put("report.stale-2023", "my report")
    put("results.tmp-123-deadbeef.json", '{"mine": true}')
    put("notes.sv3d-tmp-99999-deadbeef", "named like this project's, with no proof")
    put("thesis.stale-99999/chapter1.txt", "chapter one")
    put("backup.tmp-99999-deadbeef/copy.txt", "a backup")
    put(".tmp-dataset-99999-mine/keep.txt", "mine")
    put("point_mine/metrics.json", '["a user\'s own metrics"]')
    if inside_tensorboard:
        put("tensorboard/my_notes.txt", "what I saw in the curves")
    empty = os.path.join(folder, "empty_folder")
    os.makedirs(empty, exist_ok=True)
    planted[empty] = ("folder", None)
    for name, target in (("link_to_notes", "report.stale-2023"), ("dangling_link", "nowhere")):
        path = os.path.join(folder, name)
        if not os.path.lexists(path):
            os.symlink(target, path)
        planted[path] = ("link", target)
    return planted


def user_files_lost(planted: dict) -> list[str]:
    """The planted entries not there as they were planted."""
    import hashlib

    lost = []
    for path, (kind, expected, *_) in planted.items():
        if kind == "link":
            ok = os.path.islink(path) and os.readlink(path) == expected
        elif kind == "folder":
            ok = os.path.isdir(path) and not os.path.islink(path)
        else:
            try:
                ok = hashlib.sha256(open(path, "rb").read()).hexdigest() == expected
            except OSError:
                ok = False
        if not ok:
            lost.append(path)
    return lost


def points_reached(args: list[str], env: dict) -> int:
    """How many fault points a whole command passes (a run with a fault point too far to be reached)."""
    log = env["R2N2_FAULT_LOG"]
    open(log, "w").close()
    run(args, {**env, "R2N2_FAULT_AT": "1000000"})
    return sum(1 for _ in open(log))


# ----- the three processes: how to set up the earlier state, the command, and how to judge a state


def plant_in_dataset(root: str) -> dict:
    """After the stop, the user's own changes in whatever dataset is at root: a generated file
    edited to the same size, a file added, an empty folder, a link and a dangling one."""
    if not os.path.isfile(os.path.join(root, "splits.json")):
        return {}
    splits = os.path.join(root, "splits.json")
    original = open(splits, "rb").read()
    with open(splits, "wb") as f:
        f.write(original.replace(b" ", b"\t", 1))  # the same size, still JSON
    planted = {splits: ("file", hashlib.sha256(open(splits, "rb").read()).hexdigest(), original)}
    with open(os.path.join(root, "my_notes.txt"), "w") as f:
        f.write("notes")
    planted[os.path.join(root, "my_notes.txt")] = ("file", hashlib.sha256(b"notes").hexdigest())
    os.makedirs(os.path.join(root, "my_folder"))
    planted[os.path.join(root, "my_folder")] = ("folder", None)
    for name, target in (("my_link", "splits.json"), ("my_dangling_link", "nowhere")):
        os.symlink(target, os.path.join(root, name))
        planted[os.path.join(root, name)] = ("link", target)
    return planted


def unplant(planted: dict) -> None:
    """The user moves their own entries out again (and undoes an edit): {path: (kind, ...)} as planted."""
    for path, (kind, *rest) in planted.items():
        if kind == "file" and len(rest) == 2:
            with open(path, "wb") as f:
                f.write(rest[1])
        elif kind == "folder":
            os.rmdir(path)
        else:
            os.remove(path)


def dataset_case(work: str) -> dict:
    from procedural import foreign_files, read_manifest

    root = os.path.join(work, "data")

    def setup():
        result = run(
            ["make_dataset.py", "--root", root, "--n_models", "9", "--n_views", "1", "--seed", "1", "--replace_stale"]
        )
        assert result.returncode == 0, result.stderr

    def seed_of() -> int | None:
        try:
            with open(os.path.join(root, "embedded.json")) as f:
                return json.load(f)["seed"]
        except (OSError, ValueError, KeyError):
            return None

    def whole(users: dict) -> str | None:
        """None when root holds one complete dataset (every manifest file, nothing else but the
        user's own entries), else why not."""
        if not os.path.isdir(root):
            return "no dataset at the root"
        if read_manifest(root) is None:
            return "no manifest"
        theirs = {os.path.relpath(path, root) for path in users}
        if [phrase for phrase in foreign_files(root) if phrase.split(" (")[0].rstrip("/") not in theirs]:
            return "files outside the manifest"
        missing = [p for p in read_manifest(root)["files"] if not os.path.isfile(os.path.join(root, p))]
        missing = [p for p in missing if p not in theirs]
        return f"{len(missing)} files missing" if missing else None

    def judge(users: dict) -> str | None:
        from procedural import recover

        recover(root)  # what the next run does first
        why = whole(users)
        return why or (None if seed_of() in (1, 2) else f"seed {seed_of()}")

    command = ["make_dataset.py", "--root", root, "--n_models", "9", "--n_views", "1", "--seed", "2", "--replace_stale"]
    return {
        "setup": setup, "command": command, "judge": judge, "folder": work, "done": lambda: seed_of() == 2,
        "plant": lambda: plant_user_files(work), "plant_inside": lambda: plant_in_dataset(root), "unplant": unplant,
    }  # fmt: skip


def training_case(work: str, data: str) -> dict:
    import torch

    out = os.path.join(work, "run")
    common = ["--type", "point", "--data_root", data, "--out_dir", out, "--batch_size", "2", "--image_size", "32"]
    common += ["--n_points", "50", "--device", "cpu", "--val_freq", "1", "--save_freq", "1"]

    def setup():
        result = run(["train_model.py", *common, "--max_iter", "2", "--seed", "1", "--overwrite"])
        assert result.returncode == 0, result.stderr

    def state() -> tuple | None:
        try:
            checkpoint = torch.load(os.path.join(out, "checkpoint_point.pth"), weights_only=True)
            with open(os.path.join(out, "args.json")) as f:
                record = json.load(f)
        except Exception:  # noqa: BLE001 - anything unreadable is a lost state
            return None
        return checkpoint["args"]["seed"], checkpoint["step"], record["seed"]

    def judge(users: dict) -> str | None:
        from training.run_folder import recover_run

        recover_run(out, "point")  # what the next run does first
        found = state()
        if found is None:
            return "no readable checkpoint and record"
        seed, step, record_seed = found
        if seed != record_seed:
            return f"the checkpoint (seed {seed}) and args.json (seed {record_seed}) are of two runs"
        if seed == 1 and step != 2:
            return f"the earlier run's checkpoint is at step {step}"
        return None

    command = ["train_model.py", *common, "--max_iter", "3", "--seed", "2", "--overwrite"]
    return {
        "setup": setup, "command": command, "judge": judge, "folder": out, "done": lambda: (state() or [0])[0] == 2,
        "plant": lambda: plant_user_files(out, inside_tensorboard=True),
    }  # fmt: skip


def evaluation_case(work: str, data: str, checkpoint: str) -> dict:
    results = os.path.join(work, "results")
    command = ["eval_model.py", "--type", "point", "--checkpoint", checkpoint, "--data_root", data, "--device", "cpu"]
    command += ["--n_points", "200", "--results_dir", results, "--vis_ids", "0"]

    def folder() -> str | None:
        from common.ownership import OWNED_NAME

        found = [p for p in glob.glob(os.path.join(results, "point_n200*")) if os.path.isdir(p)]
        found = [p for p in found if not OWNED_NAME.search(os.path.basename(p))]
        return found[0] if len(found) == 1 else None

    def setup():
        result = run(command)
        assert result.returncode == 0, result.stderr

    def plant_inside() -> dict:
        """After the stop, a user's note in the evaluation's own folder, if there is one."""
        path = folder()
        if path is None:
            return {}
        note = os.path.join(path, "my_notes.txt")
        with open(note, "w") as f:
            f.write("what I saw")
        return {note: ("file", hashlib.sha256(b"what I saw").hexdigest())}

    def judge(users: dict) -> str | None:
        from evaluation.reports import recover_results

        recover_results(results)
        path = folder()
        if path is None:
            return "no results folder"
        needed = ("metrics.json", "per_sample.csv", "eval_point.png", "gallery.png", "0_pred.gif")
        missing = [n for n in needed if not os.path.isfile(os.path.join(path, n))]
        if missing:
            return f"results missing {missing}"
        try:
            json.load(open(os.path.join(path, "metrics.json")))["model"]
        except (ValueError, KeyError):
            return "metrics.json unreadable"
        return None

    return {
        "setup": setup, "command": command, "judge": judge, "folder": results, "done": lambda: folder() is not None,
        "plant": lambda: plant_user_files(results), "plant_inside": plant_inside, "unplant": unplant,
    }  # fmt: skip


def sweep(name: str, case: dict, signal: str, every: int, work: str) -> tuple[int, int, list[str], list[str]]:
    """Run the case's command stopped at fault points 1, 1 + every, ... by `signal`, the user's files
    planted first; returns (points tried, user files planted, the states lost with why, the user
    files lost)."""
    env = {"R2N2_FAULT_SIGNAL": signal, "R2N2_FAULT_LOG": os.path.join(work, "fault.log")}
    case["setup"]()
    total = points_reached(case["command"], env)
    case["setup"]()  # back to the earlier state: the count ran the command whole
    lost, users_lost, tried, planted, most_inside = [], [], 0, {}, 0
    for point in range(1, total + 1, every):
        planted = case["plant"]()
        run(case["command"], {**env, "R2N2_FAULT_AT": str(point)})
        tried += 1
        inside = case.get("plant_inside", dict)()  # the user's own changes in what the stop left
        most_inside = max(most_inside, len(inside))
        why = case["judge"](inside)
        if inside:  # run again, the command refuses in one error line (or finds its work done) and changes none
            refused = run(case["command"])
            last = (refused.stderr.strip().splitlines() or [""])[-1]
            if "Traceback" in refused.stderr or (refused.returncode != 0 and not last.startswith("error:")):
                why = why or f"run again over the user's changes: rc {refused.returncode}, {last!r}"
            users_lost += [f"{name} {signal} point {point}: {path}" for path in user_files_lost(inside)]
            case["unplant"](inside)
        again = run(case["command"])
        left = [path for path in orphans(case["folder"]) if path not in planted]  # a user's, named like ours
        if why or again.returncode != 0 or left or not case["done"]():
            lost.append(
                f"{name} {signal} point {point}: "
                + (why or (f"rerun failed: {again.stderr.strip().splitlines()[-1:]}" if again.returncode else ""))
                + (f" orphans {left}" if left else "")
            )
        users_lost += [f"{name} {signal} point {point}: {path}" for path in user_files_lost(planted)]
        case["setup"]()  # back to the earlier state for the next point
    return tried, len(planted) + most_inside, lost, users_lost


def main(args) -> int:
    import shutil

    import procedural

    work = tempfile.mkdtemp(prefix="fault-injection-")
    try:
        cases = {}
        if "dataset" in args.processes:
            cases["dataset"] = dataset_case(os.path.join(work, "dataset"))
        if {"training", "evaluation"} & set(args.processes):  # a tiny dataset and a run to evaluate
            data = os.path.join(work, "tiny")
            procedural.write_dataset(data, n_models=9, n_views=2, seed=0, workers=1, quiet=True)
            cases["training"] = training_case(os.path.join(work, "training"), data)
            cases["training"]["setup"]()
            checkpoint = os.path.join(work, "training", "run", "checkpoint_point.pth")
            cases["evaluation"] = evaluation_case(os.path.join(work, "evaluation"), data, checkpoint)
        all_lost = []
        for name in args.processes:
            for signal in args.signals:
                os.makedirs(os.path.join(work, name), exist_ok=True)
                tried, planted, lost, users_lost = sweep(name, cases[name], signal, args.every, work)
                print(
                    f"{name:<10} SIG{signal:<4}: {tried} points tried, {planted} user files planted, "
                    f"{len(lost)} states lost, {len(users_lost)} user files lost",
                    flush=True,
                )
                all_lost += lost + users_lost
        for line in all_lost:
            print("  " + line)
        return 1 if all_lost else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def get_args_parser():
    from common.cli import script_parser

    parser = script_parser(__file__, __doc__.split("\n")[0] + " Prints the figure; writes in a temporary folder only.")
    parser.add_argument("--every", type=int, default=1, help="try every k-th fault point")
    parser.add_argument("--signals", nargs="+", default=["KILL", "INT"], choices=["KILL", "INT"], help="signals sent")
    parser.add_argument(
        "--processes", nargs="+", default=["dataset", "training", "evaluation"],
        choices=["dataset", "training", "evaluation"], help="which processes are stopped",
    )  # fmt: skip
    return parser


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
