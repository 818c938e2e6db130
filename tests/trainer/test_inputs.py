"""input_fn: the transformed spec's shapes, every example once in evaluation, shuffled and flipped in training."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from estimator import ModeKeys
from schemas import features, layout
from trainer import inputs


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
