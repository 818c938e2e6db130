"""`train_and_evaluate`: train, evaluating and exporting along the way.

Which role a process plays comes from TF_CONFIG (RunConfig.task_type): none (one
machine), or chief / worker / ps / evaluator in a cluster. Locally, the chief's
checkpoints trigger evaluations (at most one per `throttle_secs`) and after the
last checkpoint a final evaluation and export always runs.
"""

from __future__ import annotations

import collections
import logging
import os
import time

import tensorflow as tf

from . import distributed
from .exporter import Exporter
from .run_config import TaskType

_LOG = logging.getLogger("estimator")
EXPORT_DIR = "export"


class TrainSpec(collections.namedtuple("TrainSpec", ["input_fn", "max_steps", "hooks"])):
    """What to train on: input_fn, the global_step to stop at, extra hooks."""

    def __new__(cls, input_fn, max_steps=None, hooks=None):
        if not callable(input_fn):
            raise TypeError(f"TrainSpec input_fn must be callable, found {input_fn!r}")
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"TrainSpec max_steps must be > 0, got {max_steps}")
        return super().__new__(cls, input_fn, max_steps, tuple(hooks or ()))


class EvalSpec(
    collections.namedtuple(
        "EvalSpec", ["input_fn", "steps", "name", "hooks", "exporters", "start_delay_secs", "throttle_secs"]
    )
):
    """What to evaluate on and how often, and the exporters to run after each evaluation.

    Args:
      input_fn: the evaluation input.
      steps: batches per evaluation (None: the whole input).
      name: the evaluation's name (summaries in eval_<name>).
      hooks: extra SessionRunHooks for evaluation.
      exporters: an Exporter or a list of them (unique names).
      start_delay_secs: a distributed evaluator waits this long before its first evaluation.
      throttle_secs: at least this many seconds between evaluations.
    """

    def __new__(
        cls,
        input_fn,
        steps=100,
        name=None,
        hooks=None,
        exporters=None,
        start_delay_secs=120,
        throttle_secs=600,
    ):
        if not callable(input_fn):
            raise TypeError(f"EvalSpec input_fn must be callable, found {input_fn!r}")
        if steps is not None and steps <= 0:
            raise ValueError(f"EvalSpec steps must be > 0 or None, got {steps}")
        if isinstance(exporters, Exporter):
            exporters = [exporters]
        exporters = tuple(exporters or ())
        names = [e.name for e in exporters]
        if len(set(names)) != len(names):
            raise ValueError(f"exporter names must be unique, found {names}")
        for value, what in ((start_delay_secs, "start_delay_secs"), (throttle_secs, "throttle_secs")):
            if value < 0:
                raise ValueError(f"EvalSpec {what} must be >= 0, got {value}")
        return super().__new__(
            cls, input_fn, steps, name, tuple(hooks or ()), exporters, start_delay_secs, throttle_secs
        )


class _EvaluateAndExport:
    """Evaluates one checkpoint and runs the exporters on the result."""

    def __init__(self, estimator, eval_spec: EvalSpec):
        self._estimator = estimator
        self._spec = eval_spec
        self.last = None  # (checkpoint path, metrics, export results)
        self._exported = {}  # exporter name -> (checkpoint, export dir) of its last export

    def __call__(self, checkpoint_path: str, is_final: bool):
        if self.last and self.last[0] == checkpoint_path:
            metrics = self.last[1]
        else:
            metrics = self._estimator.evaluate(
                self._spec.input_fn,
                steps=self._spec.steps,
                hooks=self._spec.hooks,
                checkpoint_path=checkpoint_path,
                name=self._spec.name,
            )
        results = []
        for exporter in self._spec.exporters:
            done = self._exported.get(exporter.name)
            if done and done[0] == checkpoint_path:  # this checkpoint is exported already
                results.append(done[1])
                continue
            path = os.path.join(self._estimator.model_dir, EXPORT_DIR, exporter.name)
            result = exporter.export(self._estimator, path, checkpoint_path, metrics, is_final)
            if result is not None:
                self._exported[exporter.name] = (checkpoint_path, result)
                results.append(result)
        self.last = (checkpoint_path, metrics, results)
        return metrics, results


class _EvaluateOnNewCheckpoint(tf.compat.v1.train.CheckpointSaverListener):
    """Evaluates after a checkpoint is saved, at most once per throttle_secs.

    The first save (before any training step of this run) is skipped.
    """

    def __init__(self, evaluate: _EvaluateAndExport, throttle_secs: float, model_dir: str):
        self._evaluate = evaluate
        self._throttle_secs = throttle_secs
        self._model_dir = model_dir
        self._last_time = None
        self._first = True

    def after_save(self, session, global_step_value):
        if self._first:
            self._first = False
            self._last_time = time.time()
            return
        if time.time() - self._last_time < self._throttle_secs:
            return
        checkpoint = tf.train.latest_checkpoint(self._model_dir)
        _LOG.info("evaluating the checkpoint of step %d", global_step_value)
        self._evaluate(checkpoint, is_final=False)
        self._last_time = time.time()


def train_and_evaluate(estimator, train_spec: TrainSpec, eval_spec: EvalSpec):
    """Trains `estimator`, evaluating and exporting on the way and at the end.

    The role comes from TF_CONFIG (see distributed.py): none trains locally;
    chief, worker, ps and evaluator play their part in a cluster.

    Returns:
      (metrics of the final evaluation, export directories of its exporters); in
      a cluster the chief returns those, the evaluator its last evaluation's, and
      workers and ps (None, []).

    Raises:
      ValueError: the config saves no checkpoints (nothing to evaluate), or a
        cluster without ps tasks.
    """
    if not isinstance(train_spec, TrainSpec) or not isinstance(eval_spec, EvalSpec):
        raise TypeError("train_and_evaluate takes a TrainSpec and an EvalSpec")
    config = estimator.config
    if not (config.save_checkpoints_steps or config.save_checkpoints_secs):
        raise ValueError(
            "train_and_evaluate needs checkpoints: set save_checkpoints_steps or save_checkpoints_secs"
        )
    task_type = config.task_type
    if task_type is None:
        return _run_local(estimator, train_spec, eval_spec)
    if task_type == TaskType.PS:
        distributed.serve_ps(config)
        return None, []
    evaluate = _EvaluateAndExport(estimator, eval_spec)
    if task_type == TaskType.EVALUATOR:
        return distributed.run_evaluator(estimator, evaluate, eval_spec, train_spec.max_steps)
    if config.num_ps_replicas == 0:
        raise ValueError("TF_CONFIG: a cluster with chief and workers needs at least one ps task")
    server = distributed.start_server(config)
    if not config.is_chief:
        delay = distributed.worker_delay(config)
        _LOG.info("worker %d: starting in %.0f s", config.task_id, delay)
        time.sleep(delay)
    try:
        estimator.train(train_spec.input_fn, hooks=train_spec.hooks, max_steps=train_spec.max_steps)
    finally:
        distributed.signal_done(config, server)
    if not config.is_chief:
        return None, []
    return evaluate(estimator.latest_checkpoint(), is_final=True)


def _run_local(estimator, train_spec, eval_spec):
    evaluate = _EvaluateAndExport(estimator, eval_spec)
    listener = _EvaluateOnNewCheckpoint(evaluate, eval_spec.throttle_secs, estimator.model_dir)
    estimator.train(
        train_spec.input_fn,
        hooks=train_spec.hooks,
        max_steps=train_spec.max_steps,
        saving_listeners=[listener],
    )
    checkpoint = estimator.latest_checkpoint()
    return evaluate(checkpoint, is_final=True)
