"""The shard grid: read tasks along it, batches that never straddle a shard, one file per shard."""

import os

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from pipeline import sinks, sources
from schemas import layout, manifest
from tests import idx_fixtures


def test_shard_bounds_are_near_equal_and_cover_every_record():
    assert sources.shard_bounds(10, 3) == [0, 3, 6, 10]
    assert sources.shard_bounds(60_000, 6) == [0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]
    assert sources.shard_bounds(2, 4) == [0, 0, 1, 1, 2]  # more shards than records: some are empty
    with pytest.raises(ValueError, match="at least one shard"):
        sources.shard_bounds(10, 0)


def _pair(tmp_path, n, gzip):
    directory = idx_fixtures.write_dataset(tmp_path, n_train=n, n_test=5, gzip_train=gzip)
    suffix = ".gz" if gzip else ""
    return sources.open_pair(
        str(directory / f"train-images-idx3-ubyte{suffix}"),
        str(directory / f"train-labels-idx1-ubyte{suffix}"),
    )


def test_uncompressed_files_are_read_one_shard_per_task_gzip_in_one_stream(tmp_path):
    plain = sources.plan_reads(_pair(tmp_path / "plain", 25, gzip=False), layout.TRAIN, 3, 0.2)
    assert [t.shards for t in plain] == [((0, 0, 8),), ((1, 8, 16),), ((2, 16, 25),)]
    packed = sources.plan_reads(_pair(tmp_path / "gz", 25, gzip=True), layout.TRAIN, 3, 0.2)
    assert [t.shards for t in packed] == [((0, 0, 8), (1, 8, 16), (2, 16, 25))]
    assert {t.split for t in plain + packed} == {layout.TRAIN}


def _read(task, batch_records):
    """Runs the reader on one task: [(split, shard, record indices)] in emission order."""
    out = []
    for tagged in sources.ReadIdxRecordBatches(batch_records=batch_records).process(task):
        batch = tagged.value
        shards = set(batch.column(sources.SHARD_COLUMN).flatten().to_pylist())
        assert len(shards) == 1, "a batch straddles shards"
        pixels = np.frombuffer(b"".join(batch.column("image_raw").flatten().to_pylist()), np.uint8)
        pixels = pixels.reshape(batch.num_rows, -1)
        out.append((tagged.tag, shards.pop(), list(pixels[:, 0] + 256 * pixels[:, 1].astype(int))))
    return out


@pytest.mark.parametrize("gzip", [False, True])
def test_reader_cuts_batches_at_shard_boundaries_and_splits_exactly(tmp_path, gzip):
    pair = _pair(tmp_path, 25, gzip)
    bounds = sources.shard_bounds(25, 3)
    emitted = [e for task in sources.plan_reads(pair, layout.TRAIN, 3, 0.2) for e in _read(task, 4)]
    seen = {layout.TRAIN: [], layout.EVAL: []}
    for split, shard, records in emitted:
        assert 0 < len(records) <= 4
        assert all(bounds[shard] <= r < bounds[shard + 1] for r in records)
        seen[split] += records
    assert len(seen[layout.EVAL]) == 5  # floor(25 * 0.2)
    assert sorted(seen[layout.TRAIN] + seen[layout.EVAL]) == list(range(25))
    shard_order = [shard for _, shard, _ in emitted]
    assert shard_order == sorted(shard_order)  # a shard's batches come together


def _transformed(labels, shard):
    n = len(labels)
    offsets = pa.array(np.arange(n + 1, dtype=np.int64))
    batch = pa.RecordBatch.from_arrays(
        [
            pa.LargeListArray.from_arrays(offsets, pa.array(np.asarray(labels, np.int64))),
            pa.LargeListArray.from_arrays(offsets, pa.array(np.full(n, shard, np.int64))),
        ],
        names=["label", sources.SHARD_COLUMN],
    )
    return batch, {}


def _labels_in(path):
    records = tf.data.TFRecordDataset(path, compression_type=layout.SHARD_COMPRESSION)
    spec = {"label": tf.io.FixedLenFeature([], tf.int64)}
    return [int(tf.io.parse_single_example(r, spec)["label"]) for r in records]


def test_write_shards_writes_one_file_per_shard_and_leaves_no_temporary_file(tmp_path):
    writer = sinks.WriteShards(str(tmp_path), layout.EVAL, 3)
    writer.setup()
    writer.start_bundle()
    emitted = []
    for labels, shard in (([1, 2], 0), ([3], 0), ([4, 5, 6], 2)):
        emitted += writer.process(_transformed(labels, shard))
    emitted += [value.value for value in writer.finish_bundle()]
    listed = sinks.read_shards(str(tmp_path), layout.EVAL, 3)  # writes the empty shard 1
    assert [s.path for s in listed] == [f"eval/part-0000{i}-of-00003.tfrecord.gz" for i in range(3)]
    assert [s.examples for s in listed] == [3, 0, 3]
    files = [str(tmp_path / s.path) for s in listed]
    assert [_labels_in(f) for f in files] == [[1, 2, 3], [], [4, 5, 6]]
    assert [s.sha256 for s in listed] == [manifest.file_sha256(f) for f in files]
    assert [s.bytes for s in listed] == [os.path.getsize(f) for f in files]
    assert emitted == [listed[0], listed[2]]  # one record per file written, as it closes
    first = next(iter(tf.data.TFRecordDataset(files[0], compression_type=layout.SHARD_COMPRESSION)))
    assert list(tf.train.Example.FromString(first.numpy()).features.feature) == ["label"]  # shard dropped
    assert tf.io.gfile.listdir(layout.temp_dir(str(tmp_path), layout.TEMP_SHARDS)) == []


def test_write_shards_refuses_a_shard_whose_batches_are_not_together(tmp_path):
    writer = sinks.WriteShards(str(tmp_path), layout.TRAIN, 2)
    writer.setup()
    writer.start_bundle()
    list(writer.process(_transformed([1], 0)))
    list(writer.process(_transformed([2], 1)))
    with pytest.raises(ValueError, match="train shard 0 arrived in two runs"):
        list(writer.process(_transformed([3], 0)))
