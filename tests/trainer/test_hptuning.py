"""Hyperparameter tuning as Vertex AI runs a trial: the study config fits the trainer, the metric is reported."""

import json
import os
import pathlib
import shutil

import pytest
import yaml

from tests import commands
from trainer import task, vertex

CONFIG = pathlib.Path(__file__).resolve().parents[2] / "docs" / "hptuning.yaml"


def test_the_documented_study_fits_the_trainers_flags():
    spec = yaml.safe_load(CONFIG.read_text())
    (metric,) = spec["studySpec"]["metrics"]
    assert metric == {"metricId": vertex.HPTUNE_METRIC, "goal": "MAXIMIZE"}
    (pool,) = spec["trialJobSpec"]["workerPoolSpecs"]
    assert pool["pythonPackageSpec"]["pythonModule"] == "trainer.task"
    for parameter in spec["studySpec"]["parameters"]:
        values = parameter.get("discreteValueSpec", {}).get("values") or [
            parameter["doubleValueSpec"]["minValue"],
            parameter["doubleValueSpec"]["maxValue"],
        ]
        for value in values:  # Vertex AI passes each as --<parameterId>=<value>
            _, hparams = task.parse_args(
                [*pool["pythonPackageSpec"]["args"], f"--{parameter['parameterId']}={value}"]
            )
            assert getattr(hparams, parameter["parameterId"].replace("-", "_")) == pytest.approx(value)


@pytest.mark.slow
def test_a_trial_gets_its_own_job_dir_and_reports_the_eval_accuracy(preprocessed, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    metric_file = tmp_path / "hypertune" / "output.metrics"
    monkeypatch.setenv(vertex.ENV_TRIAL_ID, "7")
    monkeypatch.setenv(vertex.ENV_METRIC_FILE, str(metric_file))
    done = commands.run_module(
        "trainer.task", "--data-dir", str(data_dir), "--job-dir", str(tmp_path / "tuning"),
        "--train-steps", "4", "--batch-size", "16", "--save-checkpoints-steps", "4",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert os.listdir(tmp_path / "tuning") == ["7"]
    (report,) = [json.loads(line) for line in metric_file.read_text().splitlines()]
    assert report["trial"] == "7" and report["global_step"] == "4"
    assert f"eval: {vertex.HPTUNE_METRIC} {float(report[vertex.HPTUNE_METRIC]):.4f}" in done.stdout
