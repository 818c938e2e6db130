"""Shared fixtures: quiet TensorFlow, tiny IDX datasets, one preprocessing run, one short training job."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402

from tests import idx_fixtures  # noqa: E402

N_TRAIN, N_TEST = 300, 60


@pytest.fixture
def idx_dir(tmp_path):
    """A tiny dataset: 300 gzip training images, 60 uncompressed test images."""
    return idx_fixtures.write_dataset(tmp_path / "idx", n_train=N_TRAIN, n_test=N_TEST)


@pytest.fixture(scope="session")
def preprocessed(tmp_path_factory):
    """One preprocessing run shared by the tests: (input dir, output dir, manifest).

    Tests must not modify it; copy it first.
    """
    from pipeline import preprocess

    base = tmp_path_factory.mktemp("preprocessed")
    input_dir = idx_fixtures.write_dataset(base / "idx", N_TRAIN, N_TEST)
    output_dir = str(base / "out")
    manifest = preprocess.run(
        ["--input-dir", str(input_dir), "--output-dir", output_dir, "--num-shards", "2"]
    )
    return input_dir, output_dir, manifest


@pytest.fixture(scope="session")
def trained(preprocessed, tmp_path_factory):
    """One short training job on `preprocessed`: (input dir, data dir, trainer.job.Result, HParams).

    30 steps of 16, a checkpoint, an evaluation and exports every 10 steps, step
    rates logged every 10. Tests must not modify it.
    """
    import shutil

    from trainer import hparams as hparams_lib
    from trainer import job

    input_dir, source_dir, _ = preprocessed
    base = tmp_path_factory.mktemp("trained")
    data_dir = str(base / "data")
    shutil.copytree(source_dir, data_dir)
    hparams = hparams_lib.HParams(
        train_steps=30, batch_size=16, save_checkpoints_steps=10, throttle_secs=0, log_step_count_steps=10
    )
    result = job.train(data_dir, str(base / "job"), hparams)
    return input_dir, data_dir, result, hparams
