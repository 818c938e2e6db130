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


def test_training_and_evaluation_scalars(tensorboard, trained):
    tags = _get(tensorboard, "/data/plugin/scalars/tags")
    assert {"loss", "accuracy", "global_step/sec", "learning_rate"} <= set(tags["."])
    assert {"accuracy", "loss", "mean_per_class_accuracy"} <= set(tags["eval"])
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
