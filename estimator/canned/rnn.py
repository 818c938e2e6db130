"""Recurrent network Estimators: `RNNClassifier` and `RNNEstimator` (tf.estimator 2.15's
`tf.estimator.experimental` ones).

The network, a tf_keras Model named "rnn_model" called in the Estimator's TF1
graph: `tf_keras.experimental.SequenceFeatures` over the sequence columns
(float [batch, time, d] and the sequence lengths), the context columns
(`DenseFeatures`, [batch, c]) repeated at every step and appended, a tf_keras
RNN layer masked with `tf.sequence_mask(lengths)`, and a dense "logits" layer
of `head.logits_dimension` units, on the last output or (return_sequences) on
every step. Variables: rnn_model/<rnn layer>/<cell>/{kernel,recurrent_kernel,bias},
rnn_model/logits/{kernel,bias}, sequence_features/<column>_embedding/embedding_weights.
Summary: the histogram "sequence_length".
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from ..estimator import Estimator
from ..head import head_utils
from ..head.losses import SUM_OVER_BATCH_SIZE
from ..head.sequential_head import SequentialHead, SequentialHeadWrapper
from ..mode_keys import ModeKeys
from . import optimizers
from .dnn import validate_features

_v1 = tf.compat.v1
_LOG = tf.get_logger()

# A string optimizer gets this learning rate and gradient clipping by norm (tf.estimator's defaults).
LEARNING_RATE = 0.05
CLIP_NORM = 5.0

SIMPLE_RNN, LSTM, GRU = "simple_rnn", "lstm", "gru"
_LAYERS = {SIMPLE_RNN: tf_keras.layers.SimpleRNN, LSTM: tf_keras.layers.LSTM, GRU: tf_keras.layers.GRU}
_CELLS = {
    SIMPLE_RNN: tf_keras.layers.SimpleRNNCell,
    LSTM: tf_keras.layers.LSTMCell,
    GRU: tf_keras.layers.GRUCell,
}


class _UseDefault:
    """The default of `cell_type`: 'simple_rnn', unless rnn_cell_fn is given."""

    def __repr__(self):
        return "USE_DEFAULT"


USE_DEFAULT = _UseDefault()


def _check_cell_arguments(rnn_cell_fn, units, cell_type) -> None:
    """Raises ValueError unless exactly one of rnn_cell_fn and units (with cell_type) is given."""
    if rnn_cell_fn is not None:
        if units or cell_type is not USE_DEFAULT:
            raise ValueError("units and cell_type must not be given with rnn_cell_fn")
        if not callable(rnn_cell_fn):
            raise ValueError(f"rnn_cell_fn must be a callable returning an RNN cell, found {rnn_cell_fn!r}")
    elif not units:
        raise ValueError(f"give units (hidden units per RNN layer) or rnn_cell_fn; units is {units!r}")
    if isinstance(cell_type, str) and cell_type not in _CELLS:
        raise ValueError(f"cell_type must be one of {sorted(_CELLS)} or a cell class, found {cell_type!r}")


def _cell(units: int, cell_type):
    """One RNN cell of `units` units: a cell_type name or a cell class.

    Raises:
      ValueError: cell_type is neither, or the cell has no `call` and `state_size`.
    """
    cell_class = _CELLS.get(cell_type, cell_type)
    if not callable(cell_class):
        raise ValueError(f"cell_type must be one of {sorted(_CELLS)} or a cell class, found {cell_type!r}")
    cell = cell_class(units=units)
    if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
        raise ValueError(f"an RNN cell needs a `call` method and a `state_size`; {cell!r} has not")
    return cell


def _rnn_layer(rnn_cell_fn, units, cell_type, return_sequences):
    """The tf_keras RNN layer: a SimpleRNN / LSTM / GRU layer for an int `units`
    and a cell type name; else `tf_keras.layers.RNN` over rnn_cell_fn()'s cell or
    one cell per entry of `units` (stacked)."""
    if cell_type is USE_DEFAULT and rnn_cell_fn is None:
        cell_type = SIMPLE_RNN
    if isinstance(units, int) and cell_type in _LAYERS:
        return _LAYERS[cell_type](units=units, return_sequences=return_sequences)
    if rnn_cell_fn is not None:
        cell = rnn_cell_fn()
    else:
        cells = [_cell(n, cell_type) for n in ([units] if isinstance(units, int) else units)]
        cell = cells[0] if len(cells) == 1 else cells
    return tf_keras.layers.RNN(cell=cell, return_sequences=return_sequences)


class _RNNModel(tf_keras.Model):
    """Sequence (and context) features -> RNN -> logits.

    Called on a features dict, returns (logits, sequence_mask): logits float32
    [batch, units] or, for an RNN layer returning sequences, [batch, time, units]; the mask
    bool [batch, time] (True on the steps within each sequence's length).
    """

    def __init__(self, rnn_layer, units, sequence_feature_columns, context_feature_columns):
        super().__init__(name="rnn_model")
        self._sequence_features = tf_keras.experimental.SequenceFeatures(list(sequence_feature_columns))
        self._context_features = None
        if context_feature_columns:
            self._context_features = _v1.keras.layers.DenseFeatures(list(context_feature_columns))
        self._rnn_layer = rnn_layer
        self._logits_layer = tf_keras.layers.Dense(units=units, name="logits")

    def call(self, inputs, training=None):
        with _v1.name_scope("sequence_input_layer"):
            sequence_input, sequence_length = self._sequence_features(inputs, training=training)
            _v1.summary.histogram("sequence_length", sequence_length)
            if self._context_features is not None:
                context_input = self._context_features(inputs, training=training)
                sequence_input = _append_context(sequence_input, context_input)
        mask = tf.sequence_mask(sequence_length, maxlen=tf.shape(sequence_input)[1])
        outputs = self._rnn_layer(sequence_input, mask=mask, training=training)
        return self._logits_layer(outputs), mask


def _append_context(sequence_input, context_input):
    """float32 [batch, time, d] and [batch, c] -> [batch, time, d + c]: the context at every step."""
    steps = tf.shape(sequence_input)[1]
    tiled = tf.tile(tf.expand_dims(context_input, 1), tf.stack([1, steps, 1]))
    return tf.concat([sequence_input, tf.cast(tiled, sequence_input.dtype)], axis=2)


def _optimizer(optimizer):
    """A name: that optimizer at LEARNING_RATE with gradients clipped to CLIP_NORM;
    else as `optimizers.get_optimizer_instance`."""
    if isinstance(optimizer, str):
        if optimizer not in optimizers.OPTIMIZER_CLS_NAMES:
            raise ValueError(
                f"optimizer name must be one of {sorted(optimizers.OPTIMIZER_CLS_NAMES)}, found {optimizer!r}"
            )
        return optimizers.OPTIMIZER_CLS_NAMES[optimizer](learning_rate=LEARNING_RATE, clipnorm=CLIP_NORM)
    return optimizers.get_optimizer_instance(optimizer)


def rnn_model_fn(
    features,
    labels,
    mode,
    head,
    sequence_feature_columns,
    context_feature_columns=None,
    units=None,
    cell_type=USE_DEFAULT,
    rnn_cell_fn=None,
    return_sequences=False,
    optimizer="Adagrad",
):
    """The RNN Estimators' model_fn: the network's logits into `head`.

    With return_sequences, the sequence mask is added to the features under
    `head.input_sequence_mask_key` unless the input gives one.

    Raises:
      ValueError: features not a dict, a bad optimizer or cell.
    """
    validate_features(features)
    training = mode == ModeKeys.TRAIN
    opt = _optimizer(optimizer) if training else None
    model = _RNNModel(
        _rnn_layer(rnn_cell_fn, units, cell_type, return_sequences),
        head.logits_dimension,
        sequence_feature_columns,
        context_feature_columns,
    )
    logits, mask = model(features, training=training)
    if return_sequences and head.input_sequence_mask_key not in features:
        features = {**features, head.input_sequence_mask_key: mask}
    return head.create_estimator_spec(
        features=features,
        mode=mode,
        labels=labels,
        optimizer=opt,
        logits=logits,
        trainable_variables=model.trainable_variables,
        update_ops=list(model.updates),
    )


class RNNEstimator(Estimator):
    """A recurrent network with any head (tf.estimator.experimental.RNNEstimator).

    Input: for each sequence column a SparseTensor [batch, time] (as
    `tf.io.parse_example` gives for its `make_parse_example_spec`); for each
    context column what it reads (a dense Tensor for a numeric_column).

    Args:
      head: a `Head`; with return_sequences, a `SequentialHeadWrapper`.
      sequence_feature_columns: `tf.compat.v1.feature_column.sequence_*`
        columns (sequence_numeric_column, or an embedding / indicator column of
        a sequence_categorical_column_*).
      context_feature_columns: dense columns of per-example features, fed to
        the RNN at every step.
      units: an int, or a list of ints (one stacked cell each); with cell_type.
      cell_type: 'simple_rnn' (the default), 'lstm', 'gru', or a tf_keras RNN
        cell class. An int `units` with a name uses that tf_keras layer
        (SimpleRNN, LSTM, GRU).
      rnn_cell_fn: a function of no arguments returning a tf_keras RNN cell (or
        a list of them), instead of units and cell_type.
      return_sequences: predict at every step instead of at the last.
      model_dir: checkpoints and summaries.
      optimizer: a name ('Adagrad', 'Adam', 'Ftrl', 'RMSProp', 'SGD': learning
        rate 0.05, gradients clipped to norm 5), a tf_keras legacy optimizer, a
        `tf.compat.v1.train.Optimizer`, or a callable returning one. Default 'Adagrad'.
      config: a `RunConfig`.

    Raises:
      ValueError: units or cell_type with rnn_cell_fn, neither units nor
        rnn_cell_fn, an unknown cell_type, or return_sequences with a head that
        is not sequential.
    """

    def __init__(
        self,
        head,
        sequence_feature_columns,
        context_feature_columns=None,
        units=None,
        cell_type=USE_DEFAULT,
        rnn_cell_fn=None,
        return_sequences=False,
        model_dir=None,
        optimizer="Adagrad",
        config=None,
    ):
        if return_sequences and not isinstance(head, SequentialHead):
            raise ValueError(
                "with return_sequences=True the head must be a SequentialHeadWrapper, "
                f"found {type(head).__name__}"
            )
        _check_cell_arguments(rnn_cell_fn, units, cell_type)
        optimizer = optimizers.to_legacy(optimizer)  # in the constructor: eager
        sequence_feature_columns = tuple(sequence_feature_columns)
        context_feature_columns = tuple(context_feature_columns or ())

        def _model_fn(features, labels, mode):
            return rnn_model_fn(
                features,
                labels,
                mode,
                head,
                sequence_feature_columns,
                context_feature_columns,
                units=units,
                cell_type=cell_type,
                rnn_cell_fn=rnn_cell_fn,
                return_sequences=return_sequences,
                optimizer=optimizer,
            )

        super().__init__(model_fn=_model_fn, model_dir=model_dir, config=config)


class RNNClassifier(RNNEstimator):
    """A recurrent network classifier (tf.estimator.experimental.RNNClassifier):
    BinaryClassHead for n_classes=2, else MultiClassHead; with return_sequences,
    wrapped in a `SequentialHeadWrapper` (one class per step).

    Args:
      sequence_feature_columns, context_feature_columns, units, cell_type,
        rnn_cell_fn, return_sequences, model_dir, optimizer, config: as RNNEstimator.
      n_classes: the number of classes (default 2).
      weight_column: a features key or numeric_column of example weights (with
        return_sequences: a key of [batch, time] weights).
      label_vocabulary: the label strings, if labels are strings.
      loss_reduction: how to reduce the loss over the batch (default "sum_over_batch_size").
      sequence_mask: with return_sequences, the features key of the sequence
        mask: an input feature of that name is used, else the mask of the
        sequence lengths; predictions include it under that key.

    Raises:
      ValueError: as RNNEstimator, or a bad n_classes, label_vocabulary or loss_reduction.
      TypeError: return_sequences with a weight_column that is not a string.
    """

    def __init__(
        self,
        sequence_feature_columns,
        context_feature_columns=None,
        units=None,
        cell_type=USE_DEFAULT,
        rnn_cell_fn=None,
        return_sequences=False,
        model_dir=None,
        n_classes=2,
        weight_column=None,
        label_vocabulary=None,
        optimizer="Adagrad",
        loss_reduction=SUM_OVER_BATCH_SIZE,
        sequence_mask="sequence_mask",
        config=None,
    ):
        head = head_utils.binary_or_multi_class_head(
            n_classes, weight_column, label_vocabulary, loss_reduction
        )
        if return_sequences:
            _LOG.info(
                "Converting head to sequential head with `SequentialHeadWrapper` to allow sequential "
                "predictions."
            )
            head = SequentialHeadWrapper(
                head, sequence_length_mask=sequence_mask, feature_columns=weight_column
            )
        super().__init__(
            head=head,
            sequence_feature_columns=sequence_feature_columns,
            context_feature_columns=context_feature_columns,
            units=units,
            cell_type=cell_type,
            rnn_cell_fn=rnn_cell_fn,
            return_sequences=return_sequences,
            model_dir=model_dir,
            optimizer=optimizer,
            config=config,
        )
