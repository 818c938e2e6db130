"""`BinaryClassHead`: single-label binary classification with sigmoid cross entropy."""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from .. import export
from ..canned.metric_keys import MetricKeys
from ..canned.prediction_keys import PredictionKeys
from . import base_head, checks, losses, metric_ops

_v1 = tf.compat.v1
_keras_metrics = tf_keras.metrics


class BinaryClassHead(base_head._SingleHead):
    """A head for binary classification (tf.estimator.BinaryClassHead).

    Logits are [D0, ..., DN, 1]; labels [D0, ..., DN, 1] or [D0, ..., DN]: floats
    or integers in [0, 1], or strings of `label_vocabulary`. The loss is
    `sigmoid_cross_entropy_with_logits`, weighted and reduced by loss_reduction.

    Args:
      weight_column: a feature key or a `numeric_column` of example weights.
      thresholds: floats in (0, 1); each adds accuracy, precision and recall
        metrics at that threshold of the logistic.
      label_vocabulary: a list or tuple of the two label strings.
      loss_reduction: a Reduction name other than "none" (default
        "sum_over_batch_size"); see `head.losses`.
      loss_fn: `loss_fn(labels, logits[, features])` -> unreduced loss
        [D0, ..., DN, 1], given float labels (after the vocabulary lookup).
      name: suffixes metric and summary keys with "/<name>"; the name scope.

    Raises:
      ValueError: a bad label_vocabulary, threshold, loss_reduction or loss_fn.
    """

    def __init__(
        self,
        weight_column=None,
        thresholds=None,
        label_vocabulary=None,
        loss_reduction=losses.SUM_OVER_BATCH_SIZE,
        loss_fn=None,
        name=None,
    ):
        checks.validate_label_vocabulary(label_vocabulary)
        self._thresholds = checks.validate_thresholds(thresholds)
        losses.validate_loss_reduction(loss_reduction)
        if loss_fn:
            checks.validate_loss_fn_args(loss_fn)
        self._weight_column = weight_column
        self._label_vocabulary = label_vocabulary
        self._loss_reduction = loss_reduction
        self._loss_fn = loss_fn
        self._name = name

    logits_dimension = property(lambda self: 1)

    def _processed_labels(self, logits, labels):
        """float32 labels in [0, 1], shaped like the logits."""
        labels = checks.check_dense_labels_match_logits_and_reshape(labels, logits, 1)
        if self._label_vocabulary is not None:
            if labels.dtype != tf.string:
                raise ValueError(f"labels must be strings with a label_vocabulary, found {labels.dtype.name}")
            labels = base_head.class_id_table(self._label_vocabulary).lookup(labels)
        elif labels.dtype == tf.string:
            raise ValueError("labels are strings: give the head a label_vocabulary")
        return checks.check_label_range(tf.cast(labels, tf.float32), 2)

    def _unweighted_loss_and_weights(self, logits, labels, features):
        if self._loss_fn:
            unweighted = losses.call_loss_fn(self._loss_fn, labels, logits, features, expected_loss_dim=1)
        else:
            unweighted = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        weights = checks.get_weights_and_check_match_logits(features, self._weight_column, logits)
        return unweighted, weights

    _VALID_KEYS = (
        PredictionKeys.LOGITS,
        PredictionKeys.LOGISTIC,
        PredictionKeys.PROBABILITIES,
        PredictionKeys.CLASS_IDS,
        PredictionKeys.CLASSES,
        PredictionKeys.ALL_CLASS_IDS,
        PredictionKeys.ALL_CLASSES,
    )

    def predictions(self, logits, keys=None):
        """Predictions for `keys` (default all): logits, logistic and probabilities
        (float32), class_ids (int64 [.., 1]), classes (string [.., 1]),
        all_class_ids (int32 [batch, 2]) and all_classes (string [batch, 2]).

        Raises:
          ValueError: a key this head does not predict.
        """
        keys = base_head.requested_keys(keys, self._VALID_KEYS)
        keys_ = PredictionKeys
        logits = checks.check_logits_final_dim(logits, 1)
        predictions = {}
        with _v1.name_scope("predictions"):
            if keys_.LOGITS in keys:
                predictions[keys_.LOGITS] = logits
            if keys_.LOGISTIC in keys:
                predictions[keys_.LOGISTIC] = tf.sigmoid(logits, name=keys_.LOGISTIC)
            two_class_logits = tf.concat([tf.zeros_like(logits), logits], axis=-1, name="two_class_logits")
            if keys_.PROBABILITIES in keys:
                predictions[keys_.PROBABILITIES] = tf.nn.softmax(two_class_logits, name=keys_.PROBABILITIES)
            base_head.add_class_predictions(predictions, keys, two_class_logits, 2, self._label_vocabulary)
        return predictions

    def metrics(self, regularization_losses=None):
        """New Keras metrics keyed by tf.estimator's names (suffixed "/<name>")."""
        key = self._summary_key
        keys = MetricKeys
        with _v1.name_scope("metrics"):
            metrics = {
                key(keys.LOSS_MEAN): _keras_metrics.Mean(name=keys.LOSS_MEAN),
                key(keys.ACCURACY): _keras_metrics.Accuracy(name=keys.ACCURACY),
                key(keys.PRECISION): _keras_metrics.Precision(name=keys.PRECISION),
                key(keys.RECALL): _keras_metrics.Recall(name=keys.RECALL),
                key(keys.PREDICTION_MEAN): _keras_metrics.Mean(name=keys.PREDICTION_MEAN),
                key(keys.LABEL_MEAN): _keras_metrics.Mean(name=keys.LABEL_MEAN),
                key(keys.ACCURACY_BASELINE): metric_ops.AccuracyBaseline(name=keys.ACCURACY_BASELINE),
                key(keys.AUC): _keras_metrics.AUC(name=keys.AUC),
                key(keys.AUC_PR): _keras_metrics.AUC(curve="PR", name=keys.AUC_PR),
            }
            metric_ops.add_regularization_metric(
                metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
            )
            metrics.update(metric_ops.threshold_metrics(self._thresholds, key))
        return metrics

    def update_metrics(self, eval_metrics, features, logits, labels, regularization_losses=None):
        """Updates the metrics of `metrics()` with one batch; returns eval_metrics."""
        key = self._summary_key
        keys = MetricKeys
        predictions = self.predictions(logits, [PredictionKeys.CLASS_IDS, PredictionKeys.LOGISTIC])
        class_ids = predictions[PredictionKeys.CLASS_IDS]
        logistic = predictions[PredictionKeys.LOGISTIC]
        _, labels, unweighted, weights_or_none = self._metric_terms(logits, labels, features)
        eval_metrics[key(keys.LOSS_MEAN)].update_state(values=unweighted, sample_weight=weights_or_none)
        for name in (keys.ACCURACY, keys.PRECISION, keys.RECALL):
            eval_metrics[key(name)].update_state(
                y_true=labels, y_pred=class_ids, sample_weight=weights_or_none
            )
        metric_ops.update_with_broadcast_weights(
            eval_metrics[key(keys.PREDICTION_MEAN)], logistic, weights_or_none
        )
        metric_ops.update_with_broadcast_weights(eval_metrics[key(keys.LABEL_MEAN)], labels, weights_or_none)
        eval_metrics[key(keys.ACCURACY_BASELINE)].update_state(labels, sample_weight=weights_or_none)
        broadcast = None if weights_or_none is None else weights_or_none * tf.ones_like(logistic)
        for name in (keys.AUC, keys.AUC_PR):
            eval_metrics[key(name)].update_state(y_true=labels, y_pred=logistic, sample_weight=broadcast)
        metric_ops.update_regularization_metric(
            eval_metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
        )
        metric_ops.update_threshold_metrics(
            eval_metrics, self._thresholds, key, labels, logistic, weights_or_none
        )
        return eval_metrics

    def _export_outputs(self, predictions):
        regression = export.RegressionOutput(predictions[PredictionKeys.LOGISTIC])
        return base_head.classification_export_outputs(predictions, 2, self._label_vocabulary, regression)
