"""Operator errors: one clear line naming the problem, exit status 1, no traceback, nothing half-written."""

import gzip
import json
import os
import shutil

import numpy as np
import pytest

from common import idx
from tests import commands, idx_fixtures

pytestmark = pytest.mark.slow


def _fails_with_one_line(done, *fragments):
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1, done.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in done.stderr


def test_missing_input_dir(tmp_path):
    done = commands.run_module(
        "pipeline.preprocess", "--input-dir", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "out")
    )
    _fails_with_one_line(done, str(tmp_path / "nope"), "missing or empty")
    assert os.listdir(tmp_path) == []


def test_output_dir_not_writable(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 20, 10)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    output_dir = str(blocker / "out")
    done = commands.run_module(
        "pipeline.preprocess", "--input-dir", str(input_dir), "--output-dir", output_dir
    )
    _fails_with_one_line(done, output_dir, "cannot write")


def test_data_dir_without_transform_fn(preprocessed, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    shutil.rmtree(data_dir / "transform_fn")
    done = commands.run_module(
        "trainer.task", "--data-dir", str(data_dir), "--job-dir", str(tmp_path / "job")
    )
    _fails_with_one_line(done, str(data_dir), "no transform_fn/")


def test_data_dir_that_is_not_a_preprocessing_output(tmp_path):
    done = commands.run_module(
        "trainer.task", "--data-dir", str(tmp_path), "--job-dir", str(tmp_path / "job")
    )
    _fails_with_one_line(done, "no manifest")


def test_job_dir_of_another_model(preprocessed, tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "hparams.json").write_text(json.dumps({"model": "vgg"}))
    done = commands.run_module("trainer.task", "--data-dir", preprocessed[1], "--job-dir", str(job_dir))
    _fails_with_one_line(done, "holds checkpoints of model 'vgg', not 'fast'")


def test_job_dir_of_another_network_layout(trained, tmp_path):
    _, data_dir, result, _ = trained
    job_dir = tmp_path / "job"
    shutil.copytree(result.job_dir, job_dir)
    # The same --model name over checkpoints of other variables, as after a change of the network.
    hparams = json.loads((job_dir / "hparams.json").read_text())
    (job_dir / "hparams.json").write_text(json.dumps({**hparams, "model": "cnn"}))
    flags = ["--model", "cnn", "--train-steps", "40", "--batch-size", "16"]
    done = commands.run_module("trainer.task", "--data-dir", data_dir, "--job-dir", str(job_dir), *flags)
    _fails_with_one_line(done, str(job_dir), "its checkpoint lacks variable", "of --model cnn")


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--num-epochs", "nan"], "--num-epochs must be a finite number > 0, got nan"),
        (["--num-epochs", "inf"], "--num-epochs must be a finite number > 0, got inf"),
        (["--train-steps", "99999999999999999999"], "--train-steps must be an integer in [1, 1000000000]"),
        (["--learning-rate", "nan"], "--learning-rate must be a finite number > 0, got nan"),
        (["--batch-size", "100000000"], "--batch-size must be an integer in [1, 4096]"),
        (["--train-steps", "5", "--num-epochs", "1"], "give --train-steps or --num-epochs, not both"),
        (["--label-smoothing", "1"], "--label-smoothing must be in [0, 1), got 1.0"),
        (["--warmup-epochs", "-1"], "--warmup-epochs must be a finite number >= 0, got -1.0"),
    ],
)
def test_bad_hyperparameters_are_refused_before_tensorflow_loads(tmp_path, flags, expected):
    done = commands.run_module(
        "trainer.task", "--data-dir", str(tmp_path), "--job-dir", str(tmp_path / "j"), *flags
    )
    _fails_with_one_line(done, expected)
    assert not (tmp_path / "j").exists()


def test_a_batch_larger_than_the_train_split_is_refused(preprocessed, tmp_path):
    done = commands.run_module(
        "trainer.task",
        "--data-dir",
        preprocessed[1],
        "--job-dir",
        str(tmp_path / "j"),
        "--batch-size",
        "4000",
    )
    _fails_with_one_line(done, "--batch-size 4000 is larger than the train split's 270 examples")


@pytest.mark.parametrize("kind", ["a file", "not writable"])
def test_a_job_dir_that_cannot_be_written(preprocessed, tmp_path, kind):
    job_dir = tmp_path / "job"
    if kind == "a file":
        job_dir.write_text("not a directory")
    else:
        job_dir = "/proc/idx-tfrecords-job"  # read-only even for root
    done = commands.run_module("trainer.task", "--data-dir", preprocessed[1], "--job-dir", str(job_dir))
    _fails_with_one_line(done, str(job_dir), "--job-dir is a file" if kind == "a file" else "not writable")


@pytest.mark.parametrize(
    "content", ["{}", "not json {", '{"producer": "idx-tfrecords", "format_version": 1}']
)
def test_a_bad_manifest_is_named(preprocessed, tmp_path, content):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    (data_dir / "manifest.json").write_text(content)
    done = commands.run_module(
        "trainer.task", "--data-dir", str(data_dir), "--job-dir", str(tmp_path / "job")
    )
    _fails_with_one_line(done, str(data_dir / "manifest.json"))


def test_an_idx_file_of_zero_images(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 20, 10)
    idx.write_idx(str(input_dir / "t10k-images-idx3-ubyte"), np.zeros((0, 28, 28), np.uint8))
    idx.write_idx(str(input_dir / "t10k-labels-idx1-ubyte"), np.zeros((0,), np.uint8))
    done = commands.run_module(
        "pipeline.preprocess", "--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out")
    )
    _fails_with_one_line(
        done, "t10k-images-idx3-ubyte: byte offset 4 (record count): expected at least 1, found 0"
    )
    assert sorted(os.listdir(tmp_path)) == ["idx"]


def test_corrupt_gzip_input_prints_no_worker_traceback(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    path = input_dir / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-1000]))
    done = commands.run_module(
        "pipeline.preprocess", "--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out")
    )
    _fails_with_one_line(done, "train-images-idx3-ubyte.gz: byte offset 16")
