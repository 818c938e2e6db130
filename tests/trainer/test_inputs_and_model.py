"""input_fn gives the transformed spec's shapes; model_fn works in every mode for both models."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from estimator import EstimatorSpec, ModeKeys, export
from schemas import features, layout
from trainer import inputs, model, networks
from trainer.hparams import HParams

v1 = tf.compat.v1


def test_input_fn_yields_the_transformed_spec(preprocessed):
    _, data_dir, manifest = preprocessed
    transform = tft.TFTransformOutput(data_dir)
    pattern = manifest.shard_paths(data_dir, layout.EVAL)
    batches = list(inputs.input_fn(pattern, transform, 8, ModeKeys.EVAL))
    feats, labels = batches[0]
    assert set(feats) == {features.IMAGE_KEY}
    assert feats[features.IMAGE_KEY].shape == (8, features.IMAGE_PIXELS)
    assert feats[features.IMAGE_KEY].dtype == tf.float32 and labels.dtype == tf.int64 and labels.shape == (8,)
    assert sum(len(b[1]) for b in batches) == manifest.splits[layout.EVAL].examples  # every example once
    again = [b[1].numpy() for b in inputs.input_fn(pattern, transform, 8, ModeKeys.EVAL)]
    np.testing.assert_array_equal(np.concatenate(again), np.concatenate([b[1].numpy() for b in batches]))
    predict = next(iter(inputs.input_fn(pattern, transform, 8, ModeKeys.PREDICT)))
    assert set(predict) == {features.IMAGE_KEY}


def test_train_input_repeats_and_shuffles(preprocessed):
    _, data_dir, manifest = preprocessed
    transform = tft.TFTransformOutput(data_dir)
    pattern = manifest.shard_paths(data_dir, layout.TRAIN)
    labels = [b[1].numpy() for b in inputs.input_fn(pattern, transform, 100, ModeKeys.TRAIN, seed=1).take(10)]
    assert len(labels) == 10  # 1000 examples from 270: it repeats
    evaluation = np.concatenate(
        [b[1].numpy() for b in inputs.input_fn(pattern, transform, 100, ModeKeys.EVAL)]
    )
    assert not np.array_equal(np.concatenate(labels)[:270], evaluation)


def test_training_flips_images_left_right_in_the_input_pipeline(preprocessed):
    _, data_dir, manifest = preprocessed
    transform = tft.TFTransformOutput(data_dir)
    files = manifest.shard_paths(data_dir, layout.TRAIN)

    def images(flip):  # one pass over the train split, in whatever order training reads it
        dataset = inputs.input_fn(files, transform, 64, ModeKeys.TRAIN, num_epochs=1, seed=3, flip=flip)
        return [image.reshape(28, 28) for batch, _ in dataset for image in batch[features.IMAGE_KEY].numpy()]

    plain = images(False)
    originals = {image.tobytes() for image in plain}
    mirrors = {image[:, ::-1].tobytes() for image in plain} - originals
    flipped = [image.tobytes() for image in images(True)]
    assert len(flipped) == len(plain) == manifest.splits[layout.TRAIN].examples
    assert all(image in originals or image in mirrors for image in flipped)
    share = sum(image in mirrors for image in flipped) / len(flipped)
    assert 0.3 < share < 0.7  # each image mirrored with probability 1/2


def test_input_fn_needs_files():
    with pytest.raises(ValueError, match="at least one shard file"):
        inputs.input_fn([], None, 8, ModeKeys.TRAIN)


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
                    assert set(spec.eval_metric_ops) == {"accuracy", "mean_per_class_accuracy"}
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


@pytest.mark.parametrize(
    "dataset, flags, expected",
    [
        ("fashion_mnist", {}, True),  # clothes may be mirrored: trained and evaluated with flips
        ("mnist", {}, False),  # digits may not
        ("fashion_mnist", {"test_time_flips": False}, False),
        ("mnist", {"augment": True}, True),  # follows --augment
        ("mnist", {"test_time_flips": True}, True),
    ],
)
def test_test_time_flips_default_to_training_flips(dataset, flags, expected):
    assert HParams(**flags).model_params(1000, ["c"] * 10, dataset)["test_time_flips"] is expected
