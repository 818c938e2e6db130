"""`train_and_evaluate`: train, evaluating and exporting along the way.

Which role a process plays comes from TF_CONFIG (RunConfig.task_type): no cluster
(one machine), or chief / worker / ps / evaluator in a cluster. Locally, and on a
"master" (Cloud ML Engine's name for the chief, which tf.estimator let evaluate),
the chief's checkpoint saves trigger evaluations (at most one per `throttle_secs`;
the saves of the Estimator's CheckpointSaverHook, or of the user's own
CheckpointSaverHook in TrainSpec.hooks), and the checkpoint saved when training
ends is evaluated unless it was just evaluated; each evaluation runs every
exporter (`is_the_final_export` once global_step >= TrainSpec.max_steps). As in
tf.estimator 2.15, the results are those of the last evaluation, with one export
result per exporter (None where it exported nothing), and (None, None) when
training made no step (max_steps was reached before). The log lines are
tf.estimator 2.15's, through TensorFlow's logger.
"""

from __future__ import annotations

import collections
import os
import time

import tensorflow as tf

from . import distributed, export_dirs
from .exporter import Exporter
from .run_config import TaskType
from .util import all_instances

_v1 = tf.compat.v1
_LOG = tf.get_logger()
EXPORT_DIR = "export"


def _hooks(hooks, owner: str) -> tuple:
    return all_instances(hooks, _v1.train.SessionRunHook, f"{owner} hooks must be SessionRunHook instances")


def _saving_listeners(listeners) -> tuple:
    return all_instances(
        listeners,
        _v1.train.CheckpointSaverListener,
        "TrainSpec saving_listeners must be CheckpointSaverListener instances",
    )


class TrainSpec(collections.namedtuple("TrainSpec", ["input_fn", "max_steps", "hooks", "saving_listeners"])):
    """What to train on: input_fn, the global_step to stop at, extra hooks and saving listeners.

    Args:
      input_fn: the training input (see Estimator.train).
      max_steps: the global_step to stop at (> 0), or None: until the input ends.
      hooks: SessionRunHooks run on every training task (chief and workers).
      saving_listeners: CheckpointSaverListeners run on the chief around each
        checkpoint (before train_and_evaluate's own evaluation listener).

    Raises:
      TypeError: input_fn not callable, a hook or listener of the wrong type.
      ValueError: max_steps <= 0.
    """

    def __new__(cls, input_fn, max_steps=None, hooks=None, saving_listeners=None):
        if not callable(input_fn):
            raise TypeError(f"TrainSpec input_fn must be callable, found {input_fn!r}")
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"TrainSpec max_steps must be > 0, got {max_steps}")
        return super().__new__(
            cls, input_fn, max_steps, _hooks(hooks, "TrainSpec"), _saving_listeners(saving_listeners)
        )


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

    Raises:
      TypeError: input_fn not callable, a name that is not a string, a hook or
        exporter of the wrong type.
      ValueError: steps <= 0, exporter names not unique, negative delays.
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
        if name is not None and not isinstance(name, str):
            raise TypeError(f"EvalSpec name must be a string, found {name!r}")
        if isinstance(exporters, Exporter):
            exporters = [exporters]
        exporters = all_instances(exporters, Exporter, "EvalSpec exporters must be Exporters")
        names = [e.name for e in exporters]
        if len(set(names)) != len(names):
            raise ValueError(f"exporter names must be unique, found {names}")
        for value, what in ((start_delay_secs, "start_delay_secs"), (throttle_secs, "throttle_secs")):
            if value < 0:
                raise ValueError(f"EvalSpec {what} must be >= 0, got {value}")
        return super().__new__(
            cls, input_fn, steps, name, _hooks(hooks, "EvalSpec"), exporters, start_delay_secs, throttle_secs
        )


class _EvaluateAndExport:
    """Evaluates one checkpoint and runs every exporter on the result.

    Returns (metrics, export results): one result per exporter, in order, None
    where it exported nothing. `is_the_final_export` is global_step >= max_steps
    (never without max_steps), as tf.estimator 2.15 decided it.
    """

    def __init__(self, estimator, eval_spec: EvalSpec, max_steps=None):
        self._estimator = estimator
        self._spec = eval_spec
        self._max_steps = max_steps
        self.last = None  # (checkpoint path, metrics, export results)
        self._exported = {}  # exporter name -> (checkpoint, export dir) of its last export

    def __call__(self, checkpoint_path: str, is_final: bool | None = None):
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
        if is_final is None:
            is_final = bool(self._max_steps) and metrics[_v1.GraphKeys.GLOBAL_STEP] >= self._max_steps
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


class _EvaluateOnNewCheckpoint(_v1.train.CheckpointSaverListener):
    """Evaluates after a checkpoint is saved, at most once per throttle_secs (tf.estimator 2.15's
    listener): the first save of a run (before any step) is skipped, the next one is
    evaluated, later ones when throttle_secs have passed since the last evaluation; at the
    end of training the last save is evaluated unless its step was. `result` holds the
    last evaluation's (metrics, export results), None before any.
    """

    def __init__(self, evaluate: _EvaluateAndExport, throttle_secs: float, model_dir: str):
        self._evaluate = evaluate
        self._throttle_secs = throttle_secs
        self._model_dir = model_dir
        self._timer = None
        self._first = True
        self._evaluated_path = None
        self.result = None

    def begin(self):
        self._timer = _v1.train.SecondOrStepTimer(every_secs=self._throttle_secs)
        self._first = True

    def after_save(self, session, global_step_value):
        if self._first:
            self._first = False
            return
        if not self._timer.should_trigger_for_step(global_step_value):
            _LOG.info("Skip the current checkpoint eval due to throttle secs (%s secs).", self._throttle_secs)
            return
        self._evaluate_newest(global_step_value)

    def end(self, session, global_step_value):
        if global_step_value != self._timer.last_triggered_step():
            self._evaluate_newest(global_step_value)

    def _evaluate_newest(self, global_step_value):
        self._timer.update_last_triggered_step(global_step_value)
        path = tf.train.latest_checkpoint(self._model_dir)
        if path is None or path == self._evaluated_path:
            status = "missing checkpoint" if path is None else "no new checkpoint"
            raise RuntimeError(f"There was no new checkpoint after the training. Eval status: {status}")
        self._evaluated_path = path
        self.result = self._evaluate(path)


def train_and_evaluate(estimator, train_spec: TrainSpec, eval_spec: EvalSpec):
    """Trains `estimator`, evaluating and exporting on the way and at the end.

    The role comes from TF_CONFIG (see distributed.py): without a cluster the
    process trains locally; chief, worker, ps and evaluator play their part in a
    cluster (a cluster of a single chief trains in process). A "master" also
    evaluates and exports each new checkpoint while it trains, as locally.

    Returns:
      (metrics of the last evaluation, one export result per exporter: its export
      directory as bytes, or None); (None, None) when training made no step (a
      model dir already at max_steps). In a cluster the chief returns those, the
      evaluator its last evaluation's, and workers and ps (None, []).

    Raises:
      TypeError: estimator, train_spec or eval_spec of the wrong type.
      ValueError: nothing saves checkpoints to evaluate (neither RunConfig's
        save_checkpoints_steps/_secs nor a CheckpointSaverHook in TrainSpec.hooks),
        or a cluster of several tasks without ps tasks.
      RuntimeError: training ended without a checkpoint that was not evaluated yet.
    """
    from .estimator import Estimator  # estimator.py imports this package's modules

    if not isinstance(estimator, Estimator):
        raise TypeError(f"`estimator` must be an Estimator, found {type(estimator).__name__}")
    if not isinstance(train_spec, TrainSpec) or not isinstance(eval_spec, EvalSpec):
        raise TypeError(
            "train_and_evaluate takes a TrainSpec and an EvalSpec, found "
            f"{type(train_spec).__name__} and {type(eval_spec).__name__}"
        )
    config = estimator.config
    _LOG.info("Not using Distribute Coordinator.")
    task_type = config.task_type
    if not config.cluster_spec and task_type != TaskType.EVALUATOR:
        _LOG.info("Running training and evaluation locally (non-distributed).")
        return _run_local(estimator, train_spec, eval_spec)
    if task_type == TaskType.PS:
        distributed.serve_ps(config)
        return None, []
    evaluate = _EvaluateAndExport(estimator, eval_spec, train_spec.max_steps)
    if task_type == TaskType.EVALUATOR:
        return distributed.run_evaluator(estimator, evaluate, eval_spec, train_spec.max_steps)
    server = None
    if not config.master:
        _LOG.info("Skip starting Tensorflow server as there is only one node in the cluster.")
    elif config.num_ps_replicas == 0:
        raise ValueError("TF_CONFIG: a cluster with chief and workers needs at least one ps task")
    else:
        server = distributed.start_server(config)
    delay = distributed.worker_delay(config)
    if delay > 0:
        _LOG.info("Waiting %d secs before starting training.", delay)
        time.sleep(delay)
    listeners = list(train_spec.saving_listeners) if config.is_chief else None
    evaluating = None
    if task_type == TaskType.MASTER:  # as tf.estimator's master (not chief): evaluate each new checkpoint
        evaluating = _EvaluateOnNewCheckpoint(evaluate, eval_spec.throttle_secs, estimator.model_dir)
        listeners.append(evaluating)
    try:
        estimator.train(
            train_spec.input_fn,
            hooks=train_spec.hooks,
            max_steps=train_spec.max_steps,
            saving_listeners=listeners,
        )
    finally:
        if server is not None:
            distributed.signal_done(config, server)
    if not config.is_chief:
        return None, []
    if evaluating is not None:
        return evaluating.result or (None, None)
    return evaluate(estimator.latest_checkpoint())


def _run_local(estimator, train_spec, eval_spec):
    config = estimator.config
    _LOG.info(
        "Start train and evaluate loop. The evaluate will happen after every checkpoint. "
        "Checkpoint frequency is determined based on RunConfig arguments: "
        f"save_checkpoints_steps {config.save_checkpoints_steps} or "
        f"save_checkpoints_secs {config.save_checkpoints_secs}."
    )
    evaluate = _EvaluateAndExport(estimator, eval_spec, train_spec.max_steps)
    listener = _EvaluateOnNewCheckpoint(evaluate, eval_spec.throttle_secs, estimator.model_dir)
    estimator.train(
        train_spec.input_fn,
        hooks=train_spec.hooks,
        max_steps=train_spec.max_steps,
        saving_listeners=[*train_spec.saving_listeners, listener],
    )
    if listener.result is None:  # no step: the model dir was at max_steps already
        return _redo_interrupted_exports(estimator, eval_spec, evaluate)
    return listener.result


def _redo_interrupted_exports(estimator, eval_spec, evaluate):
    """(None, None), as tf.estimator 2.15 returned when there was nothing to train; but when a
    crash interrupted an export (a temp-* directory newer than the exporter's newest export),
    the newest checkpoint is evaluated and exported again (2.15 never redid it)."""
    interrupted = [
        exporter.name
        for exporter in eval_spec.exporters
        if export_dirs.interrupted_exports(os.path.join(estimator.model_dir, EXPORT_DIR, exporter.name))
    ]
    checkpoint_path = estimator.latest_checkpoint()
    if not (interrupted and checkpoint_path):
        return None, None
    _LOG.info(
        "Nothing to train (max_steps reached); redoing the exports a crash interrupted (%s) from %s",
        ", ".join(interrupted),
        checkpoint_path,
    )
    return evaluate(checkpoint_path)
