"""The v1 canned Estimators: tf.estimator 2.15's `tf.compat.v1.estimator` DNN, linear,
wide-and-deep and baseline classes (`estimator.compat.v1.DNNClassifier`, ...).

They differ from the v2 classes (`estimator.DNNClassifier`, ...) as 2.15's did:

- the loss is summed over the batch (`loss_reduction=tf.compat.v1.losses.Reduction.SUM`);
- optimizers are `tf.compat.v1.train` optimizers, by name ('Adagrad', 'Adam', 'Ftrl',
  'RMSProp', 'SGD' at the class's learning rate: DNN 0.05, linear 0.2, baseline 0.3,
  wide-and-deep 0.001 for the DNN and min(0.005, 1/sqrt(#linear columns)) for the
  linear part) or as an instance or a callable returning one; tf.keras optimizers
  are refused;
- variables are partitioned: `input_layer_partitioner` (DNN, wide-and-deep) or
  `partitioner` (linear), by default `min_max_variable_partitioner` over
  `config.num_ps_replicas` parameter servers (one `part_0` without them);
- the graph, hence every checkpoint, has 2.15's v1 names: model variables
  `dnn/hiddenlayer_0/kernel/part_0` (saved as `dnn/hiddenlayer_0/kernel`), slots
  named after their variable (`dnn/hiddenlayer_0/kernel/t_0/Adagrad` for a DNN,
  `linear/linear_model/x/weights/part_0/Ftrl` for a linear model,
  `dnn/hiddenlayer_0/kernel/Adagrad` for wide-and-deep), Adam's `beta1_power` in the
  head's scope, no optimizer hyperparameter variables. A model dir written by 2.15's
  v1 class resumes here, and one written here resumes in 2.15.

Heads are this runtime's (the v2 heads with a summed loss); the v1 `...Estimator`
classes take any `estimator.Head`, which 2.15's refused with a v1 optimizer.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras

from ..canned.metric_keys import MetricKeys
from ..estimator import Estimator
from ..head import checks, head_utils
from ..head.binary_class_head import BinaryClassHead
from ..head.multi_class_head import MultiClassHead
from ..head.regression_head import RegressionHead
from ..mode_keys import ModeKeys
from . import optimizers
from .baseline import baseline_logits
from .dnn import add_layer_summary, validate_features
from .logit_fns import dnn_logit_fn_builder, linear_logit_fn_builder

_v1 = tf.compat.v1
SUM = _v1.losses.Reduction.SUM  # "weighted_sum": the v1 classes' default loss_reduction
DNN_LEARNING_RATE = 0.05
LINEAR_LEARNING_RATE = 0.2
BASELINE_LEARNING_RATE = 0.3
COMBINED_DNN_LEARNING_RATE = 0.001
COMBINED_LINEAR_LEARNING_RATE = 0.005
_INPUT_LAYER_MIN_SLICE_SIZE = 64 << 20  # bytes: the input layer and linear model partition coarsely


class _V1AUC(tf_keras.metrics.AUC):
    """The area that `tf.compat.v1.metrics.auc` reports (2.15's v1 heads' "auc" and
    "auc_precision_recall"): a trapezoidal sum over the same 200 thresholds, recall
    and precision with 1e-7 added to numerator and denominator (tf.keras's AUC
    interpolates the precision-recall curve instead)."""

    def __init__(self, curve="ROC", name=None):
        super().__init__(curve=curve, name=name)
        self._v1_curve = curve

    def update_state(self, y_true, y_pred, sample_weight=None):
        # tf_keras runs a metric of another package as a tf.function, which returns Tensors only.
        super().update_state(y_true, y_pred, sample_weight)
        return tf.identity(self.true_positives[0])

    def result(self):
        epsilon = 1e-7
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        recall = tf.math.divide(tp + epsilon, tp + fn + epsilon)
        if self._v1_curve == "ROC":
            x, y = tf.math.divide(fp, fp + tn + epsilon), recall
        else:
            x, y = recall, tf.math.divide(tp + epsilon, tp + fp + epsilon)
        return tf.reduce_sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0)


class _V1BinaryClassHead(BinaryClassHead):
    """BinaryClassHead with 2.15's v1 binary head's AUC metrics (see _V1AUC)."""

    def metrics(self, regularization_losses=None):
        metrics = super().metrics(regularization_losses)
        for key, curve in ((MetricKeys.AUC, "ROC"), (MetricKeys.AUC_PR, "PR")):
            metrics[self._summary_key(key)] = _V1AUC(curve=curve, name=key)
        return metrics


def _v1_classification_head(n_classes, weight_column, label_vocabulary, loss_reduction):
    """The head of a v1 classifier: binary for n_classes == 2 (v1's AUCs), else multi-class."""
    if n_classes == 2:
        return _V1BinaryClassHead(
            weight_column=weight_column, label_vocabulary=label_vocabulary, loss_reduction=loss_reduction
        )
    return head_utils.binary_or_multi_class_head(n_classes, weight_column, label_vocabulary, loss_reduction)


def _partitioner(config, min_slice_size=None):
    """min_max_variable_partitioner over config's parameter servers (one partition without)."""
    num_ps_replicas = config.num_ps_replicas if config else 0
    kwargs = {} if min_slice_size is None else {"min_slice_size": min_slice_size}
    return _v1.min_max_variable_partitioner(max_partitions=num_ps_replicas, **kwargs)


def _head_scope(head) -> str:
    """The name scope the head's ops get next ("dnn/head/" inside the "dnn" scope):
    2.15's v1 heads created their optimizer there, so Adam's beta1_power is named in it."""
    name = _v1.get_default_graph().unique_name(head.name or "head", mark_as_used=False)
    return name + "/"


def _v1_estimator_spec(head, features, mode, labels, logits, train_op_fn, v1_head):
    """head.create_estimator_spec, trained as 2.15's `tf.compat.v1.estimator` classes trained.

    train_op_fn(loss) runs in the current variable scope, so that slots get 2.15's
    names. With `v1_head` (the classes that made 2.15's v1 heads: the classifiers
    and regressors), it runs in the head's name scope (Adam's beta1_power is
    "dnn/head/beta1_power"), the UPDATE_OPS collection (batch norm) runs with each
    step, and a summed loss gets an "average_loss" summary (the loss over the
    summed example weights) beside "loss". A head given to an `...Estimator` class
    is a v2 head, which ran train_op_fn in the "training" name scope, without
    UPDATE_OPS, as 2.15's v2 heads did.
    """
    scope = _head_scope(head) if v1_head else None

    def scoped_train_op_fn(loss):
        if scope is None:
            return train_op_fn(loss)
        with _v1.name_scope(scope):
            return train_op_fn(loss)

    update_ops = _v1.get_collection(_v1.GraphKeys.UPDATE_OPS) if v1_head else None
    spec = head.create_estimator_spec(
        features=features,
        mode=mode,
        logits=logits,
        labels=labels,
        train_op_fn=scoped_train_op_fn,
        update_ops=update_ops or None,
    )
    if v1_head and mode == ModeKeys.TRAIN and head.loss_reduction == SUM:
        _average_loss_summary(head, spec.loss, logits, features)
    return spec


def _average_loss_summary(head, loss, logits, features) -> None:
    """2.15's v1 "average_loss" training summary: the summed loss over the summed example weights."""
    if not isinstance(head, (BinaryClassHead, MultiClassHead, RegressionHead)):
        return
    regression = isinstance(head, RegressionHead)
    with _v1.name_scope(None), _v1.name_scope("average_loss"):
        weights = checks.get_weights_and_check_match_logits(
            features, head._weight_column, logits, allow_per_logit_weights=regression
        )
        loss_shaped = tf.ones_like(logits if regression else logits[..., :1])
        example_weight_sum = tf.reduce_sum(weights * loss_shaped)
        _v1.summary.scalar(head._summary_key("average_loss"), loss / example_weight_sum)


def _check_features(features) -> None:
    """Raises ValueError (2.15's v1 message) unless features is a dict."""
    if not isinstance(features, dict):
        raise ValueError(
            f"features should be a dictionary of `Tensor`s. Given type: {type(features).__name__}"
        )


def _minimize(optimizer, global_step=None, var_list=None):
    return lambda loss: optimizer.minimize(loss, global_step=global_step, var_list=var_list)


def dnn_model_fn_v1(
    features,
    labels,
    mode,
    head,
    hidden_units,
    feature_columns,
    optimizer="Adagrad",
    activation_fn=tf.nn.relu,
    dropout=None,
    input_layer_partitioner=None,
    config=None,
    batch_norm=False,
    v1_head=True,
):
    """The v1 DNN Estimators' model_fn (2.15's `_dnn_model_fn`).

    Raises:
      ValueError: a bad optimizer, or features not a dict.
    """
    optimizer = optimizers.get_optimizer_instance_v1(optimizer, learning_rate=DNN_LEARNING_RATE)
    validate_features(features)
    with _v1.variable_scope("dnn", values=tuple(features.values()), partitioner=_partitioner(config)):
        logit_fn = dnn_logit_fn_builder(
            units=head.logits_dimension,
            hidden_units=hidden_units,
            feature_columns=feature_columns,
            activation_fn=activation_fn,
            dropout=dropout,
            input_layer_partitioner=input_layer_partitioner
            or _partitioner(config, _INPUT_LAYER_MIN_SLICE_SIZE),
            batch_norm=batch_norm,
        )
        logits = logit_fn(features=features, mode=mode)
        train_op_fn = _minimize(optimizer, _v1.train.get_global_step())
        return _v1_estimator_spec(head, features, mode, labels, logits, train_op_fn, v1_head)


def linear_model_fn_v1(
    features,
    labels,
    mode,
    head,
    feature_columns,
    optimizer,
    partitioner,
    config,
    sparse_combiner="sum",
    v1_head=True,
):
    """The v1 linear Estimators' model_fn (2.15's `_linear_model_fn`); optimizer=None is
    Ftrl at min(0.2, 1/sqrt(#columns)).

    Raises:
      ValueError: features not a dict, a bad optimizer or sparse_combiner.
    """
    _check_features(features)
    partitioner = partitioner or _partitioner(config, _INPUT_LAYER_MIN_SLICE_SIZE)
    with _v1.variable_scope("linear", values=tuple(features.values()), partitioner=partitioner):
        logit_fn = linear_logit_fn_builder(head.logits_dimension, feature_columns, sparse_combiner)
        logits = logit_fn(features=features)
        if optimizer is None:
            default_rate = min(LINEAR_LEARNING_RATE, 1.0 / math.sqrt(len(feature_columns)))
            optimizer = _v1.train.FtrlOptimizer(learning_rate=default_rate)
        optimizer = optimizers.get_optimizer_instance_v1(optimizer, learning_rate=LINEAR_LEARNING_RATE)
        train_op_fn = _minimize(optimizer, _v1.train.get_global_step())
        return _v1_estimator_spec(head, features, mode, labels, logits, train_op_fn, v1_head)


def _validate_feature_columns(linear_feature_columns, dnn_feature_columns) -> None:
    if not list(linear_feature_columns or []) + list(dnn_feature_columns or []):
        raise ValueError("Either linear_feature_columns or dnn_feature_columns must be defined.")


def dnn_linear_combined_model_fn_v1(
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
    input_layer_partitioner=None,
    config=None,
    batch_norm=False,
    linear_sparse_combiner="sum",
    v1_head=True,
):
    """The v1 wide-and-deep model_fn (2.15's `_dnn_linear_combined_model_fn`): each
    part trains its own variables with its own optimizer, then the global step
    advances by one.

    Raises:
      ValueError: features not a dict, no feature columns, DNN columns without
        dnn_hidden_units, or a bad optimizer.
    """
    _check_features(features)
    _validate_feature_columns(linear_feature_columns, dnn_feature_columns)
    input_layer_partitioner = input_layer_partitioner or _partitioner(config, _INPUT_LAYER_MIN_SLICE_SIZE)
    parts = []  # (logits, optimizer, variable scope name)
    if dnn_feature_columns:
        opt = optimizers.get_optimizer_instance_v1(dnn_optimizer, learning_rate=COMBINED_DNN_LEARNING_RATE)
        if not dnn_hidden_units:
            raise ValueError("dnn_hidden_units must be defined when dnn_feature_columns is specified.")
        values = tuple(features.values())
        with _v1.variable_scope("dnn", values=values, partitioner=_partitioner(config)) as scope:
            logit_fn = dnn_logit_fn_builder(
                units=head.logits_dimension,
                hidden_units=dnn_hidden_units,
                feature_columns=dnn_feature_columns,
                activation_fn=dnn_activation_fn,
                dropout=dnn_dropout,
                input_layer_partitioner=input_layer_partitioner,
                batch_norm=batch_norm,
            )
            parts.append((logit_fn(features=features, mode=mode), opt, scope.name))
    if linear_feature_columns:
        learning_rate = min(COMBINED_LINEAR_LEARNING_RATE, 1.0 / math.sqrt(len(linear_feature_columns)))
        opt = optimizers.get_optimizer_instance_v1(linear_optimizer, learning_rate=learning_rate)
        values = tuple(features.values())
        with _v1.variable_scope("linear", values=values, partitioner=input_layer_partitioner) as scope:
            logit_fn = linear_logit_fn_builder(
                head.logits_dimension, linear_feature_columns, linear_sparse_combiner
            )
            logits = logit_fn(features=features)
            add_layer_summary(logits, scope.name)
            parts.append((logits, opt, scope.name))
    logits = parts[0][0] if len(parts) == 1 else parts[0][0] + parts[1][0]

    def train_op_fn(loss):
        train_ops = []
        for _, opt, scope_name in parts:
            variables = _v1.get_collection(_v1.GraphKeys.TRAINABLE_VARIABLES, scope=scope_name)
            train_ops.append(opt.minimize(loss, var_list=variables))
        with tf.control_dependencies([tf.group(*train_ops)]):
            return _v1.assign_add(_v1.train.get_global_step(), 1).op

    return _v1_estimator_spec(head, features, mode, labels, logits, train_op_fn, v1_head)


def baseline_model_fn_v1(
    features, labels, mode, head, optimizer, weight_column=None, config=None, v1_head=True
):
    """The v1 baseline Estimators' model_fn: one bias per logit ("baseline/bias", not
    partitioned); the optimizer is made when the train op is."""
    del config
    logits, _ = baseline_logits(features, head.logits_dimension, weight_column)

    def train_op_fn(loss):
        opt = optimizers.get_optimizer_instance_v1(optimizer, learning_rate=BASELINE_LEARNING_RATE)
        return opt.minimize(loss, global_step=_v1.train.get_global_step())

    return _v1_estimator_spec(head, features, mode, labels, logits, train_op_fn, v1_head)


# ------------------------------------------------------------------------------ the classes
def _dnn_model_fn_for(head, hidden_units, feature_columns, **settings):
    """The model_fn of a DNN class; settings: dnn_model_fn_v1's keyword arguments."""
    feature_columns = tuple(feature_columns or ())

    def _model_fn(features, labels, mode, config):
        return dnn_model_fn_v1(
            features, labels, mode, head, hidden_units, feature_columns, config=config, **settings
        )

    return _model_fn


def _linear_model_fn_for(head, feature_columns, optimizer, partitioner, sparse_combiner, v1_head=True):
    feature_columns = tuple(feature_columns or ())

    def _model_fn(features, labels, mode, config):
        return linear_model_fn_v1(
            features,
            labels,
            mode,
            head,
            feature_columns,
            optimizer,
            partitioner,
            config,
            sparse_combiner,
            v1_head,
        )

    return _model_fn


def _combined_model_fn_for(head, linear_feature_columns, dnn_feature_columns, **settings):
    _validate_feature_columns(linear_feature_columns, dnn_feature_columns)
    settings["linear_feature_columns"] = tuple(linear_feature_columns or ())
    settings["dnn_feature_columns"] = tuple(dnn_feature_columns or ())

    def _model_fn(features, labels, mode, config):
        return dnn_linear_combined_model_fn_v1(features, labels, mode, head, config=config, **settings)

    return _model_fn


def _baseline_model_fn_for(head, optimizer, weight_column, v1_head=True):
    def _model_fn(features, labels, mode, config):
        return baseline_model_fn_v1(features, labels, mode, head, optimizer, weight_column, config, v1_head)

    return _model_fn


class DNNEstimator(Estimator):
    """A DNN with any head (tf.compat.v1.estimator.DNNEstimator).

    Args:
      head: an `estimator.Head` (e.g. `MultiLabelHead(n_classes=3)`).
      hidden_units: the width of each hidden layer, e.g. [64, 32].
      feature_columns: `tf.compat.v1.feature_column` columns (dense ones, or
        categorical ones wrapped in embedding_column / indicator_column).
      model_dir: checkpoints and summaries.
      optimizer: a name ('Adagrad', 'Adam', 'Ftrl', 'RMSProp', 'SGD'; learning
        rate 0.05), a `tf.compat.v1.train.Optimizer` or a callable returning one.
      activation_fn: the hidden layers' activation (default relu).
      dropout: the probability of dropping a hidden unit in training, or None.
      input_layer_partitioner: the input layer's variable partitioner (default
        `min_max_variable_partitioner` over the parameter servers, 64 MiB slices).
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
        input_layer_partitioner=None,
        config=None,
        warm_start_from=None,
        batch_norm=False,
    ):
        model_fn = _dnn_model_fn_for(
            head, hidden_units, feature_columns, optimizer=optimizer, activation_fn=activation_fn,
            dropout=dropout, input_layer_partitioner=input_layer_partitioner,
            batch_norm=batch_norm, v1_head=False,
        )  # fmt: skip
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class DNNClassifier(Estimator):
    """A DNN classifier with a summed loss (tf.compat.v1.estimator.DNNClassifier).

    Args:
      hidden_units, feature_columns, model_dir, optimizer, activation_fn, dropout,
        input_layer_partitioner, config, warm_start_from, batch_norm: as DNNEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      loss_reduction: how to reduce the loss over the batch (default
        `tf.compat.v1.losses.Reduction.SUM`).
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
        input_layer_partitioner=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM,
        batch_norm=False,
    ):
        head = _v1_classification_head(n_classes, weight_column, label_vocabulary, loss_reduction)
        model_fn = _dnn_model_fn_for(
            head, hidden_units, feature_columns, optimizer=optimizer, activation_fn=activation_fn,
            dropout=dropout, input_layer_partitioner=input_layer_partitioner, batch_norm=batch_norm,
        )  # fmt: skip
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class DNNRegressor(Estimator):
    """A DNN regressor with a summed squared error (tf.compat.v1.estimator.DNNRegressor).

    Args:
      hidden_units, feature_columns, model_dir, optimizer, activation_fn, dropout,
        input_layer_partitioner, config, warm_start_from, batch_norm: as DNNEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      loss_reduction: default `tf.compat.v1.losses.Reduction.SUM`.
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
        input_layer_partitioner=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM,
        batch_norm=False,
    ):
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        model_fn = _dnn_model_fn_for(
            head, hidden_units, feature_columns, optimizer=optimizer, activation_fn=activation_fn,
            dropout=dropout, input_layer_partitioner=input_layer_partitioner, batch_norm=batch_norm,
        )  # fmt: skip
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class LinearEstimator(Estimator):
    """A linear model with any head (tf.compat.v1.estimator.LinearEstimator).

    Args:
      head: an `estimator.Head`.
      feature_columns: `tf.compat.v1.feature_column` columns.
      model_dir: checkpoints and summaries.
      optimizer: a name (learning rate 0.2), a `tf.compat.v1.train.Optimizer` or a
        callable returning one; None: Ftrl at min(0.2, 1/sqrt(#columns)). Default 'Ftrl'.
      config: a `RunConfig`.
      partitioner: the variables' partitioner (default `min_max_variable_partitioner`
        over the parameter servers, 64 MiB slices).
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
        partitioner=None,
        sparse_combiner="sum",
        warm_start_from=None,
    ):
        model_fn = _linear_model_fn_for(head, feature_columns, optimizer, partitioner, sparse_combiner, False)
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class LinearClassifier(Estimator):
    """A linear classifier with a summed loss (tf.compat.v1.estimator.LinearClassifier).

    Args:
      feature_columns, model_dir, optimizer, config, partitioner, warm_start_from,
        sparse_combiner: as LinearEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      loss_reduction: default `tf.compat.v1.losses.Reduction.SUM`.
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
        partitioner=None,
        warm_start_from=None,
        loss_reduction=SUM,
        sparse_combiner="sum",
    ):
        head = _v1_classification_head(n_classes, weight_column, label_vocabulary, loss_reduction)
        model_fn = _linear_model_fn_for(head, feature_columns, optimizer, partitioner, sparse_combiner)
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class LinearRegressor(Estimator):
    """A linear regressor with a summed squared error (tf.compat.v1.estimator.LinearRegressor).

    Args:
      feature_columns, model_dir, optimizer, config, partitioner, warm_start_from,
        sparse_combiner: as LinearEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      loss_reduction: default `tf.compat.v1.losses.Reduction.SUM`.
    """

    def __init__(
        self,
        feature_columns,
        model_dir=None,
        label_dimension=1,
        weight_column=None,
        optimizer="Ftrl",
        config=None,
        partitioner=None,
        warm_start_from=None,
        loss_reduction=SUM,
        sparse_combiner="sum",
    ):
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        model_fn = _linear_model_fn_for(head, feature_columns, optimizer, partitioner, sparse_combiner)
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class DNNLinearCombinedEstimator(Estimator):
    """Wide and deep with any head (tf.compat.v1.estimator.DNNLinearCombinedEstimator).

    Args:
      head: an `estimator.Head`.
      model_dir: checkpoints and summaries.
      linear_feature_columns: the linear part's columns.
      linear_optimizer: its optimizer (a name: Ftrl at min(0.005, 1/sqrt(#linear
        columns)); a `tf.compat.v1.train.Optimizer` or a callable returning one).
      dnn_feature_columns: the DNN part's columns.
      dnn_optimizer: its optimizer (a name: learning rate 0.001; default 'Adagrad').
      dnn_hidden_units: the DNN's hidden layer widths (required with DNN columns).
      dnn_activation_fn: the DNN's activation (default relu).
      dnn_dropout: the DNN's dropout probability, or None.
      input_layer_partitioner: the partitioner of the DNN's input layer and of the
        linear model (default `min_max_variable_partitioner`, 64 MiB slices).
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
        input_layer_partitioner=None,
        config=None,
        batch_norm=False,
        linear_sparse_combiner="sum",
    ):
        model_fn = _combined_model_fn_for(
            head, linear_feature_columns, dnn_feature_columns, linear_optimizer=linear_optimizer,
            dnn_optimizer=dnn_optimizer, dnn_hidden_units=dnn_hidden_units,
            dnn_activation_fn=dnn_activation_fn, dnn_dropout=dnn_dropout,
            input_layer_partitioner=input_layer_partitioner, batch_norm=batch_norm,
            linear_sparse_combiner=linear_sparse_combiner, v1_head=False,
        )  # fmt: skip
        super().__init__(model_fn=model_fn, model_dir=model_dir, config=config)


class DNNLinearCombinedClassifier(Estimator):
    """A wide-and-deep classifier with a summed loss (tf.compat.v1.estimator.DNNLinearCombinedClassifier).

    Args:
      model_dir, linear_feature_columns, linear_optimizer, dnn_feature_columns,
        dnn_optimizer, dnn_hidden_units, dnn_activation_fn, dnn_dropout,
        input_layer_partitioner, config, batch_norm, linear_sparse_combiner: as
        DNNLinearCombinedEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      warm_start_from: a checkpoint, a model_dir or `WarmStartSettings`.
      loss_reduction: default `tf.compat.v1.losses.Reduction.SUM`.
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
        input_layer_partitioner=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM,
        batch_norm=False,
        linear_sparse_combiner="sum",
    ):
        _validate_feature_columns(linear_feature_columns, dnn_feature_columns)
        head = _v1_classification_head(n_classes, weight_column, label_vocabulary, loss_reduction)
        model_fn = _combined_model_fn_for(
            head, linear_feature_columns, dnn_feature_columns, linear_optimizer=linear_optimizer,
            dnn_optimizer=dnn_optimizer, dnn_hidden_units=dnn_hidden_units,
            dnn_activation_fn=dnn_activation_fn, dnn_dropout=dnn_dropout,
            input_layer_partitioner=input_layer_partitioner, batch_norm=batch_norm,
            linear_sparse_combiner=linear_sparse_combiner,
        )  # fmt: skip
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class DNNLinearCombinedRegressor(Estimator):
    """A wide-and-deep regressor with a summed loss (tf.compat.v1.estimator.DNNLinearCombinedRegressor).

    Args:
      model_dir, linear_feature_columns, linear_optimizer, dnn_feature_columns,
        dnn_optimizer, dnn_hidden_units, dnn_activation_fn, dnn_dropout,
        input_layer_partitioner, config, batch_norm, linear_sparse_combiner: as
        DNNLinearCombinedEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      warm_start_from: a checkpoint, a model_dir or `WarmStartSettings`.
      loss_reduction: default `tf.compat.v1.losses.Reduction.SUM`.
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
        input_layer_partitioner=None,
        config=None,
        warm_start_from=None,
        loss_reduction=SUM,
        batch_norm=False,
        linear_sparse_combiner="sum",
    ):
        _validate_feature_columns(linear_feature_columns, dnn_feature_columns)
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        model_fn = _combined_model_fn_for(
            head, linear_feature_columns, dnn_feature_columns, linear_optimizer=linear_optimizer,
            dnn_optimizer=dnn_optimizer, dnn_hidden_units=dnn_hidden_units,
            dnn_activation_fn=dnn_activation_fn, dnn_dropout=dnn_dropout,
            input_layer_partitioner=input_layer_partitioner, batch_norm=batch_norm,
            linear_sparse_combiner=linear_sparse_combiner,
        )  # fmt: skip
        super().__init__(
            model_fn=model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start_from
        )


class BaselineEstimator(Estimator):
    """A baseline with any head (tf.compat.v1.estimator.BaselineEstimator).

    Args:
      head: an `estimator.Head`.
      model_dir: checkpoints and summaries.
      optimizer: a name (learning rate 0.3), a `tf.compat.v1.train.Optimizer` or a
        callable returning one; default 'Ftrl'.
      config: a `RunConfig`.
    """

    def __init__(self, head, model_dir=None, optimizer="Ftrl", config=None):
        model_fn = _baseline_model_fn_for(head, optimizer, None, v1_head=False)
        super().__init__(model_fn=model_fn, model_dir=model_dir, config=config)


class BaselineClassifier(Estimator):
    """Predicts the class prior with a summed loss (tf.compat.v1.estimator.BaselineClassifier).

    Args:
      model_dir, optimizer, config: as BaselineEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a feature key or numeric_column of example weights.
      label_vocabulary: the label strings, if labels are strings.
      loss_reduction: default `tf.compat.v1.losses.Reduction.SUM`.
    """

    def __init__(
        self,
        model_dir=None,
        n_classes=2,
        weight_column=None,
        label_vocabulary=None,
        optimizer="Ftrl",
        config=None,
        loss_reduction=SUM,
    ):
        head = _v1_classification_head(n_classes, weight_column, label_vocabulary, loss_reduction)
        model_fn = _baseline_model_fn_for(head, optimizer, weight_column)
        super().__init__(model_fn=model_fn, model_dir=model_dir, config=config)


class BaselineRegressor(Estimator):
    """Predicts the (weighted) label mean with a summed loss (tf.compat.v1.estimator.BaselineRegressor).

    Args:
      model_dir, optimizer, config: as BaselineEstimator.
      label_dimension: regression targets per example (default 1).
      weight_column: a feature key or numeric_column of example weights.
      loss_reduction: default `tf.compat.v1.losses.Reduction.SUM`.
    """

    def __init__(
        self,
        model_dir=None,
        label_dimension=1,
        weight_column=None,
        optimizer="Ftrl",
        config=None,
        loss_reduction=SUM,
    ):
        head = RegressionHead(
            label_dimension=label_dimension, weight_column=weight_column, loss_reduction=loss_reduction
        )
        model_fn = _baseline_model_fn_for(head, optimizer, weight_column)
        super().__init__(model_fn=model_fn, model_dir=model_dir, config=config)
