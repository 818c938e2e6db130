"""Heads: from a model's logits to loss, predictions, eval metrics and an EstimatorSpec.

tf.estimator 2.15's v2 heads (`tf.estimator.Head`, `BinaryClassHead`, ...),
built in the TF1 graph of the Estimator runtime; see `base_head.Head`.
"""

from .base_head import Head
from .binary_class_head import BinaryClassHead
from .multi_class_head import MultiClassHead
from .multi_head import MultiHead
from .multi_label_head import MultiLabelHead
from .regression_head import LogisticRegressionHead, PoissonRegressionHead, RegressionHead

__all__ = [
    "BinaryClassHead",
    "Head",
    "LogisticRegressionHead",
    "MultiClassHead",
    "MultiHead",
    "MultiLabelHead",
    "PoissonRegressionHead",
    "RegressionHead",
]
