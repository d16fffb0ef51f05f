"""The GPU check's runs, in one process: short trainings and evaluations of every type with and
without --amp, the training step's speed and memory, and one batch's loss on the CPU and on CUDA.

    python -m benchmarks.gpu_check --work /tmp/gpu_check --data /tmp/gpu_check/data --deadline $(( $(date +%s) + 330 ))
    bash benchmarks/gpu_check.sh "$OUT"         # what runs it on the GPU machine, with the rest

One process pays torch's, PyTorch3D's and CUDA's start-up once for every run. Each sub-run gets a
time limit of its own (an alarm; a sub-run past it is stopped and the check goes on) and none
starts once the budget cannot hold it, so the check ends inside its budget whatever happens.
Each sub-run's output goes to <work>/logs/<name>.log; each result is a line of
<work>/summary.txt as soon as it is known (a check stopped from outside keeps what it measured).
Types, amp settings and steps come from the flags (gpu_check.sh passes its environment's).

The loss comparison: the same weights, batch and random draws on both devices; the float32 losses
of vox, point and occupancy must agree to a relative 1e-3 (CUDA's kernels sum in other orders),
mesh and voxmesh to their surface sampling's noise, the bf16 ones to a few percent.
"""

import argparse
import contextlib
import dataclasses
import gc
import os
import re
import signal
import sys
import time
import traceback
from unittest import mock

import torch

from evaluation.metrics import F1_HEADLINE
from representations import DEFAULT_TYPE, names


class SubRunTimeout(Exception):
    """A sub-run went past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise SubRunTimeout in this (the main) thread after `seconds`."""

    def expire(signum, frame):
        raise SubRunTimeout(f"stopped after its limit of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1.0))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def output_to(path: str):
    """The process's stdout and stderr (file descriptors too: loader workers, C++ warnings) into a file."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def log_lines(path: str) -> list[str]:
    """A log's lines, a progress bar's carriage returns read as line ends."""
    try:
        with open(path, errors="replace") as f:
            return [line.strip() for line in re.split(r"[\r\n]+", f.read()) if line.strip()]
    except OSError:
        return []


class Check:
    """Runs sub-runs within a budget and writes the summary as it goes."""

    def __init__(self, work: str, budget: float, device: str):
        self.work, self.device = work, device
        self.deadline = time.monotonic() + budget
        self.logs = os.path.join(work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.summary_path = os.path.join(work, "summary.txt")
        self.failed = []

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        with open(self.summary_path, "a") as f:
            f.write(line + "\n")

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def sub_run(self, name: str, limit: float, fn, *args):
        """fn(*args) with its output in logs/<name>.log, under min(limit, the time left); None
        (and a FAILED or SKIPPED line) when it fails, times out or cannot fit."""
        seconds = min(limit, self.left() - 5)
        if seconds < 0.25 * limit:
            self.say(f"SKIPPED {name}: {self.left():.0f} s of the budget left, it needs up to {limit:.0f} s")
            self.failed.append(name)
            return None
        path = os.path.join(self.logs, f"{name}.log")
        if self.device == "cuda":  # each sub-run's memory its own: what the ones before held is freed
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            with output_to(path), time_limit(seconds):
                return fn(*args)
        except SystemExit as err:  # a script's one-line refusal
            why = f"exit {err.code}"
        except SubRunTimeout as err:
            why = str(err)
        except Exception as err:  # noqa: BLE001 - every failure is reported and the check goes on
            with open(path, "a") as f:
                traceback.print_exc(file=f)
            why = f"{type(err).__name__}: {err}"
        finally:
            if self.device == "cuda":
                try:
                    torch.cuda.synchronize()
                except RuntimeError as err:  # a CUDA error that outlives the sub-run: said, the check goes on
                    with open(path, "a") as f:
                        f.write(f"after the sub-run, CUDA: {err}\n")
            self.stage_seconds = time.perf_counter() - start
        self.failed.append(name)
        self.say(f"FAILED {name} ({why}, after {self.stage_seconds:.0f} s); its last lines ({path}):")
        for line in log_lines(path)[-8:]:
            self.say("    " + line[:200])
        return None


def train(data: str, out_dir: str, model_type: str, amp: str, steps: int, device: str, init: str | None, profile: str):
    """train_model.py's main on the check's data at a profile; returns (its result, peak GiB or nan)."""
    import train_model

    base = torch.cuda.memory_allocated() if device == "cuda" else 0
    flags = ["--type", model_type, "--device", device, "--max_iter", str(steps), f"--{amp}", "--data_root", data]
    flags += ["--out_dir", out_dir, "--overwrite", "--val_freq", str(max(1, steps // 2))]
    flags += ["--log_freq", str(max(1, steps // 4)), "--save_freq", str(steps)]
    flags += ["--init", init or "none"]  # a type that starts from another's run: the check's own run of it
    flags += ["--profile", profile]
    if device == "cpu":  # the dry run: small images and batches, no compilation
        flags += ["--image_size", "64", "--batch_size", "8", "--no-compile"]
    result = train_model.main(train_model.parse_args(flags))
    peak = (torch.cuda.max_memory_allocated() - base) / 2**30 if device == "cuda" else float("nan")
    return result, peak


def evaluate(data: str, checkpoint: str, model_type: str, results: str, device: str) -> dict:
    """eval_model.py's main on the check's test split: its metrics.json as a dict."""
    import eval_model

    flags = ["--type", model_type, "--checkpoint", checkpoint, "--data_root", data, "--device", device]
    flags += ["--no_baseline", "--vis_ids", "--results_dir", results, "--grid_res", "32"]
    return eval_model.main(eval_model.get_args_parser().parse_args(flags))


def step_seconds(log: str) -> float | None:
    """The last training log line's seconds per step (`monitor.log_line`)."""
    found = [re.search(r"\| ([0-9.]+) s/step \|", line) for line in log_lines(log)]
    found = [m for m in found if m]
    return float(found[-1].group(1)) if found else None


def bench(
    data: str, model_types: list[str], amp: str, device: str, steps: int, init: str | None, profile: str, compiled: bool
) -> bool:
    """bench_train.py at a profile, compiled or not: its table's lines (images/s, TFLOP/s, MFU)."""
    from benchmarks import bench_train

    parser = bench_train.get_parser()
    flags = ["--device", device, f"--{amp}", "--data_root", data, "--types", *model_types, "--profile", profile]
    flags += ["--steps", str(steps), "--warmup", "3", "--init", init or "none"]
    flags += ["--compile" if compiled and device == "cuda" else "--no-compile"]
    if device == "cpu":  # the dry run
        flags += ["--image_size", "64", "--batch_size", "8"]
    bench_train.main(parser.parse_args(flags))
    return True  # its table is in its log


def loss_on(data: str, device: str, model_type: str, amp: bool, checkpoint: str | None) -> float:
    """One fixed batch's training loss of the check's own trained model of the type (its weights
    from `checkpoint`; at random initialisation the mesh heads' offsets are zero and their loss
    does not depend on the network). All 5000 GT surface samples (no random subset); mesh
    sampling still draws on the device, so mesh and voxmesh agree only to the sampling's noise
    (about 1e-2)."""
    import representations
    from dataset import R2N2Dataset, batch_to_device, collate_batch
    from representations import ReconstructionLoss, build_model
    from training.checkpoints import load_checkpoint, rebuild_model
    from training.config import resolve_config

    config = resolve_config({"type": model_type, "image_size": 137})
    torch.manual_seed(0)
    if checkpoint:  # the trained model as it was built (a point model predicts its own number of points)
        model = rebuild_model(load_checkpoint(checkpoint), checkpoint)
    else:
        model = build_model(dict(config.model_args))
    model = model.eval().to(device)  # batch norm on running statistics
    loss_config = dataclasses.replace(config.loss, n_points=5000)  # every GT sample in the Chamfer terms
    dataset = R2N2Dataset(data, "train", n_points=None, return_meshes=False, quiet=True, return_occupancy=True)
    batch = batch_to_device(collate_batch(dataset.__getitems__(list(range(8)))), device)
    torch.manual_seed(1)
    if representations.get(model_type).needs_occupancy_labels:  # the same query draw on both devices
        pick = torch.randint(batch["occ_points"].shape[1], (8, config.settings.n_queries))
        batch["occ_points"] = torch.gather(batch["occ_points"], 1, pick.to(device)[..., None].expand(-1, -1, 3))
        batch["occ_labels"] = torch.gather(batch["occ_labels"], 1, pick.to(device))
    # The float32 column in float32: cuDNN convolutions would use TF32 by default on CUDA. The
    # check's runs set their own flags (`training.trainer.configure_device`).
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = amp
    # The loss's own query draw would differ between the devices' generators: it takes the
    # queries drawn above as they are.
    keep_drawn = lambda points, labels, n_queries: (points, labels.float())  # noqa: E731
    with (
        mock.patch.object(representations.occupancy, "exact_occupancy_targets", keep_drawn),
        torch.no_grad(),
        torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=amp),
    ):
        loss, _ = ReconstructionLoss(model_type, config.settings, loss_config)(model, batch)
    return float(loss)


def compare_losses(data: str, model_types: list[str], checkpoints: dict) -> list[str]:
    """The loss table: CPU float32, CUDA float32, CUDA bf16 autocast, and their relative
    differences, each type's trained model (checkpoints: {type: file}) or, without one, at its
    initialisation (said)."""
    lines = [f"{'type':<10} {'CPU fp32':>10} {'CUDA fp32':>10} {'rel. diff':>10} {'CUDA bf16':>10} {'rel. diff':>10}"]
    for model_type in model_types:
        checkpoint = checkpoints.get(model_type)
        cpu = loss_on(data, "cpu", model_type, False, checkpoint)
        cuda = loss_on(data, "cuda", model_type, False, checkpoint)
        amp = loss_on(data, "cuda", model_type, True, checkpoint)
        lines.append(
            f"{model_type:<10} {cpu:10.5f} {cuda:10.5f} {abs(cuda - cpu) / abs(cpu):10.2e} {amp:10.5f} "
            f"{abs(amp - cpu) / abs(cpu):10.2e}" + ("" if checkpoint else "  (untrained: its run failed)")
        )
    return lines


def equal_epochs(steps: int, profile: str) -> int:
    """A profile's steps for as many epochs as `steps` of the gpu profile (its batch against gpu's)."""
    from training.config import PROFILES

    return max(1, round(steps * PROFILES["gpu"]["batch_size"] / PROFILES[profile]["batch_size"]))


def training_plan(args) -> list[tuple[str, str, str, int]]:
    """(type, profile, amp, steps) of each training: the compared types (--compare) at every profile and
    amp, the others at the last profile in float32, each profile for the same epochs (`equal_epochs`);
    the types others start from first (voxmesh from vox)."""
    from representations import get

    sources = {get(t).init_from for t in args.types}
    order = sorted(args.types, key=lambda t: t not in sources)
    plan = []
    for t in order:
        every = [(p, a) for p in args.profiles for a in args.amp]
        plan += [
            (t, p, a, equal_epochs(args.steps, p))
            for p, a in (every if t in args.compare else [(args.profiles[-1], "no-amp")])
        ]
    return plan


def train_and_evaluate(check, args, plan_entry, trained: dict) -> None:
    """One training of the plan and its evaluation, summed up in one line of the summary."""
    from representations import get

    model_type, profile, amp, steps = plan_entry
    name = f"{model_type}_{profile}_{amp}"
    init = trained.get((get(model_type).init_from, profile, amp))
    start = time.perf_counter()
    limit = args.train_limit * max(1.0, args.steps / 200)
    done = check.sub_run(
        f"train_{name}", limit, train, args.data, os.path.join(args.work, "runs", name), model_type, amp, steps,
        args.device, init, profile,
    )  # fmt: skip
    if done is None:
        return
    wall = time.perf_counter() - start
    result, peak = done
    trained[(model_type, profile, amp)] = result["checkpoint"]
    per_step = step_seconds(os.path.join(check.logs, f"train_{name}.log"))
    metrics = check.sub_run(
        f"eval_{name}", args.eval_limit, evaluate, args.data, result["checkpoint"], model_type,
        os.path.join(args.work, "eval"), args.device,
    )  # fmt: skip
    summary = (metrics or {}).get("model", {})
    iou = f", IoU {summary['IoU_vox32']:.3f}" if "IoU_vox32" in summary else ""
    f1 = f"{F1_HEADLINE} {summary[F1_HEADLINE]:.1f}{iou}" if summary else "no evaluation"
    speed = f"{per_step:.3f} s/step (last log window)" if per_step else "s/step not logged"
    source = get(model_type).init_from
    start_note = (
        f", from the {source} run" if source and init else f", from scratch (no {source} run)" if source else ""
    )
    check.say(
        f"train {model_type:<9} {profile:<8} --{amp:<6}: {steps} steps in {wall:5.1f} s wall (start-up and "
        f"validation included), {speed}, peak {peak:.2f} GiB; {f1}{start_note}"
    )


def run_benches(check, args, trained: dict) -> None:
    """bench_train at each profile and amp, uncompiled: every type's images/s, TFLOP/s and MFU
    (before: gpu; after: gpu_fast); then the compared types at the last profile compiled (its
    compilation, tens of seconds a type, is paid once per bench)."""
    from representations import get

    sources = {get(t).init_from for t in args.types}
    runs = [(p, a, args.types, False) for p in args.profiles for a in args.amp]
    runs += [(args.profiles[-1], a, args.compare, True) for a in args.amp]
    for profile, amp, types, compiled in runs:
        check.say(f"bench_train {profile} --{amp}{' compiled' if compiled else ''} ({args.bench_steps} steps after 3):")
        init = next((trained[(t, profile, amp)] for t in sources if (t, profile, amp) in trained), None)
        name = f"bench_{profile}_{amp}{'_compiled' if compiled else ''}"
        ran = check.sub_run(
            name, args.bench_limit * (3 if compiled else 1), bench, args.data, types, amp, args.device,
            args.bench_steps, init, profile, compiled,
        )  # fmt: skip
        if ran is None:
            continue
        table = ("type", *types)
        for line in log_lines(os.path.join(check.logs, f"{name}.log")):
            if line.split(" ", 1)[0].rstrip(":") in table or line.startswith("MFU"):
                check.say("    " + line)


def main(args) -> int:
    # Logs of lines, not progress bars (bars that set `disable` themselves still draw: the summary
    # reads the logs through their carriage returns).
    os.environ.setdefault("TQDM_DISABLE", "1")
    check = Check(args.work, args.deadline - time.time(), args.device)
    if args.device == "cpu":  # the dry run: the limits are sized for a GPU, the CPU takes many times as long
        for key in ("train_limit", "eval_limit", "bench_limit", "loss_limit"):
            setattr(args, key, 8 * getattr(args, key))
    if args.device == "cuda":
        name = torch.cuda.get_device_name(0)
        check.say(
            f"torch {torch.__version__}, {name}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB"
        )
    trained = {}  # (type, profile, amp) -> the run's checkpoint, for the types that start from it (--init)
    plan = training_plan(args)
    first = [entry for entry in plan if entry[0] == plan[0][0]]  # the type others start from: before the benches
    for entry in first:
        train_and_evaluate(check, args, entry, trained)
    run_benches(check, args, trained)
    for entry in plan[len(first) :]:
        train_and_evaluate(check, args, entry, trained)
    if args.device == "cuda":  # each type's trained model (its float32 run at the first profile)
        checkpoints = {t: c for (t, p, a), c in trained.items() if a == "no-amp" and p == args.profiles[0]}
        lines = check.sub_run("losses", args.loss_limit, compare_losses, args.data, args.types, checkpoints)
        if lines:
            check.say("one batch's loss of each trained model, CPU vs CUDA:")
            for line in lines:
                check.say("    " + line)
    check.say(
        f"gpu_check.py: {len(check.failed)} sub-runs failed or skipped"
        + (f": {', '.join(check.failed)}" if check.failed else "")
    )
    return 0  # failures are lines of the summary (gpu_check.sh reads them); a non-zero status is a crash


def get_parser() -> argparse.ArgumentParser:
    from common.cli import script_parser

    parser = script_parser(__file__, __doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="folder for logs, runs, results and summary.txt")
    parser.add_argument("--data", required=True, help="the check's data root (make_dataset.py's)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: the dry run that sizes it")
    parser.add_argument(
        "--types", nargs="+", default=list(names()), choices=names(), help="the types trained and timed, in order"
    )
    parser.add_argument(
        "--amp", nargs="+", default=["amp", "no-amp"], choices=["amp", "no-amp"], help="each type trained with each"
    )
    parser.add_argument(
        "--profiles", nargs="+", default=["gpu", "gpu_fast"], help="train_model.py profiles compared (before, after)"
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        default=[DEFAULT_TYPE],
        help="the types trained at every profile and amp (the others: once)",
    )
    parser.add_argument(
        "--steps", type=int, default=200, help="training steps per run at the gpu profile (others: the same epochs)"
    )
    parser.add_argument("--bench_steps", type=int, default=15, help="timed steps per type in bench_train")
    parser.add_argument("--deadline", type=float, required=True, help="when everything here must end (epoch seconds)")
    parser.add_argument(
        "--train_limit", type=float, default=60, help="seconds a training of 200 steps may take (scaled with --steps)"
    )
    parser.add_argument("--eval_limit", type=float, default=30, help="seconds an evaluation may take")
    parser.add_argument("--bench_limit", type=float, default=60, help="seconds a bench_train run may take")
    parser.add_argument("--loss_limit", type=float, default=60, help="seconds the loss comparison may take")
    return parser


if __name__ == "__main__":
    sys.exit(main(get_parser().parse_args()))
