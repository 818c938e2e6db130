"""The evaluation's metrics: plain cross-entropy, and the confusion matrix and mistakes as images."""

import numpy as np
import pytest
import tensorflow as tf

from trainer import evaluation

v1 = tf.compat.v1
NAMES = [f"class {i}" for i in range(10)]


def _evaluate(batches):
    """Runs metric_ops over batches of (labels, classes); returns {name: value}."""
    with tf.Graph().as_default():
        images = v1.placeholder(tf.float32, [None, 28, 28, 1])
        labels = v1.placeholder(tf.int64, [None])
        classes = v1.placeholder(tf.int64, [None])
        logits = tf.one_hot(classes, 10) * 5.0
        ops = evaluation.metric_ops(images, labels, logits, classes, NAMES)
        with v1.Session() as session:
            session.run(v1.local_variables_initializer())
            for y, c in batches:
                pixels = np.zeros((len(y), 28, 28, 1), np.float32)
                pixels[:, 0, 0, 0] = np.arange(len(y))  # each image tells its row
                feed = {images: pixels, labels: y, classes: c}
                session.run([update for _, update in ops.values()], feed)
            values = session.run({name: value for name, (value, _) in ops.items()})
            kept = {
                v.op.name.split("/")[-1]: session.run(v)
                for v in v1.local_variables()
                if "mistakes" in v.op.name
            }
    return values, kept


def test_the_first_mistakes_are_kept_in_input_order_and_drawn():
    first = (np.array([0, 1, 2, 3]), np.array([0, 9, 2, 8]))  # rows 1 and 3 wrong
    second = (np.arange(20) % 10, (np.arange(20) + 1) % 10)  # all 20 wrong
    values, kept = _evaluate([first, second])
    assert kept["mistakes_count"] == evaluation.MISTAKES
    np.testing.assert_array_equal(kept["mistakes_labels"][:4], [1, 3, 0, 1])
    np.testing.assert_array_equal(kept["mistakes_classes"][:4], [9, 8, 1, 2])
    np.testing.assert_array_equal(kept["mistakes_images"][:4, 0, 0], [1, 3, 0, 1])  # rows of each batch
    assert values["accuracy"] == pytest.approx(2 / 24)
    for name in ("confusion_matrix", "mistakes"):
        (value,) = v1.Summary.FromString(values[name]).value
        assert value.tag == name and value.image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"


def test_cross_entropy_is_plain():
    values, _ = _evaluate([(np.array([0, 1]), np.array([0, 2]))])
    logits = np.eye(10)[[0, 2]] * 5.0
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert values["cross_entropy"] == pytest.approx(-np.mean(log_probs[[0, 1], [0, 1]]), rel=1e-5)
