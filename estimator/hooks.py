"""SessionRunHooks the Estimator adds to every run."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_v1 = tf.compat.v1
_LOG = tf.get_logger()


class NanLossError(_v1.train.NanLossDuringTrainingError):
    """Training stopped: the loss became NaN; the message names the step."""

    def __init__(self, step: int, loss: float):
        super().__init__()
        self.step = step
        self.loss = loss

    def __str__(self):
        return f"loss is {self.loss} at global step {self.step}: training stopped (NaN guard)"


class NanLossGuardHook(_v1.train.SessionRunHook):
    """Stops training with `NanLossError` when the loss is NaN (an infinite loss does not
    stop training, as in tf.estimator 2.15's NanTensorHook)."""

    def __init__(self, loss: tf.Tensor, global_step: tf.Tensor):
        self._loss = loss
        self._global_step = global_step

    def before_run(self, run_context):
        return _v1.train.SessionRunArgs(self._loss)

    def after_run(self, run_context, run_values):
        loss = run_values.results
        if np.isnan(loss):
            # Read after the step (reading it in the same run races with the update): the step that produced the loss.
            raise NanLossError(int(run_context.session.run(self._global_step)), float(loss))


class StepAndExampleCounterHook(_v1.train.StepCounterHook):
    """TensorFlow's StepCounterHook (`global_step/sec: N` and its summary), plus `examples/sec: N`.

    At each of its log lines it also logs `examples/sec: N` (and writes that
    summary): the batch size times global_step/sec, as TPUEstimator reported it.
    The batch size is fetched with the training step once every `every_n_steps`
    local steps (never with an extra `session.run`), so the per-step cost is the
    global step fetch of TensorFlow's hook alone.

    Args:
      batch_size: a scalar int Tensor, the examples in the current batch.
      every_n_steps: how often to log, in global steps.
      output_dir: where the summaries go (None: no summaries).
    """

    def __init__(self, batch_size: tf.Tensor, every_n_steps: int, output_dir: str | None = None):
        super().__init__(every_n_steps=every_n_steps, output_dir=output_dir)
        self._batch_size_tensor = batch_size
        self._every_n_steps = every_n_steps
        self._summary_dir = output_dir
        self._local_steps = 0
        self._batch_size = None

    def before_run(self, run_context):
        args = super().before_run(run_context)
        if self._local_steps % self._every_n_steps:
            return args
        return _v1.train.SessionRunArgs({"step": args.fetches, "batch_size": self._batch_size_tensor})

    def after_run(self, run_context, run_values):
        results = run_values.results
        if isinstance(results, dict):
            self._batch_size = int(results["batch_size"])
            run_values = run_values._replace(results=results["step"])
        self._local_steps += 1
        super().after_run(run_context, run_values)

    def _log_and_record(self, elapsed_steps, elapsed_time, global_step):
        # TensorFlow's extension point for what is logged at each trigger (TPUEstimator's
        # ExamplesPerSecondHook overrides it too); it runs only at the log cadence.
        super()._log_and_record(elapsed_steps, elapsed_time, global_step)
        if self._batch_size is None:
            return
        examples_per_sec = self._batch_size * elapsed_steps / elapsed_time
        if self._summary_dir:
            summary = _v1.Summary(
                value=[_v1.Summary.Value(tag="examples/sec", simple_value=examples_per_sec)]
            )
            _v1.summary.FileWriterCache.get(self._summary_dir).add_summary(summary, global_step)
        _LOG.info("examples/sec: %g", examples_per_sec)


class DatasetInitializerHook(_v1.train.SessionRunHook):
    """Runs an input iterator's initializer when the session is created."""

    def __init__(self, initializer):
        self._initializer = initializer

    def after_create_session(self, session, coord):
        session.run(self._initializer)


class StopAfterNEvalsHook(_v1.train.SessionRunHook):
    """Requests a stop after `num_evals` evaluation steps (None: until the input ends).

    Logs progress as tf.estimator did: `Evaluation [n/N]` after every step, or
    every N // 10 steps from 20 steps on, and after the last; `Evaluation [n]`
    after every step when N is None.
    """

    def __init__(self, num_evals: int | None):
        self._num_evals = num_evals
        self._done = 0
        self._log_every = 1 if num_evals is None or num_evals < 20 else num_evals // 10

    def after_run(self, run_context, run_values):
        self._done += 1
        if self._num_evals is None:
            _LOG.info("Evaluation [%d]", self._done)
            return
        if self._done % self._log_every == 0 or self._done == self._num_evals:
            _LOG.info("Evaluation [%d/%d]", self._done, self._num_evals)
        if self._done >= self._num_evals:
            run_context.request_stop()

    @property
    def evals_done(self) -> int:
        return self._done
