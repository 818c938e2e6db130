"""trainer.predict as a user runs it: class names from the model, every input form, every output form."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from common import idx
from pipeline import preprocess
from tests import commands, idx_fixtures, shards
from trainer import job
from trainer.hparams import HParams

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A model trained briefly on data preprocessed with --dataset mnist: (input dir, export base)."""
    base = tmp_path_factory.mktemp("digits")
    input_dir = idx_fixtures.write_dataset(base / "idx", 100, 30)
    preprocess.run(["--input-dir", str(input_dir), "--output-dir", str(base / "data"), "--dataset", "mnist"])
    hparams = HParams(train_steps=4, batch_size=16, save_checkpoints_steps=4, throttle_secs=0)
    result = job.train(str(base / "data"), str(base / "job"), hparams)
    return input_dir, os.path.dirname(result.export)


def _predict(*args):
    return commands.run_module("trainer.predict", *args)


def test_a_digit_model_is_labelled_with_the_names_it_carries(digits, tmp_path):
    input_dir, export_base = digits
    output = tmp_path / "p.csv"
    done = _predict("--saved-model", export_base, "--idx-images", str(input_dir / "t10k-images-idx3-ubyte"),
                    "--idx-labels", str(input_dir / "t10k-labels-idx1-ubyte"), "--output", str(output))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 30 and {row["class_name"] for row in rows} <= {str(d) for d in range(10)}
    assert all(row["class_name"] == row["class"] for row in rows)
    assert "| 9 | 9 |" in (tmp_path / "report.md").read_text()  # digits, not "Ankle boot"


def test_raw_tf_examples_to_json_lines(digits, tmp_path):
    input_dir, export_base = digits
    images = idx.read_idx(str(input_dir / "t10k-images-idx3-ubyte"), idx.IMAGES_NDIM)[:7]
    records = tmp_path / "raw.tfrecord.gz"
    with tf.io.TFRecordWriter(str(records), "GZIP") as writer:
        for example in shards.raw_examples(images, labels=[1, 2, 3, 4, 5, 6, 7]).numpy():
            writer.write(example)
    output = tmp_path / "p.jsonl"
    done = _predict("--saved-model", export_base, "--tfrecords", str(records), "--output", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["label"] for line in lines] == [1, 2, 3, 4, 5, 6, 7]
    assert all(
        len(line["probabilities"]) == 10 and abs(sum(line["probabilities"]) - 1) < 1e-4 for line in lines
    )
    assert "accuracy:" in done.stdout


def _fails_with_one_line(done, fragment):
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1 and fragment in errors[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr


def test_out_of_range_labels_fail_before_any_output(digits, tmp_path):
    input_dir, export_base = digits
    labels = idx_fixtures.make_labels(30)
    labels[17] = 11
    idx.write_idx(str(tmp_path / "labels"), labels)
    output = tmp_path / "p.csv"
    done = _predict("--saved-model", export_base, "--idx-images", str(input_dir / "t10k-images-idx3-ubyte"),
                    "--idx-labels", str(tmp_path / "labels"), "--output", str(output))  # fmt: skip
    _fails_with_one_line(
        done, "byte offset 25 (label of record 17): expected a class index in 0..9, found 11"
    )
    assert not output.exists()


def test_bytes_that_are_not_tf_examples(digits, tmp_path):
    _, export_base = digits
    records = tmp_path / "junk.tfrecord"
    with tf.io.TFRecordWriter(str(records)) as writer:
        writer.write(bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)))
    done = _predict(
        "--saved-model", export_base, "--tfrecords", str(records), "--output", str(tmp_path / "p.csv")
    )
    _fails_with_one_line(done, "")
    assert not (tmp_path / "p.csv").exists()


def test_an_output_that_cannot_be_written(digits, tmp_path):
    input_dir, export_base = digits
    done = _predict("--saved-model", export_base, "--idx-images", str(input_dir / "t10k-images-idx3-ubyte"),
                    "--output", "/proc/idx-tfrecords/p.csv")  # fmt: skip
    _fails_with_one_line(done, "/proc/idx-tfrecords/p.csv: cannot write")


def test_a_directory_without_a_complete_export(tmp_path):
    (tmp_path / "export" / "temp-123").mkdir(parents=True)
    done = _predict(
        "--saved-model", str(tmp_path / "export"), "--idx-images", "x", "--output", str(tmp_path / "p")
    )
    _fails_with_one_line(done, "neither a SavedModel nor a directory of complete exports")
