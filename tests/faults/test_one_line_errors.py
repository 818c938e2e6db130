"""Failures that printed a traceback: each is one `error:` line naming the file or value, exit status 1."""

import contextlib
import os
import shutil
import subprocess
import uuid

import pytest
import tensorflow as tf

from common.errors import ConfigError, InputNotFoundError
from pipeline import job as pipeline_job
from pipeline import outputs
from schemas import jobdir
from tests import commands, idx_fixtures
from trainer import job, serving
from trainer.hparams import HParams

NOT_UTF8 = os.fsdecode(b"\xff")  # a name byte that is not UTF-8, as Python passes it through


def _one_line(done, *fragments) -> str:
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@contextlib.contextmanager
def _small_disk(tmp_path, size: str):
    """A tmpfs of `size` mounted at tmp_path/disk (root only; skipped where mounting is not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# --- refused before anything runs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "module, args, expected",
    [
        ("pipeline.preprocess", ["--input-dir", "in", "--output-dir", ""], "error: --output-dir is empty"),
        ("pipeline.preprocess", ["--input-dir", f"in-{NOT_UTF8}", "--output-dir", "o"], "--input-dir in-\\xff: the name is not UTF-8"),
        ("pipeline.preprocess", ["--input-dir", "in", "--output-dir", f"o-{NOT_UTF8}"], "--output-dir o-\\xff: the name is not UTF-8"),
        ("trainer.task", ["--data-dir", f"d-{NOT_UTF8}", "--job-dir", "j"], "--data-dir d-\\xff: the name is not UTF-8"),
        ("trainer.predict", ["--saved-model", "m", "--idx-images", "i", "--output", ""], "error: --output is empty"),
        ("trainer.local_cluster", ["--workers", "100000", "--", "--data-dir", "d"], "100002 tasks, each a whole TensorFlow process; this machine runs at most"),
    ],
)  # fmt: skip
def test_paths_and_sizes_refused_before_anything_runs(tmp_path, module, args, expected):
    done = subprocess.run(
        [os.sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    _one_line(done, expected)
    assert os.listdir(tmp_path) == []


def test_an_idx_file_whose_name_is_not_utf8_is_named(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 10, 5)
    os.rename(input_dir / "t10k-images-idx3-ubyte", os.path.join(input_dir, f"t10k-images-{NOT_UTF8}"))
    with pytest.raises(InputNotFoundError, match=r"t10k-images-\\xff: the name is not UTF-8"):
        pipeline_job.open_inputs(str(input_dir))


# --- the pipeline and the trainer -----------------------------------------------------------------


@pytest.mark.slow
def test_stray_files_whose_names_are_not_utf8_are_no_obstacle(preprocessed, tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    for stray in (os.path.join(input_dir, f"notes-{NOT_UTF8}"), str(tmp_path / f"stray-{NOT_UTF8}")):
        open(stray, "w").close()
    done = commands.run_module(
        "pipeline.preprocess", "--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out")
    )
    assert done.returncode == 0, done.stderr[-3000:]
    earlier = tmp_path / "earlier"
    shutil.copytree(preprocessed[1], earlier)
    open(os.path.join(earlier, f"stray-{NOT_UTF8}"), "w").close()  # inside an output --overwrite replaces
    outputs.check_output_dir(str(earlier), overwrite=True)


@pytest.mark.slow
def test_a_full_disk_under_the_output_dir_is_one_line(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    with _small_disk(tmp_path, "64k") as disk:
        done = commands.run_module(
            "pipeline.preprocess", "--input-dir", str(input_dir), "--output-dir", str(disk / "out")
        )
        _one_line(done, "No space left on device: writing", str(disk / "out"))
        assert os.listdir(disk) == []  # the staging dir is gone with the failed run


@pytest.mark.slow
def test_a_full_disk_under_the_job_dir_is_one_line(preprocessed, tmp_path):
    with _small_disk(tmp_path, "300k") as disk:
        done = commands.run_module(
            "trainer.task", "--data-dir", preprocessed[1], "--job-dir", str(disk / "job")
        )
        _one_line(done, "No space left on device: writing", str(disk / "job"))


def _only_checkpoint(trained, tmp_path):
    """A copy of the `trained` job dir keeping only its newest checkpoint."""
    job_dir = tmp_path / "job"
    shutil.copytree(trained[2].job_dir, job_dir)
    newest = tf.train.latest_checkpoint(str(job_dir))
    for path in job_dir.glob("model.ckpt-*"):
        if not str(path).startswith(newest + "."):
            path.unlink()
    tf.compat.v1.train.update_checkpoint_state(str(job_dir), newest)
    return job_dir, newest


@pytest.mark.slow
def test_a_truncated_only_checkpoint_is_one_line(trained, tmp_path):
    job_dir, newest = _only_checkpoint(trained, tmp_path)
    data = newest + ".data-00000-of-00001"
    os.truncate(data, os.path.getsize(data) // 2)
    flags = ["--train-steps", str(trained[3].train_steps + 10), "--batch-size", str(trained[3].batch_size)]
    done = commands.run_module("trainer.task", "--data-dir", trained[1], "--job-dir", str(job_dir), *flags)
    _one_line(done, f"{job_dir}: no checkpoint in it reads back whole (the newest, {newest}, is truncated")


@pytest.mark.slow
def test_a_checkpoint_state_file_of_binary_garbage(trained, tmp_path):
    job_dir, newest = _only_checkpoint(trained, tmp_path)
    state = job_dir / jobdir.CHECKPOINT_STATE_FILE
    state.write_bytes(uuid.UUID(int=0xFFFE).bytes * 20 + b"\xff\xfe")
    hparams = HParams(**{**trained[3].__dict__, "train_steps": trained[3].train_steps + 4})
    resumed = job.train(trained[1], str(job_dir), hparams)  # rebuilt from the checkpoint beside it
    assert resumed.test["global_step"] == hparams.train_steps
    for path in job_dir.glob("model.ckpt-*"):
        path.unlink()
    state.write_bytes(b"\xff\xfe" * 50)
    with pytest.raises(ConfigError, match=f"{state}: an unreadable checkpoint state file and no checkpoint"):
        job.train(trained[1], str(job_dir), hparams)


# --- trainer.predict and serving ------------------------------------------------------------------


@pytest.mark.slow
def test_predict_with_a_savedmodel_that_is_not_a_classifier(trained, tmp_path):
    input_dir, data_dir, _, _ = trained
    done = commands.run_module(
        "trainer.predict", "--saved-model", os.path.join(data_dir, "transform_fn"),
        "--idx-images", str(input_dir / "t10k-images-idx3-ubyte"), "--output", str(tmp_path / "p.csv"),
    )  # fmt: skip
    _one_line(done, "transform_fn: not a classifier exported by trainer.task", "give JOB_DIR/export/best")


@pytest.mark.slow
def test_predict_on_records_lacking_image_raw_names_the_feature(trained, tmp_path):
    records = tmp_path / "labels-only.tfrecord"
    example = tf.train.Example(
        features=tf.train.Features(
            feature={"label": tf.train.Feature(int64_list=tf.train.Int64List(value=[3]))}
        )
    )
    with tf.io.TFRecordWriter(str(records)) as writer:
        writer.write(example.SerializeToString())
    done = commands.run_module(
        "trainer.predict",
        "--saved-model",
        trained[2].export,
        "--tfrecords",
        str(records),
        "--output",
        str(tmp_path / "p.csv"),
    )
    _one_line(done, "the model refused the input", "Feature: image_raw (data type: string) is required")


@pytest.mark.slow
@pytest.mark.parametrize("request_bytes", [b"\xff\xfe not a tf.Example", bytes(range(256)) * 3 + bytes(16)])
def test_serving_bytes_that_are_not_utf8_get_invalid_argument(trained, request_bytes):
    """Raw image bytes sent to serving_default, or other binary garbage: an InvalidArgumentError."""
    loaded = tf.saved_model.load(trained[2].export)
    with pytest.raises(tf.errors.InvalidArgumentError, match="an input is not a serialized tf.Example"):
        loaded.signatures["serving_default"](
            examples=tf.constant([serving.raw_example(bytes(784)), request_bytes])
        )
