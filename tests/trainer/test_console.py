"""What a user sees running the trainer: a short console, the job dir's records of the run."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from common import console
from schemas import jobdir

pytestmark = pytest.mark.slow
BUDGET = 60  # lines for training and evaluation (issue 25)
NOISE = (
    "absl::InitializeLog",  # absl's pre-init banner
    "I0000 ",  # TensorFlow's C++ INFO lines
    "Using config:",  # the RunConfig dump
    "Evaluation [",  # one line per evaluation batch
    "Instructions for updating",  # TensorFlow's notices about its own internals
    "is not available",  # optional libraries (struct2tensor, ...)
    "Saving dict for global step",  # tf.estimator's INFO log: -v
)


@pytest.fixture(scope="module")
def short_job(preprocessed, tmp_path_factory):
    """`python -m trainer.task` as a user runs it (no TF_CPP_MIN_LOG_LEVEL set): 300 steps,
    a checkpoint every 100. Returns (finished process, job dir)."""
    base = tmp_path_factory.mktemp("console")
    data_dir = str(base / "data")
    shutil.copytree(preprocessed[1], data_dir)
    job_dir = str(base / "job")
    env = {k: v for k, v in os.environ.items() if k != console.CPP_LOG_LEVEL}
    args = ["--data-dir", data_dir, "--job-dir", job_dir, "--train-steps", "300", "--batch-size", "16"]
    done = subprocess.run(
        [sys.executable, "-m", "trainer.task", *args, "--save-checkpoints-steps", "100"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done, job_dir


def test_a_300_step_job_prints_at_most_60_lines_and_no_noise(short_job):
    done, _ = short_job
    lines = (done.stdout + done.stderr).splitlines()
    assert len(lines) <= BUDGET, "\n".join(lines)
    for noise in NOISE:
        assert not [line for line in lines if noise in line], noise
    if not console.has_nvidia_driver():
        assert not [line for line in lines if "cuInit" in line]
    progress = [line for line in lines if " trainer: epoch " in line]
    assert progress and all("examples/s" in line and "ETA" in line for line in progress)
    assert "step 300/300" in progress[-1]
    evaluations = [line for line in lines if " trainer: eval " in line]
    assert [e.split("step ")[1].split(":")[0] for e in evaluations] == ["100", "200", "300"]
    assert any(line.startswith("test: accuracy") for line in lines)


def test_one_evaluation_per_checkpoint_in_the_metrics_history(short_job):
    _, job_dir = short_job
    rows = jobdir.read_metrics_history(job_dir)
    assert [row["step"] for row in rows] == [100, 200, 300]
    assert all(0 <= row["accuracy"] <= 1 and row["loss"] > 0 for row in rows)
    assert rows[0]["epoch"] == pytest.approx(100 * 16 / 270, abs=1e-3)  # 270 train examples


def test_hparams_json_holds_the_resolved_values(short_job):
    _, job_dir = short_job
    with open(jobdir.hparams_path(job_dir)) as f:
        record = json.load(f)
    assert record["train_steps"] == 300 and record["num_epochs"] == pytest.approx(300 * 16 / 270, abs=1e-3)
    assert record["augment"] is True and record["test_time_flips"] is True  # fashion_mnist, the default
    assert record["eval_steps"] == 2  # 30 eval examples in batches of 16
    assert record["save_checkpoints_steps"] == 100
    assert record["decay_steps"] == 300 and record["warmup_steps"] == round(0.3 * 270 / 16)
    assert None not in record.values()
    environment = record["environment"]
    assert environment["packages"]["tensorflow"].startswith("2.21")
    assert environment["cpu"] and environment["cpu_count"] >= 1 and isinstance(environment["gpus"], list)
