"""preprocessing_fn on a few rows, through tf.Transform's Beam implementation."""

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from apache_beam.testing.util import assert_that
from tensorflow_transform.tf_metadata import dataset_metadata

from pipeline import config, preprocessing
from schemas import features


def _rows():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, features.IMAGE_PIXELS), dtype=np.uint8)
    pixels[0, 0], pixels[1, 1] = 0, 255
    return pixels, [
        {features.IMAGE_RAW_KEY: p.tobytes(), features.LABEL_KEY: i + 4} for i, p in enumerate(pixels)
    ]


def _transform(rows, normalization, tmp_path, check):
    metadata = dataset_metadata.DatasetMetadata(features.load_raw_schema())
    with beam.Pipeline(runner="FnApiRunner") as p, tft_beam.Context(temp_dir=str(tmp_path)):
        (out, _), _ = (p | beam.Create(rows), metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing.make_preprocessing_fn(normalization)
        )
        assert_that(out, check)


def test_scale_0_1_over_all_pixels_of_the_training_data(tmp_path):
    pixels, rows = _rows()

    def check(out):
        out = sorted(out, key=lambda r: r[features.LABEL_KEY])
        assert [r[features.LABEL_KEY] for r in out] == [4, 5, 6]
        images = np.stack([r[features.IMAGE_KEY] for r in out])
        assert images.shape == (3, features.IMAGE_PIXELS) and images.dtype == np.float32
        np.testing.assert_allclose(images, pixels / 255.0, rtol=1e-6)

    _transform(rows, config.SCALE_0_1, tmp_path, check)


def test_z_score_over_all_pixels(tmp_path):
    _, rows = _rows()

    def check(out):
        images = np.stack([r[features.IMAGE_KEY] for r in out]).astype(np.float64)
        assert abs(images.mean()) < 1e-5 and abs(images.std() - 1.0) < 1e-5

    _transform(rows, config.Z_SCORE, tmp_path, check)


def test_decode_refuses_wrong_length_naming_the_feature():
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature image_raw must be 784 bytes"):
        preprocessing.decode_image(tf.constant([b"\0" * 784, b"\0" * 783]))


def test_unknown_normalization():
    with pytest.raises(ValueError, match="unknown normalization"):
        preprocessing.make_preprocessing_fn("minmax")
