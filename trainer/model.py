"""The custom CNN Estimator's model_fn over three networks: `fast` (the default), `cnn` (Deep MNIST), `vgg`.

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
from trainer import evaluation, networks

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


def model_fn(features, labels, mode, params):
    """The Estimator's model_fn.

    Args:
      features: {IMAGE_KEY: float32 [batch, IMAGE_PIXELS]}, normalized by tf.Transform.
      labels: int64 [batch] class indices (None in PREDICT mode).
      mode: a ModeKeys value.
      params: as `HParams.model_params` makes it: {"model": a networks.NETWORKS key,
        "learning_rate": float (Adam's peak rate), "decay_steps": int or None
        (cosine decay of the rate to 0 over this many steps; None: constant),
        "warmup_steps": int (linear warm-up from 0 over this many steps; 0: none),
        "label_smoothing": float in [0, 1) (training loss only),
        "test_time_flips": bool (PREDICT, and EVAL unless "evaluation_flips" is
        False: logits are the mean of the network's logits for the image and for
        its left-right mirror image),
        "evaluation_flips": bool, default True (False: evaluations skip test-time flips),
        "class_names": [NUM_CLASSES str]}.

    Returns:
      An EstimatorSpec. Predictions: classes int64 [batch], probabilities float32
      [batch, NUM_CLASSES], logits. Eval metrics: trainer/evaluation.py (accuracy,
      mean_per_class_accuracy, cross_entropy; confusion-matrix and mistakes images).
      Training summaries: loss (label-smoothed), cross_entropy (plain), accuracy,
      learning_rate, 4 input images.
      Export outputs: serving_default (classes, probabilities) and classification
      (class-name strings and their scores).

    Raises:
      ValueError: an unknown params["model"].
    """
    if params["model"] not in networks.NETWORKS:
        raise ValueError(f"unknown model {params['model']!r}: expected one of {networks.MODELS}")
    training = mode == ModeKeys.TRAIN
    images = tf.reshape(
        features[feature_schema.IMAGE_KEY], [-1, feature_schema.IMAGE_HEIGHT, feature_schema.IMAGE_WIDTH, 1]
    )
    network = networks.NETWORKS[params["model"]].layers()
    if params.get("test_time_flips") and (
        mode == ModeKeys.PREDICT or (mode == ModeKeys.EVAL and params.get("evaluation_flips", True))
    ):
        # Test-time augmentation: one pass over the images and their mirror images (a
        # batch of two runs faster than two of one), then the mean of each pair's logits.
        both, updates = _apply(network, tf.concat([images, tf.image.flip_left_right(images)], 0), training)
        logits = tf.reduce_mean(tf.reshape(both, [2, -1, feature_schema.NUM_CLASSES]), axis=0)
    else:
        logits, updates = _apply(network, images, training)
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

    if training and params.get("label_smoothing"):
        onehot = tf.one_hot(labels, feature_schema.NUM_CLASSES)
        loss = v1.losses.softmax_cross_entropy(onehot, logits, label_smoothing=params["label_smoothing"])
    else:
        loss = v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    if mode == ModeKeys.EVAL:
        metrics = evaluation.metric_ops(images, labels, logits, classes, params.get("class_names", ()))
        return EstimatorSpec(mode, predictions=predictions, loss=loss, eval_metric_ops=metrics)

    v1.summary.image("images", images, max_outputs=4)
    v1.summary.scalar("accuracy", tf.reduce_mean(tf.cast(tf.equal(classes, labels), tf.float32)))
    # The plain cross-entropy of the batch: the eval run's `cross_entropy` (and `loss`), comparable
    # with it when the training loss is label-smoothed.
    v1.summary.scalar(
        "cross_entropy",
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)),
    )
    return EstimatorSpec(mode, loss=loss, train_op=_train_op(loss, updates, params))


def _train_op(loss: tf.Tensor, updates: list, params: dict) -> tf.Operation:
    """Adam on `loss` with params' schedule: linear warm-up, then cosine decay (or constant)."""
    global_step = v1.train.get_global_step()
    learning_rate = params["learning_rate"]
    if params["decay_steps"]:
        learning_rate = v1.train.cosine_decay(learning_rate, global_step, params["decay_steps"])
    if params.get("warmup_steps"):
        warmup = tf.minimum(1.0, tf.cast(global_step + 1, tf.float32) / params["warmup_steps"])
        learning_rate = learning_rate * warmup
    v1.summary.scalar("learning_rate", learning_rate)
    optimizer = v1.train.AdamOptimizer(learning_rate=learning_rate)
    with tf.control_dependencies(updates):  # batch-norm statistics
        return optimizer.minimize(loss, global_step=global_step)
