"""What every benchmark shares: timing, the machine's description, the data."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from common import idx
from pipeline import download

TRAIN_IMAGES = 12_800  # images the training-throughput benchmarks cycle through
# Real Fashion-MNIST: where Debian's package puts it (pipeline/download.py knows), or $FASHION_MNIST_DIR.
FASHION_MNIST_DIR = os.environ.get("FASHION_MNIST_DIR") or download.DATASETS["fashion_mnist"].system_dirs[0]


@dataclasses.dataclass
class Timing:
    """Wall times in seconds of repeated runs of one thing."""

    name: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def time_runs(name: str, fn: Callable[[], object], repeats: int) -> Timing:
    """Runs `fn` `repeats` times and returns the wall time of each run."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return Timing(name, seconds)


def machine() -> dict[str, str]:
    """Cores, CPU model and the stack's versions, for the results table."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cores": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version()}
    for dist in ("tensorflow", "tensorflow-transform", "apache-beam", "tfx-bsl", "numpy"):
        info[dist] = importlib.metadata.version(dist)
    return info


def save_images(path: str, n: int = TRAIN_IMAGES, input_dir: str = FASHION_MNIST_DIR) -> str:
    """Saves the first n Fashion-MNIST training images as a tf.data dataset (`Dataset.save`); returns `path`.

    Elements: (float32 [784] in [0, 1], int64 label). The training benchmarks read
    it back with `image_batches`, the same way in graph mode (Estimator) and eagerly
    (Keras). Arrays given to `Dataset.from_tensor_slices` in graph mode would become
    graph constants, written into graph.pbtxt and every checkpoint's .meta.
    """
    images = idx.read_idx(os.path.join(input_dir, "train-images-idx3-ubyte.gz"), idx.IMAGES_NDIM)[:n]
    labels = idx.read_idx(os.path.join(input_dir, "train-labels-idx1-ubyte.gz"), idx.LABELS_NDIM)[:n]
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int64))).save(path)
    return path


def image_batches(path: str, batch_size: int, key: str | None = None) -> tf.data.Dataset:
    """Endless shuffled batches of a `save_images` dataset, held in memory after the first pass.

    Elements: (images [batch_size, 784], labels [batch_size]), or ({key: images}, labels) with `key`.
    """
    data = tf.data.Dataset.load(path).cache()
    data = data.shuffle(data.cardinality(), seed=0).repeat().batch(batch_size, drop_remainder=True)
    if key:
        data = data.map(lambda x, y: ({key: x}, y))
    return data.prefetch(tf.data.AUTOTUNE)


class StepTimer(tf.compat.v1.train.SessionRunHook):
    """The wall time of every training step after the first `warmup`, in seconds.

    A step's time runs from one `after_run` to the next, so it includes every
    other hook's work for that step (summaries, logging) as well as the session run.
    `durations[i]` is the step that takes the global step of a fresh model_dir to
    `warmup + i + 1`.
    """

    def __init__(self, warmup: int):
        self._warmup = warmup
        self._count = 0
        self._last = None
        self.durations: list[float] = []

    def after_run(self, run_context, run_values):
        now = time.perf_counter()
        self._count += 1
        if self._count > self._warmup:
            self.durations.append(now - self._last)
        self._last = now

    def examples_per_sec(self, batch_size: int) -> float:
        return batch_size * len(self.durations) / sum(self.durations)
