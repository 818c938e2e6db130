"""`add_metrics`: a copy of an Estimator that reports more eval metrics (tf.estimator.add_metrics)."""

from __future__ import annotations

from .estimator import Estimator
from .head.metric_ops import metric_ops
from .mode_keys import ModeKeys
from .util import fn_args

_METRIC_FN_ARGS = ("features", "labels", "predictions", "config")
_MODEL_FN_ARGS = ("labels", "mode", "params", "config")


def add_metrics(estimator: Estimator, metric_fn) -> Estimator:
    """A new Estimator whose evaluation also reports metric_fn's metrics.

    Args:
      estimator: an `Estimator` (canned or not); the new one shares its model_fn,
        model_dir, config, params and warm-start settings.
      metric_fn: takes any of `features`, `labels`, `predictions`, `config` (by
        name) and returns {name: tf.keras Metric (updated) or (value, update_op)}.
        A name already among the estimator's metrics replaces that metric.

    Returns:
      A new `Estimator`.

    Raises:
      ValueError: metric_fn takes other arguments.
    """
    unexpected = sorted(set(fn_args(metric_fn)) - set(_METRIC_FN_ARGS))
    if unexpected:
        raise ValueError(f"metric_fn may only take {_METRIC_FN_ARGS}; it also takes {unexpected}")
    model_fn = estimator.model_fn
    model_fn_args = fn_args(model_fn)

    def new_model_fn(features, labels, mode, params, config):
        given = {"labels": labels, "mode": mode, "params": params, "config": config}
        kwargs = {name: given[name] for name in _MODEL_FN_ARGS if name in model_fn_args}
        spec = model_fn(features=features, **kwargs)
        if mode != ModeKeys.EVAL:
            return spec
        given = {"features": features, "labels": labels, "predictions": spec.predictions, "config": config}
        new_metrics = metric_fn(**{name: given[name] for name in fn_args(metric_fn)})
        return spec._replace(eval_metric_ops={**spec.eval_metric_ops, **metric_ops(new_metrics)})

    return Estimator(
        model_fn=new_model_fn,
        model_dir=estimator.model_dir,
        config=estimator.config,
        params=estimator.params if "params" in model_fn_args else None,
        warm_start_from=getattr(estimator, "_warm_start_settings", None),
    )
