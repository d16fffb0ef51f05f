"""The training loop in named steps: prepare a batch, one optimisation step, validate, checkpoint.

    trainer = Trainer(model, optimizer, scheduler, loss_fn, config, run, TrainingData(mean_voxels, identity), monitor)
    losses = trainer.fit(loader, start_step)

Occupancy Networks' `Trainer` is the model: `train_step` takes a batch and returns the total loss
and its unweighted terms; `fit` runs the steps, with the batches prepared ahead (`prefetch`:
read, copied to the device and augmented in a background thread while the step before
computes), validation every --val_freq steps (`monitor.py`), the last checkpoint every
--save_freq steps and the best one whenever validation improves. `train_model.py` builds all of
it: a `config.RunConfig`, a `representations.ReconstructionLoss`, the model and optimizer
(`training/setup.py`).
"""

import datetime
import math
import os
import time
from dataclasses import dataclass, field

import torch

from common.atomic_io import atomic_torch_save, atomic_write_json
from common.written import file_digest
from dataset import batch_to_device
from representations import get as get_representation
from training.augment import AUGMENT_LEVELS, augment_batch
from training.checkpoints import best_checkpoint_path, step_checkpoint_path
from training.config import TrainConfig
from training.monitor import describe_validation
from training.run_folder import discard_aside, earlier_checkpoint_files
from training.sampler import prefetch

# How long a rank waits in a collective before the process group gives up. NCCL's default (10
# minutes) is shorter than rank 0 building the caches of the real R2N2 data (train and val) while
# the other ranks wait at the barrier.
PROCESS_GROUP_TIMEOUT = datetime.timedelta(hours=2)


ETA_AFTER_STEPS = 10  # the log says how long the run will take after this many steps


class TrainingError(Exception):
    """Training cannot go on (a non-finite loss); the message says where it stopped and why."""


def setup_distributed(device: torch.device):
    """(rank, world_size, device); initialises the process group under torchrun (NCCL on CUDA,
    each rank on its own GPU, named to the group; gloo on CPU), with a timeout that outlasts
    cache builds."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world_size > 1:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
            torch.distributed.init_process_group("nccl", timeout=PROCESS_GROUP_TIMEOUT, device_id=device)
        else:
            torch.distributed.init_process_group("gloo", timeout=PROCESS_GROUP_TIMEOUT)
    return rank, world_size, device


def agreed_first_bad_step(first_bad: int | None, world_size: int, device) -> int | None:
    """The first step any rank saw a non-finite loss at (None: none did), agreed by all ranks, so
    every rank stops together instead of one exiting while the others wait in the next allreduce."""
    if world_size == 1:
        return first_bad
    flag = torch.tensor([float(first_bad) if first_bad is not None else float("inf")], device=device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
    value = float(flag.item())
    return None if value == float("inf") else int(value)


def match_state_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each restored optimizer state tensor its parameter's memory layout. A run saved with
    contiguous weights (an earlier version's CPU run) and resumed with channels-last ones (`configure_device`) would
    otherwise hand fused CUDA Adam moments whose strides differ from their parameters', which it
    refuses."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


# Param-group keys that say how the optimizer computes on its device, not what it learned: a run
# resumed on another device takes the new optimizer's own, not the checkpoint's.
DEVICE_CHOICES = ("fused", "foreach", "capturable")


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: dict) -> None:
    """optimizer.load_state_dict(saved), keeping this optimizer's device choices (`DEVICE_CHOICES`):
    `load_state_dict` would put back the saved groups' own, so a CPU checkpoint resumed on CUDA
    would run foreach Adam for the rest of its life instead of fused, and a CUDA one resumed on the
    CPU fused CPU Adam. The state is then laid out as its parameters are (`match_state_layouts`)."""
    choices = [{k: group[k] for k in DEVICE_CHOICES if k in group} for group in optimizer.param_groups]
    groups = saved["param_groups"]
    if len(groups) != len(choices):
        raise ValueError(f"the saved optimizer has {len(groups)} parameter groups, this model's has {len(choices)}")
    optimizer.load_state_dict({**saved, "param_groups": [{**group, **mine} for group, mine in zip(groups, choices)]})
    match_state_layouts(optimizer)


def configure_device(
    model: torch.nn.Module, device: torch.device, compile: bool, deterministic: bool
) -> torch.nn.Module:
    """Channels-last weights (cudnn's and oneDNN's fastest convolutions want them: on a 2-core CPU
    the sub-cell and refinement convolutions of the vox decoder run 1.3-2x faster, docs/training.md),
    torch.compile of the parts that compile, and on CUDA its speed settings (TF32 matmuls, cudnn
    autotuning, or deterministic kernels). The CPU stays deterministic."""
    if compile:
        model.encoder.compile()
        if get_representation(model.type).compiles:  # not the decoders with PyTorch3D ops inside
            model.decoder.compile()
    channels_last(model)
    if device.type != "cuda":
        return model
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = not deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)  # PyTorch3D's kernels have no deterministic twin
    return model


def channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Every convolution's weights in the channels-last layout (2D and 3D), in place."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.to(memory_format=torch.channels_last)
        elif isinstance(module, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)):
            module.to(memory_format=torch.channels_last_3d)
    return model


@dataclass
class Run:
    """Where a training run stands: its checkpoint file, what it resumes (None for a new run) and
    the process's place in it (rank, world size, device)."""

    ckpt_path: str
    checkpoint: dict | None
    schedule_note: str | None
    rank: int
    world_size: int
    device: torch.device
    last_saved: int | None = None  # the step of the last checkpoint written (or resumed from)
    history: list = field(default_factory=list)  # the run's starts and resumes (`prepare_run`)
    started: float = field(default_factory=time.time)  # when this start or resume began
    aside: str | None = None  # an earlier run set aside by --overwrite, removed at this run's first checkpoint

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def tqdm_write(line: str) -> None:
    """A log line that does not break a progress bar."""
    from tqdm import tqdm

    tqdm.write(line)


def step_seed(seed: int, step: int, run: Run) -> int:
    """The seed of everything random in a step: a function of (seed, step, rank) only, so a
    resumed run draws exactly what an uninterrupted one would."""
    return seed * 1_000_003 + step * run.world_size + run.rank


@dataclass
class TrainingData:
    """What a run trains on, as its checkpoints record it: the mean training shape (32, 32, 32)
    (evaluation's baseline on any data; None on ranks that write no checkpoint) and the train
    split's identity (`dataset.data_identity`, with "train_shapes", sorted "synset/model_id", so an
    evaluation can tell shapes the model trained on)."""

    mean_train_voxels: torch.Tensor | None
    identity: dict


class Trainer:
    """One run's training loop (see the module docstring)."""

    def __init__(
        self, model, optimizer, scheduler, loss_fn, config: TrainConfig, run: Run, data: TrainingData, monitor=None
    ):
        """loss_fn(model, batch) -> (total, terms): `representations.ReconstructionLoss`. config: the
        run's resolved config (its model arguments and flags go into every checkpoint and args.json,
        so a resume restores them); data: what the run trains on (`TrainingData`)."""
        self.model, self.optimizer, self.scheduler, self.loss_fn = model, optimizer, scheduler, loss_fn
        self.run, self.monitor = run, monitor
        self.config = config.run  # how the run trains, watches and records itself
        self.model_args, self.flags = dict(config.model_args), config.flags()
        self.mean_train_voxels, self.data = data.mean_train_voxels, data.identity
        self.val_history = list((run.checkpoint or {}).get("val_history", []))
        self.val_seconds = 0.0
        # The checkpoint files this run wrote, by content (`run_folder.run_files`): a resume keeps its record's.
        self.checkpoint_files = earlier_checkpoint_files(config.run.out_dir, config.run.type) if run.checkpoint else {}

    def prepare_batch(self, batch: dict, step: int) -> dict:
        """A loaded batch made ready for `train_step`: on the device, images augmented with a
        generator of the step's own (so this may run ahead, in another thread)."""
        run = self.run
        batch = batch_to_device(batch, run.device, non_blocking=run.device.type == "cuda")
        augmentation = AUGMENT_LEVELS[self.config.augment]
        if augmentation is not None:
            generator = torch.Generator(device=run.device).manual_seed(step_seed(self.config.seed, step, run) + 7_919)
            batch["images"], batch["masks"], batch["K"] = augment_batch(
                batch["images"], batch["masks"], batch.get("K"), augmentation, generator
            )
        return batch

    @property
    def checks_every_step(self) -> bool:
        """On the CPU a step's loss is checked (and logged) as it comes: reading it costs nothing,
        and a non-finite one stops the run before its update. On CUDA, reading a value waits for
        the GPU, so losses are read in one go every --log_freq steps and before every checkpoint
        and validation (`fit`)."""
        return self.run.device.type != "cuda"

    def train_step(self, batch: dict, step: int) -> tuple[torch.Tensor, dict]:
        """One optimisation step on a prepared batch. Returns the weighted total loss and the
        unweighted terms (tensors, not read); on the CPU, raises TrainingError on a non-finite
        loss before updating the weights."""
        run, config = self.run, self.config
        torch.manual_seed(step_seed(config.seed, step, run))  # point subsets, mesh sampling, occupancy queries
        with torch.autocast(device_type=run.device.type, dtype=torch.bfloat16, enabled=config.amp):
            loss, terms = self.loss_fn(self.model, batch)
        if self.checks_every_step:
            self.stop_if_non_finite([(step + 1, loss.item())])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss, terms

    def stop_if_non_finite(self, losses: list[tuple[int, float]]) -> None:
        """Raise TrainingError naming the first step (numbered from 1, as logged) whose loss is
        not finite, on every rank at once (`agreed_first_bad_step`)."""
        run = self.run
        first_bad = next((step for step, loss in losses if not math.isfinite(loss)), None)
        first_bad = agreed_first_bad_step(first_bad, run.world_size, run.device)
        if first_bad is None:
            return
        value = dict(losses).get(first_bad, float("nan"))
        value = value if not math.isfinite(value) else "(on another rank)"
        last = f"{run.ckpt_path} (step {run.last_saved})" if run.last_saved is not None else "none written yet"
        raise TrainingError(
            f"non-finite loss {value} at step {first_bad - 1}; last good checkpoint: {last}. Try a lower --lr"
        )

    def state(self, step: int, resumable: bool = True) -> dict:
        """The checkpoint dict of the run at `step`; without `resumable`, what evaluation needs only
        (weights, model arguments, the run's record and mean shape), not the optimizer's and
        scheduler's state, which is two thirds of a vox checkpoint (Adam keeps two moments a weight)."""
        raw = self.model.module if hasattr(self.model, "module") else self.model
        monitor = self.monitor
        resume = (
            {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()} if resumable else {}
        )
        return {
            "model": raw.state_dict(),
            "model_args": self.model_args,
            **resume,
            "step": step,
            "args": self.flags,
            "mean_train_voxels": self.mean_train_voxels,
            "data": {k: v for k, v in self.data.items() if k != "train_shapes"},
            "train_shapes": self.data.get("train_shapes"),
            "world_size": self.run.world_size,
            "history": self.run.history,
            "val": self.val_history[-1] if self.val_history else None,
            "best": monitor.best if monitor else None,
            "val_history": self.val_history,
            "event_files": self.event_files(),
        }

    def event_files(self) -> list[str]:
        """The TensorBoard event files the run wrote (relative to its folder): its earlier starts'
        (from the checkpoint it resumed) and this one's."""
        earlier = list((self.run.checkpoint or {}).get("event_files", []))
        return sorted(set(earlier) | set(getattr(self.monitor, "event_files", [])))

    def write_record(self) -> None:
        """args.json: the run's flags, its model's settings and its history (every start and
        resume, with the steps and seconds each trained), rewritten at every checkpoint."""
        run = self.run
        record = {
            **self.flags,
            "model_args": self.model_args,
            "world_size": run.world_size,
            "history": run.history,
            "train_seconds": sum(entry["seconds"] for entry in run.history),
            "event_files": self.event_files(),
            "checkpoint_files": self.checkpoint_files,
        }
        atomic_write_json(os.path.join(self.config.out_dir, "args.json"), record)

    def save_checkpoint(self, state: dict, path: str) -> None:
        """A checkpoint written whole, and its size and hash noted for the run's record."""
        atomic_torch_save(state, path)
        self.checkpoint_files[os.path.relpath(path, self.config.out_dir)] = {
            "size": os.path.getsize(path),
            "sha256": file_digest(path),
        }

    def save(self, step: int) -> None:
        """The last checkpoint (and a copy named by its step with --keep_checkpoints, whole, so the run
        can be resumed from that step), args.json."""
        run = self.run
        run.history[-1].update(to_step=step, seconds=round(time.time() - run.started, 1))
        state = self.state(step)
        self.save_checkpoint(state, run.ckpt_path)
        # This run is safe now: the one it replaces goes, and is never put back over it (a stop from
        # here on leaves the set-aside run to the next run's `recover_run`, which removes it).
        aside, run.aside = run.aside, None
        if self.config.keep_checkpoints:
            self.save_checkpoint(state, step_checkpoint_path(run.ckpt_path, step))
        self.write_record()
        run.last_saved = step
        if aside:
            discard_aside(aside)
            tqdm_write(f"--overwrite: removed the earlier run set aside in {aside}")

    def validate(self, step: int) -> str:
        """Score the model on the val subset; keep the best checkpoint. Returns the log line."""
        scores, improved = self.monitor.validate(step, self.model, self.run.device)
        self.val_seconds += scores["seconds"]
        self.val_history.append({"step": step, **scores})
        if improved:
            self.save_checkpoint(self.state(step, resumable=False), best_checkpoint_path(self.run.ckpt_path))
            if self.run.is_main:
                self.write_record()  # at once: the run's record names every checkpoint it wrote
        return describe_validation(step, scores, self.monitor.best, self.config.selection_metric)

    def due(self, step: int) -> bool:
        """Whether the losses are read (and checked, and logged) after `step`: every step on the
        CPU; on CUDA every --log_freq steps and before a checkpoint or a validation, the same
        steps on every rank."""
        config = self.config
        return (
            self.checks_every_step
            or step % config.log_freq == 0
            or step % config.save_freq == 0
            or (config.val_freq > 0 and step % config.val_freq == 0)
            or step == config.max_iter
        )

    def read_losses(self, pending: list[tuple]) -> list[tuple]:
        """The pending steps' losses and terms read in one transfer, checked (`stop_if_non_finite`);
        each step as (step, loss, {term: value}, lr, seconds, data seconds)."""
        # Steps need not share their terms (a voxmesh step with nothing to cubify has no mesh
        # terms): one flat transfer of every step's values, split back by each step's own keys.
        flat = torch.cat(
            [
                torch.stack([loss.float(), *(value.float() for value in terms.values())])
                for _, loss, terms, *_ in pending
            ]
        )
        values, start, rows = flat.cpu().tolist(), 0, []
        for _, _, terms, *_ in pending:
            rows.append(values[start : start + 1 + len(terms)])
            start += 1 + len(terms)
        if not self.checks_every_step:
            self.stop_if_non_finite([(entry[0], row[0]) for entry, row in zip(pending, rows)])
        return [
            (step, row[0], dict(zip(terms, row[1:])), lr, seconds, data)
            for (step, _, terms, lr, seconds, data), row in zip(pending, rows)
        ]

    def fit(self, loader, start_step: int) -> list[float]:
        """Steps start_step..max_iter; returns their losses. The time a step waits for its
        prepared batch is its data time (logged, and in TensorBoard). Raises TrainingError on a
        non-finite loss (no checkpoint is written after it)."""
        from tqdm import tqdm

        config, run = self.config, self.run
        self.model.train()
        losses, pending, step = [], [], start_step
        bar = tqdm(
            total=config.max_iter,
            initial=start_step,
            desc=f"train {config.type}",
            unit="step",
            disable=None if run.is_main else True,  # None: no bar where stderr is not a terminal (a log file)
        )
        try:  # the bar is closed however the steps end, so an error's line starts a line of its own
            waited_since = self.fit_started = time.perf_counter()
            for batch in prefetch(loader, self.prepare_batch, start_step):
                ready = time.perf_counter()
                loss, terms = self.train_step(batch, step)
                step += 1
                lr = self.scheduler.get_last_lr()[0]
                done = time.perf_counter()
                pending.append((step, loss.detach(), terms, lr, done - waited_since, ready - waited_since))
                if run.is_main:
                    bar.update()
                    if step == start_step + ETA_AFTER_STEPS and step < config.max_iter:
                        tqdm.write(self.eta_line(step, start_step))
                if not self.due(step):
                    waited_since = time.perf_counter()
                    continue
                for step_read, loss_read, terms_read, lr_read, seconds, data_seconds in self.read_losses(pending):
                    losses.append(loss_read)
                    line = (
                        self.monitor.step(step_read, loss_read, terms_read, lr_read, seconds, data_seconds)
                        if run.is_main
                        else None
                    )
                    if line:
                        tqdm.write(line)
                pending = []
                if run.is_main:
                    if self.monitor.due(step):
                        tqdm.write(self.validate(step))
                    if step % config.save_freq == 0 or step == config.max_iter:
                        self.save(step)
                waited_since = time.perf_counter()  # validation and checkpoints are not data time
        finally:
            bar.close()
        if self.monitor:
            self.monitor.close()
        return losses

    def eta_line(self, step: int, start_step: int) -> str:
        """After the first steps: their speed and the minutes the run will take at that speed."""
        seconds = (time.perf_counter() - self.fit_started) / (step - start_step)
        left = (self.config.max_iter - step) * seconds / 60
        return (
            f"{seconds:.2f} s/step over the first {step - start_step} steps: about {left:.0f} more minutes to step "
            f"{self.config.max_iter} (validations add a few percent)"
        )

    def summary(self, step: int, losses: list[float]) -> str:
        """The run's last line: where it ended, its best validation and what validation cost."""
        seconds = time.time() - self.run.started
        final = losses[-1] if losses else float("nan")
        line = f"done: step {step}, final loss {final:.5f}; checkpoint {self.run.ckpt_path}"
        best = self.monitor.best if self.monitor else None
        if best:
            share = 100 * self.val_seconds / max(seconds, 1e-9)
            best_path = best_checkpoint_path(self.run.ckpt_path)
            metric = self.config.selection_metric
            line += f"; best val {metric} {best[metric]:.1f} at step {best['step']} ({best_path}); "
            line += f"validation took {self.val_seconds:.0f}s, {share:.1f}% of the run"
        return line
