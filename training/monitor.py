"""What a training run shows while it runs: log lines, TensorBoard scalars and pictures, validation.

    monitor = Monitor(config, start_step, validator, best)          # on rank 0 only
    monitor.step(step, loss, terms, lr, step_seconds, data_seconds)  # every step
    scores = monitor.validate(step, model, device)                   # every --val_freq steps
    monitor.close()

TensorBoard logs go to <out_dir>/tensorboard: every step's total loss and unweighted terms,
learning rate, seconds per step, seconds waiting for data and their share; every validation's
metrics (`validation.py`) and a picture of a few val predictions. A resumed run writes to the
same folder with `purge_step` after its resume step, so steps logged after the last checkpoint by
the interrupted run are hidden, not shown twice. The best val score so far by the run's
--selection_metric (F1@0.05 by default) decides the best checkpoint (`trainer.py`).
"""

import os

from evaluation.metrics import F1_HEADLINE


def log_line(step: int, loss: float, terms: dict, lr: float, seconds: float, data_seconds: float, n: int) -> str:
    """One training log line: step, losses, learning rate, seconds per step and waiting for data."""
    terms_str = " ".join(f"{k} {v:.5f}" for k, v in terms.items())
    return (
        f"step {step:6d} | loss {loss:.5f} | {terms_str} | lr {lr:.2e} | {seconds / n:.3f} s/step | "
        f"data {data_seconds / n:.3f} s/step ({100 * data_seconds / max(seconds, 1e-9):.1f}%)"
    )


class Monitor:
    """Logs of one run (see the module docstring); only rank 0 makes one."""

    def __init__(self, config, start_step: int, validator, best: dict | None):
        """config: the run's `config.RunConfig` (out_dir, log_freq, val_freq, max_iter, selection_metric)."""
        from torch.utils.tensorboard import SummaryWriter

        self.config, self.validator, self.best = config, validator, best
        self.tensorboard_dir = os.path.join(config.out_dir, "tensorboard")
        # Steps are logged as 1..max_iter; a run resumed at step S logs S + 1 on: hide what the
        # interrupted run logged from there on.
        before = set(os.listdir(self.tensorboard_dir)) if os.path.isdir(self.tensorboard_dir) else set()
        self.writer = SummaryWriter(self.tensorboard_dir, purge_step=start_step + 1 if start_step > 0 else None)
        self.writer.flush()
        # The event files this run writes, for its record: --overwrite moves these, and no other file of the folder.
        made = set(os.listdir(self.tensorboard_dir)) - before
        self.event_files = sorted(os.path.join("tensorboard", name) for name in made)
        self.window = {"n": 0, "seconds": 0.0, "data_seconds": 0.0}

    def step(
        self, step: int, loss: float, terms: dict, lr: float, step_seconds: float, data_seconds: float
    ) -> str | None:
        """Log one step to TensorBoard; every --log_freq steps (and at the end) also return the
        text line over the steps since the last one."""
        scalars = {
            "loss/total": loss,
            **{f"loss/{k}": v for k, v in terms.items()},
            "lr": lr,
            "time/step_seconds": step_seconds,
            "time/data_seconds": data_seconds,
            "time/data_share": data_seconds / max(step_seconds, 1e-9),
        }
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)
        window = self.window
        window["n"] += 1
        window["seconds"] += step_seconds
        window["data_seconds"] += data_seconds
        if step % self.config.log_freq and step != self.config.max_iter:
            return None
        line = log_line(step, loss, terms, lr, window["seconds"], window["data_seconds"], window["n"])
        self.window = {"n": 0, "seconds": 0.0, "data_seconds": 0.0}
        return line

    def due(self, step: int) -> bool:
        return (
            self.validator is not None
            and self.config.val_freq > 0
            and (step % self.config.val_freq == 0 or step == self.config.max_iter)
        )

    def validate(self, step: int, model, device) -> tuple[dict, bool]:
        """Score the model on the val subset, log it; (scores, whether it is the best so far)."""
        raw = model.module if hasattr(model, "module") else model  # DDP's forward would wait for the other ranks
        scores = self.validator.score(raw, device)
        for key, value in scores.items():
            self.writer.add_scalar(f"val/{key}", value, step)
        self.writer.add_image(
            "val/input | prediction | GT", self.validator.picture(raw, device), step, dataformats="HWC"
        )
        self.writer.flush()
        metric = self.config.selection_metric
        improved = self.best is None or scores[metric] > self.best.get(metric, float("-inf"))
        if improved:
            self.best = {"step": step, **scores}
        return scores, improved

    def close(self) -> None:
        self.writer.close()


def describe_validation(step: int, scores: dict, best: dict, metric: str = F1_HEADLINE) -> str:
    """One log line of a validation; best: the best validation so far by `metric`."""
    iou = "".join(
        f", {k} {scores[k]:.3f}"
        + (f" (GT's {scores['sil_iou_gt']:.3f})" if k == "sil_iou" and "sil_iou_gt" in scores else "")
        for k in ("IoU_vox32", "IoU_labels", "sil_iou", "thin_recall")
        if k in scores
    )
    if "thin_recall_samples" in scores:  # how many of the val shapes have rods
        iou += f" over {scores['thin_recall_samples']} shapes"
    return (
        f"val at step {step}: F1@0.01 {scores['F1@0.01']:.1f}, {F1_HEADLINE} {scores[F1_HEADLINE]:.1f}{iou} "
        f"({scores['seconds']:.1f}s); best {metric} {best[metric]:.1f} at step {best['step']}"
    )


def scalars_of(tensorboard_dir: str) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of every scalar in a run's TensorBoard folder (for tests, curves)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(tensorboard_dir, size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
