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
