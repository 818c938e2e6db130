"""Loss reductions and the reduction of a head's per-example losses to its training loss.

A head's `loss_reduction` is a `tf.keras.losses.Reduction` name ("sum_over_batch_size",
the default; "sum"; "auto", which means sum_over_batch_size), as tf.estimator 2.15's
heads take, or a `tf.compat.v1.losses.Reduction` name ("weighted_sum",
"weighted_sum_over_batch_size", "weighted_mean", "weighted_sum_by_nonzero_weights"),
as its v1 heads took. "none" is refused: a head's loss is a scalar.
"""

from __future__ import annotations

import tensorflow as tf

from ..util import fn_args

_v1 = tf.compat.v1
_V1 = _v1.losses.Reduction

SUM_OVER_BATCH_SIZE = "sum_over_batch_size"  # tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE

# Each accepted name -> the tf.compat.v1.losses reduction that computes it.
_REDUCTIONS = {
    "auto": _V1.SUM_OVER_BATCH_SIZE,
    "sum": _V1.SUM,
    SUM_OVER_BATCH_SIZE: _V1.SUM_OVER_BATCH_SIZE,
    _V1.SUM: _V1.SUM,
    _V1.SUM_OVER_BATCH_SIZE: _V1.SUM_OVER_BATCH_SIZE,
    _V1.MEAN: _V1.MEAN,
    _V1.SUM_BY_NONZERO_WEIGHTS: _V1.SUM_BY_NONZERO_WEIGHTS,
}


def validate_loss_reduction(loss_reduction) -> None:
    """Raises ValueError unless loss_reduction is a reduction name other than "none"."""
    if loss_reduction not in _REDUCTIONS:
        raise ValueError(
            f"loss_reduction must be one of {sorted(_REDUCTIONS)} (tf.keras.losses.Reduction or "
            f"tf.compat.v1.losses.Reduction, not NONE), found {loss_reduction!r}"
        )


def is_sum_over_batch_size(loss_reduction) -> bool:
    return _REDUCTIONS.get(loss_reduction) == _V1.SUM_OVER_BATCH_SIZE


def reduce_weighted_loss(unweighted_loss, weights, loss_reduction) -> tf.Tensor:
    """The scalar training loss: unweighted_loss [D0, ..., DN, d] times the
    (broadcast) weights, reduced by loss_reduction.

    sum_over_batch_size divides the weighted sum by the number of loss
    elements; weighted_mean by the sum of the weights;
    weighted_sum_by_nonzero_weights by the number of non-zero weights.
    """
    return _v1.losses.compute_weighted_loss(
        unweighted_loss, weights=weights, reduction=_REDUCTIONS[loss_reduction], loss_collection=None
    )


def add_regularization(training_loss, regularization_losses) -> tf.Tensor:
    """training_loss plus the sum of regularization_losses (if any)."""
    if regularization_losses is None:
        return training_loss
    return training_loss + tf.math.add_n(list(regularization_losses))


def call_loss_fn(loss_fn, labels, logits, features, expected_loss_dim: int = 1) -> tf.Tensor:
    """Calls a custom loss_fn(labels, logits[, features]) and checks that its
    unreduced loss is [D0, ..., DN, expected_loss_dim] for logits [D0, ..., DN, d].

    A failed check is an InvalidArgumentError when the loss is computed.
    """
    kwargs = {"features": features} if "features" in fn_args(loss_fn) else {}
    with _v1.name_scope("call_loss_fn", values=[labels, logits]):
        unweighted_loss = loss_fn(labels=labels, logits=logits, **kwargs)
        expected = tf.concat([tf.shape(logits)[:-1], [expected_loss_dim]], axis=0, name="expected_loss_shape")
        actual = tf.shape(unweighted_loss, name="loss_shape")
        same = tf.cond(
            tf.equal(tf.size(expected), tf.size(actual)),
            lambda: tf.reduce_all(tf.equal(expected, actual)),
            lambda: tf.constant(False),
        )
        check = tf.debugging.Assert(
            same,
            [
                f"loss_fn must return a Tensor of shape [D0, ..., DN, {expected_loss_dim}]:",
                "logits shape",
                tf.shape(logits),
                "loss shape",
                actual,
            ],
            name="check_loss_shape",
        )
        with tf.control_dependencies([check]):
            return tf.identity(unweighted_loss)
