"""What a tf_keras `Model.compile()` asked for, rebuilt in the Estimator's TF1 graph.

tf.estimator 2.15 compiled a clone of the model in its graph with Keras's graph
(v1) training engine. This module gives the same public results from the
compile() arguments with public tf_keras API:

- the loss: each output's loss (strings and functions reduced as a mean over
  the batch, `Loss` objects by their own reduction), times its loss weight,
  summed, plus the model's own losses (regularizers, `add_loss`);
- the metrics, named as that engine named them: a string keeps its spelling
  ("accuracy", "mse"), a function its `__name__`, a `Metric` its `name`; with
  several outputs the name is prefixed "<output name>_"; a repeated name gets
  "_1", "_2"; "accuracy"/"acc" and "crossentropy"/"ce" become the binary,
  sparse or categorical variant that fits the output's loss and shape;
- the optimizer, as a graph-mode optimizer whose step counter is the global step:
  a tf_keras legacy optimizer (a new-style tf_keras optimizer is converted to
  its legacy twin, as 2.15 did) or a `tf.compat.v1.train.Optimizer`.
"""

from __future__ import annotations

import collections.abc
import dataclasses

import tensorflow as tf
import tf_keras

_v1 = tf.compat.v1
_LOG = tf.get_logger()
_ACCURACY = ("accuracy", "acc")
_CROSSENTROPY = ("crossentropy", "ce")
_SUM_OVER_BATCH_SIZE = tf_keras.losses.Reduction.SUM_OVER_BATCH_SIZE


@dataclasses.dataclass(frozen=True)
class CompileArgs:
    """The arguments of `model.compile()`, with the optimizer made graph-ready."""

    make_optimizer: OptimizerFactory
    loss: object = None
    loss_weights: object = None
    metrics: object = None
    weighted_metrics: object = None


def compile_args(model) -> CompileArgs | None:
    """The model's compile() arguments; None if the model was not compiled.

    Raises:
      ValueError: an optimizer this runtime cannot run in graph mode.
    """
    if getattr(model, "optimizer", None) is None:
        return None
    # tf_keras's own record of the user's compile() arguments (what its cloning and saving use);
    # its graph (v1) engine, under tf.compat.v1.disable_v2_behavior(), records no optimizer there.
    args = model._get_compile_args()
    return CompileArgs(
        make_optimizer=OptimizerFactory(args.get("optimizer", model.optimizer)),
        loss=args.get("loss"),
        loss_weights=args.get("loss_weights"),
        metrics=args.get("metrics"),
        weighted_metrics=args.get("weighted_metrics"),
    )


class OptimizerFactory:
    """Builds, in the current graph, an op applying the compiled optimizer.

    Args:
      optimizer: the compiled optimizer: a tf_keras legacy or new-style
        optimizer, tf_keras's wrapper of a TF1 optimizer, or a
        `tf.compat.v1.train.Optimizer`.

    Raises:
      ValueError: another kind of optimizer, or a new-style one without a legacy twin.
    """

    def __init__(self, optimizer):
        wrapped = getattr(optimizer, "optimizer", None)  # tf_keras's TFOptimizer wraps a TF1 optimizer
        if isinstance(wrapped, _v1.train.Optimizer):
            optimizer = wrapped
        self._tf1_optimizer = None
        self._keras_class = self._keras_config = None
        if isinstance(optimizer, _v1.train.Optimizer):
            self._tf1_optimizer = optimizer
            return
        if isinstance(optimizer, tf_keras.optimizers.Optimizer):
            _LOG.warning(
                "You are using a tf.keras.optimizers.Optimizer (%s) with the Estimator, which runs "
                "tf.keras.optimizers.legacy optimizers only: converting it to its legacy version.",
                type(optimizer).__name__,
            )
            try:
                optimizer = tf_keras.__internal__.optimizers.convert_to_legacy_optimizer(optimizer)
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(
                    "Please set your optimizer as an instance of `tf.keras.optimizers.legacy.Optimizer`, "
                    f"e.g., `tf.keras.optimizers.legacy.Adam`. Received optimizer type: {type(optimizer)}."
                ) from e
        if not isinstance(optimizer, tf_keras.optimizers.legacy.Optimizer):
            raise ValueError(
                "the compiled optimizer must be a tf.keras.optimizers.legacy.Optimizer, a "
                f"tf.keras.optimizers.Optimizer or a tf.compat.v1.train.Optimizer; found {type(optimizer)}"
            )
        # The config is read now, eagerly: hyperparameters may be variables of the eager context.
        self._keras_class = type(optimizer)
        self._keras_config = optimizer.get_config()

    def minimize(self, loss: tf.Tensor, variables: list, global_step: tf.Variable) -> tf.Operation:
        """An op applying one step of the optimizer to `variables` and incrementing global_step."""
        return self.build(loss, variables, global_step)[0]

    def build(self, loss: tf.Tensor, variables: list, global_step: tf.Variable):
        """(the op of `minimize`, the optimizer object it made in the graph)."""
        if self._tf1_optimizer is not None:
            op = self._tf1_optimizer.minimize(loss, global_step=global_step, var_list=variables)
            return op, self._tf1_optimizer
        optimizer = self._keras_class.from_config(self._keras_config)
        optimizer.iterations = global_step  # apply_gradients increments it
        return tf.group(*optimizer.get_updates(loss, variables)), optimizer


# ----------------------------------------------------------------------------------- losses
def _loss_object(identifier):
    """A `Loss` for a compile() loss entry (None stays None); functions reduce as a batch mean."""
    if identifier is None or isinstance(identifier, tf_keras.losses.Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, tf_keras.losses.Loss):
        raise ValueError(
            f"loss {identifier.__name__} is a Loss class: pass an instance, e.g. {identifier.__name__}()"
        )
    fn = tf_keras.losses.get(identifier)
    return tf_keras.__internal__.losses.LossFunctionWrapper(
        fn, name=getattr(fn, "__name__", "loss"), reduction=_SUM_OVER_BATCH_SIZE
    )


def _unexpected_keys(what: str, mapping, output_names) -> None:
    unknown = [key for key in mapping if key not in output_names]
    if unknown:
        raise ValueError(
            f"Unknown entries in {what} dictionary: {unknown}. Only expected following keys: {list(output_names)}"
        )


def output_losses(loss, output_names: list) -> list:
    """One `Loss` (or None: no target for that output) per output, from compile()'s `loss`.

    Raises:
      ValueError: a dict with unknown output names, or a list of the wrong length.
    """
    if isinstance(loss, collections.abc.Mapping):
        _unexpected_keys("loss", loss, output_names)
        for name in output_names:
            if name not in loss:
                _LOG.warning("Output %s missing from loss dictionary: it gets no loss and no targets.", name)
        return [_loss_object(loss.get(name)) for name in output_names]
    if isinstance(loss, (list, tuple)):
        if len(loss) != len(output_names):
            raise ValueError(
                "When passing a list as loss, it should have one entry per model outputs. "
                f"The model has {len(output_names)} outputs, but you passed loss={loss}"
            )
        return [_loss_object(entry) for entry in loss]
    return [_loss_object(loss) for _ in output_names]


def output_loss_weights(loss_weights, output_names: list) -> list:
    """One weight per output from compile()'s `loss_weights` (default 1)."""
    if loss_weights is None:
        return [1.0] * len(output_names)
    if isinstance(loss_weights, collections.abc.Mapping):
        _unexpected_keys("loss_weights", loss_weights, output_names)
        return [loss_weights.get(name, 1.0) for name in output_names]
    if isinstance(loss_weights, (list, tuple)):
        if len(loss_weights) != len(output_names):
            raise ValueError(
                "When passing a list as loss_weights, it should have one entry per model output. "
                f"The model has {len(output_names)} outputs, but you passed loss_weights={loss_weights}"
            )
        return list(loss_weights)
    raise TypeError(
        f"Could not interpret loss_weights argument: {loss_weights!r} - expected a list or a dict."
    )


def _masked_weights(output: tf.Tensor, sample_weight):
    """The sample weights times the output's Keras mask, if it has one."""
    mask = getattr(output, "_keras_mask", None)  # set by masking layers (Keras's masking convention)
    if mask is None:
        return sample_weight
    mask = tf.cast(mask, output.dtype)
    if sample_weight is None:
        return mask
    sample_weight = tf.cast(sample_weight, output.dtype)
    if sample_weight.shape.rank is not None and mask.shape.rank is not None:
        while sample_weight.shape.rank < mask.shape.rank:
            sample_weight = tf.expand_dims(sample_weight, -1)
    return sample_weight * mask


def total_loss(losses, weights, outputs, targets, sample_weights, model_losses) -> tf.Tensor:
    """The scalar training loss: sum of weight x output loss, plus the model's own losses.

    Args:
      losses: per output, a `Loss` or None (skipped).
      weights: per output, its loss weight.
      outputs, targets, sample_weights: per output, Tensors (weights may be None).
      model_losses: the model's regularization and `add_loss` Tensors.

    Raises:
      ValueError: nothing to minimize (no output has a loss and the model adds none).
    """
    terms = []
    for loss, weight, output, target, sample_weight in zip(
        losses, weights, outputs, targets, sample_weights, strict=True
    ):
        if loss is None:
            continue
        with tf.name_scope(f"{loss.name}_loss" if getattr(loss, "name", None) else "loss"):
            value = loss(target, output, sample_weight=_masked_weights(output, sample_weight))
        terms.append(tf.cast(weight, value.dtype) * value)
    if model_losses:
        dtype = terms[0].dtype if terms else tf.float32
        terms.append(tf.add_n([tf.cast(value, dtype) for value in model_losses]))
    if not terms:
        raise ValueError("The model cannot be compiled because it has no loss to optimize.")
    total = terms[0]
    for term in terms[1:]:
        total += tf.cast(term, total.dtype)
    return total


# ---------------------------------------------------------------------------------- metrics
@dataclasses.dataclass(frozen=True)
class MetricEntry:
    """One compiled metric of one output."""

    name: str
    output_index: int
    identifier: object
    weighted: bool


def _per_output(metrics, output_names: list, what: str) -> list:
    """compile()'s metrics (or weighted_metrics) as one list per output."""
    if not metrics:
        return [[] for _ in output_names]
    if isinstance(metrics, collections.abc.Mapping):
        _unexpected_keys(what, metrics, output_names)
        return [_as_list(metrics.get(name, [])) for name in output_names]
    if isinstance(metrics, (list, tuple)):
        if any(isinstance(entry, (list, tuple)) for entry in metrics):
            if len(metrics) != len(output_names):
                raise ValueError(
                    f"When passing a list of lists as `{what}`, it should have one entry per model output. "
                    f"The model has {len(output_names)} outputs, but you passed {what}={metrics}"
                )
            return [_as_list(entry) for entry in metrics]
        return [list(metrics) for _ in output_names]
    raise TypeError(
        f"Type of `{what}` argument not understood. Expected a list or dictionary, found: {metrics!r}"
    )


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _base_name(identifier) -> str:
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, tf_keras.metrics.Metric):
        return identifier.name
    return getattr(identifier, "name", None) or identifier.__name__


def metric_entries(metrics, weighted_metrics, output_names: list, losses: list) -> list[MetricEntry]:
    """The compiled metrics in Keras's order (all outputs' metrics, then the weighted
    ones), named as Keras's graph engine named them (module docstring).

    Outputs without a loss get no metrics (they have no targets).
    """
    taken = ["loss"]
    if len(output_names) > 1:
        taken += [f"{name}_loss" for name, loss in zip(output_names, losses, strict=True) if loss is not None]
    entries = []
    for weighted, given in ((False, metrics), (True, weighted_metrics)):
        what = "weighted_metrics" if weighted else "metrics"
        for index, identifiers in enumerate(_per_output(given, output_names, what)):
            if losses[index] is None:
                continue
            for identifier in identifiers:
                name = _base_name(identifier)
                if len(output_names) > 1:
                    name = f"{output_names[index]}_{name}"
                unique, suffix = name, 1
                while unique in taken:
                    unique, suffix = f"{name}_{suffix}", suffix + 1
                taken.append(unique)
                entries.append(MetricEntry(unique, index, identifier, weighted))
    return entries


def _is_loss(loss, loss_class, loss_fn) -> bool:
    if isinstance(loss, loss_class):
        return True
    return getattr(loss, "fn", None) is loss_fn


def _metric_object(entry: MetricEntry, output: tf.Tensor, loss):
    """A fresh tf_keras Metric for the entry, in the current graph."""
    identifier = entry.identifier
    if identifier in _ACCURACY or identifier in _CROSSENTROPY:
        binary = output.shape[-1] == 1 or _is_loss(
            loss, tf_keras.losses.BinaryCrossentropy, tf_keras.losses.binary_crossentropy
        )
        sparse = _is_loss(
            loss,
            tf_keras.losses.SparseCategoricalCrossentropy,
            tf_keras.losses.sparse_categorical_crossentropy,
        )
        kind = "binary" if binary else "sparse_categorical" if sparse else "categorical"
        suffix = "accuracy" if identifier in _ACCURACY else "crossentropy"
        return tf_keras.metrics.MeanMetricWrapper(
            getattr(tf_keras.metrics, f"{kind}_{suffix}"), name=entry.name
        )
    if isinstance(identifier, tf_keras.metrics.Metric):  # the compiled one lives in the eager context
        metric = type(identifier).from_config(identifier.get_config())
    else:
        metric = tf_keras.metrics.get(identifier)
    if not isinstance(metric, tf_keras.metrics.Metric):
        return tf_keras.metrics.MeanMetricWrapper(metric, name=entry.name)
    if metric.name != entry.name:
        config = metric.get_config()
        config["name"] = entry.name
        metric = type(metric).from_config(config)
    return metric


def eval_metric_ops(entries, outputs, targets, sample_weights, losses) -> dict:
    """{name: (value, update_op)} for the entries; the metrics' variables are local
    variables (initialized by the session, never checkpointed)."""
    ops = {}
    for entry in entries:
        output, target = outputs[entry.output_index], targets[entry.output_index]
        weights = sample_weights[entry.output_index] if entry.weighted else None
        with tf.name_scope(f"metrics/{entry.name}"):
            metric = _metric_object(entry, output, losses[entry.output_index])
            update = metric.update_state(target, output, sample_weight=_masked_weights(output, weights))
            value = metric.result()
        for variable in metric.variables:
            _v1.add_to_collection(_v1.GraphKeys.LOCAL_VARIABLES, variable)
        if update is None:
            raise ValueError(f"metric {entry.name!r}: update_state() must return its update op in graph mode")
        ops[entry.name] = (value, update)
    return ops
