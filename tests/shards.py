"""Reading a preprocessing output back, and building raw tf.Examples: one helper for every test."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from schemas import features, layout
from schemas.manifest import Manifest
from trainer import serving


def read_shards(data_dir: str, split: str) -> list[dict[str, np.ndarray]]:
    """Each shard of `split`, in the manifest's order, parsed with the transformed feature spec."""
    spec = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    shards = []
    for path in Manifest.read(data_dir).shard_paths(data_dir, split):
        records = tf.data.TFRecordDataset(path, compression_type=layout.SHARD_COMPRESSION).batch(100_000)
        parsed = [tf.io.parse_example(batch, spec) for batch in records]
        empty = {k: np.zeros((0, *v.shape), v.dtype.as_numpy_dtype) for k, v in spec.items()}
        shards.append({k: np.concatenate([p[k].numpy() for p in parsed]) for k in spec} if parsed else empty)
    return shards


def read_split(data_dir: str, split: str) -> dict[str, np.ndarray]:
    """Every example of `split`, in shard order: {IMAGE_KEY: float32 [n, 784], LABEL_KEY: int64 [n]}."""
    shards = read_shards(data_dir, split)
    return {key: np.concatenate([shard[key] for shard in shards]) for key in shards[0]}


def examples_as_set(data_dir: str, split: str) -> list[tuple[int, bytes]]:
    """The split's examples as a sorted list of (label, image bytes): the set, whatever the order.

    (Serialized bytes can differ between equal tf.Examples: protobuf writes map entries in no fixed order.)
    """
    data = read_split(data_dir, split)
    pairs = zip(data[features.LABEL_KEY], data[features.IMAGE_KEY], strict=True)
    return sorted((int(label), image.tobytes()) for label, image in pairs)


def raw_examples(images: np.ndarray, labels=None) -> tf.Tensor:
    """Serialized raw tf.Examples (what serving takes) of uint8 images [n, 28, 28] (or [n, 784])."""
    rows = np.asarray(images, np.uint8).reshape(len(images), -1)
    labels = [None] * len(rows) if labels is None else labels
    return tf.constant(
        [serving.raw_example(row.tobytes(), label) for row, label in zip(rows, labels, strict=True)]
    )
