"""Time to accuracy: the earlier default training job against the new default, in one run.

Both are `python -m trainer.task` runs, as a user types them, to the end of their
fixed schedules on the same preprocessed Fashion-MNIST, one after the other on
the same machine; each is timed from process start to exit, so start-up,
evaluations, exports and the final test evaluation count. "The earlier default" is
what the command did before this benchmark existed: the Deep MNIST `cnn` for 10
epochs of batch 100, Adam at 1e-3 with cosine decay, flips in training only, and
TensorFlow's own choice of CPU kernels (oneDNN off on AMD CPUs). The new default
is the command with no hyperparameter flags. Test accuracy is the test split's, on which no
schedule was chosen (schedules were chosen on the eval split); the new default
runs with several seeds and the earlier default more than once, and the medians are
reported, as the margins are thin.

`run_evaluations` measures what evaluating five times a job costs (issue 25): the
default job against the same job with the evaluation schedule before it (a
checkpoint every 1,000 steps, at most one evaluation a minute); target: at
least 5 evaluations in at most 1.10 of the time. It also counts the lines each
job prints.

`run_vgg` does the same for the `vgg` network: `trainer.task --model vgg` with
this round's schedule against the `vgg` settings before it (25 epochs of batch
100, Adam at 1e-3 with cosine decay, oneDNN off); the goal there is test
accuracy >= 0.94 in no more time than before. It takes about 100 minutes for one
seed on 2 cores, so it is one of `python -m bench --full`'s.
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
from schemas import jobdir

# The schedule (and kernel setting) every model had before this benchmark.
_EARLIER_SCHEDULE = (
    "--batch-size=100",
    "--learning-rate=0.001",
    "--warmup-epochs=0",
    "--label-smoothing=0",
    "--no-test-time-flips",
)
EARLIER_DEFAULT_FLAGS = ("--model=cnn", "--num-epochs=10", *_EARLIER_SCHEDULE)
EARLIER_DEFAULT_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0"}
TARGET_ACCURACY = 0.925
TARGET_TIME_RATIO = 1 / 3
EARLIER_VGG_FLAGS = ("--model=vgg", "--num-epochs=25", *_EARLIER_SCHEDULE)
VGG_TARGET_ACCURACY = 0.94
VGG_TARGET_TIME_RATIO = 1.0
# The evaluation schedule of the default job before issue 25, and what evaluating every epoch may cost.
EVALUATIONS_BEFORE_FLAGS = ("--save-checkpoints-steps=1000", "--throttle-secs=60")
EVALUATIONS_TARGET_TIME_RATIO = 1.10
EVALUATIONS_TARGET_POINTS = 5
_METRIC = re.compile(r"^(eval|test): .*\baccuracy ([0-9.]+)", re.MULTILINE)


def train(data_dir: str, job_dir: str, flags=(), env=None) -> dict:
    """Runs `python -m trainer.task` to the end; its wall time, final eval and test accuracy,
    evaluations (rows of the metrics history) and console lines.

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
        "console_lines": len((done.stdout + done.stderr).splitlines()),
        "evaluations": len(jobdir.read_metrics_history(job_dir)),
    }


def run(seeds: int = 3, input_dir: str = common.FASHION_MNIST_DIR) -> dict:
    """The new default with `seeds` seeds, the earlier default between them; medians and the time ratio.

    The earlier default runs after each of the new default's runs but the last (once
    when `seeds` is 1 or 2), so both medians see the same drift of the machine:
    the same command's wall time varies by up to 20% between runs on a 2-core VM.
    """
    return _compare((), EARLIER_DEFAULT_FLAGS, seeds, input_dir, TARGET_ACCURACY, TARGET_TIME_RATIO)


def run_vgg(seeds: int = 1, input_dir: str = common.FASHION_MNIST_DIR) -> dict:
    """`--model vgg` with the new schedule against the `vgg` settings before it, as `run` does."""
    return _compare(
        ("--model=vgg",), EARLIER_VGG_FLAGS, seeds, input_dir, VGG_TARGET_ACCURACY, VGG_TARGET_TIME_RATIO
    )


def run_evaluations(seeds: int = 3, input_dir: str = common.FASHION_MNIST_DIR) -> dict:
    """The default job (hparams.EVALUATIONS evaluations) against it with the evaluation schedule before
    issue 25 (EVALUATIONS_BEFORE_FLAGS), as `run` compares; with each job's evaluations and lines."""
    result = _compare(
        (), EVALUATIONS_BEFORE_FLAGS, seeds, input_dir, TARGET_ACCURACY, EVALUATIONS_TARGET_TIME_RATIO, env={}
    )
    for side in ("new_default", "earlier_default"):
        runs = result[side]["runs"]
        result[side]["evaluations"] = statistics.median(r["evaluations"] for r in runs)
        result[side]["console_lines"] = max(r["console_lines"] for r in runs)
    result["targets"]["evaluations"] = EVALUATIONS_TARGET_POINTS
    return result


def summary_evaluations(r: dict) -> str:
    """run_evaluations()'s result as a line of the benchmark table."""
    new, before = r["new_default"], r["earlier_default"]
    return (
        f"evaluations: {new['evaluations']:.0f} a job in {new['train_s']:.0f} s (test {new['test_accuracy']:.4f},"
        f" {new['console_lines']} lines) vs {before['evaluations']:.0f} in {before['train_s']:.0f} s (test"
        f" {before['test_accuracy']:.4f}, {before['console_lines']} lines) -> time ratio {r['time_ratio']:.3f}"
        f" (target <= {EVALUATIONS_TARGET_TIME_RATIO:.2f} with >= {EVALUATIONS_TARGET_POINTS} evaluations)"
    )


def _compare(new_flags, earlier_flags, seeds, input_dir, target_accuracy, target_ratio, env=None) -> dict:
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        job.run_preprocessing(PreprocessConfig(input_dir, data_dir))
        new, earlier = [], []
        for seed in range(seeds):
            job_dir = os.path.join(work, f"new-{seed}")
            new.append(train(data_dir, job_dir, [*new_flags, f"--seed={42 + seed}"]))
            if seed < max(1, seeds - 1):
                job_dir = os.path.join(work, f"earlier-{seed}")
                environment = EARLIER_DEFAULT_ENV if env is None else env
                earlier.append(train(data_dir, job_dir, earlier_flags, environment))
    new_default, earlier_default = _medians(new), _medians(earlier)
    return {
        "earlier_default": earlier_default,
        "new_default": new_default,
        "time_ratio": new_default["train_s"] / earlier_default["train_s"],
        "targets": {"test_accuracy": target_accuracy, "time_ratio": target_ratio},
    }


def _medians(runs: list[dict]) -> dict:
    medians = {
        key: statistics.median(r[key] for r in runs) for key in ("train_s", "test_accuracy", "eval_accuracy")
    }
    return {**medians, "runs": runs}


def summary(r: dict, label: str = "default") -> str:
    """run()'s (or run_vgg()'s, label "vgg") result as a line of the benchmark table."""
    earlier, new, targets = r["earlier_default"], r["new_default"], r["targets"]
    return (
        f"time to accuracy ({label}): new {new['train_s']:.0f} s, test {new['test_accuracy']:.4f}"
        f" (median of {len(new['runs'])} seeds) vs the earlier default's {earlier['train_s']:.0f} s,"
        f" test {earlier['test_accuracy']:.4f} (median of {len(earlier['runs'])}) -> time ratio"
        f" {r['time_ratio']:.2f} (target <= {targets['time_ratio']:.2f} at >= {targets['test_accuracy']})"
    )
