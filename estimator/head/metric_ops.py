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

_v1 = tf.compat.v1


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
