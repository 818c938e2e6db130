"""`MultiClassHead`: single-label classification among n_classes > 2 with softmax cross entropy."""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from ..canned.metric_keys import MetricKeys
from ..canned.prediction_keys import PredictionKeys
from . import base_head, checks, losses, metric_ops

_v1 = tf.compat.v1


class MultiClassHead(base_head._SingleHead):
    """A head for multi-class classification (tf.estimator.MultiClassHead).

    Logits are [D0, ..., DN, n_classes]; labels [D0, ..., DN, 1] or [D0, ..., DN]:
    integer class ids in [0, n_classes), or strings of `label_vocabulary`. The
    loss is sparse softmax cross entropy, weighted and reduced by loss_reduction.

    Args:
      n_classes: the number of classes, > 2 (use BinaryClassHead for 2).
      weight_column: a feature key or a `numeric_column` of example weights.
      label_vocabulary: a list or tuple of n_classes label strings.
      loss_reduction: a Reduction name other than "none" (default "sum_over_batch_size").
      loss_fn: `loss_fn(labels, logits[, features])` -> unreduced loss
        [D0, ..., DN, 1], given integer label ids.
      name: suffixes metric and summary keys with "/<name>"; the name scope.

    Raises:
      ValueError: n_classes None or <= 2, or a bad label_vocabulary,
        loss_reduction or loss_fn.
    """

    def __init__(
        self,
        n_classes,
        weight_column=None,
        label_vocabulary=None,
        loss_reduction=losses.SUM_OVER_BATCH_SIZE,
        loss_fn=None,
        name=None,
    ):
        if n_classes is None:
            raise ValueError("n_classes cannot be None")
        # In tf.estimator 2.15's order: the vocabulary, the reduction and loss_fn, then n_classes.
        checks.validate_label_vocabulary(label_vocabulary, n_classes)
        losses.validate_loss_reduction(loss_reduction)
        if loss_fn:
            checks.validate_loss_fn_args(loss_fn)
        if isinstance(n_classes, int) and n_classes <= 2:
            raise ValueError(f"n_classes must be > 2 (use BinaryClassHead for 2 classes), found {n_classes}")
        self._n_classes = n_classes
        self._weight_column = weight_column
        self._label_vocabulary = label_vocabulary
        self._loss_reduction = loss_reduction
        self._loss_fn = loss_fn
        self._name = name

    logits_dimension = property(lambda self: self._n_classes)

    _VALID_KEYS = (
        PredictionKeys.LOGITS,
        PredictionKeys.PROBABILITIES,
        PredictionKeys.CLASS_IDS,
        PredictionKeys.CLASSES,
        PredictionKeys.ALL_CLASS_IDS,
        PredictionKeys.ALL_CLASSES,
    )

    def _processed_labels(self, logits, labels):
        """Integer label ids in [0, n_classes), shaped [D0, ..., DN, 1]."""
        labels = checks.check_dense_labels_match_logits_and_reshape(labels, logits, 1)
        if self._label_vocabulary is None:
            if not labels.dtype.is_integer:
                raise ValueError(
                    f"labels must be integers (or strings with a label_vocabulary), found {labels.dtype.name}"
                )
            label_ids = labels
        else:
            if labels.dtype != tf.string:
                raise ValueError(f"labels must be strings with a label_vocabulary, found {labels.dtype.name}")
            label_ids = base_head.class_id_table(self._label_vocabulary).lookup(labels)
        return checks.check_label_range(label_ids, self._n_classes)

    def _unweighted_loss_and_weights(self, logits, label_ids, features):
        if self._loss_fn:
            unweighted = losses.call_loss_fn(self._loss_fn, label_ids, logits, features, expected_loss_dim=1)
        else:
            unweighted = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.squeeze(label_ids, axis=-1), logits=logits
            )
            unweighted = tf.expand_dims(unweighted, -1)
        weights = checks.get_weights_and_check_match_logits(features, self._weight_column, logits)
        return unweighted, weights

    def predictions(self, logits, keys=None):
        """Predictions for `keys` (default all): logits, probabilities (float32),
        class_ids (int64 [.., 1]), classes (string [.., 1]), all_class_ids
        (int32 [batch, n_classes]), all_classes (string [batch, n_classes]).

        Raises:
          ValueError: a key this head does not predict.
        """
        keys = base_head.requested_keys(keys, self._VALID_KEYS)
        k = PredictionKeys
        logits = checks.check_logits_final_dim(logits, self.logits_dimension)
        predictions = {}
        with _v1.name_scope("predictions"):
            if k.LOGITS in keys:
                predictions[k.LOGITS] = logits
            if k.PROBABILITIES in keys:
                predictions[k.PROBABILITIES] = tf.nn.softmax(logits, name=k.PROBABILITIES)
            base_head.add_class_predictions(
                predictions, keys, logits, self._n_classes, self._label_vocabulary or None
            )
        return predictions

    def metrics(self, regularization_losses=None):
        """New Keras metrics: average_loss, accuracy (and regularization_loss)."""
        key = self._summary_key
        keys = MetricKeys
        with _v1.name_scope("metrics"):
            metrics = {key(keys.LOSS_MEAN): tf_keras.metrics.Mean(name=keys.LOSS_MEAN)}
            metric_ops.add_regularization_metric(
                metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
            )
            metrics[key(keys.ACCURACY)] = tf_keras.metrics.Accuracy(name=keys.ACCURACY)
        return metrics

    def update_metrics(self, eval_metrics, features, logits, labels, regularization_losses=None):
        """Updates the metrics of `metrics()` with one batch; returns eval_metrics."""
        key = self._summary_key
        keys = MetricKeys
        class_ids = self.predictions(logits, [PredictionKeys.CLASS_IDS])[PredictionKeys.CLASS_IDS]
        _, label_ids, unweighted, weights = self._metric_terms(logits, labels, features)
        eval_metrics[key(keys.LOSS_MEAN)].update_state(values=unweighted, sample_weight=weights)
        eval_metrics[key(keys.ACCURACY)].update_state(
            y_true=label_ids, y_pred=class_ids, sample_weight=weights
        )
        metric_ops.update_regularization_metric(
            eval_metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
        )
        return eval_metrics

    def _export_outputs(self, predictions):
        return base_head.classification_export_outputs(predictions, self._n_classes, self._label_vocabulary)
