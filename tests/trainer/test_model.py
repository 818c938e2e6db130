"""model_fn works in every mode for every network; test-time flips average an image and its mirror."""

import numpy as np
import pytest
import tensorflow as tf

from estimator import EstimatorSpec, ModeKeys, export
from schemas import features
from trainer import model, networks
from trainer.hparams import HParams

v1 = tf.compat.v1


@pytest.mark.parametrize("name", networks.MODELS)
def test_model_fn_in_all_modes(name):
    params = HParams(model=name).model_params(1000, [str(i) for i in range(10)], "fashion_mnist")
    rng = np.random.default_rng(0)
    image = rng.random((4, features.IMAGE_PIXELS), dtype=np.float32)
    label = np.array([0, 1, 2, 3])
    for mode in ModeKeys.ALL:
        with tf.Graph().as_default():
            v1.train.get_or_create_global_step()
            feats = {features.IMAGE_KEY: tf.constant(image)}
            labels = None if mode == ModeKeys.PREDICT else tf.constant(label, tf.int64)
            spec = model.model_fn(feats, labels, mode, params)
            assert isinstance(spec, EstimatorSpec) and spec.mode == mode
            with v1.Session() as session:
                session.run([v1.global_variables_initializer(), v1.local_variables_initializer()])
                if mode == ModeKeys.TRAIN:
                    _, loss = session.run([spec.train_op, spec.loss])
                    assert np.isfinite(loss) and session.run(v1.train.get_global_step()) == 1
                elif mode == ModeKeys.EVAL:
                    assert set(spec.eval_metric_ops) == {
                        "accuracy",
                        "mean_per_class_accuracy",
                        "cross_entropy",
                        "confusion_matrix",
                        "mistakes",
                    }
                    _, classes = session.run(
                        [[op for _, op in spec.eval_metric_ops.values()], spec.predictions]
                    )
                    accuracy = session.run(spec.eval_metric_ops["accuracy"][0])
                    assert accuracy == pytest.approx(np.mean(classes["classes"] == label))
                else:
                    out = session.run(spec.predictions)
                    assert out["probabilities"].shape == (4, 10) and out["classes"].shape == (4,)
                    np.testing.assert_allclose(out["probabilities"].sum(1), 1, rtol=1e-5)
                    assert set(spec.export_outputs) == {"serving_default", model.CLASSIFICATION_SIGNATURE}
                    assert isinstance(spec.export_outputs["classification"], export.ClassificationOutput)


def test_unknown_model():
    with tf.Graph().as_default(), pytest.raises(ValueError, match="unknown model 'resnet'"):
        model.model_fn({features.IMAGE_KEY: tf.zeros([1, 784])}, None, ModeKeys.PREDICT, {"model": "resnet"})


@pytest.mark.parametrize("test_time_flips", [True, False])
def test_test_time_flips_make_predictions_the_same_for_an_image_and_its_mirror(test_time_flips):
    params = HParams(test_time_flips=test_time_flips).model_params(1000, [str(i) for i in range(10)], "mnist")
    images = np.random.default_rng(0).random(
        (3, features.IMAGE_HEIGHT, features.IMAGE_WIDTH), dtype=np.float32
    )
    batch = np.concatenate([images, images[:, :, ::-1]]).reshape(6, features.IMAGE_PIXELS)
    with tf.Graph().as_default():
        v1.train.get_or_create_global_step()
        spec = model.model_fn({features.IMAGE_KEY: tf.constant(batch)}, None, ModeKeys.PREDICT, params)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            logits = session.run(spec.predictions["logits"])
    assert np.allclose(logits[:3], logits[3:], rtol=1e-5, atol=1e-6) == test_time_flips
