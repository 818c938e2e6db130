"""Input pipeline: trainer.inputs.input_fn against a bare batch-then-parse tf.data loop.

Both read the train split's GZIP shards of the preprocessed Fashion-MNIST and parse
whole batches with the transformed feature spec; the bare loop is the least one can
write (TFRecordDataset -> batch -> parse_example). input_fn adds parallel
interleaved reads, shuffling, repeat, the label split and prefetch. The consumer
does nothing, so this is the most the input can deliver; the training step's
consumption (BENCHMARKS.md, figure 3) is the bar it must clear by 20x. input_fn
with a one-element shuffle buffer is measured too, to price the shuffle.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from bench import common
from estimator import ModeKeys
from pipeline import job
from pipeline.config import PreprocessConfig
from schemas import layout
from schemas.manifest import Manifest
from trainer import inputs

BATCH = 100
BATCHES = 2000  # 200,000 examples: several passes over the 54,000


def _examples_per_sec(dataset) -> float:
    iterator = iter(dataset)
    next(iterator)  # warm up
    start = time.perf_counter()
    for _ in range(BATCHES):
        next(iterator)
    return BATCH * BATCHES / (time.perf_counter() - start)


def run(repeats: int = 3, input_dir: str = common.FASHION_MNIST_DIR) -> dict:
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        job.run_preprocessing(PreprocessConfig(input_dir, data_dir))
        transform = tft.TFTransformOutput(data_dir)
        files = Manifest.read(data_dir).shard_paths(data_dir, layout.TRAIN)
        spec = transform.transformed_feature_spec()
        contenders = {
            "bare": lambda: (
                tf.data.TFRecordDataset(files, compression_type=layout.SHARD_COMPRESSION)
                .repeat()
                .batch(BATCH)
                .map(lambda b: tf.io.parse_example(b, spec))
            ),
            "input_fn": lambda: inputs.input_fn(files, transform, BATCH, ModeKeys.TRAIN),
            "input_fn_no_shuffle": lambda: inputs.input_fn(
                files, transform, BATCH, ModeKeys.TRAIN, shuffle_buffer=1
            ),
        }
        runs = {name: [] for name in contenders}
        names = list(contenders)
        for i in range(repeats):  # the order rotates round by round
            for name in names[i % len(names) :] + names[: i % len(names)]:
                runs[name].append(_examples_per_sec(contenders[name]()))
    medians = {k: float(np.median(v)) for k, v in runs.items()}
    return {
        "input_fn_examples_per_s": medians["input_fn"],
        "bare_examples_per_s": medians["bare"],
        "ratio": medians["input_fn"] / medians["bare"],
        "no_shuffle_examples_per_s": medians["input_fn_no_shuffle"],
        "shuffle_cost": 1.0 - medians["input_fn"] / medians["input_fn_no_shuffle"],
        "runs": {k: [round(r) for r in v] for k, v in runs.items()},
    }


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"input pipeline: input_fn {r['input_fn_examples_per_s']:,.0f} ex/s vs bare batch-then-parse"
        f" {r['bare_examples_per_s']:,.0f} ex/s -> ratio {r['ratio']:.2f} (target >= 0.8);"
        f" the shuffle costs {100 * r['shuffle_cost']:.0f}% ({r['no_shuffle_examples_per_s']:,.0f} ex/s without)"
    )
