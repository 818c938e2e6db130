"""Accuracy: the full training job on Fashion-MNIST for each model, with its wall time.

Runs `trainer.task` with its default schedule, as `make demo` does, and reports
the test-split accuracy. Reference: TensorFlow's tf.layers tutorial CNN scores
0.916 in the Fashion-MNIST benchmark table (zalandoresearch/fashion-mnist README).
"""

from __future__ import annotations

import os
import tempfile
import time

from bench import common
from pipeline import job
from pipeline.config import PreprocessConfig
from trainer import hparams as hparams_lib
from trainer import job as trainer_job

TARGETS = {hparams_lib.FAST: 0.925, hparams_lib.CNN: 0.920, hparams_lib.VGG: 0.935}


def run(input_dir: str = common.FASHION_MNIST_DIR, models=hparams_lib.MODELS) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        job.run_preprocessing(PreprocessConfig(input_dir, data_dir))
        for name in models:
            hparams = hparams_lib.HParams(model=name)
            start = time.perf_counter()
            result = trainer_job.train(data_dir, os.path.join(work, name), hparams)
            results[name] = {
                "test_accuracy": result.test["accuracy"],
                "eval_accuracy": result.eval["accuracy"],
                "steps": result.test["global_step"],
                "train_minutes": (time.perf_counter() - start) / 60,
                "target": TARGETS[name],
            }
    return results


def summary(results: dict) -> str:
    """One line per model ({model: result}) for the benchmark table."""
    return "\n".join(
        f"accuracy ({name}): test {r['test_accuracy']:.4f} (target >= {r['target']}) after {r['steps']} steps,"
        f" {r['train_minutes']:.1f} min"
        for name, r in results.items()
    )
