"""`estimator.compat.v1.experimental`: tf.estimator 2.15's `tf.compat.v1.estimator.experimental`.

The same objects as `estimator.experimental`, without the names 2.15 exported to
TensorFlow 2's namespace only (`RNNClassifier`, `RNNEstimator`); `LinearSDCA` is not
supported (see docs/estimator.md).
"""

# ruff: noqa: F401 (the names below are the namespace)
from ...canned.kmeans import KMeansClustering as KMeans
from ...canned.logit_fns import call_logit_fn, dnn_logit_fn_builder, linear_logit_fn_builder
from ...early_stopping import (
    make_early_stopping_hook,
    stop_if_higher_hook,
    stop_if_lower_hook,
    stop_if_no_decrease_hook,
    stop_if_no_increase_hook,
)
from ...experimental_hooks import InMemoryEvaluatorHook, make_stop_at_checkpoint_step_hook
from ...export import build_raw_supervised_input_receiver_fn

__all__ = [
    "InMemoryEvaluatorHook",
    "KMeans",
    "build_raw_supervised_input_receiver_fn",
    "call_logit_fn",
    "dnn_logit_fn_builder",
    "linear_logit_fn_builder",
    "make_early_stopping_hook",
    "make_stop_at_checkpoint_step_hook",
    "stop_if_higher_hook",
    "stop_if_lower_hook",
    "stop_if_no_decrease_hook",
    "stop_if_no_increase_hook",
]
