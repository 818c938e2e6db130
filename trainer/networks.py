"""The networks a job can train (`--model`): one registry of their names, default schedules and layers.

Each network is a function returning fresh tf_keras layers, float32 [batch, 28, 28, 1]
images in, [batch, NUM_CLASSES] logits out; trainer/model.py calls them inside the
Estimator's graph. tf_keras is imported when a network is built, not when this module
is: the entry points read the names and defaults while parsing flags, before
TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from schemas.features import NUM_CLASSES


def _keras_layers():
    import tf_keras  # TensorFlow: only when a network is built, not to parse flags

    return tf_keras.layers


def cnn_layers() -> list:
    """The network of TensorFlow's "Deep MNIST for Experts" tutorial (about 83 MFLOP an example
    per training step, forward and backward).

    conv 5x5x32 -> max-pool 2 -> conv 5x5x64 -> max-pool 2 -> dense 1024 -> dropout 0.4 -> dense 10.
    """
    layers = _keras_layers()
    return [
        layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, 2, name="pool1"),
        layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2, 2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(1024, activation="relu", name="dense"),
        layers.Dropout(0.4, name="dropout"),
        layers.Dense(NUM_CLASSES, name="logits"),
    ]


def _conv_bn_relu(filters: int, name: str) -> list:
    layers = _keras_layers()
    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv"),
        layers.BatchNormalization(name=f"{name}_bn"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def _conv_pool_bn_relu(filters: int, name: str) -> list:
    layers = _keras_layers()
    # "pooled_bn", not "bn": a checkpoint of the conv -> BN -> pool layout fails to
    # restore (naming the missing variable) instead of restoring into this one.
    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv"),
        layers.MaxPooling2D(2, 2, name=f"{name}_pool"),
        layers.BatchNormalization(name=f"{name}_pooled_bn"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def vgg_layers() -> list:
    """A small VGG-style network (the seeds' Fashion-MNIST Keras model).

    Two blocks of two 3x3 convolutions (32, then 64 filters) with batch
    normalization, each followed by max-pool 2 and dropout 0.25; then dense 512 ->
    dropout 0.5 -> dense 10.
    """
    layers = _keras_layers()
    network = []
    for block, filters in enumerate((32, 64), start=1):
        network += _conv_bn_relu(filters, f"block{block}a") + _conv_bn_relu(filters, f"block{block}b")
        network += [
            layers.MaxPooling2D(2, 2, name=f"block{block}_pool"),
            layers.Dropout(0.25, name=f"block{block}_dropout"),
        ]
    return network + [
        layers.Flatten(name="flatten"),
        layers.Dense(512, activation="relu", name="dense"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(NUM_CLASSES, name="logits"),
    ]


def fast_layers() -> list:
    """The default: a network for throughput on CPU (about 33 MFLOP an example per
    training step, forward and backward, 0.4x the Deep MNIST CNN's).

    conv 3x3x32 -> max-pool 2 -> BN -> ReLU -> conv 3x3x64 -> max-pool 2 -> BN -> ReLU
    -> dense 512 -> dropout 0.25 -> dense 10. Batch norm lets it train at twice the
    Deep MNIST CNN's learning rate; 3x3 kernels cost 9/25 of 5x5 ones. Batch norm and
    ReLU come after the pooling, on a quarter of the activations (max-pooling commutes
    with ReLU): 1.17x the examples/s of conv -> BN -> ReLU -> pool, and more accurate
    on Fashion-MNIST's eval split (BENCHMARKS.md).
    """
    layers = _keras_layers()
    return (
        _conv_pool_bn_relu(32, "block1")
        + _conv_pool_bn_relu(64, "block2")
        + [
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="dense"),
            layers.Dropout(0.25, name="dropout"),
            layers.Dense(NUM_CLASSES, name="logits"),
        ]
    )


@dataclasses.dataclass(frozen=True)
class Network:
    """A trainable network.

    Attributes:
      layers: returns the network's fresh layers, in order.
      default_epochs: passes over the train split when neither --train-steps nor
        --num-epochs is given (BENCHMARKS.md has the measured times and accuracies).
      summary: what it is, for --help.
    """

    layers: Callable[[], list]
    default_epochs: float
    summary: str


CNN = "cnn"
VGG = "vgg"
FAST = "fast"
NETWORKS = {
    FAST: Network(fast_layers, 7, "3x3 convolutions, batch norm"),
    CNN: Network(cnn_layers, 10, "Deep MNIST for Experts"),
    VGG: Network(vgg_layers, 25, "VGG-style, the seeds' Fashion-MNIST Keras model"),
}
MODELS = tuple(NETWORKS)
