"""`estimator.compat.v1`: tf.compat.v1.estimator's canned classes continue model dirs written by 2.15.

The fixtures under tests/fixtures/tf215/compat_v1/ are model dirs that the real
`tf.compat.v1.estimator` classes of tf.estimator 2.15 wrote (record_canned.py), with
2.15's predictions, evaluation and its own continuation of 10 steps. Ported by the import
rename alone, each class here predicts and evaluates as 2.15 did, and its next 10 steps
(weights and optimizer slots) equal 2.15's.
"""

import gzip
import json
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from estimator.canned import optimizers
from tests.fixtures.tf215 import canned_cases

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf215" / "compat_v1"
NAMESPACES = {"v1": tfe.compat.v1, "v2": tfe}
# The quick ones run in the everyday loop; every case runs in the full suite.
QUICK = {
    "dnn_classifier",
    "dnn_partitioned_rmsprop",
    "linear_classifier",
    "combined_regressor_adam_batch_norm",
}


def copy_fixture(case, tmp_path) -> str:
    """A copy of the 2.15 model dir of `case`, its gzipped graph.pbtxt unpacked."""
    model_dir = tmp_path / case
    shutil.copytree(FIXTURES / case, model_dir)
    for packed in model_dir.glob("*.gz"):
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
        packed.unlink()
    return str(model_dir)


def record(case) -> dict:
    return json.loads((FIXTURES / f"{case}.json").read_text())


def assert_values_close(actual: dict, expected: dict, atol: float) -> None:
    """Equal keys; strings equal, numbers within atol (and float32 rounding of large values)."""
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        if isinstance(value, dict):  # slices of a partitioned slot
            assert_values_close(actual[name], value, atol)
        elif np.asarray(value).dtype.kind in "US":
            assert np.asarray(actual[name]).astype(str).tolist() == value, name
        else:
            np.testing.assert_allclose(actual[name], value, atol=atol, rtol=atol / 10, err_msg=name)


@pytest.mark.parametrize(
    "case",
    [c if c in QUICK else pytest.param(c, marks=pytest.mark.slow) for c in sorted(canned_cases.V1_DIRS)],
)
def test_a_2_15_v1_model_dir_predicts_evaluates_and_continues_as_2_15(tmp_path, case):
    expected = record(case)
    model_dir = copy_fixture(case, tmp_path)
    est, label = canned_cases.build(case, tf, NAMESPACES, model_dir, canned_cases.V1_DIRS)

    predictions = {}
    for row in est.predict(canned_cases.input_fn(tf, None, seed=1, epochs=1)):
        for key, value in row.items():
            predictions.setdefault(key, []).append(np.asarray(value).tolist())
    assert_values_close(predictions, expected["predictions"], atol=1e-5)
    evaluation = est.evaluate(canned_cases.input_fn(tf, label, seed=1, epochs=1))
    assert_values_close({k: float(v) for k, v in evaluation.items()}, expected["evaluation"], atol=1e-5)

    est.train(canned_cases.input_fn(tf, label), steps=canned_cases.CONTINUE)
    assert est.get_variable_value("global_step") == canned_cases.STEPS + canned_cases.CONTINUE
    assert_values_close(canned_cases.checkpoint_values(tf, model_dir), expected["continued"], atol=1e-4)
    # What this runtime wrote is what 2.15 would read: the same names and shapes.
    assert [[n, s] for n, s in tf.train.list_variables(model_dir)] == expected["variables"]


def test_the_v1_classes_take_tf_compat_v1_optimizers_and_refuse_keras_ones(tmp_path):
    columns = canned_cases.Columns(tf)
    est = tfe.compat.v1.DNNClassifier([4], [columns.x], optimizer=tf.keras.optimizers.legacy.Adagrad(0.1))
    with pytest.raises(
        ValueError, match="not an Optimizer instance.*tf.keras optimizer belongs to the v2 classes"
    ):
        est.train(canned_cases.input_fn(tf, "class2"), steps=1)
    # A name is the tf.compat.v1.train optimizer at the class's learning rate.
    names = {"Adagrad": 0.05, "SGD": 0.05}
    for name, rate in names.items():
        optimizer = optimizers.get_optimizer_instance_v1(name, learning_rate=rate)
        assert isinstance(optimizer, tf.compat.v1.train.Optimizer) and optimizer._learning_rate == rate
    with pytest.raises(ValueError, match="Unsupported optimizer name: Adadelta"):
        optimizers.get_optimizer_instance_v1("Adadelta", learning_rate=0.1)
