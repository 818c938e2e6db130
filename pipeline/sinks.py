"""Transformed RecordBatches -> the split's GZIP TFRecord shard files.

`WriteShards` receives tf.Transform's output batches, each carrying the index of
the shard of the source grid it came from (sources.SHARD_COLUMN, passed through
tf.Transform), encodes them to tf.Examples with tfx_bsl's C++ encoder and writes
each shard as one file, `SPLIT/part-SSSSS-of-NNNNN.tfrecord.gz`.

Why not `beam.io.WriteToTFRecord`: with a fixed shard count it groups the whole
split by shard key (a GroupByKey), which the local runner holds in memory, 14.5 GB
for a million images; with runner-chosen sharding the file count follows the
runner's bundles. Here a shard's batches arrive together from one read task in
one bundle, so each file is written in one pass with no shuffle, and the shard
contents depend only on the input, never on the runner.

A shard is written to a temporary file under the staging directory's
`layout.TEMP_DIR` and renamed into place when complete, so a retried bundle
rewrites the same file and a failed attempt leaves nothing where outputs go.
Beside it goes a small JSON record of the shard (`schemas.manifest.Shard`: its
record count, size and sha256, hashed by reading the closed file back), from
which the driver builds the manifest and checks the counts before commit; the
same record is the DoFn's output element, one per shard file written.
"""

from __future__ import annotations

import dataclasses
import json
import uuid

import apache_beam as beam
import pyarrow as pa
import tensorflow as tf
from apache_beam.transforms.window import GlobalWindows
from tfx_bsl.public import tfxio

from pipeline.sources import COUNTER_NAMESPACE, SHARD_COLUMN
from schemas import layout
from schemas import manifest as manifest_lib

# zlib level of the shards. Measured on a Fashion-MNIST shard (9,000 examples of
# 784 floats): level 1 compresses 4.4x faster than zlib's default (6), the file is
# 11% larger (6.4 vs 5.8 MB), and tf.data reads both equally fast. Compression was
# the pipeline's largest cost (38% of its samples at the default).
COMPRESSION_LEVEL = 1


def shard_options() -> tf.io.TFRecordOptions:
    """The TFRecordWriter options of every shard: GZIP at COMPRESSION_LEVEL."""
    return tf.io.TFRecordOptions(
        compression_type=layout.SHARD_COMPRESSION, compression_level=COMPRESSION_LEVEL
    )


def shard_of(record_batch: pa.RecordBatch) -> int:
    """Returns the SHARD_COLUMN value of a batch's first row (every row has the same)."""
    return record_batch.column(SHARD_COLUMN).flatten()[0].as_py()


def _records_dir(output_dir: str) -> str:
    return layout.temp_dir(output_dir, layout.TEMP_SHARD_RECORDS)


def _record_path(output_dir: str, relative_shard_path: str) -> str:
    return layout.join(_records_dir(output_dir), relative_shard_path.replace("/", "-") + ".json")


def finish_shard(output_dir: str, relative_path: str, examples: int) -> manifest_lib.Shard:
    """Hashes a written shard and records it beside the staging outputs (see module doc)."""
    path = layout.join(output_dir, relative_path)
    shard = manifest_lib.Shard(
        path=relative_path,
        examples=examples,
        bytes=tf.io.gfile.stat(path).length,
        sha256=manifest_lib.file_sha256(path),
    )
    with tf.io.gfile.GFile(_record_path(output_dir, relative_path), "w") as f:
        f.write(json.dumps(dataclasses.asdict(shard)))
    return shard


def read_shards(output_dir: str, split: str, num_shards: int) -> tuple[manifest_lib.Shard, ...]:
    """The records `WriteShards` left for every shard of `split`, in shard order.

    A shard of the grid can hold no records of a split (e.g. no eval records in a
    small shard); it is written here as a valid empty file, so the split still has
    exactly `num_shards` files.
    """
    tf.io.gfile.makedirs(_records_dir(output_dir))
    shards = []
    for index in range(num_shards):
        relative = layout.shard_path(split, index, num_shards)
        record = _record_path(output_dir, relative)
        if not tf.io.gfile.exists(record):
            tf.io.gfile.makedirs(layout.split_dir(output_dir, split))
            tf.io.TFRecordWriter(layout.join(output_dir, relative), shard_options()).close()
            shards.append(finish_shard(output_dir, relative, 0))
            continue
        with tf.io.gfile.GFile(record) as f:
            shards.append(manifest_lib.Shard(**json.loads(f.read())))
    return tuple(shards)


class WriteShards(beam.DoFn):
    """(RecordBatch, passthrough) of one split -> its shard files; emits a `manifest.Shard` per file.

    Args:
      output_dir: the directory holding SPLIT/ (the run's staging directory).
      split: layout.TRAIN, EVAL or TEST.
      num_shards: shards in the split's grid (the NNNNN of the names).

    Raises (in `process`):
      ValueError: a shard's batches arrive split between other shards' batches
        within a bundle, which would truncate a file already closed.
    """

    def __init__(self, output_dir: str, split: str, num_shards: int):
        self._output_dir = output_dir
        self._split = split
        self._num_shards = num_shards
        self._written = beam.metrics.Metrics.counter(COUNTER_NAMESPACE, f"examples_written_{split}")
        self._encoder = None
        self._current = None  # (shard, temporary path, writer, examples)
        self._closed = set()

    def setup(self):
        self._encoder = tfxio.RecordBatchToExamplesEncoder()
        for directory in (
            self._temporary_dir(),
            _records_dir(self._output_dir),
            layout.split_dir(self._output_dir, self._split),
        ):
            tf.io.gfile.makedirs(directory)

    def _temporary_dir(self) -> str:
        return layout.temp_dir(self._output_dir, layout.TEMP_SHARDS)

    def start_bundle(self):
        self._current, self._closed = None, set()

    def process(self, element):
        record_batch, _ = element  # (RecordBatch, unary passthrough features)
        shard = shard_of(record_batch)
        if self._current is None or self._current[0] != shard:
            if shard in self._closed:
                raise ValueError(
                    f"{self._split} shard {shard} arrived in two runs within one bundle; expected each"
                    " shard's batches together"
                )
            if self._current is not None:
                yield self._close()
            temporary = layout.join(self._temporary_dir(), f"{self._split}-{shard:05d}-{uuid.uuid4().hex}")
            self._current = [shard, temporary, tf.io.TFRecordWriter(temporary, shard_options()), 0]
        writer = self._current[2]
        for example in self._encoder.encode(record_batch.drop_columns([SHARD_COLUMN])):
            writer.write(example)
        self._current[3] += record_batch.num_rows
        self._written.inc(record_batch.num_rows)

    def finish_bundle(self):
        if self._current is not None:
            yield GlobalWindows.windowed_value(self._close())

    def _close(self) -> manifest_lib.Shard:
        shard, temporary, writer, examples = self._current
        self._current = None
        writer.close()
        relative = layout.shard_path(self._split, shard, self._num_shards)
        tf.io.gfile.rename(temporary, layout.join(self._output_dir, relative), overwrite=True)
        self._closed.add(shard)
        return finish_shard(self._output_dir, relative, examples)
