"""TensorBoard as a user opens it: the real `tensorboard` over a job dir, read through its HTTP data API."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from common.net import free_ports

pytestmark = pytest.mark.slow
BOUND_SECS = 90


@pytest.fixture(scope="module")
def tensorboard(trained):
    """A tensorboard serving the trained job dir on a loopback port; yields its base URL."""
    job_dir = trained[2].job_dir
    port = free_ports()[0]
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    process = subprocess.Popen(
        [
            tensorboard,
            "--logdir",
            job_dir,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + BOUND_SECS
        while True:
            try:
                runs = _get(url, "/data/runs")
                if {"eval", "eval_test"} <= set(runs) and "." in runs:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert process.poll() is None and time.time() < deadline, "tensorboard did not serve the runs"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str, path: str, **query):
    full = url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    with urllib.request.urlopen(full, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, path: str, body: dict):
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_training_and_evaluation_scalars(tensorboard, trained):
    tags = _get(tensorboard, "/data/plugin/scalars/tags")
    assert {"loss", "accuracy", "global_step/sec", "learning_rate", "cross_entropy"} <= set(tags["."])
    assert {"accuracy", "loss", "mean_per_class_accuracy", "cross_entropy"} <= set(tags["eval"])
    assert {"accuracy", "loss"} <= set(tags["eval_test"])
    steps = [
        step for _, step, _ in _get(tensorboard, "/data/plugin/scalars/scalars", run="eval", tag="accuracy")
    ]
    assert steps == [10, 20, 30]  # an evaluation after each checkpoint
    (final,) = _get(tensorboard, "/data/plugin/scalars/scalars", run="eval_test", tag="accuracy")
    assert final[1] == 30 and final[2] == pytest.approx(trained[2].test["accuracy"], abs=1e-6)
    rates = _get(tensorboard, "/data/plugin/scalars/scalars", run=".", tag="global_step/sec")
    assert rates and all(value > 0 for _, _, value in rates)


def test_image_summaries(tensorboard):
    tags = _get(tensorboard, "/data/plugin/images/tags")
    images = sorted(t for t in tags["."] if t.startswith("images/"))
    assert len(images) == 4  # model_fn's image summary: max_outputs=4
    (entry, *_) = _get(tensorboard, "/data/plugin/images/images", run=".", tag=images[0])
    with urllib.request.urlopen(
        tensorboard + "/data/plugin/images/individualImage?" + entry["query"]
    ) as image:
        assert image.read(8) == b"\x89PNG\r\n\x1a\n"  # the 28x28 training images, as TensorBoard shows them


def _png(tensorboard: str, run: str, tag: str) -> bytes:
    (entry, *_) = _get(tensorboard, "/data/plugin/images/images", run=run, tag=tag)
    with urllib.request.urlopen(
        tensorboard + "/data/plugin/images/individualImage?" + entry["query"]
    ) as image:
        return image.read()


def test_evaluations_show_the_confusion_matrix_and_the_mistakes(tensorboard):
    tags = _get(tensorboard, "/data/plugin/images/tags")["eval"]
    for name in ("confusion_matrix", "mistakes"):
        (tag,) = [t for t in tags if t.startswith(name + "/")]
        steps = [e["step"] for e in _get(tensorboard, "/data/plugin/images/images", run="eval", tag=tag)]
        assert steps == [10, 20, 30]  # one picture per evaluation
        assert _png(tensorboard, "eval", tag)[:8] == b"\x89PNG\r\n\x1a\n"


def test_hparams_dashboard_shows_the_run_and_its_final_metrics(tensorboard, trained):
    hparams = trained[3]
    experiment = _post(tensorboard, "/data/plugin/hparams/experiment", {"experimentName": ""})
    names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"learning_rate", "batch_size", "model", "train_steps", "decay_steps", "warmup_steps"} <= names
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert {"accuracy", "cross_entropy", "loss"} <= metrics
    groups = _post(
        tensorboard,
        "/data/plugin/hparams/session_groups",
        {"experimentName": "", "startIndex": 0, "sliceSize": 10, "allowedStatuses": ["STATUS_SUCCESS"]},
    )
    (group,) = groups["sessionGroups"]
    assert group["hparams"]["learning_rate"] == pytest.approx(hparams.learning_rate)
    assert group["hparams"]["train_steps"] == 30 and group["hparams"]["model"] == hparams.model
    assert [session["name"] for session in group["sessions"]] == ["eval"]  # the run of its metrics
    accuracy = [m for m in group["metricValues"] if m["name"]["tag"] == "accuracy"]
    assert accuracy[0]["value"] == pytest.approx(trained[2].eval["accuracy"], abs=1e-6)
    assert accuracy[0]["trainingStep"] == 30
