"""tf.estimator 2.15's experimental hooks: InMemoryEvaluatorHook and the stop-at-checkpoint-step hook.

`InMemoryEvaluatorHook` evaluates while training, in the training process: it
copies the training session's variables into an in-memory checkpoint (TensorFlow's
`ram://` file system, never model_dir) and runs `Estimator.evaluate` on it, in its
own graph; the results go where `evaluate` writes them (model_dir/eval or
eval_<name>), as tf.estimator's did. It evaluates once the training session is
created, every `every_n_iter` training iterations, and at the end of training.
"""

from __future__ import annotations

import time
import uuid

import tensorflow as tf

from .checkpoints import global_step_of, latest_checkpoint
from .util import all_instances

_v1 = tf.compat.v1
_LOG = tf.get_logger()
_RAM_ROOT = "ram://in_memory_evaluator"


class InMemoryEvaluatorHook(_v1.train.SessionRunHook):
    """Evaluates the model being trained every `every_n_iter` iterations, without a checkpoint in model_dir.

        evaluator = tfe.experimental.InMemoryEvaluatorHook(est, eval_input_fn, every_n_iter=500)
        est.train(train_input_fn, hooks=[evaluator])

    Args:
      estimator: the `Estimator` being trained (its evaluate() is called).
      input_fn: the evaluation input_fn, as for Estimator.evaluate.
      steps: batches per evaluation (None: until the input ends).
      hooks: SessionRunHooks for each evaluation.
      name: the evaluation's name (summaries in model_dir/eval_<name>).
      every_n_iter: evaluate once every this many training iterations (> 0).

    Raises:
      ValueError: every_n_iter not > 0, or a config of several machines (ps
        tasks or more than one worker): it evaluates in one process only.
      TypeError: a hook that is not a SessionRunHook.
    """

    def __init__(self, estimator, input_fn, steps=None, hooks=None, name=None, every_n_iter=100):
        if every_n_iter is None or every_n_iter <= 0:
            raise ValueError(f"invalid every_n_iter={every_n_iter}: expected an integer > 0")
        config = estimator.config
        if config.num_ps_replicas > 0 or config.num_worker_replicas > 1:
            raise ValueError(
                "InMemoryEvaluator supports only single machine (aka Local) setting; this config has "
                f"{config.num_ps_replicas} ps and {config.num_worker_replicas} worker replicas"
            )
        hooks = all_instances(
            hooks, _v1.train.SessionRunHook, "InMemoryEvaluatorHook hooks must be SessionRunHooks"
        )
        self._estimator = estimator
        self._input_fn = input_fn
        self._steps = steps
        self._hooks = hooks
        self._name = name
        self._timer = _v1.train.SecondOrStepTimer(every_steps=every_n_iter)
        self._iter_count = 0
        self._saver = None
        self._dir = None

    def begin(self):
        self._timer.reset()
        self._iter_count = 0
        # Every saveable of the training graph; not added to the SAVERS collection,
        # so the Estimator's own checkpoints are unaffected.
        self._saver = _v1.train.Saver(sharded=True, name="in_memory_evaluator_saver")
        self._dir = f"{_RAM_ROOT}/{uuid.uuid4().hex}"

    def after_create_session(self, session, coord):
        """Evaluates the model as training starts (initialized or restored)."""
        self._evaluate(session)

    def after_run(self, run_context, run_values):
        self._iter_count += 1
        if self._timer.should_trigger_for_step(self._iter_count):
            self._evaluate(run_context.session)

    def end(self, session):
        """Evaluates the final model."""
        self._evaluate(session)

    def _evaluate(self, session):
        tf.io.gfile.makedirs(self._dir)
        try:
            path = self._saver.save(session, f"{self._dir}/model", write_meta_graph=False, write_state=False)
            self._estimator.evaluate(
                self._input_fn, steps=self._steps, hooks=self._hooks, checkpoint_path=path, name=self._name
            )
        finally:
            tf.io.gfile.rmtree(self._dir)
        self._timer.update_last_triggered_step(self._iter_count)


class _StopAtCheckpointStepHook(_v1.train.SessionRunHook):
    """A non-chief worker's hook: stops once model_dir has a checkpoint of global step >= last_step.

    Args:
      model_dir: where the chief writes its checkpoints.
      last_step: the global step to stop at.
      wait_after_file_check_secs: the pause after each look at model_dir once
        the local global step has reached last_step (many workers reading the
        same file strain the file system).
    """

    def __init__(self, model_dir, last_step, wait_after_file_check_secs=30):
        if last_step is None:
            raise ValueError("last_step must be specified.")
        if model_dir is None:
            raise ValueError("model_dir must be specified.")
        self._model_dir = model_dir
        self._last_step = last_step
        self._wait_after_file_check_secs = wait_after_file_check_secs
        self._global_step = None

    def begin(self):
        self._global_step = _v1.train.get_global_step()
        if self._global_step is None:
            raise RuntimeError("Global step should be created to use StopAtCheckpointStepHook.")

    def before_run(self, run_context):
        return _v1.train.SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values):
        if run_values.results + 1 < self._last_step:
            return
        if global_step_of(latest_checkpoint(self._model_dir)) >= self._last_step:
            run_context.request_stop()
        else:
            time.sleep(self._wait_after_file_check_secs)


def make_stop_at_checkpoint_step_hook(estimator, last_step, wait_after_file_check_secs=30):
    """A hook that stops training at `last_step`: on the chief a `StopAtStepHook`; on
    other workers one that waits for the chief's checkpoint of that step.

    Args:
      estimator: the `Estimator` being trained.
      last_step: the global step to stop at.
      wait_after_file_check_secs: a worker's pause between looks at model_dir.

    Returns:
      A `SessionRunHook`.
    """
    if estimator.config.is_chief:
        return _v1.train.StopAtStepHook(last_step=last_step)
    return _StopAtCheckpointStepHook(estimator.model_dir, last_step, wait_after_file_check_secs)
