"""Serving inputs and export outputs: what a SavedModel's signatures are made of.

The names and behaviour are tf.estimator's (`tf.estimator.export.*`); the
signatures are built with the public `tf.compat.v1.saved_model.signature_def_utils`.

A `serving_input_receiver_fn` returns a `ServingInputReceiver`: the placeholders a
client feeds (`receiver_tensors`) and the features the model_fn sees. A model_fn's
`export_outputs` say what each signature returns.
"""

from __future__ import annotations

import abc
import logging

import tensorflow as tf

_v1 = tf.compat.v1
_sig_utils = _v1.saved_model.signature_def_utils
DEFAULT_SERVING_KEY = (
    _v1.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY
)  # "serving_default"
SINGLE_FEATURE_KEY = "feature"
SINGLE_RECEIVER_KEY = "input"
SINGLE_OUTPUT_KEY = "output"
EXAMPLES_RECEIVER_KEY = "examples"
_LOG = logging.getLogger(__name__)


def _is_tensor(value) -> bool:
    return isinstance(value, (tf.Tensor, tf.SparseTensor, tf.RaggedTensor))


def _as_tensor_dict(value, single_key: str, what: str) -> dict:
    if value is None:
        raise ValueError(f"{what} must be given")
    if _is_tensor(value):
        return {single_key: value}
    if not isinstance(value, dict) or not value:
        raise ValueError(
            f"{what} must be a Tensor or a non-empty dict of Tensors, found {type(value).__name__}"
        )
    for key, tensor in value.items():
        if not isinstance(key, str):
            raise ValueError(f"{what} keys must be strings, found {key!r}")
        if not _is_tensor(tensor):
            raise ValueError(f"{what}[{key!r}] must be a Tensor, found {type(tensor).__name__}")
    return dict(value)


class ServingInputReceiver:
    """What a serving_input_receiver_fn returns.

    Args:
      features: Tensor or dict of Tensors passed to the model_fn.
      receiver_tensors: Tensor or dict of Tensors (usually placeholders) a client
        feeds; a single Tensor is keyed "input".
      receiver_tensors_alternatives: {name: receiver tensors} for further
        signatures, named "<name>:<export output key>", e.g. raw bytes beside
        serialized tf.Examples.

    Raises:
      ValueError: a value is not a Tensor, or a key not a string.
    """

    def __init__(self, features, receiver_tensors, receiver_tensors_alternatives=None):
        self.features = _as_tensor_dict(features, SINGLE_FEATURE_KEY, "features")
        self.receiver_tensors = _as_tensor_dict(receiver_tensors, SINGLE_RECEIVER_KEY, "receiver_tensors")
        self.receiver_tensors_alternatives = {
            name: _as_tensor_dict(tensors, SINGLE_RECEIVER_KEY, f"receiver_tensors_alternatives[{name!r}]")
            for name, tensors in (receiver_tensors_alternatives or {}).items()
        }


def build_parsing_serving_input_receiver_fn(feature_spec: dict, default_batch_size: int | None = None):
    """Returns a serving_input_receiver_fn that parses serialized tf.Examples.

    The receiver tensor "examples" is a string [default_batch_size] placeholder;
    the features are `tf.io.parse_example(examples, feature_spec)`.
    """

    def serving_input_receiver_fn():
        examples = _v1.placeholder(tf.string, [default_batch_size], name="input_example_tensor")
        features = tf.io.parse_example(examples, feature_spec)
        return ServingInputReceiver(features, {EXAMPLES_RECEIVER_KEY: examples})

    return serving_input_receiver_fn


def build_raw_serving_input_receiver_fn(features: dict, default_batch_size: int | None = None):
    """Returns a serving_input_receiver_fn that feeds the given features directly.

    Args:
      features: {name: Tensor}; each becomes a placeholder of its dtype and shape,
        the first (batch) dimension replaced by `default_batch_size`.
    """

    def serving_input_receiver_fn():
        placeholders = {}
        for name, tensor in features.items():
            shape = tensor.shape.as_list() if tensor.shape.rank is not None else None
            if shape:
                shape[0] = default_batch_size
            placeholders[name] = _v1.placeholder(tensor.dtype, shape, name=name)
        return ServingInputReceiver(placeholders, placeholders)

    return serving_input_receiver_fn


class ExportOutput(abc.ABC):
    """What one signature of an exported model returns."""

    @abc.abstractmethod
    def as_signature_def(self, receiver_tensors: dict):
        """Returns a SignatureDef; raises ValueError if the receiver does not fit."""


def _single_string_input(receiver_tensors: dict, kind: str) -> tf.Tensor:
    if len(receiver_tensors) != 1:
        raise ValueError(f"{kind} input must be a single string Tensor; got {len(receiver_tensors)} inputs")
    (examples,) = receiver_tensors.values()
    if examples.dtype != tf.string:
        raise ValueError(f"{kind} input must be a single string Tensor; got {examples.dtype.name}")
    return examples


class ClassificationOutput(ExportOutput):
    """A classify signature: string `classes` and/or float `scores` [batch, n].

    Serves the TF Serving Classify API, whose input is serialized tf.Examples, so
    it fits only a receiver with a single string tensor.
    """

    def __init__(self, scores=None, classes=None):
        if scores is None and classes is None:
            raise ValueError("ClassificationOutput needs scores, classes or both")
        if scores is not None and (not _is_tensor(scores) or not scores.dtype.is_floating):
            raise ValueError(f"ClassificationOutput scores must be a float Tensor, found {scores!r}")
        if classes is not None and (not _is_tensor(classes) or classes.dtype != tf.string):
            raise ValueError(f"ClassificationOutput classes must be a string Tensor, found {classes!r}")
        self.scores = scores
        self.classes = classes

    def as_signature_def(self, receiver_tensors):
        examples = _single_string_input(receiver_tensors, "Classification")
        return _sig_utils.classification_signature_def(examples, self.classes, self.scores)


class RegressionOutput(ExportOutput):
    """A regress signature: one float `value` per example (TF Serving Regress API)."""

    def __init__(self, value):
        if not _is_tensor(value) or not value.dtype.is_floating:
            raise ValueError(f"RegressionOutput value must be a float Tensor, found {value!r}")
        self.value = value

    def as_signature_def(self, receiver_tensors):
        examples = _single_string_input(receiver_tensors, "Regression")
        return _sig_utils.regression_signature_def(examples, self.value)


class PredictOutput(ExportOutput):
    """A predict signature: any named output tensors, any inputs."""

    def __init__(self, outputs):
        self.outputs = _as_tensor_dict(outputs, SINGLE_OUTPUT_KEY, "PredictOutput outputs")

    def as_signature_def(self, receiver_tensors):
        return _sig_utils.predict_signature_def(receiver_tensors, self.outputs)


def build_all_signature_defs(
    receiver_tensors: dict, export_outputs: dict, receiver_tensors_alternatives: dict | None = None
) -> dict:
    """Builds every signature that fits: each export output for the main receiver,
    and each (alternative receiver, export output) pair as "<receiver>:<output>".

    Combinations that do not fit (e.g. a classify signature over raw bytes) are
    left out and logged.

    Raises:
      ValueError: no serving_default signature could be built.
    """
    candidates = [(key, receiver_tensors, output) for key, output in export_outputs.items()]
    for name, tensors in (receiver_tensors_alternatives or {}).items():
        candidates += [(f"{name}:{key}", tensors, output) for key, output in export_outputs.items()]
    signatures = {}
    for key, tensors, output in candidates:
        try:
            signature = output.as_signature_def(tensors)
        except ValueError as e:
            _LOG.info("signature %s left out: %s", key, e)
            continue
        if _sig_utils.is_valid_signature(signature):
            signatures[key] = signature
        else:
            _LOG.info("signature %s left out: not a valid SignatureDef", key)
    if DEFAULT_SERVING_KEY not in signatures:
        raise ValueError(
            f"no '{DEFAULT_SERVING_KEY}' signature could be built from export outputs {sorted(export_outputs)}"
        )
    return signatures
