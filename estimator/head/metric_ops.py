"""Keras metric objects as the `(value, update_op)` pairs an EstimatorSpec's eval_metric_ops hold.

Heads build their eval metrics as tf_keras `Metric` objects, as tf.estimator
2.15's did (`Head.metrics()`, `Head.update_metrics()`); the Estimator runs
`update_op` once per batch and reads `value` at the end. A Keras metric's
variables belong to no collection, so they are added to LOCAL_VARIABLES (which
the session's local init op initializes, and which checkpoints leave out) and
METRIC_VARIABLES.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from ..canned.metric_keys import MetricKeys

_v1 = tf.compat.v1
_THRESHOLD_KEYS = (
    MetricKeys.ACCURACY_AT_THRESHOLD,
    MetricKeys.PRECISION_AT_THRESHOLD,
    MetricKeys.RECALL_AT_THRESHOLD,
)


def metric_ops(metrics: dict) -> dict:
    """{name: Keras Metric or (value, update_op)} -> {name: (value, update_op)}.

    Raises:
      ValueError: a Metric whose update_state was never called in this graph.
      TypeError: a value that is neither a Metric nor a pair.
    """
    pairs = {}
    variables = []
    for key, metric in metrics.items():
        if isinstance(metric, tf_keras.metrics.Metric):
            if not metric.updates:
                raise ValueError(
                    f"eval metric {key!r} ({metric.name}) was never updated: call update_state first"
                )
            updates = metric.updates
            update_op = updates[0] if len(updates) == 1 else tf.group(*updates)
            pairs[key] = (metric.result(), update_op)
            variables.extend(metric.variables)
        elif isinstance(metric, (tuple, list)) and len(metric) == 2:
            pairs[key] = tuple(metric)
        else:
            raise TypeError(
                f"eval metric {key!r} must be a tf.keras Metric or a (value, update_op) pair, "
                f"found {type(metric).__name__}"
            )
    for collection in (_v1.GraphKeys.LOCAL_VARIABLES, _v1.GraphKeys.METRIC_VARIABLES):
        present = {id(v) for v in _v1.get_collection(collection)}
        for variable in variables:
            if id(variable) not in present:
                _v1.add_to_collection(collection, variable)
                present.add(id(variable))
    return pairs


def add_regularization_metric(metrics: dict, key: str, regularization_losses) -> None:
    """Adds a Mean of the regularization loss under `key` when there are regularization losses."""
    if regularization_losses is not None:
        metrics[key] = tf_keras.metrics.Mean(name=MetricKeys.LOSS_REGULARIZATION)


def update_regularization_metric(eval_metrics: dict, key: str, regularization_losses) -> None:
    """Updates the metric of `add_regularization_metric` with the sum of regularization_losses."""
    if regularization_losses is not None:
        eval_metrics[key].update_state(values=tf.math.add_n(list(regularization_losses)))


def threshold_metrics(thresholds, summary_key) -> dict:
    """New Keras metrics of accuracy, precision and recall at each threshold, keyed
    (and named) "accuracy/positive_threshold_<t>", ... passed through summary_key."""
    metrics = {}
    for threshold in thresholds:
        accuracy, precision, recall = (summary_key(pattern % threshold) for pattern in _THRESHOLD_KEYS)
        metrics[accuracy] = tf_keras.metrics.BinaryAccuracy(name=accuracy, threshold=threshold)
        metrics[precision] = tf_keras.metrics.Precision(name=precision, thresholds=threshold)
        metrics[recall] = tf_keras.metrics.Recall(name=recall, thresholds=threshold)
    return metrics


def update_threshold_metrics(eval_metrics, thresholds, summary_key, labels, probabilities, weights) -> None:
    """Updates the metrics of `threshold_metrics` with labels and probabilities of one
    shape (0/1 and [0, 1]) and weights broadcastable to it, or None."""
    for threshold in thresholds:
        for pattern in _THRESHOLD_KEYS:
            eval_metrics[summary_key(pattern % threshold)].update_state(
                y_true=labels, y_pred=probabilities, sample_weight=weights
            )


def update_with_broadcast_weights(metric, values, weights) -> None:
    """Updates a Mean-like metric with float32 values and weights broadcast to their shape."""
    values = tf.cast(values, tf.float32)
    if weights is not None:
        weights = tf.cast(weights, tf.float32) * tf.ones_like(values)
    metric.update_state(values=values, sample_weight=weights)


class AccuracyBaseline(tf_keras.metrics.Metric):
    """The accuracy of always predicting the more frequent class of binary labels:
    max(label mean, 1 - label mean), with the labels weighted.
    """

    def __init__(self, name="accuracy_baseline", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_weight("total", initializer="zeros")
        self.count = self.add_weight("count", initializer="zeros")

    def update_state(self, labels, sample_weight=None):
        labels = tf.cast(labels, self.dtype)
        weights = tf.ones_like(labels)
        if sample_weight is not None:
            weights *= tf.cast(sample_weight, self.dtype)
        with tf.control_dependencies([self.total.assign_add(tf.reduce_sum(labels * weights))]):
            return self.count.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.math.divide_no_nan(tf.maximum(self.total, self.count - self.total), self.count)

    def reset_state(self):
        for variable in (self.total, self.count):
            variable.assign(tf.zeros_like(variable))
