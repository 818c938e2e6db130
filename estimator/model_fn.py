"""`EstimatorSpec`: what a model_fn returns, validated for its mode."""

from __future__ import annotations

import collections
import sys

import tensorflow as tf

from . import export
from .mode_keys import ModeKeys
from .util import all_instances

_v1 = tf.compat.v1
LOSS_METRIC_KEY = "loss"

_FIELDS = (
    "mode",
    "predictions",
    "loss",
    "train_op",
    "eval_metric_ops",
    "export_outputs",
    "training_chief_hooks",
    "training_hooks",
    "scaffold",
    "evaluation_hooks",
    "prediction_hooks",
)


def _graph_tensor(value, what: str):
    """Checks that `value` is a Tensor, Operation or Variable of the default graph."""
    if not isinstance(value, (tf.Tensor, tf.Operation, tf.SparseTensor, tf.Variable)):
        raise TypeError(f"{what} must be a Tensor or Operation, found {type(value).__name__}: {value!r}")
    graph = value.graph
    if graph is not _v1.get_default_graph():
        raise ValueError(
            f"{what} must be from the default graph (the one the Estimator built); {value!r} is not"
        )
    return value


def _hooks(hooks, what: str) -> tuple:
    return all_instances(hooks, _v1.train.SessionRunHook, f"{what} must be SessionRunHooks")


class EstimatorSpec(collections.namedtuple("EstimatorSpec", _FIELDS)):
    """What a model_fn returns: the ops and tensors of one mode.

    Required by mode: TRAIN `loss` and `train_op`; EVAL `loss`; PREDICT
    `predictions`. `loss` is a scalar float Tensor (shape [] or [1]).
    `eval_metric_ops` maps names to `(value_tensor, update_op)` pairs, as
    `tf.compat.v1.metrics.*` return them, or to tf_keras `Metric` objects whose
    `update_state` the model_fn called (kept as `(result(), updates[0])`); the
    names "loss" and "global_step" are reserved (evaluate() refuses them).
    `export_outputs` maps signature names to `export.ExportOutput`s; with several,
    one must be "serving_default"; a single one also serves as the default; in
    PREDICT mode without any, `PredictOutput(predictions)` is the default.

    Raises:
      ValueError / TypeError: a missing or ill-typed field, with its name.
    """

    def __new__(
        cls,
        mode,
        predictions=None,
        loss=None,
        train_op=None,
        eval_metric_ops=None,
        export_outputs=None,
        training_chief_hooks=None,
        training_hooks=None,
        scaffold=None,
        evaluation_hooks=None,
        prediction_hooks=None,
    ):
        if mode == ModeKeys.TRAIN and (loss is None or train_op is None):
            missing = " and ".join(n for n, v in (("loss", loss), ("train_op", train_op)) if v is None)
            raise ValueError(f"EstimatorSpec in TRAIN mode needs {missing}")
        if mode == ModeKeys.EVAL and loss is None:
            raise ValueError("EstimatorSpec in EVAL mode needs loss")
        if mode == ModeKeys.PREDICT and predictions is None:
            raise ValueError("EstimatorSpec in PREDICT mode needs predictions")

        if loss is not None:
            loss = _graph_tensor(loss, "loss")
            if loss.shape.num_elements() not in (None, 1):
                raise ValueError(f"loss must be a scalar, found shape {loss.shape}")
            if loss.shape.rank != 0:
                loss = tf.reshape(loss, [])
        if train_op is not None:
            train_op = _graph_tensor(train_op, "train_op")
        if predictions is not None:
            if isinstance(predictions, dict):
                predictions = {k: _graph_tensor(v, f"predictions[{k!r}]") for k, v in predictions.items()}
            else:
                predictions = _graph_tensor(predictions, "predictions")

        eval_metric_ops = _eval_metric_ops(eval_metric_ops)

        export_outputs = _export_outputs(mode, export_outputs, predictions)
        if scaffold is not None and not isinstance(scaffold, _v1.train.Scaffold):
            raise TypeError(
                f"scaffold must be a tf.compat.v1.train.Scaffold, found {type(scaffold).__name__}"
            )
        return super().__new__(
            cls,
            mode=mode,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            eval_metric_ops=eval_metric_ops,
            export_outputs=export_outputs,
            training_chief_hooks=_hooks(training_chief_hooks, "training_chief_hooks"),
            training_hooks=_hooks(training_hooks, "training_hooks"),
            scaffold=scaffold or _v1.train.Scaffold(),
            evaluation_hooks=_hooks(evaluation_hooks, "evaluation_hooks"),
            prediction_hooks=_hooks(prediction_hooks, "prediction_hooks"),
        )

    def _replace(self, **kwargs):
        return EstimatorSpec(**{**self._asdict(), **kwargs})


def _keras_metric_class():
    """tf_keras's Metric class, or None when tf_keras was never imported (then no value can be one)."""
    tf_keras = sys.modules.get("tf_keras")
    return tf_keras.metrics.Metric if tf_keras is not None else None


def _eval_metric_ops(eval_metric_ops) -> dict:
    """Validates eval_metric_ops; returns {name: (value, update_op)}.

    A tf_keras `Metric` (updated in the model_fn) becomes `(metric.result(),
    metric.updates[0])`, and its variables join the LOCAL_VARIABLES (initialized
    before each evaluation, never checkpointed) and METRIC_VARIABLES collections.
    """
    if eval_metric_ops is None:
        return {}
    if not isinstance(eval_metric_ops, dict):
        raise TypeError(f"eval_metric_ops must be a dict, found {type(eval_metric_ops).__name__}")
    metric_class = _keras_metric_class()
    pairs = {}
    for name, value in eval_metric_ops.items():
        if metric_class is not None and isinstance(value, metric_class):
            if not value.updates:
                raise ValueError(
                    f"eval_metric_ops[{name!r}]: the metric {value.name!r} was never updated; "
                    f'call update_state(...) on the "{value.name}" metric in the model_fn'
                )
            for variable in value.variables:
                for collection in (_v1.GraphKeys.LOCAL_VARIABLES, _v1.GraphKeys.METRIC_VARIABLES):
                    if not any(v is variable for v in _v1.get_collection(collection)):
                        _v1.add_to_collection(collection, variable)
            value = (value.result(), value.updates[0])
        elif not isinstance(value, tuple) or len(value) != 2:
            raise TypeError(
                f"eval_metric_ops[{name!r}] must be a (value, update_op) tuple or a tf_keras Metric, "
                f"found {value!r}"
            )
        _graph_tensor(value[0], f"eval_metric_ops[{name!r}] value")
        _graph_tensor(value[1], f"eval_metric_ops[{name!r}] update_op")
        pairs[name] = value
    return pairs


def _export_outputs(mode, export_outputs, predictions):
    if export_outputs is None:
        if mode != ModeKeys.PREDICT:
            return None
        return {export.DEFAULT_SERVING_KEY: export.PredictOutput(predictions)}
    if not isinstance(export_outputs, dict) or not export_outputs:
        raise TypeError(f"export_outputs must be a non-empty dict, found {export_outputs!r}")
    for key, output in export_outputs.items():
        if not isinstance(output, export.ExportOutput):
            raise TypeError(f"export_outputs[{key!r}] must be an ExportOutput, found {type(output).__name__}")
    export_outputs = dict(export_outputs)
    if export.DEFAULT_SERVING_KEY not in export_outputs:
        if len(export_outputs) > 1:
            raise ValueError(
                f"export_outputs has several entries {sorted(export_outputs)}; one must be "
                f'"{export.DEFAULT_SERVING_KEY}"'
            )
        export_outputs[export.DEFAULT_SERVING_KEY] = next(iter(export_outputs.values()))
    return export_outputs
