"""Benchmarks: each figure is a ratio against a baseline run in the same process.

`trainer` is imported first: its environment settings (tf_keras as tf.keras, oneDNN
kernels) take effect only before TensorFlow loads, and the benchmarks measure what
a user of the trainer gets.
"""

import trainer  # noqa: F401
