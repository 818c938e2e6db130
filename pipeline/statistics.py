"""Statistics of the raw data per split, computed in the pass that writes the shards.

`ComputeStatistics` takes the raw RecordBatches of every split (the same
PCollections tf.Transform reads: no second read) and writes OUTPUT_DIR/statistics/:

    statistics.pb        DatasetFeatureStatisticsList (binary proto), one dataset per split,
                         num_examples equal to the manifest's counts (image_stats.py says what)
    class_means.npz      float32 [NUM_CLASSES, IMAGE_PIXELS] mean image of each class, per split
    leakage.json         duplicate counts (leakage.py), the hash and its threshold
    image_hashes/        part-BBBBB-of-NNNNN.npy: 30 bytes an image (content hash, perceptual
                         hash, split, label, record), to check new data against later
    drift.json, anomalies.pbtxt, report.md, *.png    written by the driver (drift.py, report.py)

Per split, only fixed-size summaries cross a shuffle (a CombineFn, lifted); the
duplicate search is the keyed join of leakage.py. `read_statistics` and
`read_leakage` read the files back (local or gs://).
"""

from __future__ import annotations

import io
import json

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2

from pipeline import image_stats, leakage
from schemas import layout

HASHES_DIR = "image_hashes"
STATISTICS_FILE = "statistics.pb"
CLASS_MEANS_FILE = "class_means.npz"
LEAKAGE_FILE = "leakage.json"


def statistics_dir(output_dir: str) -> str:
    return layout.join(output_dir, layout.STATISTICS_DIR)


class ComputeStatistics(beam.PTransform):
    """{split: raw RecordBatches} -> statistics/ files; emits the leakage summary (one dict, {} without dedup).

    Args:
      output_dir: the directory that receives statistics/ (the staging directory).
      class_names: NUM_CLASSES names, recorded with the label statistics.
      dedup: look for duplicates (leakage.py).
      buckets: `leakage.num_buckets` of all images.
      reference: (names, PCollection of HASH_DTYPE rows) of earlier data to check
        against (leakage.FindDuplicates), or None.
    """

    def __init__(self, output_dir: str, class_names, dedup: bool = True, buckets: int = 1, reference=None):
        super().__init__()
        self._output_dir, self._class_names = output_dir, tuple(class_names)
        self._dedup, self._buckets, self._reference = dedup, buckets, reference

    def expand(self, raw):
        splits = list(raw)
        # One combiner per split, flattened after: a Flatten of the raw batches themselves would
        # make the local runner buffer them all (measured: +0.76 GB at 200,000 images).
        summaries = [
            raw[split]
            | f"Key{split.title()}" >> beam.WithKeys(split)
            | f"Summarize{split.title()}" >> beam.CombinePerKey(image_stats.SummarizeImages())
            for split in splits
        ] | "AllSummaries" >> beam.Flatten()
        if self._dedup:
            inputs, names = dict(raw), ()
            if self._reference:
                names, inputs["reference"] = self._reference
            hashes_dir = layout.join(statistics_dir(self._output_dir), HASHES_DIR)
            found = inputs | "FindDuplicates" >> leakage.FindDuplicates(
                splits, self._buckets, hashes_dir, names
            )
        else:
            found = summaries.pipeline | "NoDuplicateSearch" >> beam.Create([{}])
        return (
            summaries
            | "Gather" >> beam.combiners.ToList()
            | "WriteStatistics"
            >> beam.Map(
                write_statistics, self._output_dir, splits, self._class_names, beam.pvalue.AsSingleton(found)
            )
        )


class ReadReferenceHashes(beam.PTransform):
    """PBegin -> HASH_DTYPE row arrays of an earlier output's statistics/image_hashes/ (split codes kept).

    Its splits become old_<split> (`reference_names`), in the order of its split codes.
    """

    def __init__(self, paths: list[str]):
        super().__init__()
        self._paths = list(paths)

    def expand(self, pbegin):
        return (
            pbegin
            | "ListHashes" >> beam.Create(self._paths)
            | "SpreadHashes" >> beam.Reshuffle()
            | "ReadHashes" >> beam.FlatMap(_read_in_blocks)
        )


def _read_in_blocks(path: str, block: int = 100_000):
    rows = leakage.read_hashes(path)
    for start in range(0, len(rows), block):
        yield rows[start : start + block]


def reference(output_dir: str) -> tuple[tuple[str, ...], list[str]]:
    """(old_<split> names by split code, hashes files) of an earlier output's statistics.

    Raises:
      InputNotFoundError: the output has no image hashes (--dedup off, or written before statistics existed).
    """
    from common.errors import InputNotFoundError

    found = read_leakage(output_dir)
    paths = leakage.list_hashes(layout.join(statistics_dir(output_dir), HASHES_DIR))
    if "perceptual_hash" not in found or not paths:
        raise InputNotFoundError(
            f"{statistics_dir(output_dir)}: no image hashes to check against (preprocessed with --dedup off,"
            " or before statistics existed)"
        )
    return tuple(f"old_{split}" for split in found["perceptual_hash"]["splits"]), paths


def write_statistics(summaries, output_dir: str, splits, class_names, found: dict) -> dict:
    """Writes statistics.pb, class_means.npz and leakage.json; returns the leakage summary."""
    by_split = {split: image_stats.Summary.empty() for split in splits}  # a split of no images has no key
    by_split.update(summaries)
    directory = statistics_dir(output_dir)
    tf.io.gfile.makedirs(directory)
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    for split in splits:
        duplicates = leakage.split_counts(found, split) if found else None
        stats.datasets.append(
            image_stats.to_dataset_statistics(split, by_split[split], class_names, duplicates)
        )
    with tf.io.gfile.GFile(layout.join(directory, STATISTICS_FILE), "wb") as f:
        f.write(stats.SerializeToString())
    buffer = io.BytesIO()
    np.savez(buffer, **{split: by_split[split].class_means() for split in splits})
    with tf.io.gfile.GFile(layout.join(directory, CLASS_MEANS_FILE), "wb") as f:
        f.write(buffer.getvalue())
    summary = dict(found)
    if found:
        summary["perceptual_hash"] = {
            "bits": leakage.HASH_BITS,
            "hamming_threshold": leakage.HAMMING_THRESHOLD,
            "bands": leakage.NUM_BANDS,
            "splits": list(splits),  # the split codes of image_hashes/
        }
    with tf.io.gfile.GFile(layout.join(directory, LEAKAGE_FILE), "w") as f:
        f.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def read_statistics(output_dir: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """OUTPUT_DIR/statistics/statistics.pb.

    Raises:
      InputNotFoundError: the output has no statistics (written before they existed, or with --no-statistics).
    """
    from common.errors import InputNotFoundError

    path = layout.join(statistics_dir(output_dir), STATISTICS_FILE)
    if not tf.io.gfile.exists(path):
        raise InputNotFoundError(f"{path}: no statistics; preprocess the data again with statistics on")
    with tf.io.gfile.GFile(path, "rb") as f:
        return statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())


def read_leakage(output_dir: str) -> dict:
    """OUTPUT_DIR/statistics/leakage.json ({} when there is none)."""
    path = layout.join(statistics_dir(output_dir), LEAKAGE_FILE)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())


def read_class_means(output_dir: str) -> dict[str, np.ndarray]:
    """{split: float32 [NUM_CLASSES, IMAGE_PIXELS]} from statistics/class_means.npz."""
    with tf.io.gfile.GFile(layout.join(statistics_dir(output_dir), CLASS_MEANS_FILE), "rb") as f:
        with np.load(io.BytesIO(f.read())) as data:
            return {name: data[name] for name in data.files}


def dataset(stats: statistics_pb2.DatasetFeatureStatisticsList, name: str):
    """The DatasetFeatureStatistics named `name`. Raises KeyError when absent."""
    for candidate in stats.datasets:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no statistics of split {name!r}")
