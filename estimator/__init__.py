"""The tf.estimator contract on TensorFlow 2.21, built on public `tf.compat.v1` APIs.

    import estimator as tfe

    est = tfe.Estimator(model_fn, model_dir, config=tfe.RunConfig(save_checkpoints_steps=100))
    est.train(input_fn, max_steps=1000)
    est.evaluate(eval_input_fn)
    tfe.train_and_evaluate(est, tfe.TrainSpec(...), tfe.EvalSpec(..., exporters=[tfe.LatestExporter(...)]))

Generic: it knows nothing of any dataset. `docs/estimator.md` says what matches
tf.estimator, what differs, and how to port a model.
"""

import os

# tf.compat.v1.layers and tf.Transform need Keras 2 (tf_keras) as tf.keras; this must
# be set before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# ruff: noqa: E402, F401 (the names below are the public API: __all__ lists them by section)
# The Estimator, its specs and train_and_evaluate.
from . import export
from .estimator import Estimator, VocabInfo, WarmStartSettings
from .exporter import BestExporter, Exporter, FinalExporter, LatestExporter
from .hooks import NanLossError
from .mode_keys import ModeKeys
from .model_fn import EstimatorSpec
from .run_config import RunConfig, TaskType
from .training import EvalSpec, TrainSpec, train_and_evaluate

_CORE = [
    "BestExporter",
    "Estimator",
    "EstimatorSpec",
    "EvalSpec",
    "Exporter",
    "FinalExporter",
    "LatestExporter",
    "ModeKeys",
    "NanLossError",
    "RunConfig",
    "TaskType",
    "TrainSpec",
    "VocabInfo",
    "WarmStartSettings",
    "export",
    "train_and_evaluate",
]

# Canned estimators and heads (canned/, head/).
from .canned.baseline import BaselineClassifier, BaselineEstimator, BaselineRegressor
from .canned.dnn import DNNClassifier, DNNEstimator, DNNRegressor
from .canned.dnn_linear_combined import (
    DNNLinearCombinedClassifier,
    DNNLinearCombinedEstimator,
    DNNLinearCombinedRegressor,
)
from .canned.linear import LinearClassifier, LinearEstimator, LinearRegressor
from .canned.parsing_utils import classifier_parse_example_spec, regressor_parse_example_spec
from .extenders import add_metrics
from .head import (
    BinaryClassHead,
    Head,
    LogisticRegressionHead,
    MultiClassHead,
    MultiHead,
    MultiLabelHead,
    PoissonRegressionHead,
    RegressionHead,
)

_CANNED = [
    "BaselineClassifier",
    "BaselineEstimator",
    "BaselineRegressor",
    "BinaryClassHead",
    "DNNClassifier",
    "DNNEstimator",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedEstimator",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "Head",
    "LinearClassifier",
    "LinearEstimator",
    "LinearRegressor",
    "LogisticRegressionHead",
    "MultiClassHead",
    "MultiHead",
    "MultiLabelHead",
    "PoissonRegressionHead",
    "RegressionHead",
    "add_metrics",
    "classifier_parse_example_spec",
    "regressor_parse_example_spec",
]

# Input functions and Keras models (inputs.py, keras.py).
from . import inputs
from .keras import model_to_estimator

_INPUTS = ["inputs", "model_to_estimator"]

# Hooks, early stopping and the experimental namespace.
from . import experimental
from .session_run_hooks import (
    CheckpointSaverHook,
    CheckpointSaverListener,
    FeedFnHook,
    FinalOpsHook,
    GlobalStepWaiterHook,
    LoggingTensorHook,
    NanLossDuringTrainingError,
    NanTensorHook,
    ProfilerHook,
    SecondOrStepTimer,
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
    StepCounterHook,
    StopAtStepHook,
    SummarySaverHook,
)

_HOOKS = [
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "FeedFnHook",
    "FinalOpsHook",
    "GlobalStepWaiterHook",
    "LoggingTensorHook",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "ProfilerHook",
    "SecondOrStepTimer",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "StepCounterHook",
    "StopAtStepHook",
    "SummarySaverHook",
    "experimental",
]

# tf.compat.v1.estimator: the v1 canned classes and everything else 2.15 exported there.
from . import compat

__all__ = [*_CORE, *_CANNED, *_INPUTS, *_HOOKS, "compat"]
