"""Shared fixtures: quiet TensorFlow, tiny IDX datasets written per test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tests import idx_fixtures  # noqa: E402


@pytest.fixture
def idx_dir(tmp_path):
    """A tiny dataset: 300 gzip training images, 60 uncompressed test images."""
    return idx_fixtures.write_dataset(tmp_path / "idx", n_train=300, n_test=60)
