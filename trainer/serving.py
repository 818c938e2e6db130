"""The serving input: raw tf.Examples through the same tf.Transform graph as training.

Signatures of the exported model (Estimator.export_saved_model):
  serving_default            examples: serialized raw tf.Example [batch] (image_raw
                             bytes, no label) -> classes, probabilities
  classification             the same input -> class names and scores (TF Serving Classify)
  image_raw:serving_default  image_raw: the 784 raw bytes of each image [batch]
                             (JSON clients send them base64: {"b64": ...})

Requests are parsed with the raw feature spec the preprocessing job recorded
beside its transform (`tf_transform_output.raw_feature_spec()`, as TFX's
Trainer does), minus the label, and go through the transform graph it wrote, so
serving computes exactly what training saw. An image_raw that is not 784 bytes
(the transform's own check) or a missing one (the parser), bytes that are not a
tf.Example, and an empty batch are each an InvalidArgumentError that says so.

Bytes that are not a tf.Example are caught before the parser sees them
(`_framed_as_examples`): the parser's error quotes the input, and where that is
not UTF-8 (raw image bytes sent to serving_default, say) TensorFlow's Python
bindings fail to decode the error and raise UnicodeDecodeError instead of
InvalidArgumentError.
"""

from __future__ import annotations

import tensorflow as tf

from estimator import export as export_lib
from schemas import features

RAW_BYTES_RECEIVER = features.IMAGE_RAW_KEY


def make_serving_input_receiver_fn(tf_transform_output):
    """Returns the serving_input_receiver_fn for the Estimator's exporters.

    Args:
      tf_transform_output: `tft.TFTransformOutput` of the preprocessing run; its
        transform graph (and any assets) becomes part of the exported model.
    """
    raw_spec = dict(tf_transform_output.raw_feature_spec())
    raw_spec.pop(features.LABEL_KEY, None)  # clients send no label

    def serving_input_receiver_fn():
        examples = tf.compat.v1.placeholder(tf.string, [None], name="input_example_tensor")
        framed = tf.debugging.Assert(
            tf.reduce_all(_framed_as_examples(examples)),
            ["an input is not a serialized tf.Example (raw image bytes go to image_raw:serving_default)"],
        )
        with tf.control_dependencies([framed]):
            raw = tf.io.parse_example(tf.identity(examples), raw_spec)
        # The alternative signature feeds image_raw where parsing would produce it.
        image_raw = raw[features.IMAGE_RAW_KEY]
        not_empty = tf.debugging.assert_positive(
            tf.size(image_raw), message="empty batch: a request needs at least one image"
        )
        with tf.control_dependencies([not_empty]):
            checked = {features.IMAGE_RAW_KEY: tf.identity(image_raw)}
        transformed = tf_transform_output.transform_raw_features(checked, drop_unused_features=True)
        transformed.pop(features.LABEL_KEY, None)
        alternatives = {RAW_BYTES_RECEIVER: {features.IMAGE_RAW_KEY: image_raw}}
        return export_lib.ServingInputReceiver(
            transformed, {export_lib.EXAMPLES_RECEIVER_KEY: examples}, alternatives
        )

    return serving_input_receiver_fn


def _framed_as_examples(serialized):
    """bool [batch]: each string is empty or one length-delimited field 1 (tf.Example's `features`)
    spanning it exactly: tag byte 0x0A, a varint length (up to 5 bytes), then that many bytes."""
    head = tf.strings.substr(tf.strings.join([serialized, "\0" * 6]), 0, 6)
    codes = tf.cast(tf.io.decode_raw(head, tf.uint8, fixed_length=6), tf.int64)  # [batch, 6]
    length, size, ended = (
        tf.zeros_like(codes[:, 0]),
        tf.zeros_like(codes[:, 0]),
        tf.zeros_like(codes[:, 0], tf.bool),
    )
    for i in range(5):
        byte, reading = codes[:, i + 1], tf.logical_not(ended)
        length += tf.where(reading, tf.bitwise.left_shift(tf.bitwise.bitwise_and(byte, 0x7F), 7 * i), 0)
        size += tf.cast(reading, tf.int64)
        ended = tf.logical_or(ended, byte < 0x80)
    total = tf.cast(tf.strings.length(serialized), tf.int64)
    return tf.logical_or(
        tf.equal(total, 0), tf.equal(codes[:, 0], 0x0A) & ended & tf.equal(1 + size + length, total)
    )


def raw_example(image_raw: bytes, label: int | None = None) -> bytes:
    """Serializes one raw tf.Example (what a client sends to serving_default)."""
    feature = {features.IMAGE_RAW_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_raw]))}
    if label is not None:
        feature[features.LABEL_KEY] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
