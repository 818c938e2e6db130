"""The trainer reads exactly what the manifest lists, checks it before training, and pins it for the job."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from common.errors import ConfigError, DataError, InputNotFoundError
from pipeline import preprocess
from schemas import layout
from schemas.manifest import Manifest
from tests import commands, idx_fixtures
from trainer import data, job
from trainer.hparams import HParams

pytestmark = pytest.mark.slow
QUICK = HParams(train_steps=4, batch_size=16, save_checkpoints_steps=4, throttle_secs=0)


@pytest.fixture
def data_dir(preprocessed, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(preprocessed[1], target)
    return target


def _shard(data_dir, split, index=0):
    return data_dir / Manifest.read(str(data_dir)).shards(split)[index].path


def _flip_a_byte_in_the_middle(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: _shard(d, layout.TRAIN).write_bytes(b""), id="zero-byte train shard"),
        pytest.param(
            lambda d: shutil.copy(_shard(d, layout.TRAIN), _shard(d, layout.TEST)),
            id="test shard replaced by train",
        ),
        pytest.param(
            lambda d: shutil.copy(_shard(d, layout.TRAIN, 0), _shard(d, layout.TRAIN, 1)),
            id="duplicated shard",
        ),
        pytest.param(lambda d: _shard(d, layout.EVAL).unlink(), id="missing shard"),
    ],
)
def test_a_damaged_shard_is_named_before_training(data_dir, tmp_path, damage):
    damage(data_dir)
    with pytest.raises((DataError, InputNotFoundError), match=rf"{data_dir}/(train|eval|test)/part-0000\d"):
        job.train(str(data_dir), str(tmp_path / "job"), QUICK)
    assert not (tmp_path / "job").exists()  # refused before anything was written


def test_a_swapped_transform_is_refused(data_dir, preprocessed, tmp_path):
    other = tmp_path / "other"
    preprocess.run(
        ["--input-dir", str(preprocessed[0]), "--output-dir", str(other), "--normalization", "z_score"]
    )
    shutil.rmtree(data_dir / layout.TRANSFORM_FN_DIR)
    shutil.copytree(other / layout.TRANSFORM_FN_DIR, data_dir / layout.TRANSFORM_FN_DIR)
    with pytest.raises(DataError, match="not the transform this data dir's manifest describes"):
        job.train(str(data_dir), str(tmp_path / "job"), QUICK)


def test_same_size_corruption_is_found_by_verify_data_before_training_and_named_at_any_stage(
    data_dir, tmp_path
):
    test_shard = _shard(data_dir, layout.TEST)
    _flip_a_byte_in_the_middle(test_shard)
    with pytest.raises(DataError, match=rf"{test_shard}: "):
        job.train(str(data_dir), str(tmp_path / "verified"), QUICK, verify_data=True)
    assert not (tmp_path / "verified").exists()
    with pytest.raises(DataError, match=rf"{test_shard}: corrupt TFRecord shard"):
        job.train(str(data_dir), str(tmp_path / "job"), QUICK)  # the test split is read last: still named


def test_files_the_manifest_does_not_list_are_never_read(data_dir, tmp_path):
    (data_dir / layout.TRAIN / "part-00009-of-00010.tfrecord.gz").write_bytes(b"not a shard at all")
    result = job.train(str(data_dir), str(tmp_path / "job"), QUICK)
    assert result.test["global_step"] == 4


def test_directories_are_taken_literally_never_as_globs(tmp_path):
    bracketed = idx_fixtures.write_dataset(tmp_path / "d[1]", 40, 20)
    idx_fixtures.write_dataset(tmp_path / "d1", 80, 30)  # what the glob d[1] would match
    manifest = preprocess.run(["--input-dir", str(bracketed), "--output-dir", str(tmp_path / "out")])
    assert manifest.splits[layout.TEST].examples == 20 and manifest.inputs["t10k_images"]["records"] == 20
    # Outputs TensorFlow reads back cannot have pattern characters: refused, never silently read as t1.
    with pytest.raises(ConfigError, match=r"--output-dir .*t\[1\]: TensorFlow reads \[ in paths as patterns"):
        preprocess.run(["--input-dir", str(bracketed), "--output-dir", str(tmp_path / "t[1]")])
    for flags in (
        ["--data-dir", str(tmp_path / "t[1]"), "--job-dir", "j"],
        ["--data-dir", "d", "--job-dir", "j*"],
    ):
        done = commands.run_module("trainer.task", *flags)
        errors = commands.error_lines(done)
        assert done.returncode == 1 and len(errors) == 1 and "as patterns" in errors[0], done.stderr[-2000:]


def test_a_job_resumed_on_other_data_is_refused(data_dir, preprocessed, tmp_path):
    job_dir = str(tmp_path / "job")
    job.train(str(data_dir), job_dir, QUICK)
    other = tmp_path / "other"
    preprocess.run(
        ["--input-dir", str(preprocessed[0]), "--output-dir", str(other)]
    )  # same inputs, run again
    with pytest.raises(DataError, match=rf"{job_dir} was trained on {data_dir} .* not on {other}"):
        job.train(str(other), job_dir, HParams(**{**QUICK.__dict__, "train_steps": 8}))
    moved = tmp_path / "moved"
    shutil.copytree(data_dir, moved)  # the same data elsewhere is the same data
    assert (
        job.train(str(moved), job_dir, HParams(**{**QUICK.__dict__, "train_steps": 8})).test["global_step"]
        == 8
    )


def test_an_empty_eval_split_is_refused(preprocessed, tmp_path):
    output = tmp_path / "no-eval"
    preprocess.run(["--input-dir", str(preprocessed[0]), "--output-dir", str(output), "--eval-fraction", "0"])
    with pytest.raises(DataError, match="the eval split is empty"):
        data.open_data_dir(str(output))


def test_preprocessing_the_data_dir_again_while_training_stops_the_export(data_dir, preprocessed, tmp_path):
    """preprocess --overwrite onto the data dir of a running job: the job refuses to export, one line."""
    job_dir = tmp_path / "job"
    args = [
        "--data-dir",
        str(data_dir),
        "--job-dir",
        str(job_dir),
        "--train-steps",
        "100000",
        "--batch-size",
        "8",
    ]
    args += ["--save-checkpoints-steps", "10", "--throttle-secs", "0"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    log = tmp_path / "trainer.log"
    with open(log, "w") as stderr:
        trainer = subprocess.Popen([sys.executable, "-m", "trainer.task", *args], stderr=stderr, env=env)
    try:
        deadline = time.time() + 240
        while not list((job_dir / "export" / "latest").glob("[0-9]*")):
            assert trainer.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        preprocess.run(
            ["--input-dir", str(preprocessed[0]), "--output-dir", str(data_dir), "--overwrite",
             "--normalization", "z_score"]
        )  # fmt: skip
        trainer.wait(timeout=240)
    finally:
        if trainer.poll() is None:
            trainer.send_signal(signal.SIGKILL)
    output = log.read_text()
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert trainer.returncode == 1 and len(errors) == 1, output[-3000:]
    assert f"{data_dir} changed while training" in errors[0] and "Traceback" not in output
