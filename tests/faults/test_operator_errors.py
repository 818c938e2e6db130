"""Operator errors: one clear line naming the problem, and a non-zero exit."""

import json
import os
import shutil

import pytest

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
    _fails_with_one_line(done, "holds checkpoints of model 'vgg', not 'cnn'")
