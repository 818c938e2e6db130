"""The training job: parse-based input_fn, custom CNN Estimator, serving with the transform graph."""

import os

from common import console as _console

# Before any TensorFlow import: tf_keras (Keras 2) as tf.keras, which tf.compat.v1.layers
# and tf.Transform need on TensorFlow 2.16+.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's oneDNN kernels (convolutions, matmuls, batch norm): TensorFlow turns them on
# by itself only on some CPUs. On a 2-core AMD EPYC (AVX2) they train the models here
# 1.4-1.5x faster (BENCHMARKS.md); results differ from the default kernels only by
# floating-point rounding. TF_ENABLE_ONEDNN_OPTS=0 turns them off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ INFO lines off (warnings and errors stay; -vv turns them on), before it loads.
_console.set_defaults()
