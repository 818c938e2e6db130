"""`model_to_estimator`: a tf_keras model as an Estimator (tf.keras.estimator.model_to_estimator).

TensorFlow 2.21's own `tf.keras.estimator.model_to_estimator` raises
NotImplementedError; this is tf.estimator 2.15's conversion on this runtime:

- features: {input layer name: Tensor} (extra keys are ignored), a list in the
  model's input order, or a bare Tensor for a single-input model; labels alike,
  keyed by output layer names. Features {"features": ..., "sample_weights": ...}
  carry per-example weights (one Tensor, or per output a list or dict).
- each mode clones the model into the Estimator's graph (`tf_keras.models.clone_model`;
  a subclassed model through `from_config(get_config())`) and calls it with
  `training=True` only when training, so dropout and batch-norm behave as in
  `fit`/`predict`, and layer updates (batch-norm statistics) run with each step.
- loss, metrics and optimizer are the compiled ones (`keras_compile`); evaluate
  returns the metrics under Keras's names (or `metric_names_map`'s), plus "loss"
  and "global_step"; the optimizer's step counter is the global step.
- predictions are {output layer name: Tensor}; the export signature
  "serving_default" returns them (plus `export_outputs`'s signatures).
- while model_dir has no checkpoint, variables start from the Keras model's
  current weights (all of them, batch-norm statistics included), saved when the
  Estimator is made to model_dir/keras/keras_model.ckpt (with global_step 0) and
  applied as the Estimator's `warm_start_from` (train, evaluate, predict, and
  export, which falls back to that checkpoint).

As with tf.estimator 2.15, cloning in graph mode switches tf_keras's classes to
their graph versions: a Keras model made before an Estimator call cannot
`predict`/`fit` eagerly until a new tf_keras model is made eagerly (e.g.
`tf_keras.models.clone_model(model)`).
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np
import tensorflow as tf
import tf_keras

from . import checkpoints, keras_compile, object_graph, restore
from . import export as export_lib
from .estimator import Estimator, WarmStartSettings
from .mode_keys import ModeKeys
from .model_fn import EstimatorSpec
from .run_config import RunConfig

_v1 = tf.compat.v1
_LOG = tf.get_logger()
WARM_START_DIR = "keras"
WARM_START_NAME = "keras_model.ckpt"
_FEATURES_KEY, _SAMPLE_WEIGHTS_KEY = "features", "sample_weights"
_NOT_COMPILED = (
    "The given keras model has not been compiled yet. Please compile the model with `model.compile()` "
    "before calling `model_to_estimator()`. (Uncompiled, it can only predict and be exported.)"
)


class FormattedKeyError(KeyError):
    """A KeyError whose message keeps its line breaks when printed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def model_to_estimator(
    keras_model=None,
    keras_model_path=None,
    custom_objects=None,
    model_dir=None,
    config=None,
    checkpoint_format="saver",
    metric_names_map=None,
    export_outputs=None,
) -> Estimator:
    """Returns an `Estimator` that trains, evaluates, predicts with and exports a tf_keras model.

    Args:
      keras_model: a tf_keras Sequential, functional or (with get_config and
        from_config) subclassed model; compile it to train or evaluate.
      keras_model_path: instead of keras_model, a model saved by
        `tf_keras.models.save_model` (HDF5, SavedModel or .keras).
      custom_objects: {name: class or function} the model's config refers to.
      model_dir, config: as for `Estimator` (they may not disagree).
      checkpoint_format: "saver" (the default here: name-based checkpoints, variable
        names such as "dense/kernel", readable with `tf.train.load_variable`), or
        "checkpoint" / None (tf.estimator 2.15's default: training writes object-based
        checkpoints, keys such as "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
        with their object graph, as 2.15 wrote them, for Keras `load_weights`). A model
        dir keeps the format of its checkpoints: a dir of either format resumes with
        either value.
      metric_names_map: {Keras metric name: evaluation key}; must name every
        compiled metric.
      export_outputs: {output name: an `export.ExportOutput` class}: an extra
        signature per entry, made from that output (e.g. `export.RegressionOutput`).

    Returns:
      An `Estimator`.

    Raises:
      ValueError: neither or both of keras_model and keras_model_path, an
        unknown checkpoint_format, an optimizer that cannot run in graph mode,
        or a subclassed model that cannot be cloned.
      TypeError: keras_model is not a tf_keras Model.
    """
    if keras_model is None and keras_model_path is None:
        raise ValueError("Either `keras_model` or `keras_model_path` needs to be provided.")
    if keras_model is not None and keras_model_path is not None:
        raise ValueError("Please specify either `keras_model` or `keras_model_path`, but not both.")
    if checkpoint_format not in (None, "saver", "checkpoint"):
        raise ValueError(
            f'Checkpoint format must be one of "checkpoint" or "saver". Got {checkpoint_format!r}'
        )
    if keras_model is None:
        _LOG.info("Loading models from %s", keras_model_path)
        keras_model = tf_keras.models.load_model(os.fspath(keras_model_path), custom_objects=custom_objects)
    else:
        _LOG.info("Using the Keras model provided.")
    if not isinstance(keras_model, tf_keras.Model):
        raise TypeError(
            "keras_model must be a tf_keras Model (tf.keras with TF_USE_LEGACY_KERAS=1), found "
            f"{type(keras_model).__module__}.{type(keras_model).__name__}"
        )
    subclassed = not (isinstance(keras_model, tf_keras.Sequential) or _is_functional(keras_model))
    if subclassed:
        _check_cloneable(keras_model, custom_objects)
    if checkpoint_format != "saver" and subclassed:
        raise ValueError("Object-based checkpoints are currently not supported with subclassed models.")

    config, model_dir = _resolve_model_dir(config, model_dir)
    builder = _ModelBuilder(
        keras_model, subclassed, custom_objects, keras_compile.compile_args(keras_model), metric_names_map
    )
    export_classes = dict(export_outputs or {})
    object_based = checkpoint_format != "saver"

    def model_fn(features, labels, mode, config):
        spec = builder.spec(features, labels, mode, export_classes)
        # Training writes the checkpoints; the other modes read either format (estimator.restore).
        if object_based and mode == ModeKeys.TRAIN and _writes_object_keys(config.model_dir):
            spec = spec._replace(scaffold=_v1.train.Scaffold(saver=builder.object_saver(config)))
        return spec

    warm_start = None
    if subclassed:
        if keras_model.built:
            _LOG.warning(
                "The Estimator starts from freshly initialized variables: the weights of a subclassed "
                "Keras model are not carried over (the model passed in is not changed)."
            )
    elif config.is_chief and not checkpoints.latest_checkpoint(model_dir):
        warm_start = _save_warm_start(builder, model_dir, config.session_config)
    return Estimator(model_fn, model_dir=model_dir, config=config, warm_start_from=warm_start)


def _resolve_model_dir(config, model_dir) -> tuple[RunConfig, str]:
    """(config, model_dir) with model_dir set: the argument, config's, or a new temporary directory.

    Raises:
      ValueError: model_dir and config.model_dir are both set and differ.
    """
    config = config or RunConfig()
    model_dir = os.fspath(model_dir) if model_dir else None
    if model_dir and config.model_dir and model_dir != config.model_dir:
        raise ValueError(
            "`model_dir` are set both in constructor and `RunConfig`, but with different values. "
            f"In constructor: '{model_dir}', in `RunConfig`: '{config.model_dir}'"
        )
    model_dir = model_dir or config.model_dir
    if not model_dir:
        model_dir = tempfile.mkdtemp()
        _LOG.warning("Using temporary folder as model directory: %s", model_dir)
    return config.replace(model_dir=model_dir), model_dir


def _writes_object_keys(model_dir: str) -> bool:
    """Whether checkpoint_format="checkpoint" saves object-based keys in model_dir: unless it
    already holds a name-based checkpoint (which then keeps its format)."""
    latest = checkpoints.latest_checkpoint(model_dir)
    return latest is None or restore.is_object_based(restore.checkpoint_keys(latest))


def _is_functional(model) -> bool:
    # tf_keras marks models built from Input tensors (functional, built Sequential) this way.
    return bool(getattr(model, "_is_graph_network", False))


def _check_cloneable(model, custom_objects) -> None:
    try:
        with tf_keras.utils.custom_object_scope(custom_objects or {}):
            type(model).from_config(model.get_config())
    except NotImplementedError as e:
        raise ValueError(
            "Subclassed `Model`s passed to `model_to_estimator` must implement `Model.get_config` "
            "and `Model.from_config`."
        ) from e


def _save_warm_start(builder, model_dir: str, session_config) -> WarmStartSettings | None:
    """Writes the Keras model's current weights (and global_step 0) as
    model_dir/keras/keras_model.ckpt; returns settings warm-starting each of them
    (trainable or not, e.g. batch-norm statistics) by name."""
    weights = builder.keras_model.get_weights() if builder.keras_model.built else []
    if not weights:
        _LOG.info("the Keras model has no weights yet: nothing to warm-start from")
        return None
    path = os.path.join(model_dir, WARM_START_DIR, WARM_START_NAME)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.Graph().as_default():
        global_step = _v1.train.get_or_create_global_step()
        variables = builder.clone().weights
        if len(variables) != len(weights) or any(
            tuple(v.shape.as_list()) != np.shape(w) for v, w in zip(variables, weights, strict=True)
        ):
            raise ValueError(
                f"the cloned model's weights {[v.shape.as_list() for v in variables]} do not match the "
                f"Keras model's {[np.shape(w) for w in weights]}"
            )
        feeds = {}
        assigns = []
        for variable, value in zip(variables, weights, strict=True):
            placeholder = _v1.placeholder(variable.dtype.base_dtype, np.shape(value))
            feeds[placeholder] = value
            assigns.append(variable.assign(placeholder))
        with _v1.Session(config=session_config) as session:
            session.run(_v1.variables_initializer([global_step, *variables]))
            session.run(assigns, feed_dict=feeds)
            _v1.train.Saver([global_step, *variables]).save(session, path)
        names = [v.op.name for v in variables]
    _LOG.info("Saved the Keras model's weights to %s to warm-start from", path)
    return WarmStartSettings(path, vars_to_warm_start=[re.escape(name) + ":" for name in names])


class _ModelBuilder:
    """Builds the model's EstimatorSpec in the Estimator's graph, for each mode."""

    def __init__(self, keras_model, subclassed, custom_objects, compiled, metric_names_map):
        self.keras_model = keras_model
        self.subclassed = subclassed
        self.custom_objects = dict(custom_objects or {})
        self.compiled = compiled
        self.metric_names_map = metric_names_map
        self.last_model = self.last_optimizer = None

    def object_saver(self, config):
        """A Saver of the graph's model, optimizer and global step under 2.15's object keys (see
        object_graph.py), keeping config.keep_checkpoint_max checkpoints."""
        return object_graph.keras_saver(
            self.last_model,
            self.last_optimizer,
            _v1.train.get_or_create_global_step(),
            max_to_keep=config.keep_checkpoint_max,
            keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
        )

    def clone(self):
        """A copy of the model with new variables in the default graph."""
        with tf_keras.utils.custom_object_scope(self.custom_objects):
            if self.subclassed:
                return type(self.keras_model).from_config(self.keras_model.get_config())
            return tf_keras.models.clone_model(self.keras_model)

    def _input_names(self, features) -> list[str]:
        names = None if self.subclassed else getattr(self.keras_model, "input_names", None)
        if names:
            return list(names)
        if len(features) == 1:  # a model not built yet takes its single input under any key
            return list(features)
        return [f"input_{i}" for i in range(1, len(features) + 1)]

    def _output_names(self, model, count: int) -> list[str]:
        names = None if self.subclassed else getattr(model, "output_names", None)
        return list(names) if names else [f"output_{i}" for i in range(1, count + 1)]

    def spec(self, features, labels, mode, export_classes) -> EstimatorSpec:
        if mode != ModeKeys.PREDICT and self.compiled is None:
            raise ValueError(_NOT_COMPILED)
        features, sample_weights = _split_sample_weights(features)
        names = self._input_names(features) if isinstance(features, dict) else None
        inputs = _ordered_tensors(features, names, "features", "inputs")
        model = self.clone()
        self.last_model, self.last_optimizer = model, None  # for object_saver, in the same graph
        outputs = model(inputs[0] if len(inputs) == 1 else inputs, training=mode == ModeKeys.TRAIN)
        outputs = tf.nest.flatten(outputs)
        output_names = self._output_names(self.keras_model if self.keras_model.built else model, len(outputs))
        predictions = dict(zip(output_names, outputs, strict=True))

        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(
                mode,
                predictions=predictions,
                export_outputs=_export_outputs(predictions, export_classes),
            )

        compiled = self.compiled
        losses = keras_compile.output_losses(compiled.loss, output_names)
        if labels is None and any(loss is not None for loss in losses):
            raise ValueError(
                f"mode {mode!r} needs labels for the outputs {output_names}; the input_fn gave none"
            )
        targets = _ordered_tensors(labels, output_names, "labels", "outputs") or [None] * len(outputs)
        if len(targets) != len(outputs):
            raise ValueError(f"labels give {len(targets)} targets for the model's {len(outputs)} outputs")
        weights = _standardize_sample_weights(sample_weights, output_names)
        model_losses = model.get_losses_for(None) + model.get_losses_for(inputs)
        loss = keras_compile.total_loss(
            losses,
            keras_compile.output_loss_weights(compiled.loss_weights, output_names),
            outputs,
            targets,
            weights,
            model_losses,
        )
        entries = keras_compile.metric_entries(
            compiled.metrics, compiled.weighted_metrics, output_names, losses
        )
        keys = self._metric_keys([entry.name for entry in entries])

        if mode == ModeKeys.EVAL:
            ops = keras_compile.eval_metric_ops(entries, outputs, targets, weights, losses)
            return EstimatorSpec(
                mode, loss=loss, eval_metric_ops={keys[name]: op for name, op in ops.items()}
            )

        global_step = _v1.train.get_or_create_global_step()
        with tf.name_scope("training"):
            step, self.last_optimizer = compiled.make_optimizer.build(
                loss, model.trainable_weights, global_step
            )
        layer_updates = model.get_updates_for(None) + model.get_updates_for(inputs)
        return EstimatorSpec(mode, loss=loss, train_op=tf.group(step, *layer_updates))

    def _metric_keys(self, names: list[str]) -> dict:
        """{Keras metric name: evaluation key}, through metric_names_map when given."""
        if not self.metric_names_map or not names:
            return {name: name for name in names}
        given = set(self.metric_names_map)
        unknown = [name for name in names if name not in given]
        if unknown:
            raise ValueError(
                "Invalid `metric_names_map`. The following keras model metric names:"
                f'"{unknown}" do not exist in the `metric_names_map` dictionary'
            )
        extra = [name for name in self.metric_names_map if name not in names]
        if extra:
            raise ValueError(
                "Invalid `metric_names_map`. There are unexpected keys in the `metric_names_map` "
                f"dictionary. Expected keys: {names}, Received: {extra}"
            )
        return {name: self.metric_names_map[name] for name in names}


def _split_sample_weights(features):
    """(features, sample weights) from {"features": ..., "sample_weights": ...}, else (features, None)."""
    if isinstance(features, dict) and set(features) == {_FEATURES_KEY, _SAMPLE_WEIGHTS_KEY}:
        return features[_FEATURES_KEY], features[_SAMPLE_WEIGHTS_KEY]
    return features, None


def _to_tensor(value):
    if isinstance(value, (tf.Tensor, tf.SparseTensor, tf.RaggedTensor, tf.Variable)):
        return value
    return tf.convert_to_tensor(value)


def _ordered_tensors(value, key_order, value_name: str, order_name: str):
    """value (None, a list, a dict or one Tensor) as a list of Tensors in key_order.

    Raises:
      FormattedKeyError: a dict without some of the keys.
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_to_tensor(v) for v in value]
    if isinstance(value, dict):
        missing = set(key_order) - set(value)
        if missing:
            raise FormattedKeyError(
                f"The dictionary passed into {value_name} does not cover requested {order_name} keys "
                f"defined in the keras model.\n\tExpected keys: {set(key_order)}\n\t{value_name} keys: "
                f"{set(value)}\n\tMissed keys: {missing}"
            )
        return [_to_tensor(value[key]) for key in key_order]
    return [_to_tensor(value)]


def _standardize_sample_weights(weights, output_names: list) -> list:
    """Per output, its sample weights Tensor or None.

    Raises:
      ValueError: a list of the wrong length or a dict with unknown outputs.
      TypeError: several outputs and weights that are neither a list nor a dict.
    """
    if weights is None or (isinstance(weights, (list, tuple)) and not weights):
        return [None] * len(output_names)
    if len(output_names) == 1:
        if isinstance(weights, (list, tuple)) and len(weights) == 1:
            return [_to_tensor(weights[0])]
        if isinstance(weights, dict) and output_names[0] in weights:
            return [_to_tensor(weights[output_names[0]])]
        return [_to_tensor(weights)]
    if isinstance(weights, (list, tuple)):
        if len(weights) != len(output_names):
            raise ValueError(
                f"Provided `sample_weights` was a list of {len(weights)} elements, but the model has "
                f"{len(output_names)} outputs. You should provide one `sample_weights` array per model output."
            )
        return [None if w is None else _to_tensor(w) for w in weights]
    if isinstance(weights, dict):
        unknown = [key for key in weights if key not in output_names]
        if unknown:
            raise ValueError(
                f"Unknown entries in sample_weights dictionary: {unknown}. Only expected following keys: {output_names}"
            )
        return [None if weights.get(name) is None else _to_tensor(weights[name]) for name in output_names]
    raise TypeError(
        "The model has multiple outputs, so `sample_weights` should be either a list or a dict. "
        f"Provided `sample_weights` type not understood: {weights!r}"
    )


def _export_outputs(predictions: dict, export_classes: dict) -> dict:
    """serving_default (all predictions) plus one signature per export_outputs entry.

    Raises:
      FormattedKeyError: an export_outputs key that is not an output name.
    """
    outputs = {export_lib.DEFAULT_SERVING_KEY: export_lib.PredictOutput(predictions)}
    missing = set(export_classes) - set(predictions)
    if missing:
        raise FormattedKeyError(
            "The export_outputs keys must be output names of the keras model.\n\tExpected keys: "
            f"{set(predictions)}\n\texport_outputs keys: {set(export_classes)}\n\tMissed keys: {missing}"
        )
    for key, output_class in export_classes.items():
        outputs[key] = output_class(predictions[key])
    return outputs
