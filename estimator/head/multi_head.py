"""`MultiHead`: several named heads trained together on one model (multi-objective learning)."""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from .. import export
from ..canned.metric_keys import MetricKeys
from ..mode_keys import ModeKeys
from ..model_fn import EstimatorSpec
from . import base_head, metric_ops

_v1 = tf.compat.v1


def _no_op_train_fn(loss):
    del loss
    return tf.no_op()


class MultiHead(base_head.Head):
    """Merges named heads (tf.estimator.MultiHead).

    Logits are a dict {head name: logits} or one Tensor [D0, ..., DN, sum of the
    heads' logits dimensions], split in head order; labels a dict {head name:
    labels}. The loss is the (head_weights-weighted) sum of the heads' losses.
    Predictions are keyed (head name, prediction key); metrics are the heads'
    (already suffixed with their names) plus "loss/<head name>". Export: the
    first head's default signature is "serving_default"; every head's
    signatures appear as "<head name>" and "<head name>/<signature>", and
    "predict" holds all predictions as "<head name>/<key>".

    Args:
      heads: a list or tuple of heads, each with a name.
      head_weights: one float per head for the loss sum (default all 1).

    Raises:
      ValueError: no heads, a head without a name, or head_weights of another length.
    """

    def __init__(self, heads, head_weights=None):
        if not heads:
            raise ValueError(f"heads must be a non-empty list of heads, found {heads!r}")
        if head_weights and len(head_weights) != len(heads):
            raise ValueError(
                f"head_weights must have one weight per head: {len(heads)} heads, {len(head_weights)} weights"
            )
        for head in heads:
            if head.name is None:
                raise ValueError(f"every head of a MultiHead needs a name; {head!r} has none")
        self._heads = tuple(heads)
        self._head_weights = tuple(head_weights) if head_weights else ()
        self._logits_dimension = sum(head.logits_dimension for head in heads)
        self._loss_keys = tuple(f"{MetricKeys.LOSS}/{head.name}" for head in heads)

    @property
    def name(self):
        return "_".join(head.name for head in self._heads)

    logits_dimension = property(lambda self: self._logits_dimension)

    @property
    def loss_reduction(self):
        """The heads' common loss reduction.

        Raises:
          ValueError: the heads reduce differently.
        """
        reductions = [head.loss_reduction for head in self._heads]
        if len(set(reductions)) > 1:
            raise ValueError(f"the heads of a MultiHead must share one loss_reduction, found {reductions}")
        return reductions[0]

    def _split_logits(self, logits) -> dict:
        logits = tf.convert_to_tensor(logits)
        dims = [head.logits_dimension for head in self._heads]
        last = logits.shape[-1] if logits.shape.rank else None
        if last is not None and last != sum(dims):
            raise ValueError(
                f"logits of shape {logits.shape} cannot be split among heads with logits dimensions {dims}: "
                f"the last dimension must be {sum(dims)}"
            )
        with _v1.name_scope("split_logits"):
            parts = tf.split(logits, dims, axis=-1)
        return {head.name: part for head, part in zip(self._heads, parts, strict=True)}

    def _check_logits_and_labels(self, logits, labels=None) -> dict:
        names = [head.name for head in self._heads]
        if isinstance(logits, dict):
            missing = sorted(set(names) - set(logits))
            if missing:
                raise ValueError(f"logits has no values for heads {missing}")
            logits_dict = logits
        else:
            logits_dict = self._split_logits(logits)
        if labels is not None:
            if not isinstance(labels, dict):
                raise ValueError(
                    f"labels of a MultiHead must be a dict keyed by head name, found {type(labels).__name__}"
                )
            missing = sorted(set(names) - set(labels))
            if missing:
                raise ValueError(f"labels has no values for heads {missing}")
        return logits_dict

    def loss(self, labels, logits, features=None, mode=None, regularization_losses=None):
        """The sum of the heads' training losses (times head_weights), plus regularization."""
        if labels is None:
            raise ValueError("labels of a MultiHead must be a dict keyed by head name, found None")
        logits_dict = self._check_logits_and_labels(logits, labels)
        head_losses = [
            head.loss(labels=labels[head.name], logits=logits_dict[head.name], features=features, mode=mode)
            for head in self._heads
        ]
        with _v1.name_scope("merge_losses"):
            if self._head_weights:
                head_losses = [
                    loss * weight for loss, weight in zip(head_losses, self._head_weights, strict=True)
                ]
            loss = tf.math.add_n(head_losses)
            if regularization_losses is not None:
                loss += tf.math.add_n(list(regularization_losses))
        return loss

    def predictions(self, logits, keys=None):
        """{(head name, prediction key): Tensor} for every head's predictions."""
        del keys
        logits_dict = self._check_logits_and_labels(logits)
        predictions = {}
        with _v1.name_scope("merge_pred"):
            for head in self._heads:
                for key, value in head.predictions(logits_dict[head.name]).items():
                    predictions[(head.name, key)] = value
        return predictions

    def metrics(self, regularization_losses=None):
        """New Keras means of each head's loss ("loss/<head name>") and the regularization loss."""
        metrics = {}
        metric_ops.add_regularization_metric(
            metrics, self._summary_key(MetricKeys.LOSS_REGULARIZATION), regularization_losses
        )
        with _v1.name_scope("merge_eval"):
            for loss_key in self._loss_keys:
                metrics[loss_key] = tf_keras.metrics.Mean(name=loss_key)
        return metrics

    def update_metrics(self, eval_metrics, features, logits, labels, regularization_losses=None):
        """Updates the loss means and adds every head's updated metrics; returns eval_metrics."""
        logits_dict = self._check_logits_and_labels(logits, labels)
        metric_ops.update_regularization_metric(
            eval_metrics, self._summary_key(MetricKeys.LOSS_REGULARIZATION), regularization_losses
        )
        for loss_key, head in zip(self._loss_keys, self._heads, strict=True):
            head_logits, head_labels = logits_dict[head.name], labels[head.name]
            eval_metrics[loss_key].update_state(values=head.loss(head_labels, head_logits, features=features))
            eval_metrics.update(head.update_metrics(head.metrics(), features, head_logits, head_labels) or {})
        return eval_metrics

    def create_estimator_spec(
        self,
        features,
        mode,
        logits,
        labels=None,
        optimizer=None,
        trainable_variables=None,
        train_op_fn=None,
        update_ops=None,
        regularization_losses=None,
    ):
        """Returns the `EstimatorSpec` for `mode` (see the class docstring).

        Raises:
          ValueError: an unknown mode, missing logits or labels of a head, or
            both or neither of optimizer and train_op_fn in TRAIN mode.
        """
        if mode not in ModeKeys.ALL:
            raise ValueError(f"mode must be one of {ModeKeys.ALL}, found {mode!r}")
        with _v1.name_scope(self.name, "multi_head"):
            logits_dict = self._check_logits_and_labels(logits, labels)
            specs = [
                head.create_estimator_spec(
                    features=features,
                    mode=mode,
                    logits=logits_dict[head.name],
                    labels=labels[head.name] if labels else None,
                    train_op_fn=_no_op_train_fn,
                )
                for head in self._heads
            ]
            predictions = self.predictions(logits)
            if mode == ModeKeys.PREDICT:
                return EstimatorSpec(
                    mode, predictions=predictions, export_outputs=self._merge_export_outputs(specs)
                )
            loss = self.loss(labels, logits, features, mode, regularization_losses)
            if mode == ModeKeys.EVAL:
                metrics = self.update_metrics(
                    self.metrics(regularization_losses=regularization_losses),
                    features,
                    logits,
                    labels,
                    regularization_losses=regularization_losses,
                )
                return EstimatorSpec(
                    mode, predictions=predictions, loss=loss, eval_metric_ops=metric_ops.metric_ops(metrics)
                )
            _ = self.loss_reduction  # TRAIN mode needs one reduction: raises ValueError otherwise
            train_op = base_head.create_train_op(
                loss, optimizer, trainable_variables, train_op_fn, update_ops
            )
            base_head.write_summaries(loss, regularization_losses)
            return EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op)

    def _merge_export_outputs(self, specs) -> dict:
        first = specs[0].export_outputs
        outputs = {base_head.DEFAULT_SERVING_KEY: first[base_head.DEFAULT_SERVING_KEY]}
        merged_predict = {}
        for head, spec in zip(self._heads, specs, strict=True):
            for key, output in spec.export_outputs.items():
                name = head.name if key == base_head.DEFAULT_SERVING_KEY else f"{head.name}/{key}"
                outputs[name] = output
                if key == base_head.PREDICT_SERVING_KEY and isinstance(output, export.PredictOutput):
                    for output_key, tensor in output.outputs.items():
                        merged_predict[f"{head.name}/{output_key}"] = tensor
        outputs[base_head.PREDICT_SERVING_KEY] = export.PredictOutput(merged_predict)
        return outputs
