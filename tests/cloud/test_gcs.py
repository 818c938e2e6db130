"""Every gs:// code path, run for real against a Cloud Storage emulator (tests/gcs_emulator.py).

The commands run as a user runs them, with gs:// inputs and outputs: Beam's gcsio
(the commit's object-by-object moves, --overwrite, recovery) and TensorFlow's GCS
filesystem (tf.Transform's directory rename, shard writing and hashing,
checkpoints, exports, SavedModel loading) each talk to the emulator over their own
protocol. Processes are killed at exact steps of the commit by holding one of their
requests in the emulator's proxy.
"""

import csv
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from common import files, idx
from common.errors import InputNotFoundError
from estimator import export_dirs
from schemas import features, jobdir, layout
from schemas import manifest as manifest_lib
from schemas.manifest import Manifest
from tests import commands, shards
from trainer import data, prediction

NUM_SHARDS = "2"  # as the `preprocessed` fixture's local run
_STEP = re.compile(r"loss = \S+, step = (\d+)")


def _upload(local_dir, url: str) -> None:
    for name in sorted(os.listdir(local_dir)):
        tf.io.gfile.copy(os.path.join(local_dir, name), f"{url}/{name}")


def _litter(names: list[str]) -> list[str]:
    return [n for n in names if layout.STAGING_INFIX in n or layout.REPLACED_INFIX in n]


def _killed_at_held_request(gcs, pattern: str, log_path, module: str, *args: str) -> None:
    """Runs a command until the emulator holds a request matching `pattern`, then SIGKILLs it there."""
    gcs.hold(pattern)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        )
        try:
            gcs.wait_held(process)
        except AssertionError as e:
            raise AssertionError(f"{e}; its output ends:\n{open(log_path).read()[-3000:]}") from None
        finally:
            process.kill()
            process.wait()
            gcs.release()


@pytest.fixture(scope="module")
def gcs_data(gcs, preprocessed):
    """The `preprocessed` fixture's inputs uploaded, and preprocessed again from and to gs://.

    Returns (gs:// input dir, gs:// output dir, the local output of the same inputs and flags).
    """
    input_dir, local_dir, _ = preprocessed
    raw, out = gcs.url("raw"), gcs.url("data")
    _upload(input_dir, raw)
    done = commands.run_module(
        "pipeline.preprocess", "--input-dir", raw, "--output-dir", out, "--num-shards", NUM_SHARDS
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return raw, out, local_dir


@pytest.mark.slow
def test_preprocessing_on_gcs_writes_what_a_local_run_writes_shard_for_shard(gcs, gcs_data):
    raw, out, local_dir = gcs_data
    for split in layout.SPLITS:
        remote, local = shards.read_shards(out, split), shards.read_shards(local_dir, split)
        assert len(remote) == len(local) == int(NUM_SHARDS)
        for remote_shard, local_shard in zip(remote, local, strict=True):
            for key in local_shard:
                np.testing.assert_array_equal(remote_shard[key], local_shard[key])
    remote_manifest = manifest_lib.check_data_dir(out, deep=True)  # every shard hashed and counted over gs://
    local_manifest = Manifest.read(local_dir)
    for split in layout.SPLITS:
        assert [(s.path, s.examples) for s in remote_manifest.shards(split)] == [
            (s.path, s.examples) for s in local_manifest.shards(split)
        ]
    assert {k: v["sha256"] for k, v in remote_manifest.inputs.items()} == {
        k: v["sha256"] for k, v in local_manifest.inputs.items()
    }
    assert all(v["path"].startswith(raw + "/") for v in remote_manifest.inputs.values())
    names = gcs.objects("data")  # data/, and any data.incomplete-*, data.replaced-*
    assert f"{out}/{layout.MANIFEST_FILE}" in names
    assert _litter(names) == [] and not [n for n in names if n.startswith(f"{out}/tmp/")]


def test_transform_output_on_gcs_loads_and_transforms_as_the_local_one(gcs_data):
    _, out, local_dir = gcs_data
    remote, local = tft.TFTransformOutput(out), tft.TFTransformOutput(local_dir)
    assert remote.transformed_feature_spec() == local.transformed_feature_spec()
    probe = shards.raw_examples(np.arange(3 * features.IMAGE_PIXELS).reshape(3, -1) % 256)
    raw = tf.io.parse_example(probe, features.serving_raw_feature_spec())
    transformed = [t.transform_raw_features(raw)[features.IMAGE_KEY].numpy() for t in (remote, local)]
    np.testing.assert_array_equal(transformed[0], transformed[1])


@pytest.mark.slow
def test_a_run_killed_while_committing_to_gcs_leaves_no_manifest(gcs, gcs_data, tmp_path):
    raw, _, _ = gcs_data
    out = gcs.url("killed")
    _killed_at_held_request(
        gcs,
        r"\.incomplete-\w+%2Fmanifest\.json/copyTo/",  # the commit's last move: the manifest's
        tmp_path / "killed.log",
        "pipeline.preprocess",
        *("--input-dir", raw, "--output-dir", out, "--num-shards", NUM_SHARDS),
    )
    names = gcs.objects("killed/")
    assert f"{out}/train/part-00000-of-00002.tfrecord.gz" in names  # killed in the middle of the commit
    assert f"{out}/{layout.MANIFEST_FILE}" not in names
    with pytest.raises(InputNotFoundError, match="no manifest.*a commit was interrupted half way"):
        data.open_data_dir(out)
    # The partial output is this pipeline's (its commit marker says so): --overwrite replaces it.
    args = ["--input-dir", raw, "--output-dir", out, "--num-shards", NUM_SHARDS]
    refused = commands.run_module("pipeline.preprocess", *args)
    assert refused.returncode == 1 and "pass --overwrite" in commands.error_lines(refused)[0]
    done = commands.run_module("pipeline.preprocess", *args, "--overwrite")
    assert done.returncode == 0, done.stderr[-3000:]
    assert manifest_lib.check_data_dir(out).splits[layout.TRAIN].examples == 270
    assert f"{out}/{layout.COMMIT_MARKER}" not in gcs.objects("killed/")


@pytest.mark.slow
def test_an_interrupted_overwrite_on_gcs_is_restored_by_the_next_run_and_then_replaced(
    gcs, gcs_data, tmp_path
):
    raw, earlier_output, _ = gcs_data
    out = gcs.url("overwritten")
    files.copy_tree(earlier_output, out)
    earlier = Manifest.read(out)
    args = ["--input-dir", raw, "--output-dir", out, "--num-shards", NUM_SHARDS]

    # Killed after the old output was copied aside and deleted, before any new file was moved in.
    _killed_at_held_request(
        gcs,
        r"\.incomplete-\w+%2F\S+/copyTo/",
        tmp_path / "killed.log",
        "pipeline.preprocess",
        *args,
        "--overwrite",
        "--eval-fraction",
        "0.25",
    )
    names = gcs.objects("overwritten")
    assert [n for n in names if n.startswith(out + "/")] == [f"{out}/{layout.COMMIT_MARKER}"]
    aside = [n for n in names if re.fullmatch(re.escape(out) + r"\.replaced-\w+/manifest\.json", n)]
    assert len(aside) == 1
    staged = {n.split("/")[3] for n in names if layout.STAGING_INFIX in n}  # the killed run's staging dir
    with pytest.raises(InputNotFoundError, match=re.escape(os.path.dirname(aside[0])) + " holds the output"):
        Manifest.read(out)

    restored = commands.run_module("pipeline.preprocess", *args)  # the next run, without --overwrite
    errors = commands.error_lines(restored)
    assert restored.returncode == 1 and len(errors) == 1 and "pass --overwrite" in errors[0], restored.stderr
    assert "restoring" in restored.stderr
    assert Manifest.read(out) == earlier
    manifest_lib.check_data_dir(out, deep=True)
    assert not [n for n in gcs.objects("overwritten") if layout.REPLACED_INFIX in n]

    replaced = commands.run_module("pipeline.preprocess", *args, "--overwrite", "--eval-fraction", "0.25")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert "staging directories of earlier runs that did not finish" in replaced.stderr
    now = manifest_lib.check_data_dir(out, deep=True)
    assert now.identity != earlier.identity and now.splits[layout.EVAL].examples == 75
    names = gcs.objects("overwritten")
    assert {n.split("/")[3] for n in _litter(names)} == staged  # only the killed run's staging dir


@pytest.fixture(scope="module")
def gcs_job(gcs, gcs_data):
    """trainer.task on the gs:// data into a gs:// job dir: 4 steps, then the same command to step 8.

    Returns (job dir, first run, second run).
    """
    _, out, _ = gcs_data
    job_dir = gcs.url("job")
    args = ["--data-dir", out, "--job-dir", job_dir, "--batch-size", "16", "--save-checkpoints-steps", "4"]
    args += ["--keep-checkpoint-max", "2", "--throttle-secs", "0", "--log-steps", "1"]
    args += ["-v"]  # tf.estimator's `loss = …, step = …` lines say which steps ran
    runs = []
    for steps in ("4", "8"):
        done = commands.run_module("trainer.task", *args, "--train-steps", steps)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(done)
    return job_dir, *runs


@pytest.mark.slow
def test_training_on_gcs_resumes_from_its_checkpoint(gcs, gcs_job):
    job_dir, first, second = gcs_job
    assert [int(s) for s in _STEP.findall(first.stderr)] == [1, 2, 3, 4]
    assert [int(s) for s in _STEP.findall(second.stderr)] == [5, 6, 7, 8]  # continued from model.ckpt-4
    assert tf.train.latest_checkpoint(job_dir) == f"{job_dir}/model.ckpt-8"
    assert tf.train.load_variable(f"{job_dir}/model.ckpt-8", "global_step") == 8
    kept = {n.rsplit("/", 1)[1].split(".")[1] for n in gcs.objects("job/model.ckpt-")}
    assert kept == {"ckpt-4", "ckpt-8"}  # --keep-checkpoint-max 2: model.ckpt-0 deleted from gs://


@pytest.mark.slow
def test_training_on_gcs_exports_complete_models(gcs, gcs_job):
    job_dir, _, second = gcs_job
    latest = export_dirs.complete_exports(jobdir.export_base(job_dir, jobdir.LATEST_EXPORTER))
    assert [export_dirs.export_global_step(e) for e in latest] == [4, 8]
    best = export_dirs.newest_export(jobdir.export_base(job_dir, jobdir.BEST_EXPORTER))
    assert f"exported model: {best}" in second.stdout
    assert not [n for n in gcs.objects("job/export/") if f"/{export_dirs.TEMP_PREFIX}" in n]


@pytest.mark.slow
def test_predict_reads_a_gcs_export_and_writes_to_gcs(gcs, gcs_data, gcs_job):
    raw, _, _ = gcs_data
    job_dir, _, _ = gcs_job
    images, labels = f"{raw}/t10k-images-idx3-ubyte", f"{raw}/t10k-labels-idx1-ubyte"
    output = gcs.url("predictions", "test.csv")
    done = commands.run_module(
        "trainer.predict",
        *("--saved-model", jobdir.export_base(job_dir, jobdir.BEST_EXPORTER), "--idx-images", images),
        *("--idx-labels", labels, "--output", output),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    export = export_dirs.newest_export(jobdir.export_base(job_dir, jobdir.BEST_EXPORTER))
    assert f"model: {export}" in done.stdout and "accuracy: " in done.stdout
    with tf.io.gfile.GFile(output) as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    pixels = idx.read_idx(images, idx.IMAGES_NDIM)
    served = prediction.load(export).signatures[prediction.RAW_BYTES_SIGNATURE](
        image_raw=tf.constant([image.tobytes() for image in pixels])
    )
    assert [int(row["class"]) for row in rows] == served["classes"].numpy().tolist()
    assert [int(row["label"]) for row in rows] == idx.read_idx(labels, idx.LABELS_NDIM).tolist()
    assert gcs.url("predictions", "confusion_matrix.png") in gcs.objects("predictions/")
