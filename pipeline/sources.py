"""IDX image/label pairs as Beam input: read tasks and Arrow RecordBatches.

Every pair is cut into a fixed grid of shards (`shard_bounds`): shard i of the
training pair becomes part i of both the train and the eval split; shard i of
the test pair, part i of the test split. The driver validates each pair's
headers and plans `ReadTask`s along that grid: an uncompressed pair is read one
shard per task, by many workers in parallel (by seeking); a gzip pair is one
task, streamed. `ReadIdxRecordBatches` turns a task into `pyarrow.RecordBatch`es
in the TFXIO layout of the raw schema (the layout `tfx_bsl`'s
`TFExampleBeamRecord` produces) plus a `SHARD_COLUMN` that tf.Transform passes
through, so raw data enters tf.Transform in batches built straight from the
file's bytes, with no per-image Python objects, and each transformed batch
still says which shard file it belongs in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa

from common import idx
from pipeline import splits
from schemas import features, layout

BATCH_RECORDS = 1000  # records per RecordBatch handed to tf.Transform
SHARD_COLUMN = "__shard__"  # passthrough column: the batch's shard index, hidden from preprocessing_fn
RECORD_COLUMN = (
    "__record__"  # each row's record index in its IDX file; the statistics read it, tf.Transform drops it
)

TRAINING_SOURCE = "train"  # the IDX pair named train-*: feeds the train and eval splits
TEST_SOURCE = "t10k"  # the IDX pair named t10k-*: feeds the test split
COUNTER_NAMESPACE = "idx_tfrecords"


@dataclasses.dataclass(frozen=True)
class IdxPair:
    """A validated image/label file pair.

    Attributes:
      images, labels: their headers.
      count: records in each.
    """

    images: idx.IdxHeader
    labels: idx.IdxHeader

    @property
    def count(self) -> int:
        return self.images.count


@dataclasses.dataclass(frozen=True)
class ReadTask:
    """Shards of one pair, for one worker to read.

    Attributes:
      pair: the validated pair.
      shards: (shard index, first record, stop record) of each shard to read.
      split: where the records go when `eval_fraction` is 0.
      eval_fraction: > 0 marks the training pair: its records are divided
        between the train and eval splits by `splits.eval_mask`.
    """

    pair: IdxPair
    shards: tuple[tuple[int, int, int], ...]
    split: str
    eval_fraction: float = 0.0


def open_pair(images_path: str, labels_path: str) -> IdxPair:
    """Reads and validates the headers of an image file and its label file.

    Raises:
      IdxFormatError: either header is bad, the images are not
        IMAGE_HEIGHT x IMAGE_WIDTH, or the record counts differ.
      FileNotFoundError: a file is missing.
    """
    images = idx.read_header(images_path, idx.IMAGES_NDIM, (features.IMAGE_HEIGHT, features.IMAGE_WIDTH))
    labels = idx.read_header(labels_path, idx.LABELS_NDIM, ())
    idx.check_pair(images, labels)
    return IdxPair(images, labels)


def check_all_labels(pair: IdxPair, chunk_records: int = 1 << 20) -> None:
    """Validates every label of a pair in the driver (labels are 1 byte a record).

    Catching a bad label before the pipeline starts turns it into a one-line
    error naming the file and byte offset instead of a failed worker.

    Raises:
      IdxFormatError: a label outside [0, NUM_CLASSES) or a truncated file.
    """
    for first, labels in idx.iter_chunks(pair.labels, chunk_records=chunk_records):
        idx.check_labels(labels, features.NUM_CLASSES, pair.labels, first)


def shard_bounds(count: int, num_shards: int) -> list[int]:
    """Returns the record boundaries of `num_shards` near-equal shards of `count` records.

    Shard i holds records [bounds[i], bounds[i + 1]); sizes differ by at most one.
    Shards are empty when num_shards > count.

    Raises:
      ValueError: num_shards < 1.
    """
    if num_shards < 1:
        raise ValueError(f"a pair needs at least one shard, got {num_shards}")
    return [i * count // num_shards for i in range(num_shards + 1)]


def plan_reads(pair: IdxPair, split: str, num_shards: int, eval_fraction: float = 0.0) -> list[ReadTask]:
    """Cuts a pair into read tasks: one per shard if uncompressed, one in all if gzip."""
    bounds = shard_bounds(pair.count, num_shards)
    shards = tuple((i, bounds[i], bounds[i + 1]) for i in range(num_shards) if bounds[i] < bounds[i + 1])
    if pair.images.gzipped or pair.labels.gzipped:
        return [ReadTask(pair, shards, split, eval_fraction)]
    return [ReadTask(pair, (shard,), split, eval_fraction) for shard in shards]


def raw_arrow_schema() -> pa.Schema:
    """The Arrow layout of raw examples, as TFXIO decodes the raw schema."""
    return pa.schema(
        [
            pa.field(features.IMAGE_RAW_KEY, pa.large_list(pa.large_binary())),
            pa.field(features.LABEL_KEY, pa.large_list(pa.int64())),
        ]
    )


def read_arrow_schema() -> pa.Schema:
    """`raw_arrow_schema()` plus the int64 SHARD_COLUMN the pipeline passes through and RECORD_COLUMN."""
    schema = raw_arrow_schema().append(pa.field(SHARD_COLUMN, pa.large_list(pa.int64())))
    return schema.append(pa.field(RECORD_COLUMN, pa.large_list(pa.int64())))


def to_record_batch(
    images: np.ndarray, labels: np.ndarray, shard: int | None = None, records: np.ndarray | None = None
) -> pa.RecordBatch:
    """Builds a raw RecordBatch from image and label arrays, without per-row objects.

    Args:
      images: uint8 [n, IMAGE_HEIGHT, IMAGE_WIDTH].
      labels: uint8 or int [n].
      shard: if given, every row's SHARD_COLUMN value.
      records: with a shard, each row's RECORD_COLUMN value (default 0..n-1).

    Returns:
      A RecordBatch of n rows with the schema `raw_arrow_schema()` (or
      `read_arrow_schema()` with a shard): each row's image_raw is one list of
      one IMAGE_PIXELS-byte value, its label one int64.
    """
    n = len(images)
    pixels = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1)
    row_offsets = np.arange(n + 1, dtype=np.int64)
    image_values = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        n,
        [None, pa.py_buffer(row_offsets * features.IMAGE_PIXELS), pa.py_buffer(pixels)],
    )
    columns = [
        pa.LargeListArray.from_arrays(pa.array(row_offsets), image_values),
        pa.LargeListArray.from_arrays(pa.array(row_offsets), pa.array(labels.astype(np.int64))),
    ]
    if shard is None:
        return pa.RecordBatch.from_arrays(columns, schema=raw_arrow_schema())
    records = np.arange(n) if records is None else records
    for values in (np.full(n, shard), records):
        columns.append(pa.LargeListArray.from_arrays(pa.array(row_offsets), pa.array(values, pa.int64())))
    return pa.RecordBatch.from_arrays(columns, schema=read_arrow_schema())


class ReadIdxRecordBatches(beam.DoFn):
    """ReadTask -> raw RecordBatches with a SHARD_COLUMN, tagged with their split.

    Emits to the tagged output `task.split`, or layout.TRAIN / layout.EVAL for
    the training pair. A batch never spans two shards; a shard's batches are
    emitted together, in record order.

    Args:
      counter: name of the counter of images read (the job reads the training
        pair twice: once to analyze, once to transform).
      batch_records: records per RecordBatch, at most.
    """

    def __init__(self, counter: str = "images_read", batch_records: int = BATCH_RECORDS):
        self._batch_records = batch_records
        self._images_read = beam.metrics.Metrics.counter(COUNTER_NAMESPACE, counter)
        self._rejected = beam.metrics.Metrics.counter(COUNTER_NAMESPACE, "records_rejected")

    def process(self, task: ReadTask) -> Iterator:
        pair = task.pair
        start, stop = task.shards[0][1], task.shards[-1][2]  # a task's shards are contiguous
        image_chunks = idx.iter_chunks(pair.images, start, stop, self._batch_records)
        label_chunks = idx.iter_chunks(pair.labels, start, stop, self._batch_records)
        shards = iter(task.shards)
        shard, _, shard_stop = next(shards)
        for (first, images), (_, labels) in zip(image_chunks, label_chunks, strict=True):
            self._images_read.inc(len(images))
            try:
                idx.check_labels(labels, features.NUM_CLASSES, pair.labels, first)
            except idx.IdxFormatError:
                self._rejected.inc()
                raise
            lo = 0
            while lo < len(images):  # cut the chunk where a shard ends
                while first + lo >= shard_stop:
                    shard, _, shard_stop = next(shards)
                hi = min(len(images), shard_stop - first)
                yield from self._emit(task, shard, first + lo, images[lo:hi], labels[lo:hi])
                lo = hi

    def _emit(self, task: ReadTask, shard: int, first: int, images: np.ndarray, labels: np.ndarray):
        records = np.arange(first, first + len(images))
        if task.eval_fraction <= 0:
            yield beam.pvalue.TaggedOutput(task.split, to_record_batch(images, labels, shard, records))
            return
        is_eval = splits.eval_mask(first, first + len(images), task.pair.count, task.eval_fraction)
        for split, rows in ((layout.TRAIN, ~is_eval), (layout.EVAL, is_eval)):
            if rows.any():
                batch = to_record_batch(images[rows], labels[rows], shard, records[rows])
                yield beam.pvalue.TaggedOutput(split, batch)
