"""This runtime on TensorFlow 2.21 against the real tf.estimator 2.15 on TensorFlow 2.15: training steps/s.

The same model_fn (the trainer's CNN, trainer/model.py) and the same v2 DNNClassifier,
trained by each runtime on the same machine in one run (bench/estimator_worker.py, one
fresh process per run, the oneDNN setting of trainer/__init__.py in both), in rounds of
one run of each that alternate which runtime goes first. The figures: the median steps/s
of each over the rounds, with the spread (min-max), their ratio here / 2.15 (target >=
1.0), and the median of the rounds' own ratios, which a machine whose load changes
between rounds (another job starting) disturbs less; and the same for steps per CPU
second (all the process's threads), which another job on a shared machine disturbs least.
A third pair of runs, `session`, is the DNNClassifier's network stepped by a bare
`Session.run` loop on each TensorFlow (no Estimator): its ratio is what TensorFlow 2.21
itself gives against 2.15, and `ratio_over_session` divides it out of each model's ratio,
leaving the Estimator runtimes' own difference.

The reference environment is optional: without it the benchmark says how to make it and
is skipped. Make it (Python 3.11) with

    python3.11 -m venv /tmp/tf215
    /tmp/tf215/bin/pip install tensorflow-cpu==2.15.1 tf_keras==2.15.1 'pandas<2.2'

(tensorflow-cpu 2.15 brings tensorflow-estimator 2.15), or point TF215_PYTHON at its python.

    python -m bench --only against_tf215
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF215_PYTHON = os.environ.get("TF215_PYTHON", "/tmp/tf215/bin/python")
STEPS = {"cnn": 300, "dnn": 2000, "session": 2000}  # about 10 s, 4 s and 3 s of timed steps on 2 cores
MAKE_IT = (
    "python3.11 -m venv /tmp/tf215 && "
    "/tmp/tf215/bin/pip install tensorflow-cpu==2.15.1 tf_keras==2.15.1 'pandas<2.2'"
)


def _reference_missing() -> str | None:
    if not os.path.exists(TF215_PYTHON):
        return f"no TF 2.15 reference environment at {TF215_PYTHON} (TF215_PYTHON); make it: {MAKE_IT}"
    probe = subprocess.run(
        [TF215_PYTHON, "-c", "import tensorflow_estimator, tensorflow as tf; print(tf.__version__)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or not probe.stdout.strip().startswith("2.15"):
        return f"{TF215_PYTHON} has no TensorFlow 2.15 with tf.estimator; make it: {MAKE_IT}"
    return None


def _one_run(runtime: str, model: str) -> dict:
    python = TF215_PYTHON if runtime == "tf215" else sys.executable
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [
            python,
            "-m",
            "bench.estimator_worker",
            "--runtime",
            runtime,
            "--model",
            model,
            "--steps",
            str(STEPS[model]),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} {model} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(repeats: int = 3) -> dict:
    """Steps/s of each runtime for each model: medians, spreads, raw runs, the ratio here / 2.15 of
    the medians and the median of the rounds' ratios.

    Returns {"skipped": why} without the reference environment.
    """
    missing = _reference_missing()
    if missing:
        return {"skipped": missing}
    results = {}
    for model in STEPS:
        runs = {"here": [], "tf215": []}
        for i in range(max(repeats, 3)):
            for runtime in ("here", "tf215") if i % 2 == 0 else ("tf215", "here"):
                runs[runtime].append(_one_run(runtime, model))
        results[model] = {**_figures(runs, "steps_per_s"), "cpu": _figures(runs, "steps_per_cpu_s")}
        results[model]["steps"] = STEPS[model]
    session = results["session"]
    for model in ("cnn", "dnn"):  # each runtime's speed with TensorFlow's own session speed taken out
        results[model]["ratio_over_session"] = results[model]["ratio"] / session["ratio"]
        results[model]["cpu"]["ratio_over_session"] = results[model]["cpu"]["ratio"] / session["cpu"]["ratio"]
    return results


def _figures(runs: dict, key: str) -> dict:
    """Medians of `key` for each runtime, spreads, the ratio of the medians and the median paired ratio."""
    values = {runtime: [run[key] for run in runs[runtime]] for runtime in runs}
    medians = {k: statistics.median(v) for k, v in values.items()}
    paired = [here / reference for here, reference in zip(values["here"], values["tf215"], strict=True)]
    return {
        "here": round(medians["here"], 1),
        "tf215": round(medians["tf215"], 1),
        "ratio": medians["here"] / medians["tf215"],
        "paired_ratio": statistics.median(paired),
        "paired_ratios": [round(r, 3) for r in paired],
        "spread": {k: [round(min(v), 1), round(max(v), 1)] for k, v in values.items()},
        "runs": {k: [round(x, 1) for x in v] for k, v in values.items()},
    }


def summary(r: dict) -> str:
    """run()'s result as lines of the benchmark table."""
    if "skipped" in r:
        return f"against_tf215: skipped: {r['skipped']}"
    lines = []
    for model, m in r.items():
        here, ref = m["spread"]["here"], m["spread"]["tf215"]
        line = (
            f"against_tf215 {model}: here {m['here']:.1f} steps/s ({here[0]}-{here[1]}) vs 2.15"
            f" {m['tf215']:.1f} ({ref[0]}-{ref[1]}) -> ratio {m['ratio']:.2f}, of the rounds"
            f" {m['paired_ratio']:.2f}; per CPU second {m['cpu']['here']:.1f} vs {m['cpu']['tf215']:.1f}"
            f" -> {m['cpu']['ratio']:.2f}"
        )
        if "ratio_over_session" in m:  # an Estimator's run, not the bare session baseline
            line += (
                f" (target >= 1.0); over TensorFlow's own session ratio {m['ratio_over_session']:.2f},"
                f" per CPU second {m['cpu']['ratio_over_session']:.2f}"
            )
        lines.append(line)
    return "\n".join(lines)
