"""Deep neural network Estimators: `DNNClassifier`, `DNNRegressor`, `DNNEstimator` (tf.estimator 2.15's v2).

The network: `tf.compat.v1.feature_column.input_layer` over the feature columns,
then one dense layer per `hidden_units` entry (activation, optional dropout in
training, optional batch normalization), then a linear layer of
`head.logits_dimension` units. Variables are named as tf.estimator named them:
dnn/hiddenlayer_<i>/{kernel,bias}, dnn/logits/{kernel,bias},
dnn/input_from_feature_columns/input_layer/<column>/... Summaries:
dnn/<layer>/fraction_of_zero_values and dnn/<layer>/activation.
"""

from __future__ import annotations

import tensorflow as tf

from ..estimator import Estimator
from ..head import head_utils
from ..head.losses import SUM_OVER_BATCH_SIZE
from ..head.regression_head import RegressionHead
from ..mode_keys import ModeKeys
from . import optimizers

_v1 = tf.compat.v1


def add_layer_summary(value, tag: str) -> None:
    """Summaries of a layer's output: <tag>/fraction_of_zero_values and <tag>/activation."""
    with _v1.name_scope(None):
        _v1.summary.scalar(f"{tag}/fraction_of_zero_values", tf.math.zero_fraction(value))
        _v1.summary.histogram(f"{tag}/activation", value)


def validate_features(features) -> None:
    if not isinstance(features, dict):
        raise ValueError(f"features must be a dict of Tensors, found {type(features).__name__}")


def dnn_logits(features, mode, units, hidden_units, feature_columns, activation_fn, dropout, batch_norm):
    """Builds the network under variable scope "dnn".

    Args:
      features: {name: Tensor or SparseTensor}.
      mode: a ModeKeys value (dropout and batch-norm statistics in TRAIN only).
      units: the logits dimension.
      hidden_units: the width of each hidden layer.
      feature_columns: the input columns (dense, or categorical wrapped in an
        embedding or indicator column).
      activation_fn: the hidden layers' activation.
      dropout: the probability of dropping a hidden unit in training, or None.
      batch_norm: batch-normalize each hidden layer's output.

    Returns:
      (logits float32 [batch, units], trainable variables, update ops).

    Raises:
      ValueError: units is not an int.
    """
    check_units(units)
    # Resource variables, as 2.15's Keras layers made, also under tf.compat.v1.disable_v2_behavior():
    # a Keras optimizer cannot make slots for ref variables.
    with _v1.variable_scope("dnn", use_resource=True) as scope:
        logits, update_ops = dnn_network(
            features, mode, units, hidden_units, feature_columns, activation_fn, dropout, batch_norm
        )
        variables = _v1.get_collection(_v1.GraphKeys.TRAINABLE_VARIABLES, scope=f"{scope.name}/")
    return logits, variables, update_ops


def check_units(units) -> None:
    """Raises ValueError unless the logits dimension `units` is an int."""
    if not isinstance(units, int):
        raise ValueError(f"units must be an int, found {type(units).__name__}")


def dnn_network(
    features,
    mode,
    units,
    hidden_units,
    feature_columns,
    activation_fn,
    dropout,
    batch_norm,
    input_layer_partitioner=None,
):
    """The feed-forward network of the DNN Estimators and `dnn_logit_fn_builder`, in
    the current variable scope, under tf.estimator's names:
    input_from_feature_columns/input_layer/<column>/..., hiddenlayer_<i>/{kernel,bias}
    (and hiddenlayer_<i>/batchnorm_<i>/...), logits/{kernel,bias}; summaries
    <scope>/<layer>/fraction_of_zero_values and <scope>/<layer>/activation.

    Args:
      features, mode, units, hidden_units, feature_columns, activation_fn,
        dropout, batch_norm: as `dnn_logits`.
      input_layer_partitioner: a variable partitioner for the input layer, or None.

    Returns:
      (logits float32 [batch, units], the batch normalization update ops; they are
      also in the UPDATE_OPS collection).
    """
    training = mode == ModeKeys.TRAIN
    update_ops = []
    with _v1.variable_scope("input_from_feature_columns", partitioner=input_layer_partitioner):
        net = _v1.feature_column.input_layer(features, list(feature_columns))
    scope_name = _v1.get_variable_scope().name
    prefix = f"{scope_name}/" if scope_name else ""
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
            layer = _v1.layers.BatchNormalization(
                momentum=0.999, trainable=True, name=f"{name}/batchnorm_{i}"
            )
            net = layer(net, training=training)
            update_ops.extend(layer.updates)
        add_layer_summary(net, prefix + name)
    logits = _v1.layers.Dense(
        units, activation=None, kernel_initializer=_v1.glorot_uniform_initializer(), name="logits"
    )(net)
    add_layer_summary(logits, prefix + "logits")
    return logits, update_ops


def dnn_model_fn(
    features,
    labels,
    mode,
    head,
    hidden_units,
    feature_columns,
    optimizer="Adagrad",
    activation_fn=tf.nn.relu,
    dropout=None,
    config=None,
    batch_norm=False,
):
    """The DNN Estimators' model_fn: the network's logits into `head`.

    A string optimizer gets the optimizer's own default learning rate (Adagrad:
    0.001), as tf.estimator 2.15's v2 DNN Estimators did.

    Raises:
      ValueError: features not a dict, or a bad optimizer.
    """
    del config
    validate_features(features)
    logits, variables, update_ops = dnn_logits(
        features,
        mode,
        head.logits_dimension,
        hidden_units,
        feature_columns,
        activation_fn,
        dropout,
        batch_norm,
    )
    opt = optimizers.get_optimizer_instance(optimizer) if mode == ModeKeys.TRAIN else None
    return head.create_estimator_spec(
        features=features,
        mode=mode,
        labels=labels,
        optimizer=opt,
        logits=logits,
        trainable_variables=variables,
        update_ops=update_ops,
    )


def _model_fn_for(head, hidden_units, feature_columns, optimizer, activation_fn, dropout, batch_norm):
    optimizer = optimizers.to_legacy(optimizer)  # in the constructor: eager
    feature_columns = tuple(feature_columns or ())

    def _model_fn(features, labels, mode, config):
        return dnn_model_fn(
            features,
            labels,
            mode,
            head,
            hidden_units,
            feature_columns,
            optimizer=optimizer,
            activation_fn=activation_fn,
            dropout=dropout,
            config=config,
            batch_norm=batch_norm,
        )

    return _model_fn


class DNNEstimator(Estimator):
    """A DNN with any head (tf.estimator.DNNEstimator).

    Args:
      head: a `Head` (e.g. `MultiLabelHead(n_classes=3)`).
      hidden_units: the width of each hidden layer, e.g. [64, 32].
      feature_columns: `tf.compat.v1.feature_column` columns (dense ones, or
        categorical ones wrapped in embedding_column / indicator_column).
      model_dir: checkpoints and summaries.
      optimizer: a name ('Adagrad', 'Adam', 'Ftrl', 'RMSProp', 'SGD'; the
        optimizer's default learning rate), a tf_keras legacy optimizer, a
        `tf.compat.v1.train.Optimizer`, or a callable returning one. Default Adagrad.
      activation_fn: the hidden layers' activation (default relu).
      dropout: the probability of dropping a hidden unit in training, or None.
      config: a `RunConfig`.
      warm_start_from: a checkpoint, a model_dir or `WarmStartSettings`.
      batch_norm: batch-normalize after each hidden layer.
    """

    def __init__(
        self,
        head,
        hidden_units,
        feature_columns,
        model_dir=None,
        optimizer="Adagrad",
        activation_fn=tf.nn.relu,
        dropout=None,
        config=None,
        warm_start_from=None,
        batch_norm=False,
    ):
        model_fn = _model_fn_for(
            head, hidden_units, feature_columns, optimizer, activation_fn, dropout, batch_norm
        )
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class DNNClassifier(Estimator):
    """A DNN classifier (tf.estimator.DNNClassifier): BinaryClassHead for
    n_classes=2, else MultiClassHead.

    Args:
      hidden_units, feature_columns, model_dir, optimizer, activation_fn,
        dropout, config, warm_start_from, batch_norm: as DNNEstimator.
      n_classes: the number of classes (default 2); labels are ids in
        [0, n_classes) unless label_vocabulary is given.
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      loss_reduction: how to reduce the loss over the batch (default
        "sum_over_batch_size"); see `estimator.head.losses`.
    """

    def __init__(
        self,
        hidden_units,
        feature_columns,
        model_dir=None,
        n_classes=2,
        weight_column=None,
        label_vocabulary=None,
        optimizer="Adagrad",
        activation_fn=tf.nn.relu,
        dropout=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
        batch_norm=False,
    ):
        head = head_utils.binary_or_multi_class_head(
            n_classes, weight_column, label_vocabulary, loss_reduction
        )
        model_fn = _model_fn_for(
            head, hidden_units, feature_columns, optimizer, activation_fn, dropout, batch_norm
        )
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class DNNRegressor(Estimator):
    """A DNN regressor (tf.estimator.DNNRegressor): RegressionHead, squared error.

    Args:
      hidden_units, feature_columns, model_dir, optimizer, activation_fn,
        dropout, config, warm_start_from, batch_norm: as DNNEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
    """

    def __init__(
        self,
        hidden_units,
        feature_columns,
        model_dir=None,
        label_dimension=1,
        weight_column=None,
        optimizer="Adagrad",
        activation_fn=tf.nn.relu,
        dropout=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM_OVER_BATCH_SIZE,
        batch_norm=False,
    ):
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        model_fn = _model_fn_for(
            head, hidden_units, feature_columns, optimizer, activation_fn, dropout, batch_norm
        )
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )
