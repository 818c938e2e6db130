"""`estimator.compat.v1`: tf.estimator 2.15's `tf.compat.v1.estimator`.

    import estimator as tfe

    est = tfe.compat.v1.DNNClassifier([64, 32], columns)  # was tf.compat.v1.estimator.DNNClassifier

The canned classes (`DNN*`, `Linear*`, `DNNLinearCombined*`, `Baseline*`) are the v1
classes of `estimator.canned.v1`: a summed loss, `tf.compat.v1.train` optimizers,
partitioned variables and 2.15's v1 checkpoint names, so that a model dir written by
2.15's `tf.compat.v1.estimator` class resumes here. Every other name is the object
`estimator` itself exports (Estimator, RunConfig, specs, exporters, heads, hooks,
`inputs`, `export`). `tpu` is not supported.
"""

# ruff: noqa: F401 (the names below are the namespace)
from ... import export, inputs
from ...canned.parsing_utils import classifier_parse_example_spec, regressor_parse_example_spec
from ...canned.v1 import (
    BaselineClassifier,
    BaselineEstimator,
    BaselineRegressor,
    DNNClassifier,
    DNNEstimator,
    DNNLinearCombinedClassifier,
    DNNLinearCombinedEstimator,
    DNNLinearCombinedRegressor,
    DNNRegressor,
    LinearClassifier,
    LinearEstimator,
    LinearRegressor,
)
from ...estimator import Estimator, VocabInfo, WarmStartSettings
from ...exporter import BestExporter, Exporter, FinalExporter, LatestExporter
from ...extenders import add_metrics
from ...head import (
    BinaryClassHead,
    Head,
    LogisticRegressionHead,
    MultiClassHead,
    MultiHead,
    MultiLabelHead,
    PoissonRegressionHead,
    RegressionHead,
)
from ...mode_keys import ModeKeys
from ...model_fn import EstimatorSpec
from ...run_config import RunConfig
from ...session_run_hooks import (
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
from ...training import EvalSpec, TrainSpec, train_and_evaluate
from . import experimental

__all__ = [
    "BaselineClassifier",
    "BaselineEstimator",
    "BaselineRegressor",
    "BestExporter",
    "BinaryClassHead",
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "DNNClassifier",
    "DNNEstimator",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedEstimator",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "Estimator",
    "EstimatorSpec",
    "EvalSpec",
    "Exporter",
    "FeedFnHook",
    "FinalExporter",
    "FinalOpsHook",
    "GlobalStepWaiterHook",
    "Head",
    "LatestExporter",
    "LinearClassifier",
    "LinearEstimator",
    "LinearRegressor",
    "LoggingTensorHook",
    "LogisticRegressionHead",
    "ModeKeys",
    "MultiClassHead",
    "MultiHead",
    "MultiLabelHead",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "PoissonRegressionHead",
    "ProfilerHook",
    "RegressionHead",
    "RunConfig",
    "SecondOrStepTimer",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "StepCounterHook",
    "StopAtStepHook",
    "SummarySaverHook",
    "TrainSpec",
    "VocabInfo",
    "WarmStartSettings",
    "add_metrics",
    "classifier_parse_example_spec",
    "experimental",
    "export",
    "inputs",
    "regressor_parse_example_spec",
    "train_and_evaluate",
]
