"""EstimatorSpec validation and model_fn signature checks: each error, clearly."""

import pytest
import tensorflow as tf

import estimator as tfe

v1 = tf.compat.v1


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def test_required_fields_per_mode(graph):
    loss = tf.constant(1.0)
    with pytest.raises(ValueError, match="TRAIN mode needs loss and train_op"):
        tfe.EstimatorSpec(tfe.ModeKeys.TRAIN)
    with pytest.raises(ValueError, match="TRAIN mode needs train_op"):
        tfe.EstimatorSpec(tfe.ModeKeys.TRAIN, loss=loss)
    with pytest.raises(ValueError, match="EVAL mode needs loss"):
        tfe.EstimatorSpec(tfe.ModeKeys.EVAL)
    with pytest.raises(ValueError, match="PREDICT mode needs predictions"):
        tfe.EstimatorSpec(tfe.ModeKeys.PREDICT)
    # Another mode needs what PREDICT needs less: tf.estimator 2.15 checked the three modes alone.
    assert tfe.EstimatorSpec("training", loss=loss).mode == "training"


def test_loss_must_be_scalar(graph):
    with pytest.raises(ValueError, match="loss must be a scalar"):
        tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=tf.constant([1.0, 2.0]))
    spec = tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=tf.constant([1.0]))
    assert spec.loss.shape.rank == 0


def test_tensors_must_come_from_the_default_graph(graph):
    with tf.Graph().as_default():
        other = tf.constant(1.0)
    with pytest.raises(ValueError, match="default graph"):
        tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=other)
    with pytest.raises(TypeError, match="loss must be a Tensor"):
        tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=1.0)


def test_metrics_hooks_and_export_outputs(graph):
    loss = tf.constant(1.0)
    with pytest.raises(TypeError, match=r"eval_metric_ops\['acc'\] must be a \(value, update_op\) tuple"):
        tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=loss, eval_metric_ops={"acc": loss})
    # A metric named "loss" is refused by evaluate() (tests/estimator/test_estimator.py), as in 2.15.
    tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=loss, eval_metric_ops={"loss": v1.metrics.mean(loss)})
    with pytest.raises(TypeError, match="training_hooks must be SessionRunHooks"):
        tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=loss, training_hooks=[object()])
    outputs = {"a": tfe.export.PredictOutput(loss), "b": tfe.export.PredictOutput(loss)}
    with pytest.raises(ValueError, match='one must be "serving_default"'):
        tfe.EstimatorSpec(tfe.ModeKeys.PREDICT, predictions=loss, export_outputs=outputs)
    single = tfe.EstimatorSpec(tfe.ModeKeys.PREDICT, predictions=loss, export_outputs={"a": outputs["a"]})
    assert single.export_outputs["serving_default"] is outputs["a"]
    default = tfe.EstimatorSpec(tfe.ModeKeys.PREDICT, predictions={"p": loss})
    assert isinstance(default.export_outputs["serving_default"], tfe.export.PredictOutput)


def test_model_fn_signatures():
    with pytest.raises(ValueError, match="argument named 'features'"):
        tfe.Estimator(lambda x, labels: None)
    with pytest.raises(ValueError, match=r"arguments \['batch'\] without defaults"):
        tfe.Estimator(lambda features, batch: None)
    with pytest.raises(ValueError, match="no 'params' argument"):
        tfe.Estimator(lambda features, labels, mode: None, params={"a": 1})
    tfe.Estimator(lambda features: None)  # only features: allowed


def test_model_fn_must_return_a_spec_for_its_mode(tmp_path):
    def wrong_type(features, labels, mode):
        return {"loss": 1}

    def wrong_mode(features, labels, mode):
        return tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=tf.reduce_sum(features["x"]))

    from tests.estimator import models

    with pytest.raises(TypeError, match="must return an EstimatorSpec, found dict"):
        tfe.Estimator(wrong_type, str(tmp_path / "a")).train(models.train_input_fn, steps=1)
    with pytest.raises(ValueError, match="called in mode 'train' but returned an EstimatorSpec for 'eval'"):
        tfe.Estimator(wrong_mode, str(tmp_path / "b")).train(models.train_input_fn, steps=1)
