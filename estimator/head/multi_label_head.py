"""`MultiLabelHead`: multi-label classification (any subset of n_classes) with sigmoid cross entropy."""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from ..canned.metric_keys import MetricKeys
from ..canned.prediction_keys import PredictionKeys
from . import base_head, checks, losses, metric_ops

_v1 = tf.compat.v1
_keras_metrics = tf_keras.metrics


class MultiLabelHead(base_head._SingleHead):
    """A head for multi-label classification (tf.estimator.MultiLabelHead).

    Logits are [D0, ..., DN, n_classes]. Labels are a multi-hot integer Tensor
    [D0, ..., DN, n_classes] of 0/1, or a SparseTensor of class ids (integers,
    or strings of `label_vocabulary`). The per-example loss is the mean over
    classes of the sigmoid cross entropy; it is weighted and reduced by
    loss_reduction.

    Args:
      n_classes: the number of classes, > 1.
      weight_column: a feature key or a `numeric_column` of example weights.
      thresholds: floats in (0, 1); each adds accuracy, precision and recall at
        that threshold of the probabilities.
      label_vocabulary: a list or tuple of n_classes strings (for string
        SparseTensor labels).
      loss_reduction: a Reduction name other than "none" (default "sum_over_batch_size").
      loss_fn: `loss_fn(labels, logits[, features])` -> unreduced loss
        [D0, ..., DN, 1], given multi-hot int64 labels.
      classes_for_class_based_metrics: class ids or class names (with a
        label_vocabulary); each adds probability_mean, auc and
        auc_precision_recall for that class.
      name: suffixes metric and summary keys with "/<name>"; the name scope.

    Raises:
      ValueError: a bad n_classes, threshold, label_vocabulary, loss_reduction,
        loss_fn or class in classes_for_class_based_metrics.
    """

    def __init__(
        self,
        n_classes,
        weight_column=None,
        thresholds=None,
        label_vocabulary=None,
        loss_reduction=losses.SUM_OVER_BATCH_SIZE,
        loss_fn=None,
        classes_for_class_based_metrics=None,
        name=None,
    ):
        if n_classes is None or n_classes < 2:
            raise ValueError(f"n_classes must be > 1 for multi-label classification, found {n_classes}")
        self._thresholds = checks.validate_thresholds(thresholds)
        checks.validate_label_vocabulary(label_vocabulary, n_classes)
        if loss_fn:
            checks.validate_loss_fn_args(loss_fn)
        losses.validate_loss_reduction(loss_reduction)
        self._class_ids = self._classes_to_ids(classes_for_class_based_metrics, n_classes, label_vocabulary)
        self._n_classes = n_classes
        self._weight_column = weight_column
        self._label_vocabulary = label_vocabulary
        self._loss_reduction = loss_reduction
        self._loss_fn = loss_fn
        self._name = name

    @staticmethod
    def _classes_to_ids(classes, n_classes, label_vocabulary) -> tuple[int, ...]:
        classes = tuple(classes) if classes else ()
        if classes and isinstance(classes[0], str):
            if not label_vocabulary:
                raise ValueError("classes_for_class_based_metrics are strings: give a label_vocabulary")
            unknown = [c for c in classes if c not in label_vocabulary]
            if unknown:
                raise ValueError(f"classes_for_class_based_metrics {unknown} are not in label_vocabulary")
            return tuple(label_vocabulary.index(c) for c in classes)
        for class_id in classes:
            if not 0 <= class_id < n_classes:
                raise ValueError(
                    f"classes_for_class_based_metrics must be in [0, {n_classes - 1}], found {class_id}"
                )
        return classes

    logits_dimension = property(lambda self: self._n_classes)

    _VALID_KEYS = (PredictionKeys.LOGITS, PredictionKeys.PROBABILITIES, PredictionKeys.CLASSES)

    def _processed_labels(self, logits, labels):
        """int64 multi-hot labels [D0, ..., DN, n_classes]."""
        if labels is None:
            raise ValueError(checks.LABEL_NONE_MESSAGE)
        if isinstance(labels, tf.SparseTensor):
            if labels.dtype == tf.string:
                if not self._label_vocabulary:
                    raise ValueError("labels are strings: give the head a label_vocabulary")
                ids = base_head.class_id_table(self._label_vocabulary).lookup(labels.values)
                labels = tf.SparseTensor(labels.indices, ids, labels.dense_shape)
            elif not labels.dtype.is_integer:
                raise ValueError(
                    f"SparseTensor labels must be integers or strings, found {labels.dtype.name}"
                )
            values = checks.check_label_range(
                labels.values,
                self._n_classes,
                message=f"labels must be an integer SparseTensor with values in [0, {self._n_classes})",
            )
            labels = tf.SparseTensor(labels.indices, values, labels.dense_shape)
            processed = tf.cast(tf.sparse.to_indicator(labels, self._n_classes), tf.int64)
        else:
            processed = checks.check_label_range(
                tf.convert_to_tensor(labels),
                2,
                message="labels must be a multi-hot Tensor with values in [0, 1]",
            )
        return checks.check_dense_labels_match_logits_and_reshape(processed, logits, self._n_classes)

    def _unweighted_loss_and_weights(self, logits, labels, features):
        if self._loss_fn:
            unweighted = losses.call_loss_fn(self._loss_fn, labels, logits, features, expected_loss_dim=1)
        else:
            per_class = tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.cast(labels, tf.float32), logits=logits
            )
            unweighted = tf.reduce_mean(per_class, axis=-1, keepdims=True)
        weights = checks.get_weights_and_check_match_logits(features, self._weight_column, logits)
        return unweighted, weights

    def predictions(self, logits, keys=None):
        """Predictions for `keys` (default all): logits, probabilities (sigmoid,
        float32 [.., n_classes]), classes (string [batch, n_classes], all names).

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
                predictions[k.PROBABILITIES] = tf.sigmoid(logits, name=k.PROBABILITIES)
            if k.CLASSES in keys:
                predictions[k.CLASSES] = base_head.all_classes(
                    logits, self._n_classes, self._label_vocabulary
                )
        return predictions

    def _class_metric_keys(self, class_id: int) -> tuple[str, str, str]:
        keys = MetricKeys
        if self._label_vocabulary is None:
            names = (keys.PROBABILITY_MEAN_AT_CLASS, keys.AUC_AT_CLASS, keys.AUC_PR_AT_CLASS)
            return tuple(self._summary_key(n % class_id) for n in names)
        label = self._label_vocabulary[class_id]
        names = (keys.PROBABILITY_MEAN_AT_NAME, keys.AUC_AT_NAME, keys.AUC_PR_AT_NAME)
        return tuple(self._summary_key(n % label) for n in names)

    def metrics(self, regularization_losses=None):
        """New Keras metrics keyed by tf.estimator's names (suffixed "/<name>")."""
        key = self._summary_key
        keys = MetricKeys
        with _v1.name_scope("metrics"):
            metrics = {
                key(keys.LOSS_MEAN): _keras_metrics.Mean(name=keys.LOSS_MEAN),
                key(keys.AUC): _keras_metrics.AUC(name=keys.AUC),
                key(keys.AUC_PR): _keras_metrics.AUC(curve="PR", name=keys.AUC_PR),
            }
            metric_ops.add_regularization_metric(
                metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
            )
            metrics.update(metric_ops.threshold_metrics(self._thresholds, key))
            for class_id in self._class_ids:
                prob_key, auc_key, auc_pr_key = self._class_metric_keys(class_id)
                metrics[prob_key] = _keras_metrics.Mean(name=prob_key)
                metrics[auc_key] = _keras_metrics.AUC(name=auc_key)
                metrics[auc_pr_key] = _keras_metrics.AUC(curve="PR", name=auc_pr_key)
        return metrics

    def update_metrics(self, eval_metrics, features, logits, labels, regularization_losses=None):
        """Updates the metrics of `metrics()` with one batch; returns eval_metrics."""
        key = self._summary_key
        keys = MetricKeys
        logits, processed, unweighted, weights = self._metric_terms(logits, labels, features)
        probabilities = self.predictions(logits, [PredictionKeys.PROBABILITIES])[PredictionKeys.PROBABILITIES]
        per_class_weights = None if weights is None else weights * tf.ones_like(probabilities)
        eval_metrics[key(keys.LOSS_MEAN)].update_state(values=unweighted, sample_weight=weights)
        for name in (keys.AUC, keys.AUC_PR):
            eval_metrics[key(name)].update_state(
                y_true=processed, y_pred=probabilities, sample_weight=per_class_weights
            )
        metric_ops.update_regularization_metric(
            eval_metrics, key(keys.LOSS_REGULARIZATION), regularization_losses
        )
        metric_ops.update_threshold_metrics(
            eval_metrics, self._thresholds, key, processed, probabilities, per_class_weights
        )
        for class_id in self._class_ids:
            prob_key, auc_key, auc_pr_key = self._class_metric_keys(class_id)
            class_probabilities = probabilities[..., class_id : class_id + 1]
            class_labels = processed[..., class_id : class_id + 1]
            metric_ops.update_with_broadcast_weights(eval_metrics[prob_key], class_probabilities, weights)
            for metric_key in (auc_key, auc_pr_key):
                eval_metrics[metric_key].update_state(
                    y_true=class_labels, y_pred=class_probabilities, sample_weight=weights
                )
        return eval_metrics

    def _export_outputs(self, predictions):
        return base_head.classification_export_outputs(predictions, self._n_classes, self._label_vocabulary)
