"""Logit functions: `call_logit_fn`, `dnn_logit_fn_builder`, `linear_logit_fn_builder` (tf.estimator 2.15).

A logit_fn maps features (and, optionally, `mode`, `params`, `config`) to
logits, for a model_fn to hand to a head:

    logit_fn = tfe.experimental.dnn_logit_fn_builder(
        units=head.logits_dimension, hidden_units=[16], feature_columns=columns,
        activation_fn=tf.nn.relu, dropout=None, input_layer_partitioner=None, batch_norm=False)
    logits = tfe.experimental.call_logit_fn(logit_fn, features, mode, params, config)

The builders create their variables in the caller's variable scope, under the
names tf.estimator's v1 builders used: hiddenlayer_<i>/{kernel,bias},
logits/{kernel,bias}, input_from_feature_columns/input_layer/<column>/... for
the DNN; linear_model/<column>/weights and linear_model/bias_weights for the
linear model (the canned Estimators open "dnn" or "linear" around them).
"""

from __future__ import annotations

import tensorflow as tf

from ..mode_keys import ModeKeys
from ..util import fn_args
from .dnn import add_layer_summary

_v1 = tf.compat.v1
_SPARSE_COMBINERS = ("sum", "mean", "sqrtn")


def call_logit_fn(logit_fn, features, mode, params, config):
    """Calls `logit_fn(features=..., [mode=...], [params=...], [config=...])`, passing
    only the arguments it names (tf.estimator.experimental.call_logit_fn).

    Args:
      logit_fn: a function of `features` and any of `mode`, `params`, `config`.
      features: the features dict (or Tensor) of the input_fn.
      mode: a `ModeKeys` value.
      params: the hyperparameter dict.
      config: a `RunConfig`.

    Returns:
      What logit_fn returned: a Tensor, or a dict of string -> Tensor.

    Raises:
      ValueError: logit_fn returned anything else.
    """
    names = fn_args(logit_fn)
    kwargs = {
        name: value
        for name, value in (("mode", mode), ("params", params), ("config", config))
        if name in names
    }
    result = logit_fn(features=features, **kwargs)
    valid_dict = isinstance(result, dict) and all(
        isinstance(key, str) and isinstance(value, tf.Tensor) for key, value in result.items()
    )
    if not (valid_dict or isinstance(result, tf.Tensor)):
        raise ValueError(
            f"logit_fn should return a Tensor or a dictionary mapping strings to Tensors; it returned {result!r}"
        )
    return result


def dnn_logit_fn_builder(
    units, hidden_units, feature_columns, activation_fn, dropout, input_layer_partitioner, batch_norm
):
    """A `logit_fn(features, mode)` of a feed-forward network
    (tf.compat.v1.estimator.experimental.dnn_logit_fn_builder).

    The network: `tf.compat.v1.feature_column.input_layer` over the columns, one
    dense layer per `hidden_units` entry (activation; dropout in TRAIN mode;
    batch normalization, whose moving-average updates go to the UPDATE_OPS
    collection), then a linear layer of `units`. Summaries
    <scope>/fraction_of_zero_values and <scope>/activation for each layer.

    Args:
      units: the logits dimension (an int).
      hidden_units: the width of each hidden layer.
      feature_columns: dense `tf.compat.v1.feature_column` columns (or
        categorical ones in an embedding or indicator column).
      activation_fn: the hidden layers' activation.
      dropout: the probability of dropping a hidden unit in training, or None.
      input_layer_partitioner: a variable partitioner for the input layer, or None.
      batch_norm: batch-normalize after each hidden layer.

    Returns:
      `logit_fn(features, mode)` -> float32 logits [batch, units].

    Raises:
      ValueError: units is not an int.
    """
    if not isinstance(units, int):
        raise ValueError(f"units must be an int, found {type(units).__name__}")
    feature_columns = list(feature_columns)
    hidden_units = list(hidden_units)

    def dnn_logit_fn(features, mode):
        training = mode == ModeKeys.TRAIN
        with _v1.variable_scope("input_from_feature_columns", partitioner=input_layer_partitioner):
            net = _v1.feature_column.input_layer(features, feature_columns)
        prefix = _scope_prefix()
        for i, width in enumerate(hidden_units):
            name = f"hiddenlayer_{i}"
            net = _v1.layers.Dense(
                width,
                activation=activation_fn,
                kernel_initializer=_v1.glorot_uniform_initializer(),
                name=name,
            )(net)
            if dropout is not None and training:
                net = _v1.layers.dropout(net, rate=dropout, training=True)
            if batch_norm:
                # Momentum 0.999, as tf.estimator (Keras' 0.99 diverged on some problems).
                net = _v1.layers.BatchNormalization(
                    momentum=0.999, trainable=True, name=f"{name}/batchnorm_{i}"
                )(net, training=training)
            add_layer_summary(net, prefix + name)
        logits = _v1.layers.Dense(
            units, activation=None, kernel_initializer=_v1.glorot_uniform_initializer(), name="logits"
        )(net)
        add_layer_summary(logits, prefix + "logits")
        return logits

    return dnn_logit_fn


def linear_logit_fn_builder(units, feature_columns, sparse_combiner="sum"):
    """A `logit_fn(features)` of a linear model
    (tf.compat.v1.estimator.experimental.linear_logit_fn_builder).

    The model is `tf.compat.v1.feature_column.linear_model` (scope
    "linear_model"). Summaries: "bias" (a scalar for units=1, else a histogram)
    and "fraction_of_zero_weights".

    Args:
      units: the logits dimension.
      feature_columns: any `tf.compat.v1.feature_column` columns.
      sparse_combiner: "sum", "mean" or "sqrtn": how a multivalent categorical
        column's weights combine.

    Returns:
      `logit_fn(features)` -> float32 logits [batch, units].

    Raises:
      ValueError: an unknown sparse_combiner (when the builder is called).
    """
    if sparse_combiner not in _SPARSE_COMBINERS:
        raise ValueError(f"sparse_combiner must be one of {_SPARSE_COMBINERS}, found {sparse_combiner!r}")
    feature_columns = list(feature_columns)

    def linear_logit_fn(features):
        cols_to_vars = {}
        logits = _v1.feature_column.linear_model(
            features,
            feature_columns,
            units=units,
            sparse_combiner=sparse_combiner,
            cols_to_vars=cols_to_vars,
        )
        bias = cols_to_vars.pop("bias")[0]
        weights = [v for column_vars in cols_to_vars.values() for v in column_vars]
        if units > 1:
            _v1.summary.histogram("bias", bias)
        else:
            _v1.summary.scalar("bias", bias[0])
        _v1.summary.scalar("fraction_of_zero_weights", _fraction_of_zero(weights))
        return logits

    return linear_logit_fn


def _scope_prefix() -> str:
    """The current variable scope's name followed by "/" ("" at the top)."""
    name = _v1.get_variable_scope().name
    return f"{name}/" if name else ""


def _fraction_of_zero(variables) -> tf.Tensor:
    """The fraction of zero entries over all the variables (0 when there are none)."""
    if not variables:
        return tf.constant(0.0)
    with _v1.name_scope("zero_fraction"):
        sizes = [tf.cast(tf.size(v), tf.float32) for v in variables]
        zeros = [tf.math.zero_fraction(v) * size for v, size in zip(variables, sizes, strict=True)]
        return tf.math.divide_no_nan(tf.math.add_n(zeros), tf.math.add_n(sizes))
