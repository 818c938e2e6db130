"""The `Head` interface (tf.estimator.Head) and what the built-in heads share.

A head turns logits into predictions, a loss, eval metrics, a train op and
export outputs; `create_estimator_spec` assembles them into an `EstimatorSpec`
for the mode. Everything is built in the TF1 graph the Estimator makes.

Signatures of an export: "serving_default" plus "classification",
"regression" and "predict", as tf.estimator's heads name them.
"""

from __future__ import annotations

import abc

import tensorflow as tf

from .. import export
from ..canned import optimizers
from ..canned.metric_keys import MetricKeys
from ..canned.prediction_keys import PredictionKeys
from ..mode_keys import ModeKeys
from ..model_fn import EstimatorSpec
from . import checks, losses, metric_ops

_v1 = tf.compat.v1

DEFAULT_SERVING_KEY = export.DEFAULT_SERVING_KEY  # "serving_default"
CLASSIFY_SERVING_KEY = "classification"
REGRESS_SERVING_KEY = "regression"
PREDICT_SERVING_KEY = "predict"


class Head(abc.ABC):
    """Interface for the top of a model: from logits to loss, predictions, metrics
    and an `EstimatorSpec` (tf.estimator.Head).

    Usage in a model_fn:

        head = tfe.BinaryClassHead()
        logits = tf.compat.v1.layers.dense(net, head.logits_dimension)
        return head.create_estimator_spec(
            features=features, mode=mode, logits=logits, labels=labels,
            optimizer=tf.keras.optimizers.legacy.Adagrad(0.05),
            trainable_variables=tf.compat.v1.trainable_variables())
    """

    @property
    @abc.abstractmethod
    def name(self):
        """The head's name (str or None); metric and summary keys get "/<name>"."""

    @property
    @abc.abstractmethod
    def logits_dimension(self):
        """The size of the last dimension of the logits, [D0, ..., DN, logits_dimension]."""

    @property
    @abc.abstractmethod
    def loss_reduction(self):
        """How the per-example losses are reduced to the training loss (a Reduction name)."""

    @abc.abstractmethod
    def loss(self, labels, logits, features=None, mode=None, regularization_losses=None):
        """The scalar training loss (plus the regularization losses)."""

    @abc.abstractmethod
    def predictions(self, logits, keys=None):
        """A dict of prediction Tensors keyed by `PredictionKeys` (all by default)."""

    @abc.abstractmethod
    def metrics(self, regularization_losses=None):
        """A dict of new tf.keras Metric objects keyed by metric name."""

    @abc.abstractmethod
    def update_metrics(self, eval_metrics, features, logits, labels, mode=None, regularization_losses=None):
        """Updates the metrics of `metrics()` with one batch; returns the dict."""

    def create_estimator_spec(
        self,
        features,
        mode,
        logits,
        labels=None,
        optimizer=None,
        trainable_variables=None,
        train_op_fn=None,
        update_ops=None,
        regularization_losses=None,
    ):
        """Returns the `EstimatorSpec` for `mode`; subclasses implement it.

        Raises:
          NotImplementedError: the subclass does not.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement create_estimator_spec()")

    def _summary_key(self, key: str) -> str:
        return f"{key}/{self.name}" if self.name else key


class _SingleHead(Head):
    """What the built-in heads share: one set of logits, a weighted and reduced
    loss, one create_estimator_spec.

    A head sets `_name` and `_loss_reduction`, and says how its labels are
    processed (`_processed_labels`), what its unreduced loss and example weights
    are (`_unweighted_loss_and_weights`) and what it exports (`_export_outputs`).
    """

    name = property(lambda self: self._name)
    loss_reduction = property(lambda self: self._loss_reduction)

    def _processed_labels(self, logits, labels):
        raise NotImplementedError

    def _unweighted_loss_and_weights(self, logits, labels, features):
        raise NotImplementedError

    def _export_outputs(self, predictions: dict) -> dict:
        raise NotImplementedError

    def _loss_terms(self, logits, labels, features):
        """(logits checked against logits_dimension, processed labels, unreduced loss, weights).

        Raises:
          ValueError: logits or labels of the wrong shape or type.
        """
        logits = checks.check_logits_final_dim(logits, self.logits_dimension)
        labels = self._processed_labels(logits, labels)
        unweighted, weights = self._unweighted_loss_and_weights(logits, labels, features or {})
        return logits, labels, unweighted, weights

    def _metric_terms(self, logits, labels, features):
        """As `_loss_terms`, with unit weights (no weight column) as None, as Keras metrics take them."""
        logits, labels, unweighted, weights = self._loss_terms(logits, labels, features)
        return logits, labels, unweighted, None if isinstance(weights, float) else weights

    def loss(self, labels, logits, features=None, mode=None, regularization_losses=None):
        """The training loss, a float32 scalar: the head's unreduced loss (see the
        class) times the example weights, reduced by loss_reduction, plus the sum of
        regularization_losses.

        Raises:
          ValueError: logits or labels of the wrong shape or type.
        """
        del mode
        with _v1.name_scope("losses"):
            _, _, unweighted, weights = self._loss_terms(logits, labels, features)
            training_loss = losses.reduce_weighted_loss(unweighted, weights, self._loss_reduction)
            return losses.add_regularization(training_loss, regularization_losses)

    def create_estimator_spec(
        self,
        features,
        mode,
        logits,
        labels=None,
        optimizer=None,
        trainable_variables=None,
        train_op_fn=None,
        update_ops=None,
        regularization_losses=None,
    ):
        """Returns the `EstimatorSpec` for `mode`.

        Args:
          features: {name: Tensor or SparseTensor}; the weight column is read from it.
          mode: a `ModeKeys` value.
          logits: float Tensor [D0, ..., DN, logits_dimension].
          labels: Tensor matching the logits; required in TRAIN and EVAL.
          optimizer: in TRAIN mode, a tf_keras legacy optimizer (trained with
            `get_updates(loss, trainable_variables)`) or a
            `tf.compat.v1.train.Optimizer` (`minimize`); exactly one of
            optimizer and train_op_fn.
          trainable_variables: the variables the optimizer trains (required for a
            Keras optimizer).
          train_op_fn: `loss -> train_op`, instead of an optimizer.
          update_ops: ops to run with each training step (e.g. batch norm's).
          regularization_losses: scalar losses added to the training loss.

        Returns:
          PREDICT: predictions and export outputs. EVAL: loss, predictions and
          eval_metric_ops as (value, update_op) pairs. TRAIN: loss, predictions
          and train_op; the loss summary (and regularization_loss) is written.

        Raises:
          ValueError: an unknown mode, missing labels, both or neither of
            optimizer and train_op_fn, or shapes that do not match.
        """
        if mode not in ModeKeys.ALL:
            raise ValueError(f"mode must be one of {ModeKeys.ALL}, found {mode!r}")
        with _v1.name_scope(self.name, "head"):
            predictions = self.predictions(logits)
            if mode == ModeKeys.PREDICT:
                return EstimatorSpec(
                    mode, predictions=predictions, export_outputs=self._export_outputs(predictions)
                )
            loss = self.loss(
                labels, logits, features=features, mode=mode, regularization_losses=regularization_losses
            )
            if mode == ModeKeys.EVAL:
                metrics = self.update_metrics(
                    self.metrics(regularization_losses=regularization_losses),
                    features,
                    logits,
                    labels,
                    regularization_losses=regularization_losses,
                )
                return EstimatorSpec(
                    mode, predictions=predictions, loss=loss, eval_metric_ops=metric_ops.metric_ops(metrics)
                )
            train_op = create_train_op(loss, optimizer, trainable_variables, train_op_fn, update_ops)
        write_summaries(loss, regularization_losses, self._summary_key)
        return EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op)


def create_train_op(loss, optimizer, trainable_variables, train_op_fn, update_ops):
    """The train op: the optimizer's (or train_op_fn's) update, grouped with update_ops.

    A Keras optimizer's `iterations` becomes the global step when it has no
    variables yet, so that each step advances the global step (the canned
    Estimators do this; a model_fn that hands the head a fresh optimizer gets the
    same). A `tf.compat.v1.train.Optimizer` increments the global step itself.

    Raises:
      ValueError: both or neither of optimizer and train_op_fn; a Keras
        optimizer without trainable_variables; update_ops not a list or tuple.
    """
    if update_ops is not None and not isinstance(update_ops, (list, tuple)):
        raise ValueError(f"update_ops must be a list or a tuple, found {type(update_ops).__name__}")
    with _v1.name_scope(None), _v1.name_scope("training"):
        if optimizer is not None:
            if train_op_fn is not None:
                raise ValueError("give optimizer or train_op_fn, not both")
            global_step = _v1.train.get_global_step()
            if optimizers.is_v1_optimizer(optimizer):
                train_op = optimizer.minimize(loss, global_step=global_step, var_list=trainable_variables)
            elif optimizers.is_keras_optimizer(optimizer):
                if not isinstance(trainable_variables, (list, tuple)):
                    raise ValueError(
                        "trainable_variables must be a list or a tuple of Variables with a Keras optimizer, "
                        f"found {type(trainable_variables).__name__}"
                    )
                optimizer = optimizers.for_graph(optimizer)
                if global_step is not None and not optimizer.weights:
                    optimizer.iterations = global_step
                train_op = optimizer.get_updates(loss, list(trainable_variables))[0]
            else:
                raise ValueError(
                    "optimizer must be a tf.keras.optimizers.legacy.Optimizer or a tf.compat.v1.train.Optimizer, "
                    f"found {type(optimizer).__name__}"
                )
        elif train_op_fn is not None:
            train_op = train_op_fn(loss)
        else:
            raise ValueError("give optimizer or train_op_fn in TRAIN mode; both are None")
        if update_ops:
            train_op = tf.group(train_op, *update_ops)
        return train_op


def write_summaries(loss, regularization_losses=None, summary_key_fn=None) -> None:
    """Scalar summaries of the training loss ("loss") and the regularization loss."""
    key = summary_key_fn or (lambda k: k)
    with _v1.name_scope(None):
        _v1.summary.scalar(key(MetricKeys.LOSS), loss)
        if regularization_losses is not None:
            _v1.summary.scalar(
                key(MetricKeys.LOSS_REGULARIZATION), tf.math.add_n(list(regularization_losses))
            )


def all_class_ids(logits, n_classes: int) -> tf.Tensor:
    """int32 [batch, n_classes]: 0 .. n_classes - 1 in each row."""
    batch_size = tf.shape(logits)[0]
    return tf.tile(tf.expand_dims(tf.range(n_classes), 0), [batch_size, 1])


def all_classes(logits, n_classes: int, label_vocabulary=None) -> tf.Tensor:
    """string [batch, n_classes]: the class names (or ids as strings) in each row."""
    batch_size = tf.shape(logits)[0]
    if label_vocabulary:
        names = tf.constant([list(label_vocabulary)])
    else:
        names = tf.strings.as_string(tf.expand_dims(tf.range(n_classes), 0))
    return tf.tile(names, [batch_size, 1])


def classification_export_outputs(
    predictions, n_classes: int, label_vocabulary=None, regression=None
) -> dict:
    """A classification head's export outputs: "serving_default" and "classification"
    (the probabilities [batch, n_classes] and every class name), "regression" when
    given, and "predict" (all of `predictions`)."""
    classification = export.ClassificationOutput(
        scores=predictions[PredictionKeys.PROBABILITIES],
        classes=all_classes(predictions[PredictionKeys.PROBABILITIES], n_classes, label_vocabulary),
    )
    outputs = {DEFAULT_SERVING_KEY: classification, CLASSIFY_SERVING_KEY: classification}
    if regression is not None:
        outputs[REGRESS_SERVING_KEY] = regression
    outputs[PREDICT_SERVING_KEY] = export.PredictOutput(predictions)
    return outputs


def add_class_predictions(predictions, keys, class_logits, n_classes: int, label_vocabulary=None) -> None:
    """Adds the class predictions of `keys` to `predictions`: class_ids (int64 [.., 1],
    the argmax of class_logits [.., n_classes]), classes (string [.., 1]: the class's
    label_vocabulary entry, or its id), all_class_ids (int32 [batch, n_classes]) and
    all_classes (string [batch, n_classes])."""
    k = PredictionKeys
    if k.CLASS_IDS in keys or k.CLASSES in keys:
        class_ids = tf.expand_dims(tf.argmax(class_logits, axis=-1, name=k.CLASS_IDS), -1)
        if k.CLASS_IDS in keys:
            predictions[k.CLASS_IDS] = class_ids
        if k.CLASSES in keys:
            if label_vocabulary is not None:
                classes = class_string_table(label_vocabulary).lookup(class_ids)
            else:
                classes = tf.strings.as_string(class_ids, name="str_classes")
            predictions[k.CLASSES] = classes
    if k.ALL_CLASS_IDS in keys:
        predictions[k.ALL_CLASS_IDS] = all_class_ids(class_logits, n_classes)
    if k.ALL_CLASSES in keys:
        predictions[k.ALL_CLASSES] = all_classes(class_logits, n_classes, label_vocabulary)


def class_id_table(label_vocabulary) -> tf.lookup.StaticHashTable:
    """string label -> int64 id (-1 for a string not in the vocabulary)."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(label_vocabulary)), tf.range(len(label_vocabulary), dtype=tf.int64)
    )
    return tf.lookup.StaticHashTable(initializer, default_value=-1, name="class_id_lookup")


def class_string_table(label_vocabulary) -> tf.lookup.StaticHashTable:
    """int64 id -> string label ("UNK" for an id out of range)."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.range(len(label_vocabulary), dtype=tf.int64), tf.constant(list(label_vocabulary))
    )
    return tf.lookup.StaticHashTable(initializer, default_value="UNK", name="class_string_lookup")


def check_prediction_keys(keys, valid_keys) -> None:
    """Raises ValueError for a key that is not in valid_keys."""
    for key in keys:
        if key not in valid_keys:
            raise ValueError(f"prediction key {key!r} is not one of this head's keys {list(valid_keys)}")


def requested_keys(keys, valid_keys):
    """The prediction keys asked for: all of valid_keys when keys is empty or None.

    Raises:
      ValueError: a key that is not in valid_keys.
    """
    if not keys:
        return valid_keys
    check_prediction_keys(keys, valid_keys)
    return keys
