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
        raw = tf.io.parse_example(examples, raw_spec)
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


def raw_example(image_raw: bytes, label: int | None = None) -> bytes:
    """Serializes one raw tf.Example (what a client sends to serving_default)."""
    feature = {features.IMAGE_RAW_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_raw]))}
    if label is not None:
        feature[features.LABEL_KEY] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
