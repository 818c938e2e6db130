"""What an evaluation measures: the model_fn's eval_metric_ops.

Scalars: accuracy, mean_per_class_accuracy and cross_entropy (the plain
cross-entropy, the same quantity as the training summary `cross_entropy`, so the
two runs' curves compare in TensorBoard even when the training loss is label-smoothed).
Images, written to the eval run as TensorBoard image summaries: the confusion matrix
(`confusion_matrix`) and a grid of the first MISTAKES misclassified images with their
true and predicted classes (`mistakes`). Each image metric's value is a serialized
`Summary`, which the Estimator writes as such (as tf.estimator did).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from schemas import features as feature_schema
from trainer import figures

v1 = tf.compat.v1
MISTAKES = 16  # images in the mistakes grid


def _local(name: str, shape, dtype) -> tf.Variable:
    """A metric variable: local (reset by each evaluation's local_init_op), not trainable."""
    return v1.get_variable(
        name,
        shape=shape,
        dtype=dtype,
        initializer=v1.zeros_initializer(),
        trainable=False,
        collections=[v1.GraphKeys.LOCAL_VARIABLES, v1.GraphKeys.METRIC_VARIABLES],
    )


def _image_summary(tag: str, png: bytes) -> bytes:
    summary = v1.Summary()
    summary.value.add(tag=tag, image=v1.Summary.Image(encoded_image_string=png))
    return summary.SerializeToString()


def _confusion_matrix(labels, classes, class_names) -> tuple[tf.Tensor, tf.Operation]:
    n = feature_schema.NUM_CLASSES
    counts = _local("confusion_matrix_counts", [n, n], tf.int64)
    update = counts.assign_add(tf.math.confusion_matrix(labels, classes, n, dtype=tf.int64))

    def render(matrix):
        return _image_summary("confusion_matrix", figures.confusion_matrix(matrix, class_names))

    value = v1.py_func(
        render, [counts.read_value()], tf.string, stateful=False, name="confusion_matrix_image"
    )
    return value, update


def _mistakes(images, labels, classes, class_names) -> tuple[tf.Tensor, tf.Operation]:
    """The first MISTAKES misclassified images of the evaluation, in input order."""
    height, width = feature_schema.IMAGE_HEIGHT, feature_schema.IMAGE_WIDTH
    kept = _local("mistakes_images", [MISTAKES, height, width], tf.float32)
    kept_labels = _local("mistakes_labels", [MISTAKES], tf.int64)
    kept_classes = _local("mistakes_classes", [MISTAKES], tf.int64)
    count = _local("mistakes_count", [], tf.int64)
    wrong = tf.not_equal(labels, classes)
    found = tf.cast(tf.reduce_sum(tf.cast(wrong, tf.int64)), tf.int64)
    updates = []
    for store, new in ((kept, images[..., 0]), (kept_labels, labels), (kept_classes, classes)):
        current = store.read_value()  # kept rows first, then this batch's mistakes: the first MISTAKES stay
        merged = tf.concat([current[:count], tf.boolean_mask(new, wrong), current[count:]], 0)
        updates.append(store.assign(tf.reshape(merged[:MISTAKES], store.shape)))
    with tf.control_dependencies(updates):
        update = count.assign(tf.minimum(count + found, MISTAKES))

    def render(pictures, true, predicted, n):
        png = figures.mistakes(pictures[:n], true[:n], predicted[:n], class_names)
        return _image_summary("mistakes", png)

    value = v1.py_func(
        render,
        [kept.read_value(), kept_labels.read_value(), kept_classes.read_value(), count.read_value()],
        tf.string,
        stateful=False,
        name="mistakes_image",
    )
    return value, update


def metric_ops(images, labels, logits, classes, class_names) -> dict:
    """The eval_metric_ops of an evaluation.

    Args:
      images: float32 [batch, height, width, 1], as the network sees them.
      labels: int64 [batch]; logits: float32 [batch, NUM_CLASSES]; classes: int64 [batch].
      class_names: [NUM_CLASSES] str, for the images.

    Returns:
      {name: (value, update_op)}: accuracy, mean_per_class_accuracy, cross_entropy
      (floats); confusion_matrix and mistakes (serialized Summary protos with one image).
    """
    names = [str(name) for name in class_names] or [str(i) for i in range(feature_schema.NUM_CLASSES)]
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return {
        "accuracy": v1.metrics.accuracy(labels=labels, predictions=classes, name="accuracy"),
        "mean_per_class_accuracy": v1.metrics.mean_per_class_accuracy(
            labels, classes, feature_schema.NUM_CLASSES, name="mean_per_class_accuracy"
        ),
        "cross_entropy": v1.metrics.mean(cross_entropy, name="cross_entropy"),
        "confusion_matrix": _confusion_matrix(labels, classes, np.asarray(names)),
        "mistakes": _mistakes(images, labels, classes, np.asarray(names)),
    }
