"""IDX image/label pairs as Beam input: read tasks and Arrow RecordBatches.

The driver validates each pair's headers and plans `ReadTask`s: an uncompressed
pair is cut into record ranges that workers read in parallel (by seeking); a
gzip pair is one task, streamed. `ReadIdxRecordBatches` turns a task into
`pyarrow.RecordBatch`es in the TFXIO layout of the raw schema (the layout
`tfx_bsl`'s `TFExampleBeamRecord` produces), one per chunk, so raw data enters
tf.Transform in batches built straight from the file's bytes, with no
per-image Python objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa

from pipeline import idx, splits
from schemas import features, layout

DEFAULT_RECORDS_PER_TASK = 10_000
BATCH_RECORDS = 1000  # records per RecordBatch handed to tf.Transform

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
    """Records [start, stop) of one pair, for one worker to read.

    `eval_fraction` > 0 marks the training pair: its records are divided between
    the train and eval splits by `splits.eval_mask`; otherwise all go to `split`.
    """

    pair: IdxPair
    start: int
    stop: int
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


def plan_reads(
    pair: IdxPair,
    split: str,
    eval_fraction: float = 0.0,
    records_per_task: int = DEFAULT_RECORDS_PER_TASK,
) -> list[ReadTask]:
    """Cuts a pair into read tasks: ranges if uncompressed, one task if gzip."""
    if pair.images.gzipped or pair.labels.gzipped:
        return [ReadTask(pair, 0, pair.count, split, eval_fraction)]
    return [
        ReadTask(pair, start, min(start + records_per_task, pair.count), split, eval_fraction)
        for start in range(0, pair.count, records_per_task)
    ]


def raw_arrow_schema() -> pa.Schema:
    """The Arrow layout of raw examples, as TFXIO decodes the raw schema."""
    return pa.schema(
        [
            pa.field(features.IMAGE_RAW_KEY, pa.large_list(pa.large_binary())),
            pa.field(features.LABEL_KEY, pa.large_list(pa.int64())),
        ]
    )


def to_record_batch(images: np.ndarray, labels: np.ndarray) -> pa.RecordBatch:
    """Builds a raw RecordBatch from image and label arrays, without per-row objects.

    Args:
      images: uint8 [n, IMAGE_HEIGHT, IMAGE_WIDTH].
      labels: uint8 or int [n].

    Returns:
      A RecordBatch of n rows with the schema `raw_arrow_schema()`: each row's
      image_raw is one list of one IMAGE_PIXELS-byte value, its label one int64.
    """
    n = len(images)
    pixels = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1)
    row_offsets = np.arange(n + 1, dtype=np.int64)
    image_values = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        n,
        [None, pa.py_buffer(row_offsets * features.IMAGE_PIXELS), pa.py_buffer(pixels)],
    )
    return pa.RecordBatch.from_arrays(
        [
            pa.LargeListArray.from_arrays(pa.array(row_offsets), image_values),
            pa.LargeListArray.from_arrays(pa.array(row_offsets), pa.array(labels.astype(np.int64))),
        ],
        schema=raw_arrow_schema(),
    )


class ReadIdxRecordBatches(beam.DoFn):
    """ReadTask -> raw RecordBatches, tagged with their split.

    Emits to the main output for tasks of a single split, and to the tagged
    outputs layout.TRAIN / layout.EVAL for the training pair.
    """

    def __init__(self, batch_records: int = BATCH_RECORDS):
        self._batch_records = batch_records
        self._images_read = beam.metrics.Metrics.counter(COUNTER_NAMESPACE, "images_read")
        self._rejected = beam.metrics.Metrics.counter(COUNTER_NAMESPACE, "records_rejected")

    def process(self, task: ReadTask) -> Iterator:
        pair = task.pair
        image_chunks = idx.iter_chunks(pair.images, task.start, task.stop, self._batch_records)
        label_chunks = idx.iter_chunks(pair.labels, task.start, task.stop, self._batch_records)
        for (first, images), (_, labels) in zip(image_chunks, label_chunks, strict=True):
            self._images_read.inc(len(images))
            try:
                idx.check_labels(labels, features.NUM_CLASSES, pair.labels, first)
            except idx.IdxFormatError:
                self._rejected.inc()
                raise
            if task.eval_fraction <= 0:
                yield beam.pvalue.TaggedOutput(task.split, to_record_batch(images, labels))
                continue
            is_eval = splits.eval_mask(first, first + len(images), pair.count, task.eval_fraction)
            for split, rows in ((layout.TRAIN, ~is_eval), (layout.EVAL, is_eval)):
                if rows.any():
                    yield beam.pvalue.TaggedOutput(split, to_record_batch(images[rows], labels[rows]))
