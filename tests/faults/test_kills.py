"""Killed processes and what crashes leave behind: nothing lost, the same command recovers."""

import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from common.errors import DataError
from estimator import export_dirs
from schemas import features, layout
from schemas import manifest as manifest_lib
from tests import commands, idx_fixtures, shards

pytestmark = pytest.mark.slow
BOUND_SECS = 240


def _start(module, *args, log):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT, env=env
    )


def _wait_for(condition, process, what):
    deadline = time.time() + BOUND_SECS
    while not condition():
        assert process.poll() is None, f"the process ended before {what}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_killed_pipeline_leaves_nothing_finished_and_the_rerun_equals_a_clean_run(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 2000, 200, gzip_train=False)
    output_dir = str(tmp_path / "out")
    args = ["--input-dir", str(input_dir), "--output-dir", output_dir]
    with open(tmp_path / "killed.log", "w") as log:
        process = _start("pipeline.preprocess", *args, log=log)
        _wait_for(
            lambda: any(".incomplete-" in n for n in os.listdir(tmp_path)), process, "the staging directory"
        )
        time.sleep(1.0)  # into the run
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not os.path.exists(output_dir)  # nothing that looks finished
    rerun = commands.run_module("pipeline.preprocess", *args)
    assert rerun.returncode == 0
    assert "staging directories of earlier runs that did not finish" in rerun.stderr  # the litter is named
    clean = str(tmp_path / "clean")
    assert (
        commands.run_module(
            "pipeline.preprocess", "--input-dir", str(input_dir), "--output-dir", clean
        ).returncode
        == 0
    )
    for split in layout.SPLITS:
        # same examples, same analyzer values
        assert shards.examples_as_set(output_dir, split) == shards.examples_as_set(clean, split)
    probe = shards.raw_examples(np.frombuffer(bytes(range(256)) * 3 + bytes(16), np.uint8)[np.newaxis])
    spec = features.serving_raw_feature_spec()
    outputs = [
        tft.TFTransformOutput(d).transform_raw_features(tf.io.parse_example(probe, spec))[features.IMAGE_KEY]
        for d in (output_dir, clean)
    ]
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_killed_training_resumes_from_its_last_checkpoint(preprocessed, tmp_path):
    job_dir = str(tmp_path / "job")
    args = ["--data-dir", preprocessed[1], "--job-dir", job_dir, "--train-steps", "200", "--batch-size", "16"]
    args += ["--save-checkpoints-steps", "20", "--log-steps", "1", "--throttle-secs", "1000"]
    args += ["-v"]  # tf.estimator's `loss = …, step = …` lines say which steps ran
    killed_log = tmp_path / "killed.log"
    with open(killed_log, "w") as log:
        process = _start("trainer.task", *args, log=log)
        _wait_for(
            lambda: tf.train.latest_checkpoint(job_dir) and re.search(r"step = 50\b", killed_log.read_text()),
            process,
            "step 50",
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
    last_step = max(int(s) for s in re.findall(r"loss = \S+, step = (\d+)", killed_log.read_text()))
    checkpoint_step = int(tf.train.load_variable(tf.train.latest_checkpoint(job_dir), "global_step"))
    assert last_step - 20 <= checkpoint_step <= last_step  # at most save_checkpoints_steps are redone

    done = commands.run_module("trainer.task", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    first_step = int(re.search(r"loss = \S+, step = (\d+)", done.stderr).group(1))
    assert first_step == checkpoint_step + 1  # resumed, global_step continues
    assert tf.train.load_variable(tf.train.latest_checkpoint(job_dir), "global_step") == 200
    assert "test: accuracy" in done.stdout and os.listdir(os.path.join(job_dir, "export", "best"))


def test_truncated_shard_is_named(preprocessed, tmp_path):
    shard = os.path.join(preprocessed[1], preprocessed[2].shards(layout.TRAIN)[0].path)
    broken = tmp_path / "part-00000-of-00001.tfrecord.gz"
    data = gzip.decompress(open(shard, "rb").read())
    broken.write_bytes(gzip.compress(data[:-1]))
    with pytest.raises(DataError, match=rf"{broken}: corrupt TFRecord shard: truncated record"):
        manifest_lib.count_records(str(broken))


def test_training_on_a_truncated_shard_names_the_file(preprocessed, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    shard = data_dir / preprocessed[2].shards(layout.TRAIN)[0].path
    data = gzip.decompress(shard.read_bytes())
    shard.write_bytes(gzip.compress(data[:-1]))
    done = commands.run_module(
        "trainer.task", "--data-dir", str(data_dir), "--job-dir", str(tmp_path / "job")
    )
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1, done.stderr[-3000:]
    assert f"{shard}: " in errors[0] and "but the manifest lists" in errors[0]
    assert "Traceback" not in done.stderr


def test_partial_exports_are_never_picked(tmp_path):
    base = tmp_path / "export"
    (base / "100").mkdir(parents=True)
    (base / "100" / "saved_model.pb").write_bytes(b"complete")
    (base / "temp-200").mkdir()  # a crash during export
    (base / "300").mkdir()  # a half-copied export (non-atomic rename on gs://)
    assert export_dirs.newest_export(str(base)) == str(base / "100")
    assert (
        export_dirs.remove_stale_temp_dirs(str(base)) == []
    )  # temp-200 is newer than 100: may be in progress
    shutil.rmtree(base / "100")
    assert export_dirs.newest_export(str(base)) is None
