"""Serving: the exported model with the transform graph against the same model without it.

Both SavedModels come from one checkpoint and take serialized tf.Examples:
  with the transform:    raw examples (image_raw bytes) -> parse -> transform graph -> CNN
  without the transform: transformed examples (image floats) -> parse -> CNN
so the difference is what the transform costs a request. Latency: batch 1,
p50/p99 over many calls; throughput: batch 256.

The two models are called alternately, call by call (which goes first also
alternates), so drift of the machine's speed during the run hits both alike.
Measured one after the other, this 2-core VM once showed the transform adding
26% at batch 1; interleaved, the same models differ by 2-5%.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

import estimator as tfe
from bench import common
from common import idx
from estimator import export_dirs
from pipeline import job
from pipeline.config import PreprocessConfig
from schemas import features, jobdir
from trainer import hparams as hparams_lib
from trainer import job as trainer_job
from trainer import model, serving

LATENCY_CALLS = 300
THROUGHPUT_BATCH = 256
THROUGHPUT_CALLS = 20


def _float_example(pixels: np.ndarray) -> bytes:
    feature = {features.IMAGE_KEY: tf.train.Feature(float_list=tf.train.FloatList(value=pixels))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def export_both(work: str, input_dir: str) -> tuple[str, str, str]:
    """Preprocesses, trains briefly, exports with and without the transform."""
    data_dir = os.path.join(work, "data")
    job.run_preprocessing(PreprocessConfig(input_dir, data_dir))
    hparams = hparams_lib.HParams(train_steps=100, save_checkpoints_steps=100, throttle_secs=0)
    result = trainer_job.train(data_dir, os.path.join(work, "job"), hparams)
    with_transform = export_dirs.newest_export(jobdir.export_base(result.job_dir, jobdir.LATEST_EXPORTER))
    spec = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    spec.pop(features.LABEL_KEY)
    estimator = tfe.Estimator(
        model.model_fn,
        result.job_dir,
        params=hparams.model_params(1000, features.CLASS_NAMES["fashion_mnist"], "fashion_mnist"),
    )
    without = estimator.export_saved_model(
        os.path.join(work, "without_transform"), tfe.export.build_parsing_serving_input_receiver_fn(spec)
    ).decode()
    return data_dir, with_transform, without


def measure_interleaved(fns: dict, batches: dict, calls: int) -> dict[str, list[float]]:
    """Seconds per call of each fns[name](examples=batches[name][i]), alternating the models.

    Call i of every model happens before call i + 1 of any; the first call of
    each is a warm-up and not counted.
    """
    names = list(fns)
    seconds = {name: [] for name in names}
    for i in range(calls + 1):
        for name in names if i % 2 else reversed(names):
            batch = batches[name][i % len(batches[name])]
            start = time.perf_counter()
            fns[name](examples=batch)
            if i:
                seconds[name].append(time.perf_counter() - start)
    return seconds


def run(input_dir: str = common.FASHION_MNIST_DIR) -> dict:
    with tempfile.TemporaryDirectory() as work:
        data_dir, with_path, without_path = export_both(work, input_dir)
        raw = idx.read_idx(os.path.join(input_dir, "t10k-images-idx3-ubyte.gz"), idx.IMAGES_NDIM)
        transform = tft.TFTransformOutput(data_dir)
        raw_examples = [serving.raw_example(image.tobytes()) for image in raw[: THROUGHPUT_BATCH * 2]]
        parsed = tf.io.parse_example(tf.constant(raw_examples), features.serving_raw_feature_spec())
        transformed = transform.transform_raw_features(parsed, drop_unused_features=True)[
            features.IMAGE_KEY
        ].numpy()
        float_examples = [_float_example(row) for row in transformed]
        inputs = {"with_transform": raw_examples, "without_transform": float_examples}
        fns = {
            "with_transform": tf.saved_model.load(with_path).signatures["serving_default"],
            "without_transform": tf.saved_model.load(without_path).signatures["serving_default"],
        }
        singles = {name: [tf.constant([e]) for e in examples] for name, examples in inputs.items()}
        big = {name: [tf.constant(examples[:THROUGHPUT_BATCH])] for name, examples in inputs.items()}
        latency = measure_interleaved(fns, singles, LATENCY_CALLS)
        throughput = measure_interleaved(fns, big, THROUGHPUT_CALLS)
        results = {
            name: {
                "p50_ms": 1000 * float(np.percentile(latency[name], 50)),
                "p99_ms": 1000 * float(np.percentile(latency[name], 99)),
                "batch256_examples_per_s": THROUGHPUT_BATCH / float(np.median(throughput[name])),
            }
            for name in fns
        }
        w, wo = results["with_transform"], results["without_transform"]
        results["transform_cost_p50"] = w["p50_ms"] / wo["p50_ms"] - 1
        results["transform_cost_throughput"] = (
            wo["batch256_examples_per_s"] / w["batch256_examples_per_s"] - 1
        )
        return results


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    w, wo = r["with_transform"], r["without_transform"]
    return (
        f"serving: batch 1 p50/p99 {w['p50_ms']:.2f}/{w['p99_ms']:.2f} ms with transform vs"
        f" {wo['p50_ms']:.2f}/{wo['p99_ms']:.2f} ms without; batch 256 {w['batch256_examples_per_s']:.0f} vs"
        f" {wo['batch256_examples_per_s']:.0f} ex/s -> transform cost {100 * r['transform_cost_p50']:+.1f}% p50,"
        f" {100 * r['transform_cost_throughput']:+.1f}% throughput (target <= 10%)"
    )
