"""Never restore in part: a checkpoint that lacks a variable of the model_fn stops every mode.

A model_fn that grew a layer since its checkpoint was written must not train on,
evaluate, predict with or export that layer freshly initialized: train, evaluate and
predict raise NotFoundError (as tf.estimator 2.15), exports ValueError("Could not load
all requested variables from checkpoint ...") and write nothing; every message names
each missing key and the checkpoint. What a serving input receiver creates (a transform
graph's variables) is still initialized from its own values, and warm_start_from still
loads part of a checkpoint on purpose.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from estimator import distributed, restore
from tests.estimator import models

v1 = tf.compat.v1


def grown_model_fn(features, labels, mode, params):
    """models.linear_model_fn, with params["extra"]: a hidden layer the checkpoint lacks."""
    if params.get("extra"):
        features = {"x": v1.layers.dense(features["x"], 4, name="extra")}
    return models.linear_model_fn(features, labels, mode, params)


@pytest.fixture
def trained_dir(tmp_path):
    model_dir = str(tmp_path / "model")
    tfe.Estimator(grown_model_fn, model_dir, config=models.config(), params={}).train(
        models.train_input_fn, steps=3
    )
    return model_dir


def _grown(model_dir):
    return tfe.Estimator(grown_model_fn, model_dir, config=models.config(), params={"extra": True})


def _assert_names_all(message: str, model_dir: str) -> None:
    assert "Key extra/bias not found in checkpoint" in message
    assert "extra/kernel" in message
    assert os.path.join(model_dir, "model.ckpt-3") in message


def test_train_evaluate_and_predict_refuse_a_checkpoint_without_a_new_layer(trained_dir):
    est = _grown(trained_dir)
    with pytest.raises(tf.errors.NotFoundError) as train_error:
        est.train(models.train_input_fn, steps=1)
    _assert_names_all(train_error.value.message, trained_dir)
    for key in ("extra/kernel/Adam", "extra/kernel/Adam_1", "extra/bias/Adam"):
        assert key in train_error.value.message
    assert tfe.Estimator(grown_model_fn, trained_dir, params={}).latest_checkpoint().endswith("-3")
    with pytest.raises(tf.errors.NotFoundError) as eval_error:
        est.evaluate(models.eval_input_fn)
    _assert_names_all(eval_error.value.message, trained_dir)
    with pytest.raises(tf.errors.NotFoundError) as predict_error:
        next(est.predict(models.predict_input_fn))
    _assert_names_all(predict_error.value.message, trained_dir)


def test_exports_refuse_and_write_nothing(trained_dir, tmp_path):
    est = _grown(trained_dir)
    base = tmp_path / "export"
    with pytest.raises(ValueError, match="Could not load all requested variables from checkpoint") as error:
        est.export_saved_model(str(base), models.raw_receiver_fn)
    _assert_names_all(str(error.value), trained_dir)
    assert "mode `infer`" in str(error.value)
    exporter = tfe.LatestExporter("latest", models.raw_receiver_fn)
    with pytest.raises(ValueError, match="Could not load all requested variables"):
        exporter.export(est, str(base / "latest"), est.latest_checkpoint(), {}, False)
    with pytest.raises(ValueError, match="Could not load all requested variables"):
        est.experimental_export_all_saved_models(str(base), {tfe.ModeKeys.PREDICT: models.raw_receiver_fn})
    leftovers = [os.path.join(p, n) for p, _, names in os.walk(base) for n in names]
    assert leftovers == []


def test_train_and_evaluate_stops_before_any_evaluation_or_export(trained_dir):
    est = _grown(trained_dir)
    exporter = tfe.LatestExporter("latest", models.raw_receiver_fn)
    with pytest.raises(tf.errors.NotFoundError, match="Key extra/bias not found in checkpoint"):
        tfe.train_and_evaluate(
            est,
            tfe.TrainSpec(models.train_input_fn, max_steps=6),
            tfe.EvalSpec(models.eval_input_fn, exporters=[exporter], throttle_secs=0),
        )
    assert not os.path.exists(os.path.join(trained_dir, "export"))
    assert not os.path.exists(os.path.join(trained_dir, "eval"))


def test_the_evaluator_task_stops_too(trained_dir):
    """A distributed evaluator does not skip a checkpoint that exists but lacks a variable."""
    est = _grown(trained_dir)
    eval_spec = tfe.EvalSpec(models.eval_input_fn, start_delay_secs=0, throttle_secs=0)

    def evaluate(path, is_final):
        return est.evaluate(models.eval_input_fn, checkpoint_path=path), []

    with pytest.raises(tf.errors.NotFoundError, match="Key extra/bias not found in checkpoint"):
        distributed.run_evaluator(est, evaluate, eval_spec, max_steps=10)


def test_a_receivers_own_variables_are_initialized_not_restored(trained_dir, tmp_path):
    """A receiver (as a transform graph) may create variables the checkpoint cannot have."""

    def receiver_fn():
        raw = v1.placeholder(tf.float32, [None, 4], name="raw")
        scale = v1.get_variable("receiver_scale", initializer=2.0, trainable=False)
        return tfe.export.ServingInputReceiver({"x": raw * scale}, {"x": raw})

    est = tfe.Estimator(grown_model_fn, trained_dir, params={})
    path = est.export_saved_model(str(tmp_path / "export"), receiver_fn).decode()
    x, _ = models.linear_data(5, seed=4)
    served = tf.saved_model.load(path).signatures["serving_default"](x=tf.constant(x))
    expected = [
        p["logits"] for p in est.predict(lambda: tf.data.Dataset.from_tensor_slices({"x": 2 * x}).batch(5))
    ]
    np.testing.assert_allclose(served["logits"].numpy(), expected, rtol=1e-6)


def test_warm_start_is_the_way_to_load_part_of_a_checkpoint(trained_dir, tmp_path):
    settings = tfe.WarmStartSettings(trained_dir, vars_to_warm_start="logits")
    est = tfe.Estimator(
        grown_model_fn,
        str(tmp_path / "new"),
        config=models.config(),
        params={"extra": True},
        warm_start_from=settings,
    )
    est.train(models.train_input_fn, steps=1)
    assert est.get_variable_value("global_step") == 1


def _object_based_checkpoint(model_dir: str) -> dict:
    """An object-based checkpoint (tf.train.Checkpoint, as Keras and model_to_estimator wrote
    them) of linear_model_fn's variables under other keys; returns their values."""
    with tf.Graph().as_default():
        step = v1.train.get_or_create_global_step()
        logits = tf.Module()
        logits.kernel = v1.get_variable("logits/kernel", [4, 2])
        logits.bias = v1.get_variable("logits/bias", [2], initializer=v1.random_normal_initializer())
        checkpoint = v1.train.Checkpoint(model=logits, step=step)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            session.run(step.assign(7))
            checkpoint.save(os.path.join(model_dir, "ckpt"), session=session)
            values = session.run({"logits/kernel": logits.kernel, "logits/bias": logits.bias})
    v1.train.update_checkpoint_state(model_dir, "ckpt-1")
    return values


def test_an_object_based_checkpoint_restores_by_the_names_its_object_graph_records(tmp_path):
    model_dir = str(tmp_path / "model")
    values = _object_based_checkpoint(model_dir)
    assert "model/kernel/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(model_dir))
    est = tfe.Estimator(models.linear_model_fn, model_dir, config=models.config(), params={})
    assert est.evaluate(models.eval_input_fn)["global_step"] == 7
    x, _ = models.linear_data(4, seed=2)
    logits = [p["logits"] for p in est.predict(lambda: tf.data.Dataset.from_tensor_slices({"x": x}).batch(4))]
    np.testing.assert_allclose(logits, x @ values["logits/kernel"] + values["logits/bias"], rtol=1e-5)
    # Training needs Adam's slots, which it lacks: refused, not started with fresh slots.
    with pytest.raises(tf.errors.NotFoundError, match="logits/kernel/Adam_1"):
        est.train(models.train_input_fn, steps=2)


def test_an_object_based_checkpoint_without_a_variable_names_it(tmp_path):
    model_dir = str(tmp_path / "model")
    _object_based_checkpoint(model_dir)
    est = _grown(model_dir)
    with pytest.raises(tf.errors.NotFoundError, match="Key extra/bias not found in checkpoint") as error:
        est.evaluate(models.eval_input_fn)
    assert "object-based" in error.value.message and "extra/kernel" in error.value.message


def test_a_models_own_saver_decides_what_restores(trained_dir):
    checkpoint = tfe.Estimator(grown_model_fn, trained_dir).latest_checkpoint()
    with tf.Graph().as_default():
        v1.train.get_or_create_global_step()
        kept = v1.get_variable("logits/kernel", [4, 2])
        v1.get_variable("not_saved", [3])
        plan = restore.plan(checkpoint, saver=v1.train.Saver([kept], sharded=True))
    assert (plan.missing, plan.needed) == ([], 1)
