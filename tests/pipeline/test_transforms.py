"""Each composite of pipeline/transforms.py alone, on Beam's in-process runner, with assert_that."""

import os

import numpy as np
import pyarrow as pa
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import config, sinks, sources, splits, transforms
from schemas import features, layout
from schemas import manifest as manifest_lib
from tests import idx_fixtures

RUNNER = "FnApiRunner"  # Beam 2.77's default test runner would try to download Prism


def _record_ids(batch: pa.RecordBatch) -> list[int]:
    """The fixture images' own index (pixels 0 and 1) of every row of a raw batch."""
    pixels = np.frombuffer(b"".join(batch.column(features.IMAGE_RAW_KEY).flatten().to_pylist()), np.uint8)
    pixels = pixels.reshape(batch.num_rows, features.IMAGE_PIXELS).astype(int)
    return list(pixels[:, 0] + 256 * pixels[:, 1])


def _ids_by_shard(batches) -> list[tuple[int, int]]:
    return sorted((sinks.shard_of(b), i) for b in batches for i in _record_ids(b))


def test_read_splits_reads_each_record_once_into_its_split_and_shard(tmp_path):
    directory = idx_fixtures.write_dataset(tmp_path, n_train=45, n_test=7, gzip_train=False)
    pair = sources.open_pair(
        str(directory / "train-images-idx3-ubyte"), str(directory / "train-labels-idx1-ubyte")
    )
    test = sources.open_pair(
        str(directory / "t10k-images-idx3-ubyte"), str(directory / "t10k-labels-idx1-ubyte")
    )
    tasks = sources.plan_reads(pair, layout.TRAIN, 3, 0.2) + sources.plan_reads(test, layout.TEST, 2)
    is_eval = splits.eval_mask(0, 45, 45, 0.2)
    bounds, test_bounds = sources.shard_bounds(45, 3), sources.shard_bounds(7, 2)

    def shard(i, grid):
        return next(s for s in range(len(grid) - 1) if grid[s] <= i < grid[s + 1])

    expected = {
        layout.TRAIN: [(shard(i, bounds), i) for i in range(45) if not is_eval[i]],
        layout.EVAL: [(shard(i, bounds), i) for i in range(45) if is_eval[i]],
        layout.TEST: [(shard(i, test_bounds), i) for i in range(7)],
    }
    with TestPipeline(runner=RUNNER) as p:
        raw = p | transforms.ReadSplits(tasks, "images_read")
        for split in layout.SPLITS:
            ids = raw[split] | f"Ids{split}" >> _Collect(_ids_by_shard)
            assert_that(ids, equal_to([expected[split]]), label=f"Check{split}")


class _Collect(transforms.beam.PTransform):
    """PCollection -> one element: fn(all elements)."""

    def __init__(self, fn):
        super().__init__()
        self._fn = fn

    def expand(self, pcoll):
        return pcoll | transforms.beam.combiners.ToList() | transforms.beam.Map(self._fn)


def _raw_batch(images, shard, labels=None):
    labels = np.arange(len(images)) % features.NUM_CLASSES if labels is None else labels
    return sources.to_record_batch(images, np.asarray(labels), shard)


def test_analyze_and_transform_scales_with_train_statistics_and_keeps_the_shard(tmp_path):
    train = idx_fixtures.make_images(8, file_id=0)  # holds pixels 0 and 255: scale_0_1 is x / 255
    test = np.full((3, features.IMAGE_HEIGHT, features.IMAGE_WIDTH), 51, np.uint8)

    def rows(transformed):
        for batch, _ in transformed:  # the record index is for the statistics: tf.Transform drops it
            assert batch.schema.names == [features.IMAGE_KEY, features.LABEL_KEY, sources.SHARD_COLUMN]
        return sorted(
            (sinks.shard_of(b), round(float(v), 4))
            for b, _ in transformed
            for v in np.asarray(b.column(features.IMAGE_KEY).flatten()).reshape(b.num_rows, -1)[:, 5]
        )

    with TestPipeline(runner=RUNNER) as p:
        analysis = p | "Analysis" >> transforms.beam.Create([_raw_batch(train, 0)])
        raw = {
            layout.TRAIN: p
            | "Train" >> transforms.beam.Create([_raw_batch(train[:4], 0), _raw_batch(train[4:], 1)]),
            layout.TEST: p | "Test" >> transforms.beam.Create([_raw_batch(test, 4)]),
        }
        transformed, _ = (analysis, raw) | transforms.AnalyzeAndTransform(config.SCALE_0_1, str(tmp_path))
        expected_train = sorted(
            (i // 4, round(float(v) / 255, 4)) for i, v in enumerate(train.reshape(8, -1)[:, 5])
        )
        assert_that(
            transformed[layout.TRAIN] | "T" >> _Collect(rows), equal_to([expected_train]), label="Train"
        )
        assert_that(
            transformed[layout.TEST] | "S" >> _Collect(rows), equal_to([[(4, 0.2)] * 3]), label="TestRows"
        )


def _transformed(labels, shard):
    """A batch as tf.Transform emits it: (RecordBatch of label and SHARD_COLUMN, passthrough)."""
    batch = _raw_batch(np.zeros((len(labels), 28, 28), np.uint8), shard, labels)
    return batch.drop_columns([features.IMAGE_RAW_KEY, sources.RECORD_COLUMN]), {}


def _labels_in(path):
    records = tf.data.TFRecordDataset(path, compression_type=layout.SHARD_COMPRESSION)
    return [
        tf.train.Example.FromString(r.numpy()).features.feature["label"].int64_list.value[0] for r in records
    ]


def test_write_split_writes_one_file_per_shard_and_emits_its_record(tmp_path):
    out = str(tmp_path)
    with TestPipeline(runner=RUNNER) as p:
        batches = p | transforms.beam.Create(
            [_transformed([1, 2], 0), _transformed([3], 0), _transformed([4, 5, 6], 2)]
        )
        written = batches | transforms.WriteSplit(out, layout.TEST, 3)
        assert_that(
            written | transforms.beam.Map(lambda s: (s.path, s.examples)),
            equal_to(
                [("test/part-00000-of-00003.tfrecord.gz", 3), ("test/part-00002-of-00003.tfrecord.gz", 3)]
            ),
        )
    listed = sinks.read_shards(out, layout.TEST, 3)  # the records the DoFn left, and the empty shard 1
    paths = [os.path.join(out, shard.path) for shard in listed]
    assert [shard.sha256 for shard in listed] == [manifest_lib.file_sha256(path) for path in paths]
    assert [_labels_in(path) for path in paths] == [[1, 2, 3], [], [4, 5, 6]]
