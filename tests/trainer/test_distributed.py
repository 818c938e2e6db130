"""Distributed training from TF_CONFIG, on a real local cluster (processes on 127.0.0.1).

chief + worker + ps (+ evaluator) train to max_steps; a killed worker does not stop
the chief; every process exits within the bound.
"""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import estimator as tfe
from estimator import distributed
from trainer import local_cluster

pytestmark = pytest.mark.slow
BOUND_SECS = 240


@pytest.fixture
def data_dir(preprocessed, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(preprocessed[1], target)
    return str(target)


def _task_args(data_dir, job_dir, steps):
    return [
        "--data-dir", data_dir, "--job-dir", job_dir, "--train-steps", str(steps), "--batch-size", "16",
        "--save-checkpoints-steps", "20", "--throttle-secs", "0", "--log-steps", "5",
        "-v",  # tf.estimator's log: its `loss = …, step = …` and `Saving dict …` lines are read below
    ]  # fmt: skip


def _steps_logged(output, task):
    return [int(s) for s in re.findall(rf"^\[{task}\] .*loss = \S+, step = (\d+)", output, re.MULTILINE)]


def test_chief_worker_ps_and_evaluator_train_to_max_steps(data_dir, tmp_path):
    job_dir = str(tmp_path / "job")
    out = io.StringIO()
    start = time.time()
    statuses = local_cluster.run_cluster(
        _task_args(data_dir, job_dir, 120), workers=1, ps=1, evaluator=True, timeout=BOUND_SECS, out=out
    )
    output = out.getvalue()
    assert statuses == {"ps0": 0, "chief0": 0, "worker0": 0, "evaluator0": 0}, output[-5000:]
    assert time.time() - start < BOUND_SECS
    # Replicas step asynchronously: each may finish a step already under way when max_steps is reached.
    assert 120 <= tf.train.load_variable(tf.train.latest_checkpoint(job_dir), "global_step") <= 122
    assert _steps_logged(output, "chief0") and _steps_logged(output, "worker0"), output[-5000:]
    assert re.search(r"^\[evaluator0\] .*Saving dict for global step", output, re.MULTILINE), output[-5000:]
    assert os.listdir(os.path.join(job_dir, "export", "latest"))
    assert re.search(r"^\[chief0\] test: accuracy", output, re.MULTILINE)


def test_a_killed_worker_does_not_stop_the_chief(data_dir, tmp_path):
    job_dir = str(tmp_path / "job")
    configs = local_cluster.tf_configs(workers=1, ps=1, evaluator=False)
    logs, processes = {}, {}
    for name, config in configs.items():
        logs[name] = open(tmp_path / f"{name}.log", "w+")
        processes[name] = subprocess.Popen(
            [sys.executable, "-m", "trainer.task", *_task_args(data_dir, job_dir, 400)],
            env=dict(os.environ, TF_CONFIG=json.dumps(config), PYTHONUNBUFFERED="1"),
            stdout=logs[name],
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.time() + BOUND_SECS
        while not re.search(r"loss = \S+, step = \d+", (tmp_path / "worker0.log").read_text()):  # training
            assert time.time() < deadline and processes["worker0"].poll() is None, (
                tmp_path / "worker0.log"
            ).read_text()
            time.sleep(0.2)
        processes["worker0"].send_signal(signal.SIGKILL)
        for name in ("chief0", "ps0"):
            assert processes[name].wait(timeout=max(1, deadline - time.time())) == 0, (
                tmp_path / f"{name}.log"
            ).read_text()
    finally:
        for p in processes.values():
            if p.poll() is None:
                p.kill()
    assert 400 <= tf.train.load_variable(tf.train.latest_checkpoint(job_dir), "global_step") <= 402
    assert "workers [1] did not report the end of training" in (tmp_path / "ps0.log").read_text()


def test_cluster_without_ps_is_refused(monkeypatch):
    cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}}))
    est = tfe.Estimator(lambda features: None, config=tfe.RunConfig(save_checkpoints_steps=10))
    spec = tfe.TrainSpec(lambda: None, max_steps=1), tfe.EvalSpec(lambda: None)
    with pytest.raises(ValueError, match="needs at least one ps"):
        tfe.train_and_evaluate(est, *spec)


def test_device_filters_isolate_workers(monkeypatch):
    cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    proto = distributed.session_config(tfe.RunConfig())
    assert list(proto.device_filters) == ["/job:ps", "/job:worker/task:0"]
