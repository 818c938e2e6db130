"""Time to accuracy: today's default training job against the new default, in one run.

Both are `python -m trainer.task` runs, as a user types them, to the end of their
fixed schedules on the same preprocessed Fashion-MNIST, one after the other on
the same machine; each is timed from process start to exit, so start-up,
evaluations, exports and the final test evaluation count. "Today's default" is
what the command did before this benchmark existed: the Deep MNIST `cnn` for 10
epochs of batch 100, Adam at 1e-3 with cosine decay, flips in training only, and
TensorFlow's own choice of CPU kernels (oneDNN off on AMD CPUs). The new default
is the command with no hyperparameter flags. Test accuracy is the test split's, on which no
schedule was chosen (schedules were chosen on the eval split); the new default
runs with several seeds and the medians are reported, as its margin is thin.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from bench import common
from pipeline import job
from pipeline.config import PreprocessConfig

# The flags (and kernel setting) that reproduce the default before this benchmark.
TODAYS_DEFAULT_FLAGS = (
    "--model=cnn",
    "--num-epochs=10",
    "--batch-size=100",
    "--learning-rate=0.001",
    "--warmup-epochs=0",
    "--label-smoothing=0",
    "--no-test-time-flips",
)
TODAYS_DEFAULT_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0"}
TARGET_ACCURACY = 0.925
TARGET_TIME_RATIO = 1 / 3
_METRIC = re.compile(r"^(eval|test): .*\baccuracy ([0-9.]+)", re.MULTILINE)


def train(data_dir: str, job_dir: str, flags=(), env=None) -> dict:
    """Runs `python -m trainer.task` to the end; its wall time and final eval and test accuracy.

    Raises:
      subprocess.CalledProcessError: the job failed (its output is in the exception).
    """
    environment = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    environment.update(env or {})
    command = [sys.executable, "-m", "trainer.task", f"--data-dir={data_dir}", f"--job-dir={job_dir}", *flags]
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    accuracy = dict(_METRIC.findall(done.stdout))
    return {
        "train_s": round(seconds, 1),
        "eval_accuracy": float(accuracy["eval"]),
        "test_accuracy": float(accuracy["test"]),
    }


def run(seeds: int = 3, input_dir: str = common.FASHION_MNIST_DIR) -> dict:
    """Today's default once, the new default with `seeds` seeds (interleaved); medians and the time ratio."""
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        job.run_preprocessing(PreprocessConfig(input_dir, data_dir))
        new = []
        for seed in range(seeds):
            new.append(train(data_dir, os.path.join(work, f"new-{seed}"), [f"--seed={42 + seed}"]))
            if seed == 0:  # between the new default's runs, so a drifting machine shows in both
                today = train(data_dir, os.path.join(work, "today"), TODAYS_DEFAULT_FLAGS, TODAYS_DEFAULT_ENV)
    new_default = {
        "train_s": statistics.median(r["train_s"] for r in new),
        "test_accuracy": statistics.median(r["test_accuracy"] for r in new),
        "eval_accuracy": statistics.median(r["eval_accuracy"] for r in new),
        "runs": new,
    }
    return {
        "todays_default": today,
        "new_default": new_default,
        "time_ratio": new_default["train_s"] / today["train_s"],
        "targets": {"test_accuracy": TARGET_ACCURACY, "time_ratio": TARGET_TIME_RATIO},
    }
