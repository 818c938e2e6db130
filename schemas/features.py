"""Feature keys, image geometry, classes and the raw schema.

The raw schema (`raw_schema.pbtxt`, a tensorflow_metadata `Schema`) is the
contract for what enters tf.Transform and what a serving client sends; the
constants below restate it for code that needs plain Python values.
`tests/schemas/test_features.py` proves the two agree.
"""

from __future__ import annotations

import functools
from importlib import resources

# Raw features (the IDX contents, one tf.Example per image).
IMAGE_RAW_KEY = "image_raw"  # bytes: IMAGE_HEIGHT * IMAGE_WIDTH uint8 pixels, row-major
LABEL_KEY = "label"  # int64 class index in [0, NUM_CLASSES)

# Transformed features (what the model reads).
IMAGE_KEY = "image"  # float32 [IMAGE_PIXELS], normalized by tf.Transform

IMAGE_HEIGHT = 28
IMAGE_WIDTH = 28
IMAGE_PIXELS = IMAGE_HEIGHT * IMAGE_WIDTH  # 784: bytes per raw image
NUM_CLASSES = 10

# Class names by dataset. MNIST: the digits. Fashion-MNIST: the label table of
# Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747, Table 1.
CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
DEFAULT_DATASET = "fashion_mnist"

RAW_SCHEMA_FILE = "raw_schema.pbtxt"


@functools.lru_cache(maxsize=1)
def _raw_schema_text() -> str:
    return resources.files(__package__).joinpath(RAW_SCHEMA_FILE).read_text()


def load_raw_schema():
    """Returns the raw schema as a fresh `tensorflow_metadata` `Schema` proto."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    return text_format.Parse(_raw_schema_text(), schema_pb2.Schema())


def raw_feature_spec() -> dict:
    """Returns the raw feature spec for `tf.io.parse_example` (training data).

    Returns:
      {IMAGE_RAW_KEY: FixedLenFeature([], tf.string),
       LABEL_KEY: FixedLenFeature([], tf.int64)}
    """
    from tensorflow_transform.tf_metadata import schema_utils

    return schema_utils.schema_as_feature_spec(load_raw_schema()).feature_spec


def serving_raw_feature_spec() -> dict:
    """Returns the raw feature spec a serving request carries: no label."""
    spec = raw_feature_spec()
    spec.pop(LABEL_KEY)
    return spec


def class_names(dataset: str) -> tuple[str, ...]:
    """Returns the NUM_CLASSES class names of `dataset`.

    Raises:
      ValueError: `dataset` is not one of CLASS_NAMES.
    """
    try:
        return CLASS_NAMES[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {sorted(CLASS_NAMES)}") from None
