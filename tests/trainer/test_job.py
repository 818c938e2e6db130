"""trainer.job: a checkpoint that lacks a variable of the network is one ConfigError line,
whichever mode restores it first (training and evaluation: NotFoundError; an export: ValueError)."""

import pytest
import tensorflow as tf

import estimator as tfe
from common.errors import ConfigError
from tests.estimator import models
from trainer import job

v1 = tf.compat.v1


def _grown_model_fn(features, labels, mode, params):
    features = {"x": v1.layers.dense(features["x"], 4, name="extra")}
    return models.linear_model_fn(features, labels, mode, params)


@pytest.fixture
def restore_errors(tmp_path):
    """The errors of an evaluation and of an export of a model_fn that grew a layer."""
    model_dir = str(tmp_path / "job")
    tfe.Estimator(models.linear_model_fn, model_dir, params={}).train(models.train_input_fn, steps=1)
    grown = tfe.Estimator(_grown_model_fn, model_dir, params={})
    with pytest.raises(tf.errors.NotFoundError) as evaluating:
        grown.evaluate(models.eval_input_fn)
    with pytest.raises(ValueError) as exporting:
        grown.export_saved_model(str(tmp_path / "export"), models.raw_receiver_fn)
    return model_dir, evaluating.value, exporting.value


def test_a_missing_key_is_one_config_error_in_every_mode(restore_errors):
    model_dir, evaluating, exporting = restore_errors
    for error in (evaluating, exporting):
        with pytest.raises(ConfigError) as config_error:
            job._check_restored(error, model_dir, "fast")
        message = str(config_error.value)
        assert message.startswith(f"{model_dir}: its checkpoint lacks variable 'extra/bias' of --model fast")
        assert "\n" not in message


def test_other_errors_pass_through():
    job._check_restored(ValueError("steps must be > 0"), "job", "fast")
    job._check_restored(tf.errors.NotFoundError(None, None, "no such file: data"), "job", "fast")
