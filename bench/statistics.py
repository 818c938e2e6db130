"""Statistics and duplicate search: their share of the preprocessing time on Fashion-MNIST.

Runs pipeline.preprocess on the real Fashion-MNIST files with statistics, the
duplicate search and the report (the default) and with `--no-statistics --dedup
off`, alternately, in this process. The cost is the median of the paired
differences (each "with" run minus the "without" run just before it: a drift in
the machine's speed between pairs cancels out) over the median "without" time,
in wall time and in CPU time (user + system: on a shared machine, less sensitive
to other work); the difference of the medians is reported beside it. Target:
<= 0.10.

Each variant runs once untimed first (imports: matplotlib, Pillow, the sketches),
and Python's garbage is collected before each timed run: a full collection
(0.4-0.5 s with TensorFlow's objects) otherwise falls on whichever run crosses
its threshold, paying for the garbage of all the runs before it. The load
average at the start and end says how busy the machine was.
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import tempfile
import time
from statistics import median

from bench import common
from pipeline import job
from pipeline.config import DEDUP_OFF, PreprocessConfig


def run(repeats: int = 2, input_dir: str = common.FASHION_MNIST_DIR, beam_args: tuple = ()) -> dict:
    work = tempfile.mkdtemp(prefix="bench-statistics-")
    try:
        leakage = {}

        def with_statistics():
            config = PreprocessConfig(input_dir, os.path.join(work, "on"), overwrite=True)
            leakage.update(job.run_preprocessing(config, list(beam_args)).leakage)

        def without():
            config = PreprocessConfig(
                input_dir, os.path.join(work, "off"), overwrite=True, statistics=False, dedup=DEDUP_OFF
            )
            job.run_preprocessing(config, list(beam_args))

        timings = {"without": common.Timing("without", []), "with": common.Timing("with", [])}
        cpu = {"without": common.Timing("without", []), "with": common.Timing("with", [])}
        load = [os.getloadavg()[0]]
        without(), with_statistics()
        for _ in range(repeats):  # alternate, so drift in the machine's speed hits both alike
            for name, fn in (("without", without), ("with", with_statistics)):
                gc.collect()
                start, start_cpu = time.perf_counter(), _cpu_seconds()
                fn()
                timings[name].seconds.append(time.perf_counter() - start)
                cpu[name].seconds.append(_cpu_seconds() - start_cpu)
        load.append(os.getloadavg()[0])
        base, full = timings["without"].median, timings["with"].median
        return {
            "load_average": [round(x, 2) for x in load],
            "without_s": base,
            "with_s": full,
            "cost_ratio": _paired_cost(timings),
            "cpu_cost_ratio": _paired_cost(cpu),
            "medians_cost_ratio": (full - base) / base,
            "cpu_runs": {k: [round(s, 2) for s in t.seconds] for k, t in cpu.items()},
            "leakage": leakage,
            "runs": {k: [round(s, 2) for s in t.seconds] for k, t in timings.items()},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _paired_cost(timings: dict) -> float:
    """Median of ("with" - "without") run by run, over the median "without" time."""
    pairs = zip(timings["with"].seconds, timings["without"].seconds, strict=True)
    return median(w - o for w, o in pairs) / timings["without"].median


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process so far: less sensitive than wall time to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"statistics + duplicate search: preprocessing {r['with_s']:.1f} s with, {r['without_s']:.1f} s without"
        f" -> cost {100 * r['cost_ratio']:.1f}% of the wall time, {100 * r['cpu_cost_ratio']:.1f}% of the CPU"
        f" time (target <= 10%; medians of pairs; difference of the medians {100 * r['medians_cost_ratio']:.1f}%);"
        f" load average {r['load_average'][0]} -> {r['load_average'][1]}"
    )
