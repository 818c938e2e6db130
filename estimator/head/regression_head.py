"""Regression heads: `RegressionHead` (squared error), `PoissonRegressionHead`, `LogisticRegressionHead`."""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from .. import export
from ..canned.metric_keys import MetricKeys
from ..canned.prediction_keys import PredictionKeys
from . import base_head, checks, losses, metric_ops

_v1 = tf.compat.v1


class RegressionHead(base_head._SingleHead):
    """A head for regression (tf.estimator.RegressionHead).

    Logits and labels are [D0, ..., DN, label_dimension] (labels may omit a last
    dimension of 1); labels are cast to float32. The loss is the squared error
    (or loss_fn's), weighted and reduced by loss_reduction over examples and
    label dimensions. Weights may also be per label dimension.

    Args:
      label_dimension: the number of regression targets per example (>= 1).
      weight_column: a feature key or a `numeric_column` of example weights.
      loss_reduction: a Reduction name other than "none" (default "sum_over_batch_size").
      loss_fn: `loss_fn(labels, logits[, features])` -> unreduced loss
        [D0, ..., DN, label_dimension].
      inverse_link_fn: maps logits to predictions (a generalized linear model);
        then both "predictions" and "logits" are predicted.
      name: suffixes metric and summary keys with "/<name>"; the name scope.

    Raises:
      ValueError: label_dimension < 1, or a bad loss_reduction or loss_fn.
    """

    def __init__(
        self,
        label_dimension=1,
        weight_column=None,
        loss_reduction=losses.SUM_OVER_BATCH_SIZE,
        loss_fn=None,
        inverse_link_fn=None,
        name=None,
    ):
        if label_dimension < 1:
            raise ValueError(f"label_dimension must be >= 1, found {label_dimension}")
        losses.validate_loss_reduction(loss_reduction)
        if loss_fn:
            checks.validate_loss_fn_args(loss_fn)
        self._logits_dimension = label_dimension
        self._weight_column = weight_column
        self._loss_reduction = loss_reduction
        self._loss_fn = loss_fn
        self._inverse_link_fn = inverse_link_fn
        self._name = name

    logits_dimension = property(lambda self: self._logits_dimension)

    def _processed_labels(self, logits, labels):
        labels = checks.check_dense_labels_match_logits_and_reshape(labels, logits, self._logits_dimension)
        return tf.cast(labels, tf.float32)

    def _unweighted_loss_and_weights(self, logits, labels, features):
        if self._loss_fn:
            unweighted = losses.call_loss_fn(
                self._loss_fn, labels, logits, features, expected_loss_dim=self._logits_dimension
            )
        else:
            unweighted = tf.math.squared_difference(logits, labels)
        weights = checks.get_weights_and_check_match_logits(
            features, self._weight_column, logits, allow_per_logit_weights=True
        )
        return unweighted, weights

    def predictions(self, logits, keys=None):
        """{"predictions": float32 [D0, ..., DN, label_dimension]}, plus "logits"
        when there is an inverse link function. (tf.estimator 2.15 takes no `keys`
        here; they are accepted and checked as the other heads do.)
        """
        k = PredictionKeys
        valid = (k.PREDICTIONS, k.LOGITS) if self._inverse_link_fn else (k.PREDICTIONS,)
        if keys:
            base_head.check_prediction_keys(keys, valid)
        logits = checks.check_logits_final_dim(logits, self._logits_dimension)
        with _v1.name_scope("predictions"):
            if self._inverse_link_fn:
                predictions = {k.PREDICTIONS: self._inverse_link_fn(logits), k.LOGITS: logits}
            else:
                predictions = {k.PREDICTIONS: logits}
        return {key: value for key, value in predictions.items() if not keys or key in keys}

    def metrics(self, regularization_losses=None):
        """New Keras metrics: average_loss, prediction/mean, label/mean (and regularization_loss)."""
        key = self._summary_key
        keys = MetricKeys
        with _v1.name_scope("metrics"):
            metrics = {
                key(keys.LOSS_MEAN): tf_keras.metrics.Mean(name=keys.LOSS_MEAN),
                key(keys.PREDICTION_MEAN): tf_keras.metrics.Mean(name=keys.PREDICTION_MEAN),
                key(keys.LABEL_MEAN): tf_keras.metrics.Mean(name=keys.LABEL_MEAN),
            }
            metric_ops.add_regularization_metric(
                metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
            )
        return metrics

    def update_metrics(self, eval_metrics, features, logits, labels, regularization_losses=None):
        """Updates the metrics of `metrics()` with one batch; returns eval_metrics."""
        key = self._summary_key
        keys = MetricKeys
        predicted = self.predictions(logits)[PredictionKeys.PREDICTIONS]
        _, labels, unweighted, weights = self._metric_terms(logits, labels, features)
        eval_metrics[key(keys.LOSS_MEAN)].update_state(values=unweighted, sample_weight=weights)
        metric_ops.update_with_broadcast_weights(eval_metrics[key(keys.LABEL_MEAN)], labels, weights)
        metric_ops.update_with_broadcast_weights(eval_metrics[key(keys.PREDICTION_MEAN)], predicted, weights)
        metric_ops.update_regularization_metric(
            eval_metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
        )
        return eval_metrics

    def _export_outputs(self, predictions):
        regression = export.RegressionOutput(predictions[PredictionKeys.PREDICTIONS])
        return {
            base_head.DEFAULT_SERVING_KEY: regression,
            base_head.REGRESS_SERVING_KEY: regression,
            base_head.PREDICT_SERVING_KEY: export.PredictOutput(predictions),
        }


class PoissonRegressionHead(RegressionHead):
    """Poisson regression (tf.estimator.PoissonRegressionHead): the loss is
    `tf.nn.log_poisson_loss(labels, logits)`; predictions are exp(logits).

    Args:
      label_dimension, weight_column, loss_reduction, name: as RegressionHead.
      compute_full_loss: include the Stirling term log(z!) in the loss.
    """

    def __init__(
        self,
        label_dimension=1,
        weight_column=None,
        loss_reduction=losses.SUM_OVER_BATCH_SIZE,
        compute_full_loss=True,
        name=None,
    ):
        self._compute_full_loss = compute_full_loss
        super().__init__(
            label_dimension=label_dimension,
            weight_column=weight_column,
            loss_reduction=loss_reduction,
            loss_fn=self._poisson_loss,
            inverse_link_fn=tf.math.exp,
            name=name,
        )

    def _poisson_loss(self, labels, logits):
        return tf.nn.log_poisson_loss(
            targets=labels, log_input=logits, compute_full_loss=self._compute_full_loss
        )


class LogisticRegressionHead(RegressionHead):
    """Logistic regression (tf.estimator.LogisticRegressionHead): float labels in
    [0, 1], sigmoid cross entropy loss, predictions sigmoid(logits); unlike
    BinaryClassHead, no vocabulary, no classification metrics, and a regression
    signature by default.

    Args:
      weight_column, loss_reduction, name: as RegressionHead.
    """

    def __init__(self, weight_column=None, loss_reduction=losses.SUM_OVER_BATCH_SIZE, name=None):
        super().__init__(
            label_dimension=1,
            weight_column=weight_column,
            loss_reduction=loss_reduction,
            loss_fn=self._logistic_loss,
            inverse_link_fn=tf.math.sigmoid,
            name=name,
        )

    @staticmethod
    def _logistic_loss(labels, logits):
        labels = checks.check_label_range(labels, 2, message="labels must be in [0, 1]")
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
