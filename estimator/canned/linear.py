"""Linear Estimators: `LinearClassifier`, `LinearRegressor`, `LinearEstimator` (tf.estimator 2.15's v2).

The model is `tf.compat.v1.feature_column.linear_model`: one weight vector per
column (categorical columns, crossed columns and buckets get a weight per id)
plus a bias, under the variable names tf.estimator used
(linear/linear_model/<column>/weights, linear/linear_model/bias_weights).
Summaries: "bias" and "fraction_of_zero_weights".
"""

from __future__ import annotations

import math

import tensorflow as tf

from ..estimator import Estimator
from ..head import head_utils
from ..head.losses import SUM_OVER_BATCH_SIZE
from ..head.regression_head import RegressionHead
from ..mode_keys import ModeKeys
from . import optimizers
from .dnn import validate_features

_v1 = tf.compat.v1
LEARNING_RATE = 0.2  # for a string optimizer; optimizer=None uses min(0.2, 1/sqrt(#columns))
_SPARSE_COMBINERS = ("sum", "mean", "sqrtn")


def default_optimizer(feature_columns):
    """Ftrl with learning rate min(0.2, 1 / sqrt(number of feature columns))."""
    learning_rate = min(LEARNING_RATE, 1.0 / math.sqrt(len(feature_columns)))
    return optimizers.OPTIMIZER_CLS_NAMES["Ftrl"](learning_rate=learning_rate)


def validate_sparse_combiner(sparse_combiner) -> None:
    """Raises ValueError unless sparse_combiner is "sum", "mean" or "sqrtn"."""
    if sparse_combiner not in _SPARSE_COMBINERS:
        raise ValueError(f"sparse_combiner must be one of {_SPARSE_COMBINERS}, found {sparse_combiner!r}")


def linear_model(features, units, feature_columns, sparse_combiner):
    """`tf.compat.v1.feature_column.linear_model` in the current variable scope
    (variables linear_model/<column>/weights and linear_model/bias_weights).

    Returns:
      (logits float32 [batch, units], the bias variable, the columns' weight variables).
    """
    cols_to_vars = {}
    logits = _v1.feature_column.linear_model(
        features,
        list(feature_columns),
        units=units,
        sparse_combiner=sparse_combiner,
        cols_to_vars=cols_to_vars,
    )
    bias = cols_to_vars.pop("bias")[0]
    return logits, bias, [v for column_vars in cols_to_vars.values() for v in column_vars]


def add_linear_summaries(bias, weights, units) -> None:
    """The linear model's summaries in the current name scope: "bias" (a scalar for
    units=1, else a histogram) and "fraction_of_zero_weights"."""
    if units > 1:
        _v1.summary.histogram("bias", bias)
    else:
        _v1.summary.scalar("bias", bias[0])
    _v1.summary.scalar("fraction_of_zero_weights", _fraction_of_zero(weights))


def _fraction_of_zero(variables) -> tf.Tensor:
    """The fraction of zero entries over all the variables (0 when there are none)."""
    if not variables:
        return tf.constant(0.0)
    with _v1.name_scope("zero_fraction"):
        sizes = [tf.cast(tf.size(v), tf.float32) for v in variables]
        zeros = [tf.math.zero_fraction(v) * size for v, size in zip(variables, sizes, strict=True)]
        return tf.math.divide_no_nan(tf.math.add_n(zeros), tf.math.add_n(sizes))


def linear_logits(features, units, feature_columns, sparse_combiner="sum"):
    """Builds the linear model under variable scope "linear".

    Args:
      features: {name: Tensor or SparseTensor}.
      units: the logits dimension.
      feature_columns: any `tf.compat.v1.feature_column` columns.
      sparse_combiner: "sum", "mean" or "sqrtn": how a multivalent categorical
        column's weights combine.

    Returns:
      (logits float32 [batch, units], trainable variables).

    Raises:
      ValueError: an unknown sparse_combiner or no feature columns.
    """
    validate_sparse_combiner(sparse_combiner)
    if not feature_columns:
        raise ValueError("feature_columns must not be empty")
    # Resource variables also under tf.compat.v1.disable_v2_behavior() (see dnn.dnn_logits).
    with _v1.variable_scope("linear", use_resource=True) as scope:
        logits, bias, weights = linear_model(features, units, feature_columns, sparse_combiner)
        variables = _v1.get_collection(_v1.GraphKeys.TRAINABLE_VARIABLES, scope=f"{scope.name}/")
    with _v1.name_scope(None):
        add_linear_summaries(bias, weights, units)
    return logits, variables


def linear_model_fn(
    features, labels, mode, head, feature_columns, optimizer, config=None, sparse_combiner="sum"
):
    """The linear Estimators' model_fn: the linear model's logits into `head`.

    A string optimizer gets learning rate 0.2; optimizer=None is Ftrl at
    min(0.2, 1/sqrt(#columns)) (tf.estimator 2.15's rules).
    """
    del config
    validate_features(features)
    logits, variables = linear_logits(features, head.logits_dimension, feature_columns, sparse_combiner)
    opt = None
    if mode == ModeKeys.TRAIN:
        opt = optimizers.get_optimizer_instance(
            optimizer or default_optimizer(feature_columns), learning_rate=LEARNING_RATE
        )
    return head.create_estimator_spec(
        features=features,
        mode=mode,
        labels=labels,
        optimizer=opt,
        logits=logits,
        trainable_variables=variables,
    )


def _model_fn_for(head, feature_columns, optimizer, sparse_combiner):
    optimizer = optimizers.to_legacy(optimizer)  # in the constructor: eager
    feature_columns = tuple(feature_columns or ())

    def _model_fn(features, labels, mode, config):
        return linear_model_fn(
            features, labels, mode, head, feature_columns, optimizer, config, sparse_combiner
        )

    return _model_fn


class LinearEstimator(Estimator):
    """A linear model with any head (tf.estimator.LinearEstimator).

    Args:
      head: a `Head`.
      feature_columns: `tf.compat.v1.feature_column` columns (numeric,
        bucketized, categorical, hashed, crossed, ...).
      model_dir: checkpoints and summaries.
      optimizer: a name ('Adagrad', 'Adam', 'Ftrl', 'RMSProp', 'SGD'; learning
        rate 0.2), a tf_keras legacy optimizer, a `tf.compat.v1.train.Optimizer`,
        or a callable returning one. Default 'Ftrl'.
      config: a `RunConfig`.
      sparse_combiner: "sum" (default), "mean" or "sqrtn".
      warm_start_from: a checkpoint, a model_dir or `WarmStartSettings`.
    """

    def __init__(
        self,
        head,
        feature_columns,
        model_dir=None,
        optimizer="Ftrl",
        config=None,
        sparse_combiner="sum",
        warm_start_from=None,
    ):
        model_fn = _model_fn_for(head, feature_columns, optimizer, sparse_combiner)
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class LinearClassifier(Estimator):
    """A linear classifier (tf.estimator.LinearClassifier): logistic regression for
    n_classes=2, softmax regression otherwise.

    Args:
      feature_columns, model_dir, optimizer, config, warm_start_from,
        sparse_combiner: as LinearEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
    """

    def __init__(
        self,
        feature_columns,
        model_dir=None,
        n_classes=2,
        weight_column=None,
        label_vocabulary=None,
        optimizer="Ftrl",
        config=None,
        warm_start_from=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
        sparse_combiner="sum",
    ):
        head = head_utils.binary_or_multi_class_head(
            n_classes, weight_column, label_vocabulary, loss_reduction
        )
        model_fn = _model_fn_for(head, feature_columns, optimizer, sparse_combiner)
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class LinearRegressor(Estimator):
    """A linear regressor (tf.estimator.LinearRegressor): squared error.

    Args:
      feature_columns, model_dir, optimizer, config, warm_start_from,
        sparse_combiner: as LinearEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
    """

    def __init__(
        self,
        feature_columns,
        model_dir=None,
        label_dimension=1,
        weight_column=None,
        optimizer="Ftrl",
        config=None,
        warm_start_from=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
        sparse_combiner="sum",
    ):
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        model_fn = _model_fn_for(head, feature_columns, optimizer, sparse_combiner)
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )
