"""Checks and reshapes of a head's inputs: constructor arguments, logits, labels and weights.

Static shapes are checked while the graph is built (a `ValueError` names the
shapes); what is only known at run time becomes an assertion op (an
`InvalidArgumentError` when the session runs it).
"""

from __future__ import annotations

import functools

import tensorflow as tf

from ..util import fn_args

_v1 = tf.compat.v1

LABEL_NONE_MESSAGE = (
    "labels must be given in TRAIN and EVAL mode, found None: check that the input_fn "
    "returns (features, labels) and that the label is in the data"
)


@functools.cache
def _numeric_column_type() -> type:
    return type(_v1.feature_column.numeric_column("_"))


def is_numeric_column(value) -> bool:
    """Is value a (tf.compat.v1 or tf) feature_column.numeric_column?"""
    return isinstance(value, _numeric_column_type())


def validate_label_vocabulary(label_vocabulary, n_classes: int | None = None) -> None:
    """Raises ValueError unless label_vocabulary is None or a list/tuple (of n_classes items)."""
    if label_vocabulary is None:
        return
    if not isinstance(label_vocabulary, (list, tuple)):
        raise ValueError(
            f"label_vocabulary must be a list or a tuple of strings, found {type(label_vocabulary).__name__}"
        )
    if n_classes is not None and len(label_vocabulary) != n_classes:
        raise ValueError(
            f"label_vocabulary must have n_classes ({n_classes}) items, found {len(label_vocabulary)}: "
            f"{label_vocabulary}"
        )


def validate_thresholds(thresholds) -> tuple[float, ...]:
    """Returns thresholds as a tuple; raises ValueError if one is not in (0, 1)."""
    thresholds = tuple(thresholds) if thresholds else ()
    for threshold in thresholds:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"thresholds must be in (0, 1), found {threshold} in {thresholds}")
    return thresholds


def validate_loss_fn_args(loss_fn) -> None:
    """loss_fn must take `labels` and `logits`, and may take `features` and `loss_reduction`."""
    args = fn_args(loss_fn)
    for required in ("labels", "logits"):
        if required not in args:
            raise ValueError(f"loss_fn must take an argument named {required!r}; it takes {args}")
    unexpected = sorted(set(args) - {"labels", "logits", "features", "loss_reduction"})
    if unexpected:
        raise ValueError(
            f"loss_fn may only take labels, logits, features and loss_reduction; it also takes {unexpected}"
        )


def check_logits_final_dim(logits, expected_dim: int) -> tf.Tensor:
    """Casts logits to float32 and checks their shape is [D0, ..., DN, expected_dim].

    Raises:
      ValueError: the static rank is below 2 or the static last dimension differs.
    """
    with _v1.name_scope("logits", values=[logits]) as scope:
        logits = tf.cast(logits, tf.float32)
        shape = logits.shape
        if shape.rank is not None:
            if shape.rank < 2:
                raise ValueError(f"logits must have rank >= 2 ([D0, ..., DN, {expected_dim}]), found {shape}")
            if shape[-1] is not None:
                if shape[-1] != expected_dim:
                    raise ValueError(f"logits shape must be [D0, ..., DN, {expected_dim}], found {shape}")
                return logits
        assert_rank = _v1.debugging.assert_rank_at_least(
            logits, 2, message=f"logits shape must be [D0, ..., DN, {expected_dim}]"
        )
        with tf.control_dependencies([assert_rank]):
            assert_dim = _v1.debugging.assert_equal(
                tf.shape(logits)[-1],
                expected_dim,
                message=f"logits shape must be [D0, ..., DN, {expected_dim}]",
                data=[tf.shape(logits)],
            )
        with tf.control_dependencies([assert_dim]):
            return tf.identity(logits, name=scope)


def check_dense_labels_match_logits_and_reshape(labels, logits, expected_labels_dimension: int):
    """Checks labels are [D0, ..., DN, expected_labels_dimension] like logits'
    [D0, ..., DN, logits_dimension]; labels of rank one less get a last dimension of 1.

    Raises:
      ValueError: labels are None or a SparseTensor, or their static last
        dimension differs from expected_labels_dimension.
    """
    if labels is None:
        raise ValueError(LABEL_NONE_MESSAGE)
    with _v1.name_scope("labels", values=[labels, logits]) as scope:
        labels = _v1.convert_to_tensor_or_sparse_tensor(labels)
        if isinstance(labels, tf.SparseTensor):
            raise ValueError(
                f"labels must be a dense Tensor of shape [D0, ..., DN, {expected_labels_dimension}], found a "
                "SparseTensor: convert it in the input_fn with tf.sparse.to_dense"
            )
        if labels.shape.rank is not None and logits.shape.rank is not None:
            if labels.shape.rank == logits.shape.rank - 1:
                labels = tf.expand_dims(labels, -1)
            if labels.shape.rank < 2:
                raise ValueError(
                    f"labels must have rank >= 2 ([D0, ..., DN, {expected_labels_dimension}]), "
                    f"found shape {labels.shape}"
                )
            last = labels.shape[-1]
            if last is not None and last != expected_labels_dimension:
                raise ValueError(
                    f"labels must have last dimension {expected_labels_dimension} (n_classes or "
                    f"label_dimension of the head), found shape {labels.shape}"
                )
            if labels.shape.is_fully_defined() and logits.shape[:-1].is_fully_defined():
                if labels.shape[:-1] != logits.shape[:-1]:
                    raise ValueError(
                        f"labels shape {labels.shape} does not match logits shape {logits.shape} "
                        f"(expected [D0, ..., DN, {expected_labels_dimension}])"
                    )
                return labels
        expected = tf.concat([tf.shape(logits)[:-1], [expected_labels_dimension]], axis=0)
        assert_shape = tf.debugging.Assert(
            _same_shape(expected, tf.shape(labels)),
            [
                f"labels shape must be [D0, ..., DN, {expected_labels_dimension}], matching the logits:",
                "expected labels shape",
                expected,
                "labels shape",
                tf.shape(labels),
            ],
        )
        with tf.control_dependencies([assert_shape]):
            return tf.identity(labels, name=scope)


def check_label_range(labels, n_classes: int, message: str | None = None) -> tf.Tensor:
    """Returns labels with a run-time assertion that they lie in [0, n_classes - 1]."""
    with _v1.name_scope("check_label_range", values=[labels]):
        in_range = tf.logical_and(
            tf.reduce_all(tf.greater_equal(labels, tf.cast(0, labels.dtype))),
            tf.reduce_all(tf.less_equal(labels, tf.cast(n_classes - 1, labels.dtype))),
        )
        check = tf.debugging.Assert(
            in_range,
            [message or f"labels must be in [0, n_classes - 1 = {n_classes - 1}]:", labels],
            summarize=10,
        )
        with tf.control_dependencies([check]):
            return tf.identity(labels)


def weight_column_key(weight_column) -> str | None:
    """The feature key of a weight column (a string or a numeric_column).

    Raises:
      TypeError: weight_column is neither.
    """
    if weight_column is None:
        return None
    if isinstance(weight_column, str):
        return weight_column
    if not is_numeric_column(weight_column):
        raise TypeError(
            "weight_column must be a string or a numeric_column, found "
            f"{type(weight_column).__name__}: {weight_column!r}"
        )
    return weight_column.key


def get_weights_and_check_match_logits(features, weight_column, logits, allow_per_logit_weights=False):
    """The example weights of `features`, float32 [D0, ..., DN, 1] (or, if allowed,
    [D0, ..., DN, logits_dimension]), or the Python float 1.0 without a weight column.

    A numeric_column's normalizer_fn is applied. Weights of shape [D0, ..., DN]
    get a last dimension of 1.

    Raises:
      TypeError: weight_column is neither a string nor a numeric_column.
      KeyError: the weight feature is missing.
      ValueError: the weights are sparse, not numeric, or of the wrong static shape.
    """
    key = weight_column_key(weight_column)
    if key is None:
        return 1.0
    allowed = "[D0, ..., DN], [D0, ..., DN, 1]" + (
        " or [D0, ..., DN, logits_dimension]" if allow_per_logit_weights else ""
    )
    with _v1.name_scope("weights", values=[logits]) as scope:
        if key not in features:
            raise KeyError(f"weight_column {key!r} is not among the features {sorted(features)}")
        weights = features[key]
        if isinstance(weights, tf.SparseTensor):
            raise ValueError(f"weight feature {key!r} must be a dense Tensor, found a SparseTensor")
        weights = tf.convert_to_tensor(weights)
        if not (weights.dtype.is_floating or weights.dtype.is_integer):
            raise ValueError(
                f"weight feature {key!r} must be castable to float, found dtype {weights.dtype.name}"
            )
        if weights.shape.rank == 1:
            weights = tf.expand_dims(weights, -1)
        normalizer_fn = getattr(weight_column, "normalizer_fn", None)
        if normalizer_fn is not None:
            weights = normalizer_fn(weights)
        weights = tf.cast(weights, tf.float32, name="weights")
        if weights.shape.rank is not None and logits.shape.rank is not None:
            if weights.shape.rank == logits.shape.rank - 1:
                weights = tf.expand_dims(weights, -1)
            last, logits_last = weights.shape[-1], logits.shape[-1]
            if last is not None and last != 1 and not (allow_per_logit_weights and last == logits_last):
                raise ValueError(
                    f"weights shape must be {allowed}; found {weights.shape}, logits {logits.shape}"
                )
        weights_shape, logits_shape = tf.shape(weights), tf.shape(logits)
        ok = _same_shape(weights_shape, tf.concat([logits_shape[:-1], [1]], axis=0))
        if allow_per_logit_weights:
            ok = tf.logical_or(ok, _same_shape(weights_shape, logits_shape))
        assert_shape = tf.debugging.Assert(
            ok,
            [
                f"weights shape must be {allowed}:",
                "logits shape",
                logits_shape,
                "weights shape",
                weights_shape,
            ],
        )
        with tf.control_dependencies([assert_shape]):
            return tf.identity(weights, name=scope)


def _same_shape(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """A bool scalar: do the 1-D shape vectors a and b agree (lengths first, then values)?"""
    length_a, length_b = a.shape[0], b.shape[0]
    if length_a is not None and length_b is not None:
        if length_a != length_b:
            return tf.constant(False)
        return tf.reduce_all(tf.equal(a, b))
    return tf.cond(
        tf.equal(tf.size(a), tf.size(b)),
        lambda: tf.reduce_all(tf.equal(a, b)),
        lambda: tf.constant(False),
    )
