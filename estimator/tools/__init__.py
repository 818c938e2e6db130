"""Command-line tools of the Estimator runtime (tf.estimator 2.15's `tools/`).

- `checkpoint_converter`: converts a canned Estimator's checkpoint between the
  `tf.compat.v1.estimator` (v1) classes and the `tf.estimator` (v2) classes
  (`python -m estimator.tools.checkpoint_converter`, console script `estimator_ckpt_converter`).
"""
