"""Parse specs for tf.Examples that hold a canned Estimator's features, label and weight."""

from __future__ import annotations

import tensorflow as tf

from ..head.checks import is_numeric_column

_fc = tf.compat.v1.feature_column


def classifier_parse_example_spec(
    feature_columns, label_key, label_dtype=tf.int64, label_default=None, weight_column=None
) -> dict:
    """The `tf.io.parse_example` spec of the feature columns plus a classifier's label.

    Args:
      feature_columns: the model's feature columns.
      label_key: the label's feature key; parsed as FixedLenFeature([1], label_dtype).
      label_dtype: tf.int64 (class ids) or tf.string (with a label_vocabulary).
      label_default: the label's default value (None: the label is required).
      weight_column: a key or numeric_column of example weights, parsed too.

    Returns:
      {feature key: FixedLenFeature / VarLenFeature}.

    Raises:
      ValueError: label_key or the weight key is also a feature, or
        weight_column is not a key or numeric_column.
    """
    spec = _fc.make_parse_example_spec(feature_columns)
    label_spec = tf.io.FixedLenFeature((1,), label_dtype, label_default)
    return _add_label_and_weight(spec, label_key, label_spec, weight_column)


def regressor_parse_example_spec(
    feature_columns,
    label_key,
    label_dtype=tf.float32,
    label_default=None,
    label_dimension=1,
    weight_column=None,
) -> dict:
    """The `tf.io.parse_example` spec of the feature columns plus a regressor's label,
    FixedLenFeature([label_dimension], label_dtype). Arguments and errors as
    `classifier_parse_example_spec`.
    """
    spec = _fc.make_parse_example_spec(feature_columns)
    label_spec = tf.io.FixedLenFeature((label_dimension,), label_dtype, label_default)
    return _add_label_and_weight(spec, label_key, label_spec, weight_column)


def _add_label_and_weight(spec: dict, label_key, label_spec, weight_column) -> dict:
    if label_key in spec:
        raise ValueError(f"label_key {label_key!r} is also a feature: {sorted(spec)}")
    spec[label_key] = label_spec
    if weight_column is None:
        return spec
    if isinstance(weight_column, str):
        weight_column = _fc.numeric_column(weight_column)
    if not is_numeric_column(weight_column):
        raise ValueError(
            f"weight_column must be a key or a numeric_column, found {type(weight_column).__name__}: {weight_column!r}"
        )
    if weight_column.key in spec:
        raise ValueError(f"weight_column {weight_column.key!r} is also a feature: {sorted(spec)}")
    spec.update(weight_column.parse_example_spec)
    return spec
