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

from schemas import features, layout
from tests import commands, idx_fixtures
from trainer import inputs, serving

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


def _examples(output_dir, split):
    """The split's examples as a sorted list of (label, image bytes): the set, whatever the order.

    (Serialized bytes can differ between equal tf.Examples: protobuf writes map entries in no fixed order.)
    """
    spec = tft.TFTransformOutput(output_dir).transformed_feature_spec()
    files = tf.io.gfile.glob(layout.shard_pattern(output_dir, split))
    batch = next(
        iter(tf.data.TFRecordDataset(files, compression_type=layout.SHARD_COMPRESSION).batch(100_000))
    )
    parsed = tf.io.parse_example(batch, spec)
    pairs = zip(parsed[features.LABEL_KEY].numpy(), parsed[features.IMAGE_KEY].numpy(), strict=True)
    return sorted((int(label), image.tobytes()) for label, image in pairs)


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
        assert _examples(output_dir, split) == _examples(clean, split)  # same examples, same analyzer values
    probe = tf.constant([serving.raw_example(bytes(range(256)) * 3 + bytes(16))])
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
    killed_log = tmp_path / "killed.log"
    with open(killed_log, "w") as log:
        process = _start("trainer.task", *args, log=log)
        _wait_for(
            lambda: tf.train.latest_checkpoint(job_dir) and "step 50:" in killed_log.read_text(),
            process,
            "step 50",
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
    last_step = max(int(s) for s in re.findall(r"step (\d+): loss", killed_log.read_text()))
    checkpoint_step = int(tf.train.load_variable(tf.train.latest_checkpoint(job_dir), "global_step"))
    assert last_step - 20 <= checkpoint_step <= last_step  # at most save_checkpoints_steps are redone

    done = commands.run_module("trainer.task", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    first_step = int(re.search(r"step (\d+): loss", done.stderr).group(1))
    assert first_step == checkpoint_step + 1  # resumed, global_step continues
    assert tf.train.load_variable(tf.train.latest_checkpoint(job_dir), "global_step") == 200
    assert "test: accuracy" in done.stdout and os.listdir(os.path.join(job_dir, "export", "best"))


def test_truncated_shard_is_named(preprocessed, tmp_path):
    shard = sorted(tf.io.gfile.glob(layout.shard_pattern(preprocessed[1], layout.TRAIN)))[0]
    broken = tmp_path / "part-00000-of-00001.tfrecord.gz"
    data = gzip.decompress(open(shard, "rb").read())
    broken.write_bytes(gzip.compress(data[:-1]))
    with pytest.raises(ValueError, match=rf"{broken}: corrupt TFRecord shard: truncated record"):
        inputs.verify_shards(str(broken), 1)
    with pytest.raises(ValueError, match="examples, but the manifest says 5"):
        inputs.verify_shards(shard, 5)


def test_training_on_a_truncated_shard_names_the_file(preprocessed, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    shard = sorted((data_dir / layout.TRAIN).iterdir())[0]
    data = gzip.decompress(shard.read_bytes())
    shard.write_bytes(gzip.compress(data[:-1]))
    done = commands.run_module(
        "trainer.task", "--data-dir", str(data_dir), "--job-dir", str(tmp_path / "job")
    )
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1, done.stderr[-3000:]
    assert f"{shard}: corrupt TFRecord shard: truncated record" in errors[0]


def test_partial_exports_are_never_picked(tmp_path):
    from trainer import task

    base = tmp_path / "export"
    (base / "100").mkdir(parents=True)
    (base / "100" / "saved_model.pb").write_bytes(b"complete")
    (base / "temp-200").mkdir()  # a crash during export
    (base / "300").mkdir()  # a half-copied export (non-atomic rename on gs://)
    assert task.newest_export(str(base)) == str(base / "100")
    shutil.rmtree(base / "100")
    with pytest.raises(FileNotFoundError, match="no complete export"):
        task.newest_export(str(base))
