"""`python -m estimator.tools.checkpoint_converter`: canned checkpoints from the v1 classes to v2 and back.

The v1 sources are model dirs that the real tf.compat.v1.estimator 2.15 classes wrote
(tests/fixtures/tf215/compat_v1/). A converted checkpoint is restored whole by the other
class (a missing or extra key would stop it), predicts what the source predicted, and
resumes training.
"""

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from estimator.tools import checkpoint_converter as converter
from tests.estimator.test_canned_checkpoints import LISTS as VARIABLE_LISTS
from tests.estimator.test_compat_v1 import copy_fixture, record
from tests.fixtures.tf215 import canned_cases


def _predictions(est, key):
    return np.array([p[key] for p in est.predict(canned_cases.input_fn(tf, None, seed=1, epochs=1))])


def _names(model_dir):
    return {name for name, _ in tf.train.list_variables(model_dir)}


def test_a_2_15_v1_dnn_dir_continues_in_the_v2_class_as_in_the_v1_class(tmp_path):
    source = copy_fixture("dnn_classifier", tmp_path)
    written = converter.convert_checkpoint(
        "dnn", f"{source}/model.ckpt-20", f"{source}/graph.pbtxt", str(tmp_path / "v2" / "model.ckpt-20")
    )
    assert written == str(tmp_path / "v2" / "model.ckpt-20")
    reader = tf.train.load_checkpoint(written)
    assert reader.get_tensor("training/Adagrad/learning_rate") == np.float32(0.05)  # the v1 graph's rate
    kernel = "dnn/hiddenlayer_0/kernel"
    np.testing.assert_array_equal(
        reader.get_tensor(f"training/Adagrad/{kernel}/accumulator"),
        tf.train.load_variable(source, f"{kernel}/t_0/Adagrad"),
    )

    columns = canned_cases.Columns(tf)
    v2 = tfe.DNNClassifier(
        [8, 4], [columns.x, columns.age, columns.c_emb], model_dir=str(tmp_path / "v2"), n_classes=3,
        loss_reduction="sum", config=tfe.RunConfig(tf_random_seed=canned_cases.SEED),
    )  # fmt: skip
    expected = record("dnn_classifier")
    np.testing.assert_allclose(
        _predictions(v2, "probabilities"), expected["predictions"]["probabilities"], atol=1e-5
    )
    v2.train(canned_cases.input_fn(tf, "class3"), steps=canned_cases.CONTINUE)
    # tf.keras's Adagrad adds 1e-7 to sqrt(accumulator); the v1 optimizer does not.
    for name, value in expected["continued"].items():
        if "/t_0/" not in name:
            np.testing.assert_allclose(v2.get_variable_value(name), value, atol=1e-4, rtol=1e-5, err_msg=name)

    # And back: the v1 class restores the converted v2 checkpoint and predicts what the v2 class does.
    converter.convert_checkpoint(
        "dnn", str(tmp_path / "v2"), None, str(tmp_path / "v1" / "model.ckpt-30"), to="v1"
    )
    assert _names(str(tmp_path / "v1")) == set(expected["continued"])
    est, label = canned_cases.build(
        "dnn_classifier", tf, {"v1": tfe.compat.v1}, str(tmp_path / "v1"), canned_cases.V1_DIRS
    )
    np.testing.assert_allclose(
        _predictions(est, "probabilities"), _predictions(v2, "probabilities"), atol=1e-6
    )
    est.train(canned_cases.input_fn(tf, label), steps=1)
    assert est.get_variable_value("global_step") == 31


def test_adam_powers_and_a_wide_and_deep_model_with_two_adams_round_trip(tmp_path):
    source = copy_fixture("dnn_regressor_adam", tmp_path)
    v2_dir = str(tmp_path / "adam_v2")
    converter.convert_checkpoint("dnn", source, f"{source}/graph.pbtxt", f"{v2_dir}/model.ckpt-20")
    reader = tf.train.load_checkpoint(v2_dir)
    assert {k: reader.get_tensor(f"training/Adam/{k}") for k in ("beta_1", "beta_2", "learning_rate")} == {
        "beta_1": np.float32(0.9), "beta_2": np.float32(0.999), "learning_rate": np.float32(0.05)
    }  # fmt: skip
    assert "training/Adam/iter" not in _names(v2_dir)  # the DNN's optimizer counts global_step
    back = str(tmp_path / "adam_v1")
    converter.convert_checkpoint("dnn", v2_dir, None, f"{back}/model.ckpt-20", to="v1")
    for power in ("beta1_power", "beta2_power"):  # beta ** (global_step + 1), as v1 Adam keeps it
        np.testing.assert_allclose(
            tf.train.load_variable(back, f"dnn/head/{power}"), tf.train.load_variable(source, f"dnn/head/{power}"),
            rtol=1e-6,
        )  # fmt: skip

    # A v2 wide-and-deep model whose parts both use Adam (2.15's converter refused it) to v1 and back.
    est, label = canned_cases.build("v2_combined_adam_adam", tf, {"v2": tfe}, str(tmp_path / "w_v2"))
    est.train(canned_cases.input_fn(tf, label), steps=3)
    w_v1 = str(tmp_path / "w_v1")
    converter.convert_checkpoint("combined", str(tmp_path / "w_v2"), None, f"{w_v1}/model.ckpt-3", to="v1")
    assert {"head/beta1_power", "head/beta1_power_1", "linear/linear_model/c/weights/Adam_1"} <= _names(w_v1)
    columns = canned_cases.Columns(tf)
    v1 = tfe.compat.v1.DNNLinearCombinedRegressor(
        model_dir=w_v1, linear_feature_columns=[columns.c], dnn_feature_columns=[columns.x], dnn_hidden_units=[4],
        linear_optimizer="Adam", dnn_optimizer="Adam",
    )  # fmt: skip
    np.testing.assert_allclose(_predictions(v1, "predictions"), _predictions(est, "predictions"), atol=1e-6)
    v1.train(canned_cases.input_fn(tf, label), steps=1)  # restores every key, writes graph.pbtxt
    w_v2b = str(tmp_path / "w_v2b")
    assert converter.main(["combined", w_v1, f"{w_v1}/graph.pbtxt", f"{w_v2b}/model.ckpt-4"]) == 0
    assert [[n, s] for n, s in tf.train.list_variables(w_v2b)] == VARIABLE_LISTS["v2_combined_adam_adam"]
    resumed = tfe.DNNLinearCombinedRegressor(
        model_dir=w_v2b, linear_feature_columns=[columns.c], dnn_feature_columns=[columns.x], dnn_hidden_units=[4],
        linear_optimizer="Adam", dnn_optimizer="Adam",
    )  # fmt: skip
    np.testing.assert_allclose(
        _predictions(resumed, "predictions"), _predictions(v1, "predictions"), atol=1e-6
    )
    resumed.train(canned_cases.input_fn(tf, label), steps=1)
    assert resumed.get_variable_value("training/Adam_1/iter") == 5  # the linear part's own step count


def test_what_it_cannot_convert_is_one_error_line(tmp_path, capsys):
    source = copy_fixture("dnn_classifier", tmp_path)
    target = str(tmp_path / "out" / "model.ckpt-20")
    cases = [
        (["dnn", str(tmp_path / "nowhere"), f"{source}/graph.pbtxt", target], "not a checkpoint"),
        (
            ["linear", source, f"{source}/graph.pbtxt", target],
            "dnn/hiddenlayer_0/bias: not a variable of a canned linear",
        ),
        (["--to", "v1", "dnn", source, target], "not a v2 checkpoint"),
        (["dnn", source, f"{source}/checkpoint", target], "not a graph.pbtxt"),
    ]
    for argv, message in cases:
        assert converter.main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    with pytest.raises(SystemExit) as usage:  # v1 -> v2 needs the graph, as in 2.15
        converter.main(["dnn", source, target])
    assert usage.value.code == 2
    assert not (tmp_path / "out").exists()
