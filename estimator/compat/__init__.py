"""`estimator.compat`: tf.estimator 2.15's `tf.compat.v1.estimator` namespace, as `estimator.compat.v1`.

Porting a TF1-style program is the import rename alone:
`tf.compat.v1.estimator.DNNClassifier` -> `estimator.compat.v1.DNNClassifier`.
"""

from . import v1

__all__ = ["v1"]
