"""The preprocessing job end to end on a tiny dataset, in-process and as a command."""

import gzip
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from common import idx
from pipeline import config, job, outputs, preprocess
from schemas import features, layout
from schemas import manifest as manifest_lib
from tests import commands, conftest, idx_fixtures, shards

N_TRAIN, N_TEST = conftest.N_TRAIN, conftest.N_TEST
pytestmark = pytest.mark.slow


@pytest.fixture
def run(preprocessed):
    return preprocessed


def _raw_pixels(input_dir, stem):
    path = str(next(input_dir.glob(f"{stem}-images*")))
    return idx.read_idx(path, idx.IMAGES_NDIM).reshape(-1, features.IMAGE_PIXELS)


def test_counts_and_shards(run):
    _, output_dir, manifest = run
    n_eval = int(N_TRAIN * 0.1)
    expected = {layout.TRAIN: N_TRAIN - n_eval, layout.EVAL: n_eval, layout.TEST: N_TEST}
    assert {s: info.examples for s, info in manifest.splits.items()} == expected
    for split, n in expected.items():
        parsed = shards.read_shards(output_dir, split)
        assert [len(shard[features.LABEL_KEY]) for shard in parsed] == [
            s.examples for s in manifest.shards(split)
        ]
        assert sum(s.examples for s in manifest.shards(split)) == n
        names = sorted(os.listdir(os.path.join(output_dir, split)))
        assert names == ["part-00000-of-00002.tfrecord.gz", "part-00001-of-00002.tfrecord.gz"]
        assert [s.path for s in manifest.shards(split)] == [f"{split}/{name}" for name in names]
        for shard in manifest.shards(split):
            path = os.path.join(output_dir, shard.path)
            assert shard.bytes == os.path.getsize(path) and shard.sha256 == manifest_lib.file_sha256(path)


def test_transformed_feature_spec_and_ranges(run):
    _, output_dir, _ = run
    assert tft.TFTransformOutput(output_dir).transformed_feature_spec() == {
        features.IMAGE_KEY: tf.io.FixedLenFeature([features.IMAGE_PIXELS], tf.float32),
        features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    }
    for split in layout.SPLITS:
        data = shards.read_split(output_dir, split)
        assert 0.0 <= data[features.IMAGE_KEY].min() and data[features.IMAGE_KEY].max() <= 1.0
        assert set(data[features.LABEL_KEY]) <= set(range(features.NUM_CLASSES))


def test_stored_examples_are_the_transform_graph_applied_to_raw_examples(run):
    """TFTransformOutput applied to each raw record gives exactly the stored example."""
    input_dir, output_dir, _ = run
    transform = tft.TFTransformOutput(output_dir)
    for split, stem in ((layout.TRAIN, "train"), (layout.EVAL, "train"), (layout.TEST, "t10k")):
        raw = _raw_pixels(input_dir, stem)
        stored = shards.read_split(output_dir, split)
        parsed = tf.io.parse_example(shards.raw_examples(raw), features.serving_raw_feature_spec())
        expected = transform.transform_raw_features(parsed, drop_unused_features=True)[
            features.IMAGE_KEY
        ].numpy()
        expected_rows = {row.tobytes(): i for i, row in enumerate(expected)}
        found = [expected_rows.get(row.tobytes()) for row in stored[features.IMAGE_KEY]]
        assert None not in found, f"{split}: a stored example differs from the transform of every raw record"
        labels = idx_fixtures.make_labels(len(raw))
        np.testing.assert_array_equal(stored[features.LABEL_KEY], labels[found])


def test_eval_and_train_partition_the_training_file(run):
    input_dir, output_dir, _ = run
    raw = _raw_pixels(input_dir, "train")
    ids = {}
    for split in (layout.TRAIN, layout.EVAL):
        image = shards.read_split(output_dir, split)[features.IMAGE_KEY]
        # scale_to_0_1 over [0, 255] is x / 255, so pixels 0 and 1 give back the record index.
        ids[split] = set(
            np.rint(image[:, 0] * 255).astype(int) + 256 * np.rint(image[:, 1] * 255).astype(int)
        )
    assert not ids[layout.TRAIN] & ids[layout.EVAL]
    assert ids[layout.TRAIN] | ids[layout.EVAL] == set(range(len(raw)))


def test_manifest_and_metadata(run):
    input_dir, output_dir, manifest = run
    assert manifest_lib.Manifest.read(output_dir) == manifest
    assert json.load(open(os.path.join(output_dir, layout.MANIFEST_FILE)))["producer"] == "idx-tfrecords"
    for entry in manifest.inputs.values():
        assert entry["sha256"] == manifest_lib.file_sha256(entry["path"])
    assert manifest.options["normalization"] == "scale_0_1" and manifest.options["runner"] == "FnApiRunner"
    assert manifest.versions["tensorflow"].startswith("2.21")
    assert manifest.options["images_read"] == N_TRAIN + N_TEST
    assert manifest.options["images_analyzed"] == N_TRAIN  # the analyzers read the training file
    assert manifest.transform_sha256 == manifest_lib.transform_sha256(output_dir)
    assert manifest_lib.check_data_dir(output_dir, deep=True) == manifest
    assert sorted(os.listdir(os.path.dirname(output_dir))) == ["idx", "out"]  # no staging directory left


def test_tf_transform_reads_the_output_as_its_own(run):
    """Every accessor of TFTransformOutput works on the output, the raw metadata included."""
    _, output_dir, _ = run
    transform = tft.TFTransformOutput(output_dir)
    assert transform.raw_metadata.schema == features.load_raw_schema()
    assert transform.raw_feature_spec() == features.raw_feature_spec()
    assert set(transform.raw_domains()) == {features.LABEL_KEY}
    assert transform.transformed_metadata.schema.feature
    assert set(transform.transformed_feature_spec()) == {features.IMAGE_KEY, features.LABEL_KEY}
    assert set(transform.transformed_domains()) <= {features.IMAGE_KEY, features.LABEL_KEY}
    assert os.path.isdir(transform.transform_savedmodel_dir)
    probe = {features.IMAGE_RAW_KEY: tf.constant([bytes(784)])}
    assert transform.transform_raw_features(probe)[features.IMAGE_KEY].shape == (1, 784)
    layer = transform.transform_features_layer()
    assert layer(probe)[features.IMAGE_KEY].shape == (1, 784)


def test_existing_output_is_refused_without_overwrite(run):
    input_dir, output_dir, _ = run
    with pytest.raises(outputs.OutputExistsError, match="--overwrite"):
        preprocess.run(["--input-dir", str(input_dir), "--output-dir", output_dir])


def test_bad_label_fails_before_running_and_leaves_nothing(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 50, 10, gzip_train=False)
    labels = idx_fixtures.make_labels(10)
    labels[3] = 12
    idx.write_idx(str(input_dir / "t10k-labels-idx1-ubyte"), labels)
    with pytest.raises(
        idx.IdxFormatError, match=r"t10k-labels-idx1-ubyte: byte offset 11 \(label of record 3\)"
    ):
        job.run_preprocessing(config.PreprocessConfig(str(input_dir), str(tmp_path / "out")))
    assert sorted(os.listdir(tmp_path)) == ["idx"]


def _command(*args):
    return commands.run_module("pipeline.preprocess", *args)


def test_command_exits_0_on_success(tmp_path):
    """The entry point's status is the truth (a tf.Transform process used to die with SIGSEGV at exit)."""
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    done = _command("--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"train": 36, "eval": 4, "test": 20' in done.stdout
    assert os.path.exists(tmp_path / "out" / layout.MANIFEST_FILE)


def test_command_fails_with_one_line_naming_the_file_on_corrupt_gzip(tmp_path):
    """Corruption found inside a worker, mid-run: exit 1, one line, nothing left behind."""
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    path = input_dir / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-1000]))
    done = _command("--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 1
    errors = commands.error_lines(done)
    assert len(errors) == 1 and "train-images-idx3-ubyte.gz: byte offset" in errors[0], done.stderr[-3000:]
    assert sorted(os.listdir(tmp_path)) == ["idx"]


def test_command_usage_error_exits_nonzero():
    done = _command("--output-dir", "x")
    assert done.returncode == 2 and "--input-dir" in done.stderr
