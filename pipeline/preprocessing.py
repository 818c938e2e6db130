"""The tf.Transform `preprocessing_fn`: raw IDX bytes to normalized pixels.

No Beam here: tf.Transform traces this function into the transform graph that
the pipeline applies to every split and the trainer's serving signature applies
to every request, so training and serving share one definition.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import NORMALIZATIONS, SCALE_0_1
from schemas import features


def decode_image(image_raw: tf.Tensor) -> tf.Tensor:
    """Decodes raw image bytes to pixels, refusing any of the wrong length.

    Args:
      image_raw: string [batch]; each IMAGE_PIXELS uint8 pixels, row-major.

    Returns:
      float32 [batch, IMAGE_PIXELS], values 0..255.

    Raises:
      tf.errors.InvalidArgumentError (when run): an element is not exactly
        IMAGE_PIXELS bytes; the message names the feature.
    """
    lengths = tf.strings.length(image_raw)
    check = tf.debugging.assert_equal(
        lengths,
        tf.constant(features.IMAGE_PIXELS, tf.int32),
        message=f"feature {features.IMAGE_RAW_KEY} must be {features.IMAGE_PIXELS} bytes"
        f" ({features.IMAGE_HEIGHT}x{features.IMAGE_WIDTH} uint8 pixels); lengths found:",
        summarize=8,
    )
    with tf.control_dependencies([check]):
        pixels = tf.io.decode_raw(image_raw, tf.uint8, fixed_length=features.IMAGE_PIXELS)
    return tf.cast(tf.reshape(pixels, [-1, features.IMAGE_PIXELS]), tf.float32)


def make_preprocessing_fn(normalization: str = SCALE_0_1):
    """Returns the `preprocessing_fn` for one normalization.

    Args:
      normalization: SCALE_0_1 (`tft.scale_to_0_1`, min and max over all pixels of
        the training split) or Z_SCORE (`tft.scale_to_z_score`, mean and standard
        deviation over all pixels of the training split).

    Returns:
      preprocessing_fn(inputs) -> outputs, where inputs are
      {IMAGE_RAW_KEY: string [batch], LABEL_KEY: int64 [batch]} and outputs are
      {IMAGE_KEY: float32 [batch, IMAGE_PIXELS], LABEL_KEY: int64 [batch]}.

    Raises:
      ValueError: an unknown normalization.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}: expected one of {NORMALIZATIONS}")

    def preprocessing_fn(inputs):
        pixels = decode_image(inputs[features.IMAGE_RAW_KEY])
        if normalization == SCALE_0_1:
            image = tft.scale_to_0_1(pixels, elementwise=False)
        else:
            image = tft.scale_to_z_score(pixels, elementwise=False)
        return {
            features.IMAGE_KEY: image,
            features.LABEL_KEY: tf.identity(inputs[features.LABEL_KEY]),
        }

    return preprocessing_fn
