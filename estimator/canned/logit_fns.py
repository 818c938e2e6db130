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

from ..util import fn_args
from .dnn import check_units, dnn_network
from .linear import add_linear_summaries, linear_model, validate_sparse_combiner

_v1 = tf.compat.v1


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
    check_units(units)
    feature_columns = list(feature_columns)
    hidden_units = list(hidden_units)

    def dnn_logit_fn(features, mode):
        logits, _ = dnn_network(
            features,
            mode,
            units,
            hidden_units,
            feature_columns,
            activation_fn,
            dropout,
            batch_norm,
            input_layer_partitioner,
        )
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
    validate_sparse_combiner(sparse_combiner)
    feature_columns = list(feature_columns)

    def linear_logit_fn(features):
        logits, bias, weights = linear_model(features, units, feature_columns, sparse_combiner)
        add_linear_summaries(bias, weights, units)
        return logits

    return linear_logit_fn
