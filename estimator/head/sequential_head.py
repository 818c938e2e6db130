"""A head for models with one prediction per sequence step (tf.estimator 2.15's sequential_head).

`SequentialHeadWrapper` wraps a single head: in TRAIN and EVAL mode it keeps
the unpadded steps of the logits [batch, time, ...] and labels (and of the
feature columns it names, e.g. a weight column) with the sequence mask
`features[sequence_length_mask]` (bool [batch, time]), and hands the flat
[steps, ...] tensors to the wrapped head; in PREDICT mode it adds the mask to
the wrapped head's predictions. `RNNClassifier(return_sequences=True)` uses it.
"""

from __future__ import annotations

import abc

import tensorflow as tf

from ..mode_keys import ModeKeys
from . import base_head
from .multi_head import MultiHead

_v1 = tf.compat.v1


class SequentialHead(base_head.Head):
    """A head whose logits have a time dimension; `input_sequence_mask_key` names
    the feature holding the sequence mask (bool [batch, time])."""

    @property
    @abc.abstractmethod
    def input_sequence_mask_key(self):
        """The key of the sequence mask in the features dict (a str)."""


class SequentialHeadWrapper(SequentialHead):
    """Applies a static head to the unpadded steps of sequences.

    Args:
      static_head: the `Head` to wrap (not a MultiHead).
      sequence_length_mask: the features key of the sequence mask, a bool or
        0/1 Tensor [batch, time].
      feature_columns: a features key or a list of them (typically the weight
        column) whose [batch, time, ...] values are flattened with the mask
        before the static head reads them.

    Raises:
      TypeError: sequence_length_mask or a feature column is not a string.
      ValueError: static_head is a MultiHead.
    """

    def __init__(self, static_head, sequence_length_mask="sequence_length_mask", feature_columns=None):
        if not isinstance(sequence_length_mask, str):
            raise TypeError(
                f"sequence_length_mask must be a string, found {type(sequence_length_mask).__name__}"
            )
        feature_columns = feature_columns or []
        if isinstance(feature_columns, str):
            feature_columns = [feature_columns]
        feature_columns = list(feature_columns)
        for column in feature_columns:
            if not isinstance(column, str):
                raise TypeError(
                    f"feature_columns must be strings (features keys), found {type(column).__name__}: {column!r}"
                )
        if isinstance(static_head, MultiHead):
            raise ValueError("a MultiHead cannot be wrapped in a SequentialHeadWrapper")
        self._static_head = static_head
        self._sequence_length_mask = sequence_length_mask
        self._feature_columns = feature_columns

    input_sequence_mask_key = property(lambda self: self._sequence_length_mask)
    static_head = property(lambda self: self._static_head)
    logits_dimension = property(lambda self: self._static_head.logits_dimension)
    loss_reduction = property(lambda self: self._static_head.loss_reduction)

    @property
    def name(self):
        """The static head's name + "_sequential", or None if the static head has no name."""
        return f"{self._static_head.name}_sequential" if self._static_head.name else None

    def _flatten(self, labels, logits, features):
        """(labels, logits, {column: values}) with their first two dimensions
        [batch, time] flattened to the unpadded steps.

        Raises:
          ValueError: the mask is missing from features or not of rank 2, a
            feature column is missing, or a tensor has rank < 2.
        """
        features = features or {}
        if self.input_sequence_mask_key not in features:
            raise ValueError(
                f"the sequence mask {self.input_sequence_mask_key!r} must be in the features; "
                f"found keys {sorted(features)}"
            )
        mask = features[self.input_sequence_mask_key]
        if mask.shape.rank != 2:
            raise ValueError(f"the sequence mask must have rank 2 [batch, time], found shape {mask.shape}")
        mask = tf.cast(mask, tf.bool)
        with _v1.name_scope("flatten"):
            steps = tf.reduce_sum(tf.cast(mask, tf.int32))
            flat_features = {}
            for column in self._feature_columns:
                if column not in features:
                    raise ValueError(f"feature {column!r} of feature_columns is not in the features")
                flat_features[column] = _flatten_tensor(features[column], mask, steps)
            return _flatten_tensor(labels, mask, steps), _flatten_tensor(logits, mask, steps), flat_features

    def loss(self, labels, logits, features=None, mode=None, regularization_losses=None):
        """The static head's loss over the unpadded steps."""
        flat_labels, flat_logits, flat_features = self._flatten(labels, logits, features)
        return self._static_head.loss(
            labels=flat_labels,
            logits=flat_logits,
            features=flat_features,
            mode=mode,
            regularization_losses=regularization_losses,
        )

    def predictions(self, logits, keys=None):
        """The static head's predictions of every step (padding included)."""
        return self._static_head.predictions(logits, keys=keys)

    def metrics(self, regularization_losses=None):
        """The static head's metrics."""
        return self._static_head.metrics(regularization_losses=regularization_losses)

    def update_metrics(self, eval_metrics, features, logits, labels, mode=None, regularization_losses=None):
        """Updates the static head's metrics with the unpadded steps."""
        del mode
        flat_labels, flat_logits, flat_features = self._flatten(labels, logits, features)
        return self._static_head.update_metrics(
            eval_metrics,
            flat_features,
            flat_logits,
            flat_labels,
            regularization_losses=regularization_losses,
        )

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
        """The static head's `EstimatorSpec` on the unpadded steps (TRAIN, EVAL);
        in PREDICT mode its predictions of every step plus the sequence mask
        (key `input_sequence_mask_key`).

        Raises:
          ValueError: as `_flatten`, or as the static head's create_estimator_spec.
        """
        if mode == ModeKeys.PREDICT:
            spec = self._static_head.create_estimator_spec(features=features, mode=mode, logits=logits)
            predictions = dict(spec.predictions)
            predictions[self.input_sequence_mask_key] = features[self.input_sequence_mask_key]
            return spec._replace(predictions=predictions)
        flat_labels, flat_logits, flat_features = self._flatten(labels, logits, features)
        return self._static_head.create_estimator_spec(
            features=flat_features,
            mode=mode,
            logits=flat_logits,
            labels=flat_labels,
            optimizer=optimizer,
            trainable_variables=trainable_variables,
            train_op_fn=train_op_fn,
            update_ops=update_ops,
            regularization_losses=regularization_losses,
        )


def _flatten_tensor(tensor, mask, steps):
    """The unpadded steps of a [batch, time, D...] Tensor or SparseTensor as [steps, D...]
    ([steps, 1] for a rank-2 input), with a check that there are `steps` of them.

    A dense tensor is masked with `mask`; a SparseTensor keeps its values, in
    index order.

    Raises:
      ValueError: rank < 2, or not a Tensor or SparseTensor.
    """
    rank = tensor.shape.rank
    if rank is None or rank < 2:
        raise ValueError(
            f"a sequential tensor must have rank >= 2 [batch, time, ...], found shape {tensor.shape}"
        )
    if isinstance(tensor, tf.SparseTensor):
        flat = tf.sparse.reorder(tensor).values
        if rank > 2:
            flat = tf.reshape(flat, tf.concat([[-1], tf.cast(tensor.dense_shape[2:], tf.int32)], 0))
    elif isinstance(tensor, tf.Tensor):
        flat = tf.boolean_mask(tensor, mask)
    else:
        raise ValueError(f"expected a Tensor or a SparseTensor, found {type(tensor).__name__}")
    if rank == 2:
        flat = tf.expand_dims(flat, -1)
    check = _v1.debugging.assert_equal(
        tf.shape(flat)[0], steps, message="Tensor shape is incompatible with provided mask."
    )
    with tf.control_dependencies([check]):
        return tf.identity(flat)
