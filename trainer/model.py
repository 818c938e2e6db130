"""The custom CNN Estimator's model_fn: `cnn` (Deep MNIST) and `vgg` (for Fashion-MNIST).

Written as a tf.estimator model_fn with tf_keras layers called in the
Estimator's graph, so it runs unchanged on this project's Estimator runtime
(and would on tf.estimator). Batch-norm statistics are updated through the
layers' own `updates`, which tf_keras does not put in the UPDATE_OPS collection.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from estimator import EstimatorSpec, ModeKeys
from estimator import export as export_lib
from schemas import features as feature_schema
from trainer.hparams import CNN, MODELS, VGG

v1 = tf.compat.v1
layers = tf_keras.layers
CLASSIFICATION_SIGNATURE = "classification"


def _apply(network: list, images: tf.Tensor, training: bool) -> tuple[tf.Tensor, list]:
    """Calls the layers in order; returns the output and the layers' update ops (batch norm)."""
    net = images
    for layer in network:
        net = layer(net, training=training) if isinstance(layer, _TRAINING_AWARE) else layer(net)
    updates = [update for layer in network for update in layer.updates] if training else []
    return net, updates


_TRAINING_AWARE = (layers.Dropout, layers.BatchNormalization)


def cnn_logits(images: tf.Tensor, training: bool) -> tuple[tf.Tensor, list]:
    """The network of TensorFlow's "Deep MNIST for Experts" tutorial.

    conv 5x5x32 -> max-pool 2 -> conv 5x5x64 -> max-pool 2 -> dense 1024 ->
    dropout 0.4 -> dense NUM_CLASSES.

    Args:
      images: float32 [batch, 28, 28, 1].
      training: whether dropout is active.

    Returns:
      (float32 logits [batch, NUM_CLASSES], update ops to run with each training step).
    """
    network = [
        layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, 2, name="pool1"),
        layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2, 2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(1024, activation="relu", name="dense"),
        layers.Dropout(0.4, name="dropout"),
        layers.Dense(feature_schema.NUM_CLASSES, name="logits"),
    ]
    return _apply(network, images, training)


def vgg_logits(images: tf.Tensor, training: bool) -> tuple[tf.Tensor, list]:
    """A small VGG-style network for Fashion-MNIST.

    Two blocks of two 3x3 convolutions (32, then 64 filters) with batch
    normalization, each followed by max-pool 2 and dropout 0.25; then dense 512 ->
    dropout 0.5 -> dense NUM_CLASSES.

    Args / Returns: as `cnn_logits`.
    """
    network = []
    for block, filters in enumerate((32, 64), start=1):
        for i in (1, 2):
            network += [
                layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_conv{i}"),
                layers.BatchNormalization(name=f"block{block}_bn{i}"),
                layers.ReLU(name=f"block{block}_relu{i}"),
            ]
        network += [
            layers.MaxPooling2D(2, 2, name=f"block{block}_pool"),
            layers.Dropout(0.25, name=f"block{block}_dropout"),
        ]
    network += [
        layers.Flatten(name="flatten"),
        layers.Dense(512, activation="relu", name="dense"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(feature_schema.NUM_CLASSES, name="logits"),
    ]
    return _apply(network, images, training)


_NETWORKS = {CNN: cnn_logits, VGG: vgg_logits}


def model_fn(features, labels, mode, params):
    """The Estimator's model_fn.

    Args:
      features: {IMAGE_KEY: float32 [batch, IMAGE_PIXELS]}, normalized by tf.Transform.
      labels: int64 [batch] class indices (None in PREDICT mode).
      mode: a ModeKeys value.
      params: {"model": "cnn" | "vgg", "learning_rate": float (Adam's initial rate),
        "decay_steps": int or None (cosine decay of the rate to 0 over this many
        steps; None: constant), "augment": bool (random left-right flips while
        training: right for clothes, wrong for digits), "class_names": [NUM_CLASSES str]}.

    Returns:
      An EstimatorSpec. Predictions: classes int64 [batch], probabilities float32
      [batch, NUM_CLASSES], logits. Eval metrics: accuracy, mean_per_class_accuracy.
      Export outputs: serving_default (classes, probabilities) and classification
      (class-name strings and their scores).

    Raises:
      ValueError: an unknown params["model"].
    """
    if params["model"] not in _NETWORKS:
        raise ValueError(f"unknown model {params['model']!r}: expected one of {MODELS}")
    training = mode == ModeKeys.TRAIN
    images = tf.reshape(
        features[feature_schema.IMAGE_KEY], [-1, feature_schema.IMAGE_HEIGHT, feature_schema.IMAGE_WIDTH, 1]
    )
    if training and params["augment"]:
        images = tf.image.random_flip_left_right(images)
    logits, updates = _NETWORKS[params["model"]](images, training)
    probabilities = tf.nn.softmax(logits, name="probabilities")
    classes = tf.argmax(logits, axis=1, name="classes")
    predictions = {"classes": classes, "probabilities": probabilities, "logits": logits}

    if mode == ModeKeys.PREDICT:
        names = tf.constant(list(params["class_names"]), tf.string)
        export_outputs = {
            export_lib.DEFAULT_SERVING_KEY: export_lib.PredictOutput(
                {"classes": classes, "probabilities": probabilities}
            ),
            CLASSIFICATION_SIGNATURE: export_lib.ClassificationOutput(
                scores=probabilities, classes=tf.tile(names[tf.newaxis, :], [tf.shape(logits)[0], 1])
            ),
        }
        return EstimatorSpec(mode, predictions=predictions, export_outputs=export_outputs)

    loss = v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    if mode == ModeKeys.EVAL:
        metrics = {
            "accuracy": v1.metrics.accuracy(labels=labels, predictions=classes, name="accuracy"),
            "mean_per_class_accuracy": v1.metrics.mean_per_class_accuracy(
                labels, classes, feature_schema.NUM_CLASSES, name="mean_per_class_accuracy"
            ),
        }
        return EstimatorSpec(mode, predictions=predictions, loss=loss, eval_metric_ops=metrics)

    v1.summary.image("images", images, max_outputs=4)
    v1.summary.scalar("accuracy", tf.reduce_mean(tf.cast(tf.equal(classes, labels), tf.float32)))
    global_step = v1.train.get_global_step()
    learning_rate = params["learning_rate"]
    if params["decay_steps"]:
        learning_rate = v1.train.cosine_decay(learning_rate, global_step, params["decay_steps"])
        v1.summary.scalar("learning_rate", learning_rate)
    optimizer = v1.train.AdamOptimizer(learning_rate=learning_rate)
    with tf.control_dependencies(updates):  # batch-norm statistics
        train_op = optimizer.minimize(loss, global_step=global_step)
    return EstimatorSpec(mode, loss=loss, train_op=train_op)
