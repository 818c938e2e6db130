"""The optimizers of the canned Estimators: by name, instance or callable (tf.estimator 2.15's rules).

A name ('Adagrad', 'Adam', 'Ftrl', 'RMSProp', 'SGD') makes a tf_keras legacy
optimizer (the ones that work in a TF1 graph) with the given learning rate, or
the optimizer's own default when none is given. An instance may be a tf_keras
legacy optimizer or a `tf.compat.v1.train.Optimizer`; a callable returns one.

The v1 canned Estimators (`estimator.compat.v1`) resolve theirs with
`get_optimizer_instance_v1`: the same names make `tf.compat.v1.train` optimizers,
and only those are accepted, as 2.15's `tf.compat.v1.estimator` classes did.
"""

from __future__ import annotations

import logging

import tensorflow as tf
import tf_keras

_v1 = tf.compat.v1
_LOG = logging.getLogger("estimator")
_legacy = tf_keras.optimizers.legacy

OPTIMIZER_CLS_NAMES = {
    "Adagrad": _legacy.Adagrad,
    "Adam": _legacy.Adam,
    "Ftrl": _legacy.Ftrl,
    "RMSProp": _legacy.RMSprop,
    "SGD": _legacy.SGD,
}

# The v1 canned Estimators' names: tf.compat.v1.train optimizers (slots named after the variable,
# no hyperparameter variables).
OPTIMIZER_CLS_NAMES_V1 = {
    "Adagrad": _v1.train.AdagradOptimizer,
    "Adam": _v1.train.AdamOptimizer,
    "Ftrl": _v1.train.FtrlOptimizer,
    "RMSProp": _v1.train.RMSPropOptimizer,
    "SGD": _v1.train.GradientDescentOptimizer,
}


def is_v1_optimizer(optimizer) -> bool:
    return isinstance(optimizer, _v1.train.Optimizer)


def is_keras_optimizer(optimizer) -> bool:
    return isinstance(optimizer, (_legacy.Optimizer, tf_keras.optimizers.Optimizer))


def get_optimizer_instance(opt, learning_rate=None):
    """An optimizer for one graph from a name, an instance or a callable.

    Args:
      opt: a name of OPTIMIZER_CLS_NAMES, a tf_keras optimizer, a
        `tf.compat.v1.train.Optimizer`, or a callable returning one.
      learning_rate: for a name: the learning rate (None: the optimizer's default).

    Returns:
      A tf_keras legacy optimizer (see `for_graph`) or a tf.compat.v1 optimizer.

    Raises:
      ValueError: an unknown name, or an object that is not an optimizer.
    """
    if isinstance(opt, str):
        if opt not in OPTIMIZER_CLS_NAMES:
            raise ValueError(f"optimizer name must be one of {sorted(OPTIMIZER_CLS_NAMES)}, found {opt!r}")
        cls = OPTIMIZER_CLS_NAMES[opt]
        return cls(learning_rate=learning_rate) if learning_rate else cls()
    if callable(opt) and not (is_v1_optimizer(opt) or is_keras_optimizer(opt)):
        opt = opt()
    if is_v1_optimizer(opt):
        return opt
    if is_keras_optimizer(opt):
        return for_graph(opt)
    raise ValueError(
        "optimizer must be a name, a tf.keras.optimizers.legacy.Optimizer, a tf.compat.v1.train.Optimizer "
        f"or a callable returning one; found {type(opt).__name__}: {opt!r}"
    )


def get_optimizer_instance_v1(opt, learning_rate):
    """A `tf.compat.v1.train.Optimizer` from a name, an instance or a callable
    (2.15's `tf.compat.v1.estimator` rules); called in the model_fn's graph.

    Args:
      opt: a name of OPTIMIZER_CLS_NAMES_V1, a `tf.compat.v1.train.Optimizer`,
        or a callable returning one.
      learning_rate: for a name: the learning rate (a positive float).

    Returns:
      A `tf.compat.v1.train.Optimizer`.

    Raises:
      ValueError: an unknown name, a name without a learning rate, or anything
        that is not a `tf.compat.v1.train.Optimizer` (a tf.keras optimizer too:
        it belongs to the v2 classes, `estimator.DNNClassifier` and the others).
    """
    if isinstance(opt, str):
        if opt not in OPTIMIZER_CLS_NAMES_V1:
            raise ValueError(
                f"Unsupported optimizer name: {opt}. Supported names are: {tuple(sorted(OPTIMIZER_CLS_NAMES_V1))}"
            )
        if not learning_rate:
            raise ValueError("learning_rate must be specified when opt is string.")
        return OPTIMIZER_CLS_NAMES_V1[opt](learning_rate=learning_rate)
    if callable(opt) and not is_v1_optimizer(opt):
        opt = opt()
    if not is_v1_optimizer(opt):
        hint = (
            " (a tf.keras optimizer belongs to the v2 classes: estimator.DNNClassifier and the others)"
            if is_keras_optimizer(opt)
            else ""
        )
        raise ValueError(
            f"The given object is not an Optimizer instance. Given: {opt!r}; the tf.compat.v1.estimator "
            f"classes take a name or a tf.compat.v1.train.Optimizer{hint}"
        )
    return opt


def _is_new_keras_optimizer(optimizer) -> bool:
    return isinstance(optimizer, tf_keras.optimizers.Optimizer) and not isinstance(
        optimizer, _legacy.Optimizer
    )


def to_legacy(optimizer):
    """A new-style (non-legacy) tf_keras optimizer as its tf.keras.optimizers.legacy twin;
    anything else unchanged. The canned Estimators call it in their constructors:
    reading the new optimizer's settings needs eager execution, which the
    Estimator's graphs lack. tf.estimator 2.15 converted likewise in eager mode.
    """
    if not _is_new_keras_optimizer(optimizer) or not tf.executing_eagerly():
        return optimizer
    _LOG.warning(
        "%s is a new-style tf.keras optimizer, which needs eager execution; the Estimator uses its "
        "tf.keras.optimizers.legacy twin",
        type(optimizer).__name__,
    )
    return tf_keras.__internal__.optimizers.convert_to_legacy_optimizer(optimizer)


def for_graph(optimizer):
    """A tf_keras legacy optimizer usable in the current TF1 graph.

    A legacy optimizer whose variables belong to an earlier graph (the Estimator
    builds a new graph for each train() call) is replaced by a fresh copy from
    its config, so passing one instance to a canned Estimator works across calls.

    Raises:
      ValueError: a new-style tf_keras optimizer (see `to_legacy`).
    """
    if _is_new_keras_optimizer(optimizer):
        raise ValueError(
            f"{type(optimizer).__name__} is a new-style tf.keras optimizer, which needs eager execution: use "
            f"tf.keras.optimizers.legacy.{type(optimizer).__name__} (or pass the instance itself to a canned "
            "Estimator's constructor, which converts it)"
        )
    weights = optimizer.weights
    if weights and weights[0].graph is not _v1.get_default_graph():
        return type(optimizer).from_config(optimizer.get_config())
    return optimizer
