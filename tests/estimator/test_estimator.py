"""Estimator: steps and resumption, evaluate, predict, export, NaN guard, warm start."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from tests.estimator import models

v1 = tf.compat.v1


def test_steps_add_and_max_steps_is_absolute(tmp_path):
    est = models.make_estimator(tmp_path / "m")
    est.train(models.train_input_fn, steps=5)
    assert est.get_variable_value("global_step") == 5
    est.train(models.train_input_fn, steps=5)
    assert est.get_variable_value("global_step") == 10
    other = models.make_estimator(tmp_path / "n")
    other.train(models.train_input_fn, max_steps=5)
    other.train(models.train_input_fn, max_steps=5)
    assert other.get_variable_value("global_step") == 5
    with pytest.raises(ValueError, match="not both"):
        other.train(models.train_input_fn, steps=1, max_steps=3)


def test_a_moved_model_dir_still_resumes(tmp_path):
    models.make_estimator(tmp_path / "old").train(models.train_input_fn, steps=3)
    shutil.move(str(tmp_path / "old"), str(tmp_path / "new"))
    moved = models.make_estimator(tmp_path / "new")
    assert moved.latest_checkpoint() == str(tmp_path / "new" / "model.ckpt-3")
    moved.train(models.train_input_fn, steps=2)
    assert moved.get_variable_value("global_step") == 5


def test_training_stops_at_the_end_of_the_input(tmp_path):
    est = models.make_estimator(tmp_path)
    est.train(lambda: models.train_input_fn().take(7))
    assert est.get_variable_value("global_step") == 7


def test_evaluate_loss_is_the_mean_of_batch_losses(tmp_path):
    def model_fn(features, labels, mode):
        w = v1.get_variable("w", initializer=1.0)
        loss = tf.reduce_mean(features) * w
        train_op = v1.assign_add(v1.train.get_global_step(), 1)
        return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)

    batches = [[1.0, 1.0], [2.0, 4.0], [9.0, 9.0]]  # batch losses 1, 3, 9

    def input_fn():
        return tf.data.Dataset.from_tensor_slices(np.array(batches, np.float32)).map(
            lambda b: (b, tf.constant(0))
        )

    est = tfe.Estimator(model_fn, str(tmp_path), config=models.config())
    est.train(input_fn, steps=1)
    result = est.evaluate(input_fn)
    assert result["loss"] == pytest.approx(13 / 3) and result["global_step"] == 1
    assert est.evaluate(input_fn, steps=2)["loss"] == pytest.approx(2.0)
    assert os.listdir(tmp_path / "eval")  # summaries for TensorBoard


def test_predict_yields_examples_and_honours_predict_keys(tmp_path):
    est = models.make_estimator(tmp_path)
    assert len(list(est.predict(models.predict_input_fn))) == 10  # no checkpoint: initialized variables
    est.train(models.train_input_fn, steps=5)
    predictions = list(est.predict(models.predict_input_fn))
    assert len(predictions) == 10 and set(predictions[0]) == {"classes", "probabilities", "logits"}
    assert predictions[0]["probabilities"].shape == (2,)
    only = list(est.predict(models.predict_input_fn, predict_keys=["classes"]))
    assert [set(p) for p in only] == [{"classes"}] * 10
    assert [p["classes"] for p in only] == [p["classes"] for p in predictions]
    batches = list(est.predict(models.predict_input_fn, yield_single_examples=False))
    assert [len(b["classes"]) for b in batches] == [4, 4, 2]
    with pytest.raises(ValueError, match=r"predict_keys \['nope'\]"):
        next(est.predict(models.predict_input_fn, predict_keys=["nope"]))


def test_export_serves_what_predict_predicts(tmp_path):
    est = models.make_estimator(tmp_path)
    est.train(models.train_input_fn, steps=20)
    export_dir = est.export_saved_model(str(tmp_path / "export"), models.raw_receiver_fn)
    assert isinstance(export_dir, bytes) and os.path.basename(export_dir).isdigit()
    assert [d for d in os.listdir(tmp_path / "export") if d.startswith("temp")] == []
    x, _ = models.linear_data(10, seed=2)
    loaded = tf.saved_model.load(export_dir.decode())
    served = loaded.signatures["serving_default"](x=tf.constant(x))
    expected = list(est.predict(models.predict_input_fn))
    np.testing.assert_allclose(
        served["probabilities"].numpy(), [p["probabilities"] for p in expected], atol=1e-6
    )
    np.testing.assert_array_equal(served["classes"].numpy(), [p["classes"] for p in expected])


def test_parsing_receiver_and_alternative_signatures(tmp_path):
    est = models.make_estimator(tmp_path)
    est.train(models.train_input_fn, steps=2)
    spec = {"x": tf.io.FixedLenFeature([4], tf.float32)}
    parsing = tfe.export.build_parsing_serving_input_receiver_fn(spec)

    def receiver_fn():
        # The alternative feeds the parsed features directly, bypassing the parsing.
        receiver = parsing()
        alternatives = {"raw": {"x": receiver.features["x"]}}
        return tfe.export.ServingInputReceiver(receiver.features, receiver.receiver_tensors, alternatives)

    export_dir = est.export_saved_model(str(tmp_path / "export"), receiver_fn).decode()
    loaded = tf.saved_model.load(export_dir)
    assert set(loaded.signatures) == {"serving_default", "raw:serving_default"}
    x = np.ones([1, 4], np.float32)
    example = tf.train.Example(
        features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=x[0]))})
    ).SerializeToString()
    by_example = loaded.signatures["serving_default"](examples=tf.constant([example]))
    by_raw = loaded.signatures["raw:serving_default"](x=tf.constant(x))
    np.testing.assert_allclose(by_example["logits"], by_raw["logits"])


def test_nan_loss_stops_training_naming_the_step(tmp_path):
    def model_fn(features, labels, mode):
        step = v1.train.get_global_step()
        loss = tf.where(step >= 3, np.nan, 1.0) + 0 * v1.get_variable("w", initializer=1.0)
        with tf.control_dependencies([loss]):  # the loss reads the step before the increment, never after
            train_op = v1.assign_add(step, 1)
        return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)

    est = tfe.Estimator(model_fn, str(tmp_path), config=models.config())
    with pytest.raises(tfe.NanLossError, match="loss is nan at global step 4"):
        est.train(models.train_input_fn, steps=10)


def test_warm_start_from_another_model_dir(tmp_path):
    source = models.make_estimator(tmp_path / "source")
    source.train(models.train_input_fn, steps=20)
    kernel = source.get_variable_value("logits/kernel")
    warm = tfe.Estimator(
        models.linear_model_fn,
        str(tmp_path / "warm"),
        config=models.config(),
        params={"learning_rate": 1e-12},
        warm_start_from=tfe.WarmStartSettings(str(tmp_path / "source"), "logits/.*"),
    )
    warm.train(models.train_input_fn, steps=1)
    np.testing.assert_allclose(warm.get_variable_value("logits/kernel"), kernel, atol=1e-6)
    assert warm.get_variable_value("global_step") == 1
    assert "logits/kernel" in warm.get_variable_names()


def test_a_truncated_newest_checkpoint_is_skipped_for_the_previous_good_one(tmp_path):
    est = models.make_estimator(tmp_path, save_checkpoints_steps=10)
    est.train(models.train_input_fn, max_steps=30)
    newest = est.latest_checkpoint()
    assert newest.endswith("model.ckpt-30")
    data = tf.io.gfile.glob(newest + ".data-*")[0]
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)  # as a crash mid-write leaves it
    est.train(models.train_input_fn, max_steps=40)
    assert est.latest_checkpoint().endswith("model.ckpt-40")
    assert est.get_variable_value("global_step") == 40  # resumed from step 20, the newest readable one


def test_no_readable_checkpoint_is_reported(tmp_path):
    est = models.make_estimator(tmp_path)
    est.train(models.train_input_fn, steps=2)
    for data in tf.io.gfile.glob(str(tmp_path / "model.ckpt-*.data-*")):
        open(data, "wb").close()
    with pytest.raises(ValueError, match="no readable checkpoint"):
        est.train(models.train_input_fn, steps=2)


def test_a_garbage_checkpoint_state_file_does_not_restart_training_from_step_zero(tmp_path):
    est = models.make_estimator(tmp_path)
    est.train(models.train_input_fn, steps=5)
    (tmp_path / "checkpoint").write_text("garbage {{{")  # TensorFlow then sees no checkpoint at all
    est.train(models.train_input_fn, steps=3)
    assert est.get_variable_value("global_step") == 8  # resumed from model.ckpt-5, not restarted
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(
        tmp_path / "model.ckpt-8"
    )  # the state file is good again
