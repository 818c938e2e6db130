"""Early stopping: hooks that stop training when an evaluated metric says so.

As tf.estimator 2.15's `tf.estimator.experimental.stop_if_*_hook`: the chief's hook
reads the evaluation results from the event files `Estimator.evaluate` writes in
the eval dir (`model_dir/eval` by default), every `run_every_secs` seconds or
`run_every_steps` steps; when the condition holds it sets a shared
`signal_early_stopping/STOP` variable and stops. The other workers' hook reads
that variable (on the ps tasks in a cluster) and stops too.

    hook = tfe.experimental.stop_if_no_decrease_hook(est, "loss", 1000, run_every_secs=None, run_every_steps=100)
    tfe.train_and_evaluate(est, tfe.TrainSpec(train_input_fn, hooks=[hook]), eval_spec)
"""

from __future__ import annotations

import collections
import operator
import os

import tensorflow as tf

_v1 = tf.compat.v1
_LOG = tf.get_logger()
_EVENT_FILE_GLOB_PATTERN = "events.out.tfevents.*"


def make_early_stopping_hook(estimator, should_stop_fn, run_every_secs=60, run_every_steps=None):
    """A hook that stops training when `should_stop_fn()` returns True.

    Args:
      estimator: the `Estimator` being trained.
      should_stop_fn: a callable taking no arguments, returning a bool; the chief
        calls it every run_every_secs seconds or run_every_steps global steps.
      run_every_secs: seconds between calls (default 60); None to use steps.
      run_every_steps: global steps between calls; set run_every_secs=None with it.

    Returns:
      A `SessionRunHook`: on the chief it calls should_stop_fn and signals the
      other workers; on the others it stops once the chief has signalled.

    Raises:
      TypeError: estimator is not an Estimator, or should_stop_fn not callable.
      ValueError: both run_every_secs and run_every_steps are set.
    """
    _check_estimator(estimator)
    if run_every_secs is not None and run_every_steps is not None:
        raise ValueError(
            "Only one of `run_every_secs` and `run_every_steps` must be set, found "
            f"run_every_secs={run_every_secs} and run_every_steps={run_every_steps}"
        )
    if estimator.config.is_chief:
        return _StopOnPredicateHook(should_stop_fn, run_every_secs, run_every_steps)
    return _CheckForStoppingHook()


def stop_if_higher_hook(
    estimator, metric_name, threshold, eval_dir=None, min_steps=0, run_every_secs=60, run_every_steps=None
):
    """Stops training once an evaluation at global step >= min_steps has `metric_name` > threshold.

    Args:
      estimator: the `Estimator` being trained.
      metric_name: an evaluation metric ("accuracy", "loss", ...).
      threshold: the value to exceed.
      eval_dir: where the evaluation summaries are (default estimator.eval_dir()).
      min_steps: evaluations of earlier global steps are ignored.
      run_every_secs, run_every_steps: how often to check (see make_early_stopping_hook).

    Returns:
      A `SessionRunHook` for TrainSpec.hooks or Estimator.train.
    """
    return _stop_if_threshold_crossed_hook(
        estimator, metric_name, threshold, True, eval_dir, min_steps, run_every_secs, run_every_steps
    )


def stop_if_lower_hook(
    estimator, metric_name, threshold, eval_dir=None, min_steps=0, run_every_secs=60, run_every_steps=None
):
    """Stops training once an evaluation at global step >= min_steps has `metric_name` < threshold.

    Arguments and result as stop_if_higher_hook.
    """
    return _stop_if_threshold_crossed_hook(
        estimator, metric_name, threshold, False, eval_dir, min_steps, run_every_secs, run_every_steps
    )


def stop_if_no_increase_hook(
    estimator,
    metric_name,
    max_steps_without_increase,
    eval_dir=None,
    min_steps=0,
    run_every_secs=60,
    run_every_steps=None,
):
    """Stops training when `metric_name` has not increased for max_steps_without_increase global steps.

    The steps are counted between evaluations (from the best one to the newest);
    evaluations before min_steps are ignored. Other arguments as stop_if_higher_hook.
    """
    return _stop_if_no_metric_improvement_hook(
        estimator,
        metric_name,
        max_steps_without_increase,
        True,
        eval_dir,
        min_steps,
        run_every_secs,
        run_every_steps,
    )


def stop_if_no_decrease_hook(
    estimator,
    metric_name,
    max_steps_without_decrease,
    eval_dir=None,
    min_steps=0,
    run_every_secs=60,
    run_every_steps=None,
):
    """Stops training when `metric_name` has not decreased for max_steps_without_decrease global steps.

    Arguments as stop_if_no_increase_hook.
    """
    return _stop_if_no_metric_improvement_hook(
        estimator,
        metric_name,
        max_steps_without_decrease,
        False,
        eval_dir,
        min_steps,
        run_every_secs,
        run_every_steps,
    )


def read_eval_metrics(eval_dir: str) -> collections.OrderedDict:
    """The evaluation results in eval_dir's event files.

    Returns:
      {global step: {metric name: float}}, in increasing step order (simple
      scalar summaries only; several files for the same step are merged).
    """
    by_step = collections.defaultdict(dict)
    for event in _summaries(eval_dir):
        if not event.HasField("summary"):
            continue
        metrics = {v.tag: v.simple_value for v in event.summary.value if v.HasField("simple_value")}
        if metrics:
            by_step[event.step].update(metrics)
    return collections.OrderedDict(sorted(by_step.items()))


def _summaries(eval_dir: str):
    """Yields the Event protos of eval_dir's event files; a corrupt file's tail is skipped."""
    if not tf.io.gfile.exists(eval_dir):
        return
    for path in sorted(tf.io.gfile.glob(os.path.join(eval_dir, _EVENT_FILE_GLOB_PATTERN))):
        try:
            yield from _v1.train.summary_iterator(path)
        except tf.errors.DataLossError as e:
            _LOG.warning(
                "Skipping rest of the file due to encountering data corruption error; file path: %s; "
                "original error raised by `tf.train.summary_iterator`: %s",
                path,
                e,
            )


def _check_estimator(estimator) -> None:
    from .estimator import Estimator  # estimator.py imports this package's modules

    if not isinstance(estimator, Estimator):
        raise TypeError(f"`estimator` must be an Estimator, found {type(estimator).__name__}")


def _stop_if_threshold_crossed_hook(
    estimator, metric_name, threshold, higher_is_better, eval_dir, min_steps, run_every_secs, run_every_steps
):
    _check_estimator(estimator)
    eval_dir = eval_dir or estimator.eval_dir()
    better = operator.gt if higher_is_better else operator.lt
    relation = "greater than" if higher_is_better else "less than"

    def should_stop() -> bool:
        for step, metrics in read_eval_metrics(eval_dir).items():
            if step < min_steps:
                continue
            value = _metric(metrics, metric_name, step, eval_dir)
            if better(value, threshold):
                _LOG.info(
                    'At step %s, metric "%s" has value %s which is %s the configured threshold (%s) for '
                    "early stopping.",
                    step,
                    metric_name,
                    value,
                    relation,
                    threshold,
                )
                return True
        return False

    return make_early_stopping_hook(estimator, should_stop, run_every_secs, run_every_steps)


def _stop_if_no_metric_improvement_hook(
    estimator,
    metric_name,
    max_steps_without_improvement,
    higher_is_better,
    eval_dir,
    min_steps,
    run_every_secs,
    run_every_steps,
):
    _check_estimator(estimator)
    eval_dir = eval_dir or estimator.eval_dir()
    better = operator.gt if higher_is_better else operator.lt
    change = "increase" if higher_is_better else "decrease"

    def should_stop() -> bool:
        best, best_step = None, None
        for step, metrics in read_eval_metrics(eval_dir).items():
            if step < min_steps:
                continue
            value = _metric(metrics, metric_name, step, eval_dir)
            if best is None or better(value, best):
                best, best_step = value, step
            if step - best_step >= max_steps_without_improvement:
                _LOG.info(
                    'No %s in metric "%s" for %s steps, which is greater than or equal to max steps (%s) '
                    "configured for early stopping.",
                    change,
                    metric_name,
                    step - best_step,
                    max_steps_without_improvement,
                )
                return True
        return False

    return make_early_stopping_hook(estimator, should_stop, run_every_secs, run_every_steps)


def _metric(metrics: dict, name: str, step: int, eval_dir: str) -> float:
    try:
        return metrics[name]
    except KeyError:
        raise KeyError(
            f'early stopping: no metric "{name}" in the evaluation of step {step} in {eval_dir}; '
            f"it has {sorted(metrics)}"
        ) from None


def _get_or_create_stop_var():
    """The bool variable `signal_early_stopping/STOP`, shared by every worker of a cluster."""
    with _v1.variable_scope("signal_early_stopping", values=[], reuse=_v1.AUTO_REUSE):
        return _v1.get_variable(
            "STOP",
            shape=[],
            dtype=tf.bool,
            initializer=_v1.initializers.constant(False),
            collections=[_v1.GraphKeys.GLOBAL_VARIABLES],
            trainable=False,
        )


class _StopOnPredicateHook(_v1.train.SessionRunHook):
    """Calls should_stop_fn periodically; when it returns True, sets STOP and requests a stop."""

    def __init__(self, should_stop_fn, run_every_secs=60, run_every_steps=None):
        if not callable(should_stop_fn):
            raise TypeError(f"`should_stop_fn` must be callable, found {should_stop_fn!r}")
        self._should_stop_fn = should_stop_fn
        self._timer = _v1.train.SecondOrStepTimer(every_secs=run_every_secs, every_steps=run_every_steps)
        self._global_step = None
        self._stop_op = None

    def begin(self):
        self._global_step = _v1.train.get_global_step()
        if self._global_step is None:
            raise RuntimeError("early stopping needs a global step in the training graph")
        self._stop_op = _v1.assign(_get_or_create_stop_var(), True)

    def before_run(self, run_context):
        return _v1.train.SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values):
        global_step = run_values.results
        if not self._timer.should_trigger_for_step(global_step):
            return
        self._timer.update_last_triggered_step(global_step)
        if self._should_stop_fn():
            _LOG.info("Requesting early stopping at global step %d", global_step)
            run_context.session.run(self._stop_op)
            run_context.request_stop()


class _CheckForStoppingHook(_v1.train.SessionRunHook):
    """A non-chief worker's hook: stops once the chief has set STOP."""

    def __init__(self):
        self._stop_var = None

    def begin(self):
        self._stop_var = _get_or_create_stop_var()

    def before_run(self, run_context):
        return _v1.train.SessionRunArgs(self._stop_var)

    def after_run(self, run_context, run_values):
        if run_values.results:
            _LOG.info("Early stopping requested, suspending run.")
            run_context.request_stop()
