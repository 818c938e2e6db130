"""Scale: preprocessing 1,000,000 synthetic images, wall time and peak memory.

Writes an uncompressed IDX pair of 1,000,000 images (784 MB) plus a 10,000-image
test pair, and runs `python -m pipeline.preprocess` on it in a child process, then
on the real Fashion-MNIST the same way: the throughput ratio is big / Fashion-MNIST
examples/s. Peak memory is the largest sum of resident set sizes over the child's
whole process tree (psutil, sampled every 0.1 s; worker processes count too).
Targets: peak < 2 GB, ratio >= 0.5.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import psutil

from bench import common
from common import idx

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


def tree_rss(process: psutil.Process) -> int:
    """Bytes resident in `process` and all its descendants (0 once it has exited)."""
    total = 0
    try:
        for member in [process, *process.children(recursive=True)]:
            total += member.memory_info().rss
    except psutil.NoSuchProcess:
        pass  # a member exited between listing and reading: sampled next time
    return total


def _preprocess(input_dir: str, output_dir: str, *beam_args: str) -> tuple[float, float]:
    """(wall seconds, peak RSS of the process tree in GB) of one preprocessing run."""
    command = [
        sys.executable,
        "-m",
        "pipeline.preprocess",
        "--input-dir",
        input_dir,
        "--output-dir",
        output_dir,
    ]
    start = time.perf_counter()
    child = psutil.Popen(
        [*command, *beam_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(child))
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {child.returncode}")
    return seconds, peak / 1024**3


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


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"scale: {r['images']:,} images in {r['wall_s']:.0f} s, peak RSS {r['peak_rss_gb']:.2f} GB (target < 2),"
        f" {r['examples_per_s']:,.0f} ex/s vs Fashion-MNIST {r['fashion_mnist_examples_per_s']:,.0f}"
        f" -> ratio {r['throughput_ratio']:.2f} (target >= 0.5)"
    )
