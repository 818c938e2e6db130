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
from trainer import hparams as hparams_lib
from trainer import model, task

TARGETS = {model.CNN: 0.920, model.VGG: 0.935}


def run(input_dir: str = common.FASHION_MNIST_DIR, models=model.MODELS) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        job.run_preprocessing(job.PreprocessConfig(input_dir, data_dir))
        for name in models:
            hparams = hparams_lib.HParams(model=name)
            start = time.perf_counter()
            result = task.train(data_dir, os.path.join(work, name), hparams)
            results[name] = {
                "test_accuracy": result["test"]["accuracy"],
                "eval_accuracy": result["eval"]["accuracy"],
                "steps": result["test"]["global_step"],
                "train_minutes": (time.perf_counter() - start) / 60,
                "target": TARGETS[name],
            }
    return results
