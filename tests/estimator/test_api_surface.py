"""Every public name of tf.estimator 2.15 is here or documented as not supported, in docs/estimator.md's table."""

import pathlib
import re

import estimator as tfe

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "estimator.md"

# tf.estimator 2.15's public names: the 74 of TensorFlow 2's tf.estimator, and those only tf.compat.v1.estimator had.
V2 = """
Estimator EstimatorSpec ModeKeys RunConfig TrainSpec EvalSpec train_and_evaluate Exporter LatestExporter
FinalExporter BestExporter WarmStartSettings VocabInfo add_metrics classifier_parse_example_spec
regressor_parse_example_spec Head BinaryClassHead MultiClassHead MultiLabelHead RegressionHead
PoissonRegressionHead LogisticRegressionHead MultiHead DNNClassifier DNNRegressor DNNEstimator LinearClassifier
LinearRegressor LinearEstimator DNNLinearCombinedClassifier DNNLinearCombinedRegressor DNNLinearCombinedEstimator
BaselineClassifier BaselineRegressor BaselineEstimator SessionRunHook SessionRunArgs SessionRunContext
SessionRunValues LoggingTensorHook StopAtStepHook CheckpointSaverHook CheckpointSaverListener StepCounterHook
NanTensorHook NanLossDuringTrainingError SummarySaverHook GlobalStepWaiterHook FinalOpsHook FeedFnHook ProfilerHook
SecondOrStepTimer export.ServingInputReceiver export.TensorServingInputReceiver
export.build_parsing_serving_input_receiver_fn export.build_raw_serving_input_receiver_fn export.ExportOutput
export.ClassificationOutput export.RegressionOutput export.PredictOutput export.EvalOutput
experimental.build_raw_supervised_input_receiver_fn experimental.InMemoryEvaluatorHook
experimental.make_early_stopping_hook experimental.stop_if_higher_hook experimental.stop_if_lower_hook
experimental.stop_if_no_increase_hook experimental.stop_if_no_decrease_hook
experimental.make_stop_at_checkpoint_step_hook experimental.call_logit_fn experimental.RNNClassifier
experimental.RNNEstimator experimental.LinearSDCA
""".split()
V1_ONLY = """
inputs.numpy_input_fn inputs.pandas_input_fn experimental.KMeans experimental.dnn_logit_fn_builder
experimental.linear_logit_fn_builder tpu.TPUEstimator tpu.TPUEstimatorSpec tpu.RunConfig tpu.TPUConfig
tpu.InputPipelineConfig tpu.experimental.EmbeddingConfigSpec
""".split()
NOT_SUPPORTED = {"experimental.LinearSDCA"} | {name for name in V1_ONLY if name.startswith("tpu.")}
# dir(tf.compat.v1.estimator) of tf.estimator 2.15, and of its experimental namespace.
COMPAT_V1 = """
BaselineClassifier BaselineEstimator BaselineRegressor BestExporter BinaryClassHead CheckpointSaverHook
CheckpointSaverListener DNNClassifier DNNEstimator DNNLinearCombinedClassifier DNNLinearCombinedEstimator
DNNLinearCombinedRegressor DNNRegressor Estimator EstimatorSpec EvalSpec Exporter FeedFnHook FinalExporter
FinalOpsHook GlobalStepWaiterHook Head LatestExporter LinearClassifier LinearEstimator LinearRegressor
LoggingTensorHook LogisticRegressionHead ModeKeys MultiClassHead MultiHead MultiLabelHead NanLossDuringTrainingError
NanTensorHook PoissonRegressionHead ProfilerHook RegressionHead RunConfig SecondOrStepTimer SessionRunArgs
SessionRunContext SessionRunHook SessionRunValues StepCounterHook StopAtStepHook SummarySaverHook TrainSpec VocabInfo
WarmStartSettings add_metrics classifier_parse_example_spec experimental export inputs regressor_parse_example_spec
tpu train_and_evaluate
""".split()
COMPAT_V1_EXPERIMENTAL = """
InMemoryEvaluatorHook KMeans LinearSDCA build_raw_supervised_input_receiver_fn call_logit_fn dnn_logit_fn_builder
linear_logit_fn_builder make_early_stopping_hook make_stop_at_checkpoint_step_hook stop_if_higher_hook
stop_if_lower_hook stop_if_no_decrease_hook stop_if_no_increase_hook
""".split()
V1_CANNED = [name for name in COMPAT_V1 if name.startswith(("DNN", "Linear", "Baseline"))]


def _resolve(name):
    obj = tfe
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_the_list_is_tf_estimator_2_15s():
    assert len(V2) == len(set(V2)) == 74


def test_every_supported_name_exists():
    missing = []
    for name in V2 + V1_ONLY + ["model_to_estimator"]:
        if name in NOT_SUPPORTED:
            continue
        try:
            _resolve(name)
        except AttributeError:
            missing.append(name)
    assert missing == []


def test_the_docs_table_gives_every_name_a_status():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `")]
    status = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        for name in re.findall(r"`([\w.]+)`", cells[0]):
            status[name] = cells[1]
    for name in V2 + V1_ONLY:
        expected = "not supported" if name in NOT_SUPPORTED else "supported"
        assert status.get(name) == expected, name


def test_compat_v1_is_tf_compat_v1_estimator():
    """Every name of 2.15's tf.compat.v1.estimator but `tpu` and `experimental.LinearSDCA`; the canned
    classes are the v1 ones, everything else the object `estimator` exports."""
    v1 = tfe.compat.v1
    assert sorted(v1.__all__) == sorted(set(COMPAT_V1) - {"tpu"})
    assert sorted(v1.experimental.__all__) == sorted(set(COMPAT_V1_EXPERIMENTAL) - {"LinearSDCA"})
    for name in v1.__all__:
        if name in V1_CANNED:
            assert getattr(v1, name) is not getattr(tfe, name) and getattr(v1, name).__name__ == name
            assert getattr(v1, name).__module__ == "estimator.canned.v1"
        elif name != "experimental":
            assert getattr(v1, name) is getattr(tfe, name), name
