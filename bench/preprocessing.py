"""Preprocessing: the Beam + tf.Transform job against a plain single-process writer.

Both turn the Fashion-MNIST IDX files (70,000 images) into the same GZIP TFRecords
of float32 pixels scaled to [0, 1] with statistics of the train split, split
54,000 / 6,000 / 10,000. The baseline is what one would write by hand: numpy
reads and scales, `tf.train.Example` per image, one `TFRecordWriter` per split;
no tf.Transform graph, no sharding, no parallelism.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from bench import common
from common import idx
from pipeline import job, sinks, splits
from pipeline.config import PreprocessConfig
from schemas import features, layout


def plain_writer(input_dir: str, output_dir: str, eval_fraction: float = 0.1) -> dict[str, int]:
    """The baseline: numpy + tf.train.Example + TFRecordWriter, one process."""
    images = {}
    labels = {}
    for stem in ("train", "t10k"):
        images[stem] = idx.read_idx(job.find_idx_file(input_dir, f"{stem}-images"), idx.IMAGES_NDIM)
        labels[stem] = idx.read_idx(job.find_idx_file(input_dir, f"{stem}-labels"), idx.LABELS_NDIM)
    train = images["train"].reshape(len(images["train"]), -1).astype(np.float32)
    low, high = train.min(), train.max()
    is_eval = splits.eval_mask(0, len(train), len(train), eval_fraction)
    parts = {
        layout.TRAIN: (images["train"][~is_eval], labels["train"][~is_eval]),
        layout.EVAL: (images["train"][is_eval], labels["train"][is_eval]),
        layout.TEST: (images["t10k"], labels["t10k"]),
    }
    counts = {}
    options = sinks.shard_options()  # the same GZIP level as the pipeline's shards
    for split, (x, y) in parts.items():
        scaled = (x.reshape(len(x), -1).astype(np.float32) - low) / (high - low)
        os.makedirs(os.path.join(output_dir, split), exist_ok=True)
        path = os.path.join(output_dir, split, "part-00000-of-00001" + layout.SHARD_SUFFIX)
        with tf.io.TFRecordWriter(path, options) as writer:
            for pixels, label in zip(scaled, y, strict=True):
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            features.IMAGE_KEY: tf.train.Feature(float_list=tf.train.FloatList(value=pixels)),
                            features.LABEL_KEY: tf.train.Feature(
                                int64_list=tf.train.Int64List(value=[int(label)])
                            ),
                        }
                    )
                )
                writer.write(example.SerializeToString())
        counts[split] = len(x)
    return counts


def run(repeats: int = 3, input_dir: str = common.FASHION_MNIST_DIR, beam_args: tuple = ()) -> dict:
    """Times the baseline and the job alternately; returns medians and their ratio."""
    work = tempfile.mkdtemp(prefix="bench-preprocessing-")
    try:
        counts = {}

        def baseline():
            shutil.rmtree(os.path.join(work, "plain"), ignore_errors=True)
            counts["baseline"] = plain_writer(input_dir, os.path.join(work, "plain"))

        def pipeline():
            config = PreprocessConfig(input_dir, os.path.join(work, "job"), overwrite=True)
            manifest = job.run_preprocessing(config, list(beam_args))
            counts["pipeline"] = {s: v.examples for s, v in manifest.splits.items()}

        timings = {"baseline": common.Timing("baseline", []), "pipeline": common.Timing("pipeline", [])}
        for _ in range(repeats):  # alternate, so drift in the machine's speed hits both alike
            for name, fn in (("baseline", baseline), ("pipeline", pipeline)):
                timings[name].seconds += common.time_runs(name, fn, 1).seconds
        if counts["baseline"] != counts["pipeline"]:
            raise AssertionError(f"the two writers disagree: {counts}")
        examples = sum(counts["pipeline"].values())
        return {
            "examples": examples,
            "counts": counts["pipeline"],
            "baseline_s": timings["baseline"].median,
            "pipeline_s": timings["pipeline"].median,
            "ratio": timings["pipeline"].median / timings["baseline"].median,
            "runs": {k: [round(s, 2) for s in t.seconds] for k, t in timings.items()},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(results: dict) -> str:
    """One line per mode ({mode: run()'s result}) for the benchmark table."""
    return "\n".join(
        f"preprocessing ({mode}): pipeline {r['pipeline_s']:.1f} s vs plain writer {r['baseline_s']:.1f} s"
        f" -> ratio {r['ratio']:.2f} (target <= 2.0); {r['examples']} examples"
        for mode, r in results.items()
    )
