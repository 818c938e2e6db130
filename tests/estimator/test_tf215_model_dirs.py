"""Model dirs written by the real tf.estimator 2.15 continue here exactly.

The golden dirs under tests/fixtures/tf215/ were written by TF 2.15's own
tf.estimator (tests/fixtures/tf215/make_fixtures.py, with the observations it
recorded); tests/fixtures/tf215/kinds.py builds the same estimators here. For every
kind: predict and evaluate equal 2.15's (1e-5), train() resumes and its next 10 steps
equal 2.15's own continuation (1e-4, weights and optimizer slots), the checkpoint
written here has 2.15's keys, shapes and dtypes (a rollback reads it), an export
serves what predict returns and uses only ops TF 2.15 knows, and 2.15's own export
serves here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe
from tests.fixtures.tf215 import kinds

FIXTURES = os.path.dirname(os.path.abspath(kinds.__file__))
TF215_PYTHON = "/tmp/tf215/bin/python"
RT = kinds.Runtime(
    tf=tf,
    estimator=tfe,
    estimator_v1=tfe.compat.v1,
    keras=tf_keras,
    model_to_estimator=tfe.model_to_estimator,
    rnn_classifier=tfe.experimental.RNNClassifier,
)
ALL = list(kinds.KINDS)
EXPORTED = [name for name, kind in kinds.KINDS.items() if kind.receiver]
# Every kind's export in `make test`; one in the everyday loop (`make test-fast`), which must stay short.
EXPORTED_PARAMS = [
    name if name == "dnn_classifier" else pytest.param(name, marks=pytest.mark.slow) for name in EXPORTED
]


def golden(name: str) -> dict:
    with open(os.path.join(FIXTURES, name, "golden.json")) as f:
        return json.load(f)


def copy_model_dir(name: str, tmp_path) -> str:
    """A writable copy of a kind's golden model dir."""
    target = str(tmp_path / name)
    shutil.copytree(os.path.join(FIXTURES, name, "model_dir"), target)
    return target


def checkpoint_variables(path: str) -> dict:
    """{key: [shape, dtype name]} of a checkpoint, as golden.json records them."""
    reader = tf.train.load_checkpoint(path)
    dtypes = reader.get_variable_to_dtype_map()
    return {k: [list(s), dtypes[k].name] for k, s in reader.get_variable_to_shape_map().items()}


def assert_close(actual, expected, tolerance: float, what: str) -> None:
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.dtype.kind in "SOU":
        assert actual.astype(str).tolist() == expected.astype(str).tolist(), what
    else:
        np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance, err_msg=what)


def assert_predictions(predictions: dict, expected: dict, what: str) -> None:
    for key, value in expected.items():
        assert_close(predictions[key], value, 1e-5, f"{what}: {key}")


@pytest.mark.parametrize("name", ALL)
def test_predict_and_evaluate_equal_2_15s(name, tmp_path):
    kind, expected = kinds.KINDS[name], golden(name)
    est = kind.build(RT, copy_model_dir(name, tmp_path))
    metrics = est.evaluate(kinds.input_fn(RT, kind, "eval"))
    assert sorted(metrics) == sorted(expected["eval"])
    for key, value in expected["eval"].items():
        assert_close(metrics[key], value, 1e-5, f"eval {key}")
    predictions = list(est.predict(kinds.input_fn(RT, kind, "predict")))
    stacked = {key: np.stack([p[key] for p in predictions]) for key in kind.prediction_keys}
    assert_predictions(stacked, expected["predictions"], "predict")


@pytest.mark.parametrize("name", ALL)
def test_train_resumes_as_2_15_continued(name, tmp_path):
    """Weights and optimizer slots restored: the 10 more steps (losses, every tensor after)
    equal 2.15's own; the checkpoint written has 2.15's keys, shapes and dtypes."""
    kind, expected = kinds.KINDS[name], golden(name)["continued"]
    est = kind.build(RT, copy_model_dir(name, tmp_path))
    recorder = kinds.loss_recorder(RT)
    est.train(kinds.input_fn(RT, kind, "train"), steps=kinds.MORE_STEPS, hooks=[recorder])
    np.testing.assert_allclose(recorder.losses, expected["losses"], rtol=1e-4, atol=1e-4)
    checkpoint = est.latest_checkpoint()
    assert checkpoint_variables(checkpoint) == expected["variables"]
    reader = tf.train.load_checkpoint(checkpoint)
    with np.load(os.path.join(FIXTURES, name, "continued.npz")) as after:
        assert sorted(after.files) == sorted(k for k, v in expected["variables"].items() if v[1] != "string")
        for key in after.files:
            assert_close(reader.get_tensor(key), after[key], 1e-4, key)


@pytest.mark.parametrize("name", EXPORTED_PARAMS)
def test_export_serves_as_predict_with_ops_tf_2_15_knows(name, tmp_path):
    kind, expected = kinds.KINDS[name], golden(name)
    est = kind.build(RT, copy_model_dir(name, tmp_path))
    path = est.export_saved_model(str(tmp_path / "export"), kinds.receiver_fn(RT, kind)).decode()
    outputs = serve(path, expected["serving"]["signature"], kind)
    for key, value in expected["serving"]["outputs"].items():
        assert_close(outputs[key], value, 1e-5, f"serving {key}")
    unknown = export_ops(path) - tf215_ops()
    assert not unknown, f"ops TF 2.15 does not register: {sorted(unknown)}"


@pytest.mark.parametrize("name", EXPORTED)
def test_2_15_export_serves_here(name):
    expected = golden(name)["serving"]
    outputs = serve(os.path.join(FIXTURES, name, "saved_model"), expected["signature"], kinds.KINDS[name])
    for key, value in expected["outputs"].items():
        assert_close(outputs[key], value, 1e-5, f"serving {key}")


@pytest.mark.parametrize(
    "name", ["dnn_classifier", "linear_classifier", "custom_v1_layers", "custom_keras_layers"]
)
def test_warm_start_from_a_2_15_dir(name, tmp_path):
    """A new model_dir warm-started from the 2.15 dir predicts as 2.15 did (all trainable variables)."""
    kind, expected = kinds.KINDS[name], golden(name)
    source = copy_model_dir(name, tmp_path)
    est = kind.build(RT, str(tmp_path / "new"), warm_start_from=source)
    predictions = list(est.predict(kinds.input_fn(RT, kind, "predict")))
    stacked = {key: np.stack([p[key] for p in predictions]) for key in kind.prediction_keys}
    assert_predictions(stacked, expected["predictions"], "warm-started predict")


@pytest.mark.parametrize("partitions", [1, 2])
def test_variables_partitioned_over_3_ps_restore_into_another_partitioning(partitions, tmp_path):
    """custom_partitioned was written with its variables in 3 parts (part_0..2), as over 3
    parameter servers: it predicts and trains on in 2 parts, or whole, as 2.15 did in 3."""
    kind, expected = kinds.KINDS["custom_partitioned"], golden("custom_partitioned")
    est = kind.build(RT, copy_model_dir("custom_partitioned", tmp_path), partitions=partitions)
    predictions = list(est.predict(kinds.input_fn(RT, kind, "predict")))
    stacked = {key: np.stack([p[key] for p in predictions]) for key in kind.prediction_keys}
    assert_predictions(stacked, expected["predictions"], f"predict in {partitions} parts")
    recorder = kinds.loss_recorder(RT)
    est.train(kinds.input_fn(RT, kind, "train"), steps=kinds.MORE_STEPS, hooks=[recorder])
    np.testing.assert_allclose(recorder.losses, expected["continued"]["losses"], rtol=1e-4, atol=1e-4)
    assert checkpoint_variables(est.latest_checkpoint()) == expected["continued"]["variables"]


def test_best_exporter_continues_a_2_15_dirs_export_history(tmp_path):
    """dnn_classifier was trained by 2.15's train_and_evaluate with a BestExporter (evaluations
    at steps 10, 20, 30; its best export in export/best). Continued here, the exporter keeps
    2.15's best: a new export only if the evaluation beats the best of that history."""
    kind, expected = kinds.KINDS["dnn_classifier"], golden("dnn_classifier")["best_exporter"]
    model_dir = copy_model_dir("dnn_classifier", tmp_path)
    old_exports = sorted(os.listdir(os.path.join(model_dir, "export", "best")))
    assert old_exports == expected["exports"]
    est = kind.build(RT, model_dir)
    exporter = tfe.BestExporter("best", kinds.receiver_fn(RT, kind), exports_to_keep=2)
    metrics, exports = tfe.train_and_evaluate(
        est,
        tfe.TrainSpec(kinds.input_fn(RT, kind, "train"), max_steps=kinds.TRAIN_STEPS + kinds.MORE_STEPS),
        tfe.EvalSpec(kinds.input_fn(RT, kind, "eval"), steps=None, exporters=[exporter], throttle_secs=0),
    )
    assert metrics["global_step"] == kinds.TRAIN_STEPS + kinds.MORE_STEPS
    beats_history = metrics["loss"] < min(h["loss"] for h in expected["history"])
    new_exports = sorted(os.listdir(os.path.join(model_dir, "export", "best")))
    assert new_exports[: len(old_exports)] == old_exports  # 2.15's best export is kept
    assert len(new_exports) == len(old_exports) + beats_history


def test_model_to_estimator_writes_2_15s_object_based_checkpoints(tmp_path):
    """checkpoint_format="checkpoint" (2.15's default) on a new dir: the keys, shapes and dtypes
    2.15 wrote, and an object graph Keras load_weights reads; the dir then resumes."""
    model_dir = str(tmp_path / "new")
    config = kinds._config(RT)
    kind = kinds.KINDS["keras_checkpoint"]
    est = tfe.model_to_estimator(
        kinds.keras_model(RT), model_dir=model_dir, config=config, checkpoint_format="checkpoint"
    )
    est.train(kinds.input_fn(RT, kind, "train"), steps=2)
    checkpoint = est.latest_checkpoint()
    assert checkpoint_variables(checkpoint) == golden("keras_checkpoint")["variables"]
    reader = tf.train.load_checkpoint(checkpoint)
    model = kinds.keras_model(RT)  # made eagerly, after the Estimator's graphs
    model.load_weights(checkpoint).expect_partial()
    kernel = reader.get_tensor("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    np.testing.assert_array_equal(model.get_layer("hidden").kernel.numpy(), kernel)
    moving = reader.get_tensor("layer_with_weights-1/moving_variance/.ATTRIBUTES/VARIABLE_VALUE")
    np.testing.assert_array_equal(model.get_layer("norm").moving_variance.numpy(), moving)
    est.train(kinds.input_fn(RT, kind, "train"), steps=1)
    assert checkpoint_variables(est.latest_checkpoint()) == golden("keras_checkpoint")["variables"]
    assert est.evaluate(kinds.input_fn(RT, kind, "eval"))["global_step"] == 3


def serve(path: str, signature: str, kind: kinds.Kind) -> dict:
    """What an export's signature returns on the predict split ({key: numpy})."""
    loaded = tf.saved_model.load(path)
    inputs = {k: tf.constant(v) for k, v in kinds.serving_input(RT, kind).items()}
    return {k: v.numpy() for k, v in loaded.signatures[signature](**inputs).items()}


def export_ops(path: str) -> set[str]:
    """The op types of an export's serving graph and of its functions."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    graph = meta_graph.graph_def
    ops = {node.op for node in graph.node}
    ops |= {node.op for function in graph.library.function for node in function.node_def}
    return ops


def tf215_ops() -> set[str]:
    with open(os.path.join(FIXTURES, "ops_tf215.json")) as f:
        return set(json.load(f)["ops"])


# One of each family (the fast tests check every kind's keys, shapes and ops against 2.15's).
ROLLBACK_KINDS = [
    "dnn_linear_combined_classifier",
    "v1_linear_classifier",
    "batch_norm",
    "custom_partitioned",
    "keras_checkpoint",
]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(TF215_PYTHON), reason="the TF 2.15 reference venv is not here")
def test_tf_2_15_serves_the_exports_and_reads_the_checkpoints_written_here(tmp_path):
    """Rollback, for real: in the reference venv, TF 2.15 serves this runtime's exports of the
    golden checkpoints as it served its own, and tf.estimator 2.15 evaluates the checkpoints
    this runtime wrote (10 steps resumed) as this runtime does (ROLLBACK_KINDS; all 14 pass)."""
    runs, here = {}, {}
    for name in ROLLBACK_KINDS:
        kind = kinds.KINDS[name]
        est = kind.build(RT, copy_model_dir(name, tmp_path))
        runs[name] = {"model_dir": est.model_dir}
        if kind.receiver:
            export = est.export_saved_model(str(tmp_path / "export" / name), kinds.receiver_fn(RT, kind))
            runs[name]["export"] = export.decode()
        est.train(kinds.input_fn(RT, kind, "train"), steps=kinds.MORE_STEPS)
        here[name] = est.evaluate(kinds.input_fn(RT, kind, "eval"), name="here")
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = os.path.join(FIXTURES, "make_fixtures.py")
    args = ["--rollback", str(tmp_path / "runs.json"), "--out", str(tmp_path / "tf215.json")]
    done = subprocess.run([TF215_PYTHON, script, *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads((tmp_path / "tf215.json").read_text())
    for name in ROLLBACK_KINDS:
        for key, value in golden(name).get("serving", {}).get("outputs", {}).items():
            assert_close(seen[name]["serving"][key], value, 1e-5, f"{name}: {key} served by TF 2.15")
        assert sorted(seen[name]["eval"]) == sorted(here[name]), name
        for key, value in here[name].items():
            assert_close(seen[name]["eval"][key], value, 1e-5, f"{name}: {key} of 2.15's evaluation")
