"""Baseline Estimators: `BaselineClassifier`, `BaselineRegressor`, `BaselineEstimator` (tf.estimator 2.15's v2).

The model ignores the features and learns one bias per logit (variable
baseline/bias): a classifier learns the class prior, a regressor the label
mean. A yardstick for real models.
"""

from __future__ import annotations

import tensorflow as tf

from ..estimator import Estimator
from ..head import checks, head_utils
from ..head.losses import SUM_OVER_BATCH_SIZE
from ..head.regression_head import RegressionHead
from ..mode_keys import ModeKeys
from . import optimizers

_v1 = tf.compat.v1
LEARNING_RATE = 0.3  # for a string optimizer


def _batch_size_and_checks(features, weight_key):
    """The batch size (the first dimension of the features, which must agree) and its assertions."""
    if isinstance(features, (tf.Tensor, tf.SparseTensor)):
        features = {"": features}
    if not isinstance(features, dict) or not features:
        raise ValueError(f"features must be a non-empty dict of Tensors, found {features!r}")
    batch_size, size_checks = None, []
    for key, feature in features.items():
        if key == weight_key:
            continue  # no run-time dependency on the weight (absent when serving)
        first_dim = (
            feature.dense_shape if isinstance(feature, tf.SparseTensor) else tf.shape(feature, tf.int64)
        )[0]
        if batch_size is None:
            batch_size = first_dim
        else:
            size_checks.append(
                _v1.debugging.assert_equal(
                    batch_size, first_dim, message=f"feature {key!r} has another batch size"
                )
            )
    if batch_size is None:
        raise ValueError("the baseline needs a feature besides the weight column to know the batch size")
    return batch_size, size_checks


def baseline_logits(features, num_outputs, weight_column=None):
    """Returns (logits [batch, num_outputs], [bias]): the bias variable repeated per example."""
    batch_size, size_checks = _batch_size_and_checks(features, checks.weight_column_key(weight_column))
    # Resource variables also under tf.compat.v1.disable_v2_behavior() (see dnn.dnn_logits).
    with tf.control_dependencies(size_checks), _v1.variable_scope("baseline", use_resource=True):
        bias = _v1.get_variable("bias", [num_outputs], initializer=_v1.zeros_initializer())
        logits = bias * tf.ones(tf.stack([tf.cast(batch_size, tf.int32), num_outputs]))
    return logits, [bias]


def baseline_model_fn(features, labels, mode, head, optimizer, weight_column=None, config=None):
    """The baseline Estimators' model_fn; a string optimizer gets learning rate 0.3."""
    del config
    logits, variables = baseline_logits(features, head.logits_dimension, weight_column)
    opt = optimizers.get_optimizer_instance(optimizer, LEARNING_RATE) if mode == ModeKeys.TRAIN else None
    return head.create_estimator_spec(
        features=features,
        mode=mode,
        logits=logits,
        labels=labels,
        optimizer=opt,
        trainable_variables=variables,
    )


def _model_fn_for(head, optimizer, weight_column):
    optimizer = optimizers.to_legacy(optimizer)  # in the constructor: eager

    def _model_fn(features, labels, mode, config):
        return baseline_model_fn(features, labels, mode, head, optimizer, weight_column, config)

    return _model_fn


class BaselineEstimator(Estimator):
    """A baseline with any head (tf.estimator.BaselineEstimator).

    Args:
      head: a `Head`.
      model_dir: checkpoints and summaries.
      optimizer: a name (learning rate 0.3), a tf_keras legacy optimizer, a
        `tf.compat.v1.train.Optimizer` or a callable returning one; default 'Ftrl'.
      config: a `RunConfig`.
    """

    def __init__(self, head, model_dir=None, optimizer="Ftrl", config=None):
        super().__init__(model_fn=_model_fn_for(head, optimizer, None), model_dir=model_dir, config=config)


class BaselineClassifier(Estimator):
    """Predicts the class prior, ignoring the features (tf.estimator.BaselineClassifier).

    Args:
      model_dir, optimizer, config: as BaselineEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
    """

    def __init__(
        self,
        model_dir=None,
        n_classes=2,
        weight_column=None,
        label_vocabulary=None,
        optimizer="Ftrl",
        config=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
    ):
        head = head_utils.binary_or_multi_class_head(
            n_classes, weight_column, label_vocabulary, loss_reduction
        )
        super().__init__(
            model_fn=_model_fn_for(head, optimizer, weight_column), model_dir=model_dir, config=config
        )


class BaselineRegressor(Estimator):
    """Predicts the (weighted) label mean, ignoring the features (tf.estimator.BaselineRegressor).

    Args:
      model_dir, optimizer, config: as BaselineEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
    """

    def __init__(
        self,
        model_dir=None,
        label_dimension=1,
        weight_column=None,
        optimizer="Ftrl",
        config=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
    ):
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        super().__init__(
            model_fn=_model_fn_for(head, optimizer, weight_column), model_dir=model_dir, config=config
        )
