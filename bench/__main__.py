"""Run the benchmarks and print a table.

    python -m bench                 # the everyday set (about an hour on 2 cores, 45 minutes of it time_to_accuracy)
    python -m bench --full          # also accuracy, distributed, scale and vgg's time to accuracy (over 2 hours more)
    python -m bench --only serving  # one benchmark

Every figure is a ratio against a baseline run in the same process.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from bench import (  # noqa: E402
    accuracy,
    against_tf215,
    canned,
    common,
    distributed,
    input_pipeline,
    integrity,
    preprocessing,
    scale,
    serving,
    statistics,
    time_to_accuracy,
    training,
)

MULTIPROCESS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


def _preprocessing(repeats):
    return {
        "in_memory": preprocessing.run(repeats),
        "multi_process": preprocessing.run(repeats, beam_args=MULTIPROCESS),
    }


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """A benchmark: `run(repeats)` measures and returns a JSON-able dict; `summary` of that dict
    is its line(s) of the printed table, with the target."""

    run: Callable[[int], dict]
    summary: Callable[[dict], str]


FAST = {
    "preprocessing": Benchmark(_preprocessing, preprocessing.summary),
    "statistics": Benchmark(lambda repeats: statistics.run(max(repeats, 7)), statistics.summary),
    "input_pipeline": Benchmark(lambda repeats: input_pipeline.run(repeats), input_pipeline.summary),
    "training": Benchmark(lambda repeats: training.run(max(repeats, 5)), training.summary),
    "serving": Benchmark(lambda repeats: serving.run(), serving.summary),
    "canned": Benchmark(lambda repeats: canned.run(repeats), canned.summary),
    "against_tf215": Benchmark(lambda repeats: against_tf215.run(repeats), against_tf215.summary),
    "integrity": Benchmark(lambda repeats: integrity.run(repeats), integrity.summary),
    "time_to_accuracy": Benchmark(
        lambda repeats: time_to_accuracy.run(seeds=repeats), time_to_accuracy.summary
    ),
}
FULL = {
    "accuracy": Benchmark(lambda repeats: accuracy.run(), accuracy.summary),
    "distributed": Benchmark(lambda repeats: distributed.run(), distributed.summary),
    "scale": Benchmark(lambda repeats: scale.run(), scale.summary),
    "time_to_accuracy_evaluations": Benchmark(
        lambda repeats: time_to_accuracy.run_evaluations(seeds=repeats), time_to_accuracy.summary_evaluations
    ),
    "time_to_accuracy_vgg": Benchmark(
        lambda repeats: time_to_accuracy.run_vgg(seeds=1),
        functools.partial(time_to_accuracy.summary, label="vgg"),
    ),
}
BENCHMARKS = {**FAST, **FULL}


def _table(results: dict) -> str:
    lines = ["machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items())]
    lines += [BENCHMARKS[name].summary(results[name]) for name in results["wall_minutes"]]
    lines.append("wall time: " + ", ".join(f"{k} {v} min" for k, v in results["wall_minutes"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the long benchmarks")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    chosen = args.only or list(FAST) + (list(FULL) if args.full else [])
    results = {"machine": common.machine(), "wall_minutes": {}}
    for name in chosen:
        start = time.perf_counter()
        results[name] = BENCHMARKS[name].run(args.repeats)
        results["wall_minutes"][name] = round((time.perf_counter() - start) / 60, 1)
        if args.json:  # after each benchmark, so a later failure keeps what was measured
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
