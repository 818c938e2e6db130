"""What every benchmark shares: timing, the machine's description, the data."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Callable

from pipeline import download

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
