"""Scale: preprocessing 1,000,000 synthetic images, wall time and peak memory.

Writes an uncompressed IDX pair of 1,000,000 images (784 MB) plus a 10,000-image
test pair, and runs `python -m pipeline.preprocess` on it in a child process, then
on the real Fashion-MNIST the same way: the throughput ratio is big / Fashion-MNIST
examples/s; peak memory is the child's maximum resident set size (the in-process
runner keeps the whole job in that one process). Targets: peak < 2 GB, ratio >= 0.5.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench import common
from pipeline import idx

N_IMAGES = 1_000_000
N_TEST = 10_000
_CHUNK = 50_000


def write_synthetic(directory: str, n: int = N_IMAGES) -> None:
    """Uncompressed IDX files of random images and labels, written in chunks."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, count in (("train", n), ("t10k", N_TEST)):
        with open(os.path.join(directory, f"{stem}-images-idx3-ubyte"), "wb") as images:
            images.write(idx.encode_header((count, 28, 28)))
            for start in range(0, count, _CHUNK):
                images.write(
                    rng.integers(0, 256, (min(_CHUNK, count - start), 28, 28), dtype=np.uint8).tobytes()
                )
        idx.write_idx(
            os.path.join(directory, f"{stem}-labels-idx1-ubyte"), rng.integers(0, 10, count, dtype=np.uint8)
        )


def _preprocess(input_dir: str, output_dir: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in GB) of one preprocessing run in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline.preprocess", "--input-dir", input_dir, "--output-dir", output_dir],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024**2  # ru_maxrss is in KB on Linux


def run(input_dir: str = common.FASHION_MNIST_DIR, n: int = N_IMAGES) -> dict:
    with tempfile.TemporaryDirectory() as work:
        synthetic = os.path.join(work, "idx")
        write_synthetic(synthetic, n)
        small_s, small_gb = _preprocess(input_dir, os.path.join(work, "fashion"))
        big_s, big_gb = _preprocess(synthetic, os.path.join(work, "big"))
    small_rate, big_rate = 70_000 / small_s, (n + N_TEST) / big_s
    return {
        "images": n + N_TEST,
        "wall_s": big_s,
        "peak_rss_gb": big_gb,
        "examples_per_s": big_rate,
        "fashion_mnist_examples_per_s": small_rate,
        "fashion_mnist_peak_rss_gb": small_gb,
        "throughput_ratio": big_rate / small_rate,
    }
