"""SessionRunHooks the Estimator adds to every run."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

_v1 = tf.compat.v1
_LOG = logging.getLogger("estimator")


class NanLossError(_v1.train.NanLossDuringTrainingError):
    """Training stopped: the loss became NaN or infinite; the message names the step."""

    def __init__(self, step: int, loss: float):
        super().__init__()
        self.step = step
        self.loss = loss

    def __str__(self):
        return f"loss is {self.loss} at global step {self.step}: training stopped (NaN guard)"


class NanLossGuardHook(_v1.train.SessionRunHook):
    """Stops training with `NanLossError` when the loss is not finite."""

    def __init__(self, loss: tf.Tensor, global_step: tf.Tensor):
        self._loss = loss
        self._global_step = global_step

    def before_run(self, run_context):
        return _v1.train.SessionRunArgs(self._loss)

    def after_run(self, run_context, run_values):
        loss = run_values.results
        if not np.isfinite(loss):
            # Read after the step (reading it in the same run races with the update): the step that produced the loss.
            raise NanLossError(int(run_context.session.run(self._global_step)), float(loss))


class LoggingHook(_v1.train.SessionRunHook):
    """Logs `step N: loss = x, s steps/s, e examples/s` every `every_n_steps` global steps.

    Args:
      loss: the scalar loss.
      global_step: the global step variable.
      batch_size: a scalar int Tensor, the examples in the current batch.
      every_n_steps: how often to log.
    """

    def __init__(self, loss: tf.Tensor, global_step: tf.Tensor, batch_size: tf.Tensor, every_n_steps: int):
        self._fetches = {"loss": loss, "step": global_step, "batch": batch_size}
        self._timer = _v1.train.SecondOrStepTimer(every_steps=every_n_steps)
        self._steps = 0
        self._examples = 0

    def before_run(self, run_context):
        return _v1.train.SessionRunArgs(self._fetches)

    def after_run(self, run_context, run_values):
        results = run_values.results
        step = int(results["step"]) + 1
        self._steps += 1
        self._examples += int(results["batch"])
        if self._timer.should_trigger_for_step(step):
            elapsed, _ = self._timer.update_last_triggered_step(step)
            rates = (
                f", {self._steps / elapsed:.3g} steps/s, {self._examples / elapsed:,.0f} examples/s"
                if elapsed
                else ""
            )
            _LOG.info("step %d: loss = %.5g%s", step, results["loss"], rates)
            self._steps = self._examples = 0


class DatasetInitializerHook(_v1.train.SessionRunHook):
    """Runs an input iterator's initializer when the session is created."""

    def __init__(self, initializer):
        self._initializer = initializer

    def after_create_session(self, session, coord):
        session.run(self._initializer)


class StopAfterNEvalsHook(_v1.train.SessionRunHook):
    """Requests a stop after `num_evals` evaluation steps (None: until the input ends)."""

    def __init__(self, num_evals: int | None):
        self._num_evals = num_evals
        self._done = 0

    def after_run(self, run_context, run_values):
        self._done += 1
        if self._num_evals is not None and self._done >= self._num_evals:
            run_context.request_stop()

    @property
    def evals_done(self) -> int:
        return self._done
