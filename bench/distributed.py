"""Distributed training: global steps/s with 1 vs 2 training replicas on a local cluster.

chief + ps, then chief + 1 worker + ps, each with the same job (the CNN on the
preprocessed Fashion-MNIST, batch 100). The rate is the chief's
`global_step/sec` summary (StepCounterHook), whose median is taken. On a
2-core machine two replicas compete for the same cores, so no speed-up is
expected here: the figure shows what the gRPC runtime costs, not what a real
cluster gains.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile

import tensorflow as tf

from bench import common
from pipeline import job
from pipeline.config import PreprocessConfig
from trainer import local_cluster

STEPS = 600


def _global_steps_per_sec(job_dir: str) -> float:
    rates = []
    for path in tf.io.gfile.glob(os.path.join(job_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            rates += [v.simple_value for v in event.summary.value if v.tag == "global_step/sec"]
    if not rates:
        raise RuntimeError(f"no global_step/sec summaries in {job_dir}")
    return statistics.median(rates)


def run(input_dir: str = common.FASHION_MNIST_DIR, steps: int = STEPS) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        job.run_preprocessing(PreprocessConfig(input_dir, data_dir))
        for workers in (0, 1):
            job_dir = os.path.join(work, f"job-{workers}")
            args = ["--data-dir", data_dir, "--job-dir", job_dir, "--train-steps", str(steps)]
            args += ["--save-checkpoints-steps", str(steps), "--log-steps", "50"]
            statuses = local_cluster.run_cluster(
                args, workers=workers, ps=1, evaluator=False, out=io.StringIO()
            )
            if any(statuses.values()):
                raise RuntimeError(f"cluster with {workers} workers failed: {statuses}")
            results[f"{1 + workers}_replicas_steps_per_s"] = _global_steps_per_sec(job_dir)
    results["ratio_2_vs_1"] = results["2_replicas_steps_per_s"] / results["1_replicas_steps_per_s"]
    return results


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"distributed: {r['1_replicas_steps_per_s']:.1f} global steps/s with 1 replica,"
        f" {r['2_replicas_steps_per_s']:.1f} with 2 -> ratio {r['ratio_2_vs_1']:.2f} (2 cores: no speed-up expected)"
    )
