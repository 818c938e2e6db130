"""The output layout of the preprocessing job: a contract in constants.

The pipeline writes it, the trainer reads it, tests check it:

    OUTPUT_DIR/
      transform_fn/  transformed_metadata/   tft_beam.WriteTransformFn
      metadata/                              the raw schema, where tft.TFTransformOutput reads it
      train/ eval/ test/                     part-00000-of-00004.tfrecord.gz, ...
      statistics/                            DatasetFeatureStatisticsList, duplicates, drift, report.md
      manifest.json                          written last: its presence marks a finished run

The directory names are tf.Transform's own (`TFTransformOutput.TRANSFORM_FN_DIR`,
`TRANSFORMED_METADATA_DIR`, `RAW_METADATA_DIR`), so `tft.TFTransformOutput(OUTPUT_DIR)`
and TFX components read the output as their own; restated here so readers need
not import tf.Transform (tests/schemas proves they agree).
"""

from __future__ import annotations

import posixpath

TRANSFORM_FN_DIR = "transform_fn"
TRANSFORMED_METADATA_DIR = "transformed_metadata"
RAW_METADATA_DIR = "metadata"
MANIFEST_FILE = "manifest.json"
STATISTICS_DIR = "statistics"  # raw-data statistics, duplicates and drift (pipeline/statistics.py)

TRAIN = "train"
EVAL = "eval"
TEST = "test"
SPLITS = (TRAIN, EVAL, TEST)

SHARD_PREFIX = "part"
SHARD_SUFFIX = ".tfrecord.gz"
SHARD_COMPRESSION = "GZIP"  # tf.data / tf.io name of the shards' compression

# Beside OUTPUT_DIR while a run writes (staging) and while an --overwrite commit
# replaces an earlier output (the earlier output, until the commit is done).
STAGING_INFIX = ".incomplete-"
REPLACED_INFIX = ".replaced-"
# Inside OUTPUT_DIR while a commit moves files in object by object (gs://): marks a
# partial output as this pipeline's, so --overwrite may replace it.
COMMIT_MARKER = "_COMMIT_IN_PROGRESS"
# Inside a staging directory only, deleted before the commit: tf.Transform's temporary
# files (TEMP_DIR/) and the shard writer's (TEMP_DIR/TEMP_SHARDS/: files being written,
# TEMP_DIR/TEMP_SHARD_RECORDS/: one JSON record of each finished shard).
TEMP_DIR = "tmp"
TEMP_SHARDS = "shards"
TEMP_SHARD_RECORDS = "shard-records"
# Inside OUTPUT_DIR.replaced-<run id>: what this pipeline set aside there (JSON: producer, run,
# the output it replaces, state). Recovery touches only directories that carry it.
SET_ASIDE_MARKER = "_SET_ASIDE.json"


def join(*parts: str) -> str:
    """Joins path parts with '/', for local paths and URLs such as gs:// alike."""
    return posixpath.join(*parts)


def temp_dir(staging_dir: str, *parts: str) -> str:
    """Returns STAGING_DIR/TEMP_DIR/parts...: working files of a run, never committed."""
    return join(staging_dir, TEMP_DIR, *parts)


def split_dir(output_dir: str, split: str) -> str:
    """Returns the directory holding the shards of `split`."""
    return join(output_dir, split)


def shard_name(index: int, num_shards: int) -> str:
    """Returns the file name of shard `index` of `num_shards`, e.g. part-00003-of-00016.tfrecord.gz.

    The numbering is Beam's default shard template (-SSSSS-of-NNNNN).
    """
    return f"{SHARD_PREFIX}-{index:05d}-of-{num_shards:05d}{SHARD_SUFFIX}"


def shard_path(split: str, index: int, num_shards: int) -> str:
    """Returns a shard's path relative to OUTPUT_DIR, as the manifest lists it: SPLIT/part-...."""
    return join(split, shard_name(index, num_shards))
