"""The training job: parse-based input_fn, custom CNN Estimator, serving with the transform graph."""

import os

# Before any TensorFlow import: tf_keras (Keras 2) as tf.keras, which tf.compat.v1.layers
# and tf.Transform need on TensorFlow 2.16+.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
