"""What a training job prints: one line per epoch (or per N steps), one per evaluation.

    epoch 3/7  step 1266/2953  loss 0.4120  2,345 examples/s  ETA 1:52
    eval  epoch 3  step 1266: accuracy 0.9012, cross_entropy 0.2811, loss 0.2811, ...

`ProgressHook` is a SessionRunHook for the training loop (with a tqdm bar when
stderr is a terminal); `EvaluationLog` is an Exporter, so `train_and_evaluate`
hands it each evaluation's results: it prints the line and adds the row to the
job dir's metrics history (schemas/jobdir.py). Both log through the "trainer"
logger; tf.estimator's own INFO log stays on TensorFlow's logger (`-v`).
"""

from __future__ import annotations

import logging
import numbers
import sys
import time

import tensorflow as tf
from tqdm import tqdm

import estimator as tfe
from schemas import jobdir

_LOG = logging.getLogger("trainer")
v1 = tf.compat.v1
MAX_PROGRESS_LINES = 20  # a long job prints every few epochs rather than every epoch


def progress_interval(max_steps: int, epoch_steps: float) -> int:
    """Steps between progress lines: one epoch, or more when that would print over MAX_PROGRESS_LINES."""
    return max(1, round(epoch_steps), -(-max_steps // MAX_PROGRESS_LINES))


def _duration(secs: float) -> str:
    secs = max(0, round(secs))
    hours, rest = divmod(secs, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _epochs(step: int, epoch_steps: float) -> str:
    return f"{step / epoch_steps:.3g}"


class ProgressHook(v1.train.SessionRunHook):
    """Logs epoch k/n, step, training loss, examples/s and the time left, every `every_steps`.

    examples/s counts the time inside training steps only (`listener` marks where a
    checkpoint and its evaluation begin); the time left is the wall time per step so far
    (evaluations and checkpoints included) times the steps left.
    """

    def __init__(self, max_steps: int, epoch_steps: float, batch_size: int, every_steps: int):
        """epoch_steps: steps per pass over the train split (train examples / batch size)."""
        self._max_steps, self._per_epoch = max_steps, epoch_steps
        self._batch_size, self._every = batch_size, every_steps
        self._bar = None

    def begin(self):
        self._global_step = v1.train.get_global_step()
        # The Estimator adds the EstimatorSpec's loss to LOSSES last, after model_fn (as tf.estimator did).
        losses = v1.get_collection(v1.GraphKeys.LOSSES)
        self._loss = losses[-1] if losses else tf.constant(float("nan"))
        self._save_started = None

    def listener(self) -> v1.train.CheckpointSaverListener:
        """A saving listener for the TrainSpec: it marks when a checkpoint (and the evaluation
        and exports after it) starts, so that examples/s counts training steps only."""
        hook = self

        class _SaveStarted(v1.train.CheckpointSaverListener):
            def before_save(self, session, global_step_value):
                hook._save_started = time.time()

        return _SaveStarted()

    def after_create_session(self, session, coord):
        self._start_step = self._last_step = int(session.run(self._global_step))
        self._start = self._last_time = time.time()
        self._train_secs, self._trained = 0.0, 0
        if sys.stderr.isatty():
            self._bar = tqdm(total=self._max_steps, initial=self._start_step, unit="step", leave=False)

    def before_run(self, run_context):
        self._before = time.time()
        return v1.train.SessionRunArgs({"step": self._global_step, "loss": self._loss})

    def after_run(self, run_context, run_values):
        now = time.time()
        self._train_secs += (self._save_started or now) - self._before
        self._save_started = None
        self._trained += 1
        step = int(run_values.results["step"]) + 1  # the step just run (the fetch reads it before the update)
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
        if step % self._every == 0 or step >= self._max_steps:
            self._report(step, float(run_values.results["loss"]), now)

    def _report(self, step: int, loss: float, now: float) -> None:
        rate = self._trained * self._batch_size / max(self._train_secs, 1e-9)
        left = (now - self._start) / max(step - self._start_step, 1) * max(self._max_steps - step, 0)
        total_epochs = _epochs(self._max_steps, self._per_epoch)
        _LOG.info(
            "epoch %s/%s  step %d/%d  loss %.4f  %s examples/s  ETA %s",
            _epochs(step, self._per_epoch),
            total_epochs,
            step,
            self._max_steps,
            loss,
            f"{rate:,.0f}",
            _duration(left),
        )
        self._train_secs, self._trained = 0.0, 0

    def end(self, session):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EvaluationLog(tfe.Exporter):
    """Prints each evaluation's metrics and adds them to JOB_DIR/metrics_history.csv.

    An Exporter that exports nothing: `train_and_evaluate` passes every exporter
    the results of each evaluation, and the final one again; a step already in
    the history is not logged twice.
    """

    def __init__(self, job_dir: str, epoch_steps: float):
        """epoch_steps: steps per pass over the train split (train examples / batch size)."""
        self._job_dir, self._per_epoch = job_dir, epoch_steps

    @property
    def name(self) -> str:
        return "evaluation_log"

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        step = int(eval_result["global_step"])
        scalars = {
            k: float(v)
            for k, v in sorted(eval_result.items())
            if k != "global_step" and isinstance(v, numbers.Real) and not isinstance(v, bool)
        }
        row = {
            "epoch": round(step / self._per_epoch, 4),
            "step": step,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **scalars,
        }
        if jobdir.append_metrics_history(self._job_dir, row):
            shown = ", ".join(f"{k} {v:.4f}" for k, v in scalars.items())
            _LOG.info("eval  epoch %s  step %d: %s", _epochs(step, self._per_epoch), step, shown)
        return None
