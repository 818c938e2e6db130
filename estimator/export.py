"""Input receivers and export outputs: what a SavedModel's meta graphs and signatures are made of.

The names and behaviour are tf.estimator's (`tf.estimator.export.*`); the
signatures are built with the public `tf.compat.v1.saved_model` utilities.

A `serving_input_receiver_fn` returns a `ServingInputReceiver` (or a
`TensorServingInputReceiver`): the placeholders a client feeds
(`receiver_tensors`) and the features the model_fn sees. For the training and
evaluation meta graphs of `Estimator.experimental_export_all_saved_models`, a
receiver fn returns a `SupervisedInputReceiver`, which adds labels. A model_fn's
`export_outputs` say what each serving signature returns; `TrainOutput` and
`EvalOutput` are the "train" and "eval" signatures (loss, predictions, metrics).
"""

from __future__ import annotations

import abc
import collections
import keyword

import tensorflow as tf

from .mode_keys import ModeKeys

_v1 = tf.compat.v1
_sig_utils = _v1.saved_model.signature_def_utils
_sig_consts = _v1.saved_model.signature_constants
DEFAULT_SERVING_KEY = _sig_consts.DEFAULT_SERVING_SIGNATURE_DEF_KEY  # "serving_default"
DEFAULT_TRAIN_KEY = "train"
DEFAULT_EVAL_KEY = "eval"
SUPERVISED_TRAIN_METHOD_NAME = "tensorflow/supervised/training"
SUPERVISED_EVAL_METHOD_NAME = "tensorflow/supervised/eval"
SINGLE_FEATURE_KEY = "feature"
SINGLE_LABEL_KEY = "label"
SINGLE_RECEIVER_KEY = "input"
SINGLE_OUTPUT_KEY = "output"
EXAMPLES_RECEIVER_KEY = "examples"
# The meta graph tags of each mode, as tf.estimator wrote them.
EXPORT_TAG_MAP = {
    ModeKeys.PREDICT: [_v1.saved_model.tag_constants.SERVING],  # "serve"
    ModeKeys.TRAIN: [_v1.saved_model.tag_constants.TRAINING],  # "train"
    ModeKeys.EVAL: ["eval"],
}
_LOG = tf.get_logger()


def _is_tensor(value) -> bool:
    return isinstance(value, (tf.Tensor, tf.SparseTensor, tf.RaggedTensor))


def _as_tensor_dict(value, single_key: str, what: str, allow_int_keys: bool = False) -> dict:
    """`value` as a non-empty {key: Tensor} dict (a single Tensor keyed `single_key`).

    Raises:
      ValueError: None, an empty or non-dict container, a key that is not a
        string (or int, where allowed), or a value that is not a Tensor,
        SparseTensor or RaggedTensor.
    """
    if value is None:
        raise ValueError(f"{what} must be given")
    if _is_tensor(value):
        return {single_key: value}
    if not isinstance(value, dict) or not value:
        raise ValueError(
            f"{what} must be a Tensor or a non-empty dict of Tensors, found {type(value).__name__}"
        )
    key_types = (str, int) if allow_int_keys else (str,)
    for key, tensor in value.items():
        if not isinstance(key, key_types) or isinstance(key, bool):
            kinds = "strings or ints" if allow_int_keys else "strings"
            raise ValueError(f"{what} keys must be {kinds}, found {key!r}")
        if not _is_tensor(tensor):
            raise ValueError(
                f"{what}[{key!r}] must be a Tensor, SparseTensor or RaggedTensor, found {type(tensor).__name__}"
            )
    return dict(value)


def _alternatives(receiver_tensors_alternatives) -> dict | None:
    if receiver_tensors_alternatives is None:
        return None
    if not isinstance(receiver_tensors_alternatives, dict):
        raise ValueError(
            "receiver_tensors_alternatives must be a dict of receiver tensors, found "
            f"{type(receiver_tensors_alternatives).__name__}"
        )
    return {
        name: _as_tensor_dict(tensors, SINGLE_RECEIVER_KEY, f"receiver_tensors_alternatives[{name!r}]")
        for name, tensors in receiver_tensors_alternatives.items()
    }


class ServingInputReceiver(
    collections.namedtuple(
        "ServingInputReceiver", ["features", "receiver_tensors", "receiver_tensors_alternatives"]
    )
):
    """What a serving_input_receiver_fn returns (a namedtuple, as in tf.estimator).

    Args:
      features: Tensor or dict of Tensors passed to the model_fn; a single Tensor
        is passed as {"feature": tensor} (use `TensorServingInputReceiver` to pass
        it as it is). Keys are strings or ints.
      receiver_tensors: Tensor or dict of Tensors (usually placeholders) a client
        feeds; a single Tensor is keyed "input".
      receiver_tensors_alternatives: None or {name: receiver tensors} for further
        signatures, named "<name>:<export output key>", e.g. raw features beside
        serialized tf.Examples.

    Raises:
      ValueError: a value is not a Tensor, SparseTensor or RaggedTensor, or a
        key is not a string.
    """

    def __new__(cls, features, receiver_tensors, receiver_tensors_alternatives=None):
        return super().__new__(
            cls,
            features=_as_tensor_dict(features, SINGLE_FEATURE_KEY, "features", allow_int_keys=True),
            receiver_tensors=_as_tensor_dict(receiver_tensors, SINGLE_RECEIVER_KEY, "receiver_tensors"),
            receiver_tensors_alternatives=_alternatives(receiver_tensors_alternatives),
        )


class TensorServingInputReceiver(
    collections.namedtuple(
        "TensorServingInputReceiver", ["features", "receiver_tensors", "receiver_tensors_alternatives"]
    )
):
    """A `ServingInputReceiver` whose single feature Tensor reaches the model_fn as it is, not in a dict.

    Args:
      features: one Tensor, SparseTensor or RaggedTensor.
      receiver_tensors, receiver_tensors_alternatives: as `ServingInputReceiver`.

    Raises:
      ValueError: features is not a single Tensor, or as `ServingInputReceiver`.
    """

    def __new__(cls, features, receiver_tensors, receiver_tensors_alternatives=None):
        if not _is_tensor(features):
            raise ValueError(
                "TensorServingInputReceiver features must be a single Tensor, SparseTensor or "
                f"RaggedTensor, found {type(features).__name__}"
            )
        receiver = ServingInputReceiver(features, receiver_tensors, receiver_tensors_alternatives)
        return super().__new__(
            cls,
            features=features,
            receiver_tensors=receiver.receiver_tensors,
            receiver_tensors_alternatives=receiver.receiver_tensors_alternatives,
        )


class SupervisedInputReceiver(
    collections.namedtuple("SupervisedInputReceiver", ["features", "labels", "receiver_tensors"])
):
    """What a receiver fn for the training or evaluation meta graph returns: features and labels.

    Args:
      features: Tensor or dict of Tensors, passed to the model_fn as given.
      labels: Tensor or dict of Tensors, passed to the model_fn as given.
      receiver_tensors: Tensor or dict of Tensors a client feeds (a single Tensor
        is keyed "input"); the inputs of the "train" and "eval" signatures.

    Raises:
      ValueError: a value is not a Tensor, SparseTensor or RaggedTensor.
    """

    def __new__(cls, features, labels, receiver_tensors):
        _as_tensor_dict(features, SINGLE_FEATURE_KEY, "features", allow_int_keys=True)
        _as_tensor_dict(labels, SINGLE_LABEL_KEY, "labels", allow_int_keys=True)
        return super().__new__(
            cls,
            features=features,
            labels=labels,
            receiver_tensors=_as_tensor_dict(receiver_tensors, SINGLE_RECEIVER_KEY, "receiver_tensors"),
        )


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


def _placeholder_like(tensor, default_batch_size: int | None, name: str):
    """A placeholder of `tensor`'s dtype and shape, its first (batch) dimension `default_batch_size`."""
    shape = tensor.shape.as_list() if tensor.shape.rank is not None else None
    if shape:
        shape[0] = default_batch_size
    return _v1.placeholder(tensor.dtype, shape, name=name)


def build_raw_serving_input_receiver_fn(features: dict, default_batch_size: int | None = None):
    """Returns a serving_input_receiver_fn that feeds the given features directly.

    Args:
      features: {name: Tensor}; each becomes a placeholder of its dtype and shape,
        the first (batch) dimension replaced by `default_batch_size`.
    """

    def serving_input_receiver_fn():
        placeholders = {
            name: _placeholder_like(tensor, default_batch_size, name) for name, tensor in features.items()
        }
        return ServingInputReceiver(placeholders, placeholders)

    return serving_input_receiver_fn


def build_raw_supervised_input_receiver_fn(features, labels, default_batch_size: int | None = None):
    """Returns a receiver fn feeding features and labels directly (`tf.estimator.experimental`'s).

    For `Estimator.experimental_export_all_saved_models`' TRAIN and EVAL meta
    graphs. Each Tensor becomes a placeholder of its dtype and shape (the first
    dimension `default_batch_size`); the model_fn gets them in the structure given
    (a dict, or a single Tensor); the signature's inputs are the features' keys
    (a single features Tensor: "input") and the labels' keys (a single labels
    Tensor: "label").

    Args:
      features: a Tensor or a dict of string to Tensor.
      labels: a Tensor or a dict of string to Tensor.
      default_batch_size: the batch dimension of the placeholders (None: any).

    Returns:
      A function of no arguments returning a `SupervisedInputReceiver`.

    Raises:
      ValueError: features and labels share a key.
    """
    feature_keys = set(features) if isinstance(features, dict) else {SINGLE_RECEIVER_KEY}
    label_keys = set(labels) if isinstance(labels, dict) else {SINGLE_LABEL_KEY}
    if feature_keys & label_keys:
        raise ValueError(
            f"features and labels must have distinct keys; both have {sorted(feature_keys & label_keys)}"
        )

    def placeholders(tensors, single_key):
        if isinstance(tensors, dict):
            fed = {k: _placeholder_like(t, default_batch_size, k) for k, t in tensors.items()}
            return fed, fed
        fed = _placeholder_like(tensors, default_batch_size, single_key)
        return fed, {single_key: fed}

    def supervised_input_receiver_fn():
        feature_placeholders, feature_receivers = placeholders(features, SINGLE_RECEIVER_KEY)
        label_placeholders, label_receivers = placeholders(labels, SINGLE_LABEL_KEY)
        return SupervisedInputReceiver(
            feature_placeholders, label_placeholders, {**feature_receivers, **label_receivers}
        )

    return supervised_input_receiver_fn


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


def _output_dict(value, single_key: str, what: str) -> dict:
    """{key: Tensor}, each key prefixed "<single_key>/" unless it starts with `single_key` already."""
    outputs = {}
    for key, tensor in _as_tensor_dict(value, single_key, what).items():
        key = "/".join(key) if isinstance(key, tuple) else key
        if not isinstance(tensor, tf.Tensor):
            raise ValueError(f"{what}[{key!r}] must be a Tensor, found {type(tensor).__name__}")
        outputs[key if key.startswith(single_key) else f"{single_key}/{key}"] = tensor
    return outputs


class _SupervisedOutput(ExportOutput):
    """The loss, predictions and metrics of a training or evaluation signature.

    Output keys: "loss" (or "loss/<key>" for a dict), "predictions" (or
    "predictions/<key>"), and "metrics/<name>/value" and "metrics/<name>/update_op"
    for each metric (an update Operation is wrapped in an empty Tensor that
    depends on it, since signatures hold Tensors only).

    Args:
      loss: a Tensor or dict of Tensors, or None.
      predictions: a Tensor or dict of Tensors, or None.
      metrics: {name: (value Tensor, update Tensor or Operation)} or tf_keras
        Metrics (updated once), or a single pair; or None.

    Raises:
      ValueError: a value that is not a Tensor, or an update that is neither a
        Tensor nor an Operation.
    """

    _METHOD_NAME = None

    def __init__(self, loss=None, predictions=None, metrics=None):
        self.loss = None if loss is None else _output_dict(loss, "loss", "loss")
        self.predictions = (
            None if predictions is None else _output_dict(predictions, "predictions", "predictions")
        )
        self.metrics = None if metrics is None else self._metric_outputs(metrics)

    @staticmethod
    def _metric_outputs(metrics) -> dict:
        if not isinstance(metrics, dict):
            metrics = {"metrics": metrics}
        outputs = {}
        for name, metric in metrics.items():
            name = "/".join(name) if isinstance(name, tuple) else name
            if not isinstance(name, str):
                raise ValueError(f"metric names must be strings, found {name!r}")
            value, update = metric if isinstance(metric, tuple) else (metric.result(), metric.updates[0])
            key = name if name.startswith("metrics") else f"metrics/{name}"
            if not isinstance(value, tf.Tensor):
                raise ValueError(f"metric {name!r} value must be a Tensor, found {type(value).__name__}")
            if not isinstance(update, (tf.Tensor, tf.Operation)):
                raise ValueError(
                    f"metric {name!r} update_op must be a Tensor or Operation, found {type(update).__name__}"
                )
            if isinstance(update, tf.Operation):
                with tf.control_dependencies([update]):
                    update = tf.constant([], name="metric_op_wrapper")
            outputs[f"{key}/value"] = value
            outputs[f"{key}/update_op"] = update
        return outputs

    def as_signature_def(self, receiver_tensors):
        if not receiver_tensors:
            raise ValueError(f"{type(self).__name__} needs receiver tensors as its signature's inputs")
        outputs = {**(self.loss or {}), **(self.predictions or {}), **(self.metrics or {})}
        if not outputs:
            raise ValueError(f"{type(self).__name__} has no loss, predictions or metrics to output")
        saved_model = _v1.saved_model
        return saved_model.build_signature_def(
            {key: saved_model.build_tensor_info(t) for key, t in receiver_tensors.items()},
            {key: saved_model.build_tensor_info(t) for key, t in outputs.items()},
            self._METHOD_NAME,
        )


class TrainOutput(_SupervisedOutput):
    """The "train" signature of a training meta graph: loss, predictions, metrics."""

    _METHOD_NAME = SUPERVISED_TRAIN_METHOD_NAME


class EvalOutput(_SupervisedOutput):
    """The "eval" signature of an evaluation meta graph: loss, predictions, metrics."""

    _METHOD_NAME = SUPERVISED_EVAL_METHOD_NAME


def export_outputs_for_mode(mode, serving_export_outputs=None, predictions=None, loss=None, metrics=None):
    """The export outputs of a mode's meta graph.

    PREDICT: the model_fn's export outputs (default: `PredictOutput(predictions)`);
    TRAIN: {"train": TrainOutput(...)}; EVAL: {"eval": EvalOutput(...)}.

    Raises:
      ValueError: an unknown mode.
    """
    if mode == ModeKeys.PREDICT:
        if serving_export_outputs is None:
            return {DEFAULT_SERVING_KEY: PredictOutput(predictions)}
        return dict(serving_export_outputs)
    if mode == ModeKeys.TRAIN:
        return {
            DEFAULT_TRAIN_KEY: TrainOutput(
                loss=loss, predictions=predictions or None, metrics=metrics or None
            )
        }
    if mode == ModeKeys.EVAL:
        return {
            DEFAULT_EVAL_KEY: EvalOutput(loss=loss, predictions=predictions or None, metrics=metrics or None)
        }
    raise ValueError(f"mode must be one of {ModeKeys.ALL}, found {mode!r}")


def _tensor_info_tensors(info, graph) -> list:
    """The graph tensors a TensorInfo names (dense or sparse; none for other encodings)."""
    encoding = info.WhichOneof("encoding")
    if encoding == "name":
        names = [info.name]
    elif encoding == "coo_sparse":
        sparse = info.coo_sparse
        names = [sparse.indices_tensor_name, sparse.values_tensor_name, sparse.dense_shape_tensor_name]
    else:
        return []
    return [graph.get_tensor_by_name(name) for name in names]


def _unfed_placeholder(inputs: dict, signature) -> tf.Operation | None:
    """A Placeholder the signature's outputs depend on that its inputs do not feed, or None.

    Walks back from the outputs through op inputs, stopping at the input tensors.
    """
    fed = {t.name for t in tf.nest.flatten(list(inputs.values()), expand_composites=True)}
    graph = _v1.get_default_graph()
    stack = [t for info in signature.outputs.values() for t in _tensor_info_tensors(info, graph)]
    seen = set()
    while stack:
        tensor = stack.pop()
        if tensor.name in fed or tensor.op.name in seen:
            continue
        op = tensor.op
        seen.add(op.name)
        if op.type == "Placeholder":
            return op
        stack.extend(op.inputs)
    return None


_METHOD_REPORT_NAMES = {
    _sig_consts.CLASSIFY_METHOD_NAME: "Classify",
    _sig_consts.REGRESS_METHOD_NAME: "Regress",
    _sig_consts.PREDICT_METHOD_NAME: "Predict",
    SUPERVISED_TRAIN_METHOD_NAME: "Train",
    SUPERVISED_EVAL_METHOD_NAME: "Eval",
}


def _log_signature_report(signatures: dict, excluded: dict) -> None:
    """Logs which signatures an export has, in tf.estimator's words."""
    by_method = {method: [] for method in _METHOD_REPORT_NAMES}
    for name, signature in signatures.items():
        by_method.setdefault(signature.method_name, []).append(name)
    for method, names in by_method.items():
        _LOG.info(
            "Signatures INCLUDED in export for %s: %s",
            _METHOD_REPORT_NAMES.get(method, method),
            names or "None",
        )
    if excluded:
        _LOG.info(
            "Signatures EXCLUDED from export because they cannot be be served via TensorFlow Serving APIs:"
        )
        for name, reason in excluded.items():
            _LOG.info("'%s' : %s", name, reason)
    if not signatures:
        _LOG.warning("Export includes no signatures!")
    elif DEFAULT_SERVING_KEY not in signatures:
        _LOG.warning("Export includes no default signature!")


def _warn_of_unloadable_input_names(signatures: dict) -> None:
    """Warns of signature inputs that are no Python identifier (`class`, `my-feature`):
    TensorFlow >= 2.16's tf.saved_model.load refuses such an export ("'class' is not a valid
    parameter name"); TF Serving and tf.compat.v1.saved_model.loader.load serve it."""
    bad = sorted(
        {key for signature in signatures.values() for key in signature.inputs if not _is_parameter_name(key)}
    )
    if bad:
        _LOG.warning(
            "signature inputs %s are no Python identifiers: tf.saved_model.load (TensorFlow >= 2.16) cannot "
            "load this export, TF Serving and tf.compat.v1.saved_model.loader.load can; name the receiver "
            "tensors otherwise to load it in Python (docs/estimator.md, porting traps)",
            bad,
        )


def _is_parameter_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def build_all_signature_defs(
    receiver_tensors,
    export_outputs: dict,
    receiver_tensors_alternatives: dict | None = None,
    serving_only=True,
) -> dict:
    """Builds every signature that fits: each export output for the main receiver,
    and each (alternative receiver, export output) pair as "<receiver>:<output>".

    A combination that does not fit (e.g. a classify signature over raw
    features, or outputs that need a placeholder the receiver does not feed) is
    left out; the report is logged as tf.estimator logged it ("Signatures
    INCLUDED in export for Predict: [...]", then what was EXCLUDED and why).

    Args:
      receiver_tensors: a Tensor or {name: Tensor}, the inputs.
      export_outputs: {signature key: ExportOutput}.
      receiver_tensors_alternatives: {receiver name: Tensor or {name: Tensor}}.
      serving_only: keep only signatures TensorFlow Serving can serve (False
        for the "train" and "eval" signatures).

    Returns:
      {signature name: SignatureDef}; it may lack "serving_default" (a warning
      is logged, as tf.estimator did).

    Raises:
      ValueError: export_outputs is not a dict.
    """
    if not isinstance(export_outputs, dict):
        raise ValueError(f"export_outputs must be a dict, found {type(export_outputs).__name__}")
    receivers = [(None, _as_tensor_dict(receiver_tensors, SINGLE_RECEIVER_KEY, "receiver_tensors"))]
    for name, tensors in (receiver_tensors_alternatives or {}).items():
        receivers.append((name, _as_tensor_dict(tensors, SINGLE_RECEIVER_KEY, f"alternative {name!r}")))
    signatures, excluded = {}, {}
    for receiver_name, tensors in receivers:
        for key, output in export_outputs.items():
            name = f"{key}" if receiver_name is None else f"{receiver_name}:{key}"
            try:
                signature = output.as_signature_def(tensors)
                unfed = _unfed_placeholder(tensors, signature)
                if unfed is not None:
                    raise ValueError(
                        f"its outputs depend on the placeholder {unfed.name!r}, which is not among its "
                        f"inputs {sorted(tensors)}"
                    )
            except ValueError as e:
                excluded[name] = str(e)
                continue
            signatures[name] = signature
    _log_signature_report(signatures, excluded)
    _warn_of_unloadable_input_names(signatures)
    if serving_only:
        signatures = {k: v for k, v in signatures.items() if _sig_utils.is_valid_signature(v)}
    return signatures
