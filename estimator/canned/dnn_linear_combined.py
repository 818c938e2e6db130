"""Wide-and-deep Estimators: `DNNLinearCombinedClassifier`, `...Regressor`, `...Estimator` (tf.estimator 2.15's v2).

The logits are the sum of a linear model's (`linear.linear_logits`, the "wide"
part, often sparse and crossed columns) and a DNN's (`dnn.dnn_logits`, the
"deep" part, dense and embedding columns). Each part has its own optimizer:
by default Ftrl for the linear part (learning rate min(0.005, 1/sqrt(#linear
columns))) and Adagrad at 0.001 for the DNN, as tf.estimator 2.15.
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
from .dnn import add_layer_summary, dnn_logits, validate_features
from .linear import linear_logits

_v1 = tf.compat.v1
DNN_LEARNING_RATE = 0.001
LINEAR_LEARNING_RATE = 0.005


def linear_learning_rate(num_linear_feature_columns: int) -> float:
    """min(0.005, 1 / sqrt(number of linear feature columns))."""
    return min(LINEAR_LEARNING_RATE, 1.0 / math.sqrt(num_linear_feature_columns))


def _validate_feature_columns(linear_feature_columns, dnn_feature_columns) -> None:
    if not linear_feature_columns and not dnn_feature_columns:
        raise ValueError("give linear_feature_columns or dnn_feature_columns (or both); both are empty")


def _minimize(optimizer, loss, variables, global_step):
    """The update op of one part; the part given the global step advances it."""
    if optimizers.is_v1_optimizer(optimizer):
        return optimizer.minimize(loss, global_step=global_step, var_list=variables)
    if global_step is not None and not optimizer.weights:
        optimizer.iterations = global_step
    return optimizer.get_updates(loss, variables)[0]


def dnn_linear_combined_model_fn(
    features,
    labels,
    mode,
    head,
    linear_feature_columns=None,
    linear_optimizer="Ftrl",
    dnn_feature_columns=None,
    dnn_optimizer="Adagrad",
    dnn_hidden_units=None,
    dnn_activation_fn=tf.nn.relu,
    dnn_dropout=None,
    config=None,
    batch_norm=False,
    linear_sparse_combiner="sum",
):
    """The wide-and-deep model_fn: linear logits + DNN logits into `head`.

    Raises:
      ValueError: features not a dict, no feature columns, DNN columns without
        dnn_hidden_units, or a bad optimizer.
    """
    del config
    validate_features(features)
    _validate_feature_columns(linear_feature_columns, dnn_feature_columns)
    training = mode == ModeKeys.TRAIN
    parts = []  # (logits, optimizer, variables, update ops)
    if dnn_feature_columns:
        if not dnn_hidden_units:
            raise ValueError("dnn_hidden_units must be given with dnn_feature_columns")
        logits, variables, update_ops = dnn_logits(
            features,
            mode,
            head.logits_dimension,
            dnn_hidden_units,
            dnn_feature_columns,
            dnn_activation_fn,
            dnn_dropout,
            batch_norm,
        )
        opt = optimizers.get_optimizer_instance(dnn_optimizer, DNN_LEARNING_RATE) if training else None
        parts.append((logits, opt, variables, update_ops))
    if linear_feature_columns:
        logits, variables = linear_logits(
            features, head.logits_dimension, linear_feature_columns, linear_sparse_combiner
        )
        add_layer_summary(logits, "linear")
        learning_rate = linear_learning_rate(len(linear_feature_columns))
        opt = optimizers.get_optimizer_instance(linear_optimizer, learning_rate) if training else None
        parts.append((logits, opt, variables, []))
    logits = tf.math.add_n([part[0] for part in parts]) if len(parts) > 1 else parts[0][0]

    def _train_op_fn(loss):
        global_step = _v1.train.get_global_step()
        train_ops = []
        for i, (_, opt, variables, update_ops) in enumerate(parts):
            # The first part (the DNN's, when there is one) advances the global step.
            train_ops.append(_minimize(opt, loss, variables, global_step if i == 0 else None))
            train_ops.extend(update_ops)
        return tf.group(*train_ops)

    return head.create_estimator_spec(
        features=features, mode=mode, labels=labels, train_op_fn=_train_op_fn, logits=logits
    )


def _model_fn_for(head, **settings):
    """The Estimator's model_fn: dnn_linear_combined_model_fn with `head` and the constructor's settings."""
    _validate_feature_columns(settings["linear_feature_columns"], settings["dnn_feature_columns"])
    for name in ("linear_optimizer", "dnn_optimizer"):
        settings[name] = optimizers.to_legacy(settings[name])  # in the constructor: eager
    for name in ("linear_feature_columns", "dnn_feature_columns"):
        settings[name] = tuple(settings[name] or ())

    def _model_fn(features, labels, mode, config):
        return dnn_linear_combined_model_fn(features, labels, mode, head, config=config, **settings)

    return _model_fn


class DNNLinearCombinedEstimator(Estimator):
    """Wide and deep with any head (tf.estimator.DNNLinearCombinedEstimator).

    Args:
      head: a `Head`.
      model_dir: checkpoints and summaries.
      linear_feature_columns: the linear part's columns.
      linear_optimizer: its optimizer (name, instance or callable; default
        'Ftrl' at min(0.005, 1/sqrt(#linear columns)) for a name).
      dnn_feature_columns: the DNN part's columns.
      dnn_optimizer: its optimizer (default 'Adagrad'; 0.001 for a name).
      dnn_hidden_units: the DNN's hidden layer widths (required with DNN columns).
      dnn_activation_fn: the DNN's activation (default relu).
      dnn_dropout: the DNN's dropout probability, or None.
      config: a `RunConfig`.
      batch_norm: batch-normalize the DNN's hidden layers.
      linear_sparse_combiner: "sum" (default), "mean" or "sqrtn".

    Raises:
      ValueError: neither linear nor DNN feature columns.
    """

    def __init__(
        self,
        head,
        model_dir=None,
        linear_feature_columns=None,
        linear_optimizer="Ftrl",
        dnn_feature_columns=None,
        dnn_optimizer="Adagrad",
        dnn_hidden_units=None,
        dnn_activation_fn=tf.nn.relu,
        dnn_dropout=None,
        config=None,
        batch_norm=False,
        linear_sparse_combiner="sum",
    ):
        model_fn = _model_fn_for(
            head,
            linear_feature_columns=linear_feature_columns,
            linear_optimizer=linear_optimizer,
            dnn_feature_columns=dnn_feature_columns,
            dnn_optimizer=dnn_optimizer,
            dnn_hidden_units=dnn_hidden_units,
            dnn_activation_fn=dnn_activation_fn,
            dnn_dropout=dnn_dropout,
            batch_norm=batch_norm,
            linear_sparse_combiner=linear_sparse_combiner,
        )
        super().__init__(model_fn=model_fn, model_dir=model_dir, config=config)


class DNNLinearCombinedClassifier(Estimator):
    """A wide-and-deep classifier (tf.estimator.DNNLinearCombinedClassifier).

    Args:
      model_dir, linear_feature_columns, linear_optimizer, dnn_feature_columns,
        dnn_optimizer, dnn_hidden_units, dnn_activation_fn, dnn_dropout, config,
        batch_norm, linear_sparse_combiner: as DNNLinearCombinedEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      warm_start_from: a checkpoint, a model_dir or `WarmStartSettings`.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
    """

    def __init__(
        self,
        model_dir=None,
        linear_feature_columns=None,
        linear_optimizer="Ftrl",
        dnn_feature_columns=None,
        dnn_optimizer="Adagrad",
        dnn_hidden_units=None,
        dnn_activation_fn=tf.nn.relu,
        dnn_dropout=None,
        n_classes=2,
        weight_column=None,
        label_vocabulary=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
        batch_norm=False,
        linear_sparse_combiner="sum",
    ):
        head = head_utils.binary_or_multi_class_head(
            n_classes, weight_column, label_vocabulary, loss_reduction
        )
        model_fn = _model_fn_for(
            head,
            linear_feature_columns=linear_feature_columns,
            linear_optimizer=linear_optimizer,
            dnn_feature_columns=dnn_feature_columns,
            dnn_optimizer=dnn_optimizer,
            dnn_hidden_units=dnn_hidden_units,
            dnn_activation_fn=dnn_activation_fn,
            dnn_dropout=dnn_dropout,
            batch_norm=batch_norm,
            linear_sparse_combiner=linear_sparse_combiner,
        )
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class DNNLinearCombinedRegressor(Estimator):
    """A wide-and-deep regressor (tf.estimator.DNNLinearCombinedRegressor).

    Args:
      model_dir, linear_feature_columns, linear_optimizer, dnn_feature_columns,
        dnn_optimizer, dnn_hidden_units, dnn_activation_fn, dnn_dropout, config,
        batch_norm, linear_sparse_combiner: as DNNLinearCombinedEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      warm_start_from: a checkpoint, a model_dir or `WarmStartSettings`.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
    """

    def __init__(
        self,
        model_dir=None,
        linear_feature_columns=None,
        linear_optimizer="Ftrl",
        dnn_feature_columns=None,
        dnn_optimizer="Adagrad",
        dnn_hidden_units=None,
        dnn_activation_fn=tf.nn.relu,
        dnn_dropout=None,
        label_dimension=1,
        weight_column=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
        batch_norm=False,
        linear_sparse_combiner="sum",
    ):
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        model_fn = _model_fn_for(
            head,
            linear_feature_columns=linear_feature_columns,
            linear_optimizer=linear_optimizer,
            dnn_feature_columns=dnn_feature_columns,
            dnn_optimizer=dnn_optimizer,
            dnn_hidden_units=dnn_hidden_units,
            dnn_activation_fn=dnn_activation_fn,
            dnn_dropout=dnn_dropout,
            batch_norm=batch_norm,
            linear_sparse_combiner=linear_sparse_combiner,
        )
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )
