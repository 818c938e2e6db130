"""The output layout of the preprocessing job: a contract in constants.

The pipeline writes it, the trainer reads it, tests check it:

    OUTPUT_DIR/
      transform_fn/  transformed_metadata/   tft_beam.WriteTransformFn
      raw_metadata/                          the raw schema
      train/ eval/ test/                     part-00000-of-00004.tfrecord.gz, ...
      manifest.json                          written last: its presence marks a finished run
"""

from __future__ import annotations

import posixpath

# Names chosen by tf.Transform (TFTransformOutput.TRANSFORM_FN_DIR and
# TRANSFORMED_METADATA_DIR); restated here so readers need not import it.
TRANSFORM_FN_DIR = "transform_fn"
TRANSFORMED_METADATA_DIR = "transformed_metadata"
RAW_METADATA_DIR = "raw_metadata"
MANIFEST_FILE = "manifest.json"

TRAIN = "train"
EVAL = "eval"
TEST = "test"
SPLITS = (TRAIN, EVAL, TEST)

SHARD_PREFIX = "part"
SHARD_SUFFIX = ".tfrecord.gz"
SHARD_COMPRESSION = "GZIP"  # tf.data / tf.io name of the shards' compression


def join(*parts: str) -> str:
    """Joins path parts with '/', for local paths and URLs such as gs:// alike."""
    return posixpath.join(*parts)


def split_dir(output_dir: str, split: str) -> str:
    """Returns the directory holding the shards of `split`."""
    return join(output_dir, split)


def shard_name(index: int, num_shards: int) -> str:
    """Returns the file name of shard `index` of `num_shards`, e.g. part-00003-of-00016.tfrecord.gz.

    The numbering is Beam's default shard template (-SSSSS-of-NNNNN).
    """
    return f"{SHARD_PREFIX}-{index:05d}-of-{num_shards:05d}{SHARD_SUFFIX}"


def shard_pattern(output_dir: str, split: str) -> str:
    """Returns a glob matching every shard of `split`, e.g. for `tf.io.gfile.glob`."""
    return join(split_dir(output_dir, split), f"{SHARD_PREFIX}-*-of-*{SHARD_SUFFIX}")
