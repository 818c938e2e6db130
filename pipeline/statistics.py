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

One pass, one join (`AnalyzeSplits`), keyed by the buckets of leakage.py:

    raw split --Summarize<Split>--> (bucket, (SUMMARY, split code, Summary of the bundle))
                                    (bucket, (ROWS, hash rows, masks)) blocks
      --Join--> (GroupByKey) --Match--> with one bucket: the Analysis, complete
      with more: --OncePerImage--> (GroupByKey: an image in near pairs of several buckets counts once)
                 --Gather--> the Analysis (a CombineFn)
      --WriteStatistics--> statistics/

Each DoFn Summarize<Split> reads a batch's pixels once for both: it adds them to
the split's `image_stats.Summary` (SummarizeImages' accumulator, combined in the
bundle as a lifted combiner would: only fixed-size summaries cross the shuffle)
and hashes them (leakage.hash_rows). Summaries and hash rows share one shuffle;
with one bucket (up to leakage.IMAGES_PER_BUCKET images) its one group holds
every image and every summary, so the statistics add two stages to the job.
`read_statistics` and `read_leakage` read the files back (local or gs://).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import typing
from collections import Counter

import apache_beam as beam
import numpy as np
import tensorflow as tf
import threadpoolctl
from apache_beam.transforms import window
from tensorflow_metadata.proto.v0 import statistics_pb2

from pipeline import image_stats, leakage, sources
from schemas import layout

HASHES_DIR = "image_hashes"
STATISTICS_FILE = "statistics.pb"
CLASS_MEANS_FILE = "class_means.npz"
LEAKAGE_FILE = "leakage.json"
SUMMARY, ROWS, PART = "summary", "rows", "part"  # kinds of values of the join, of MatchBuckets' parts
BLOCK_IMAGES = 4096  # images a SummarizeAndHash summarizes and hashes at once (3 MB of pixels)
# The output types of the statistics' transforms, declared: Beam would otherwise infer them from the
# bytecode of every function they call, which took longer than writing the statistics (0.1 s a run).
KEYED = tuple[int, typing.Any]  # (bucket, value) into the join
PAIR = tuple[typing.Any, typing.Any]


def statistics_dir(output_dir: str) -> str:
    return layout.join(output_dir, layout.STATISTICS_DIR)


@dataclasses.dataclass
class Analysis:
    """What `AnalyzeSplits` found: {split: image_stats.Summary} and the leakage counts ({} if not looked for)."""

    summaries: dict
    leakage: dict


@beam.typehints.with_output_types(KEYED)
class SummarizeAndHash(beam.DoFn):
    """Raw RecordBatches of one split -> (bucket, (SUMMARY, split code, Summary)) a bundle, (bucket, (ROWS, ...)).

    The batches wait until BLOCK_IMAGES images have come (the split's batches
    are small: per-call costs would double the time of both); then the block
    is added to the split's summary and its images are hashed
    (leakage.hash_rows), and their rows go out by bucket in blocks
    (leakage.RowBuffer): (bucket, (ROWS, HASH_DTYPE rows, uint8 masks)). The
    summary goes out from finish_bundle, when the bundle held batches of the
    split, to bucket split code % buckets. The hashes' small matrix products
    run on one BLAS thread: beside TensorFlow's threads in the same worker, a
    second one only waits (measured: 6x slower).

    Args:
      split_code: the split's index in the join's names.
      buckets: `leakage.num_buckets` of all images.
      summarize: add the batches to the summary (else the summary stays empty).
      dedup: hash the images (else no rows go out).
    """

    def __init__(self, split_code: int, buckets: int, summarize: bool = True, dedup: bool = True):
        self._split_code, self._buckets = split_code, buckets
        self._summarize, self._dedup = summarize, dedup
        self._summary = self._rows = None
        self._waiting, self._waiting_images = [], 0

    def start_bundle(self):
        self._summary, self._rows = None, leakage.RowBuffer(self._buckets)
        self._waiting, self._waiting_images = [], 0

    def process(self, record_batch):
        pixels, labels = image_stats.batch_pixels(record_batch)
        if self._summary is None:
            self._summary = image_stats.Summary.empty()
        if not len(pixels):
            return
        records = np.asarray(record_batch.column(sources.RECORD_COLUMN).flatten(), np.int64)
        self._waiting.append((pixels, labels, records))
        self._waiting_images += len(pixels)
        if self._waiting_images >= BLOCK_IMAGES:
            yield from self._block()

    def finish_bundle(self):
        blocks = self._block()
        if self._summary is not None:
            summary = (SUMMARY, self._split_code, self._summary)
            yield window.GlobalWindows.windowed_value((self._split_code % self._buckets, summary))
        for keyed in [*blocks, *((b, (ROWS, *block)) for b, block in self._rows.flush())]:
            yield window.GlobalWindows.windowed_value(keyed)

    def _block(self):
        """Summarizes and hashes the waiting images; (bucket, (ROWS, rows, masks)) of the RowBuffer's full blocks."""
        if not self._waiting:
            return []
        pixels, labels, records = (np.concatenate(part) for part in zip(*self._waiting, strict=True))
        self._waiting, self._waiting_images = [], 0
        if self._summarize:
            self._summary.add(pixels, labels)
        if not self._dedup:
            return []
        with _blas_threads().limit(limits=1, user_api="blas"):
            rows = leakage.hash_rows(pixels, labels, records, self._split_code)
        return [(bucket, (ROWS, *block)) for bucket, block in self._rows.add(rows)]


@functools.lru_cache(maxsize=1)
def _blas_threads() -> threadpoolctl.ThreadpoolController:
    """The process's threadpool controller (made once: it inspects every loaded library)."""
    return threadpoolctl.ThreadpoolController()


def _reference_blocks(rows: np.ndarray, buckets: int):
    """HASH_DTYPE rows of an earlier output -> (bucket, (ROWS, rows, masks)) of each bucket."""
    for bucket, chosen, masks in leakage.bucket_rows(rows, buckets):
        yield bucket, (ROWS, chosen, masks)


@beam.typehints.with_output_types(PAIR)
class MatchBuckets(beam.DoFn):
    """(bucket, [summaries and row blocks]) -> its part of the Analysis.

    With one bucket, the one group held everything: emits (None, Analysis).
    With more, emits ((PART, bucket), (summaries, exact Counter)) and, for each
    image in a near pair, ((NEAR, count name, image id), None), for OncePerImage.

    Args:
      splits: the split names, in order.
      reference: the names of splits checked against but not counted (their codes come first).
      hashes_dir: where each bucket writes its images' hashes (leakage.match_bucket); None: nowhere.
      buckets: `leakage.num_buckets` of all images.
      dedup: duplicates were looked for.
    """

    def __init__(self, splits, reference, hashes_dir: str | None, buckets: int, dedup: bool):
        self._splits, self._reference = list(splits), tuple(reference)
        self._names = [*self._reference, *self._splits]
        self._hashes_dir, self._buckets, self._dedup = hashes_dir, buckets, dedup

    def process(self, element):
        bucket, values = element
        summaries, blocks = {}, []
        for value in values:
            if value[0] == SUMMARY:
                _merge_summary(summaries, self._names[value[1]], value[2])
            else:
                blocks.append(value[1:])
        exact, near = Counter(), {}
        if blocks:
            exact, near = leakage.match_bucket(
                blocks, self._names, self._reference, self._hashes_dir, bucket, self._buckets
            )
        if self._buckets == 1:
            counts = Counter({name: len(ids) for name, ids in near.items()})
            yield None, _analysis(summaries, exact, counts, self._splits, self._reference, self._dedup)
            return
        yield (PART, bucket), (summaries, exact)
        for name, ids in sorted(near.items()):
            for image_id in sorted(ids):
                yield (leakage.NEAR, name, image_id), None


def _merge_summary(summaries: dict, split: str, summary: image_stats.Summary) -> None:
    summaries[split] = summaries[split].merge(summary) if split in summaries else summary


def _analysis(summaries, exact, near, splits, reference, dedup: bool) -> Analysis:
    """The Analysis of merged summaries and Counters of exact and near duplicates (by count name)."""
    if not dedup:
        return Analysis(summaries, {})
    names = leakage.count_names(list(splits), tuple(reference))
    return Analysis(
        summaries,
        {
            leakage.EXACT: leakage.complete_counts(exact, names),
            leakage.NEAR: leakage.complete_counts(near, names),
        },
    )


class GatherAnalysis(beam.CombineFn):
    """The parts of MatchBuckets of several buckets, each near key once -> one Analysis.

    Inputs are ((PART, bucket), (summaries, exact Counter)) and ((NEAR, count
    name, image id), None); the accumulator is ({split: Summary}, exact Counter,
    near Counter): fixed size.
    """

    def __init__(self, splits, reference: tuple[str, ...], dedup: bool):
        self._splits, self._reference, self._dedup = list(splits), tuple(reference), dedup

    def create_accumulator(self):
        return {}, Counter(), Counter()

    def add_input(self, accumulator, element):
        key, value = element
        if key[0] == PART:
            for split, summary in value[0].items():
                _merge_summary(accumulator[0], split, summary)
            accumulator[1].update(value[1])
        else:
            accumulator[2][key[1]] += 1
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for summaries, exact, near in accumulators:
            self.add_input(merged, ((PART, None), (summaries, exact)))
            merged[2].update(near)
        return merged

    def extract_output(self, accumulator) -> Analysis:
        return _analysis(*accumulator, self._splits, self._reference, self._dedup)


class AnalyzeSplits(beam.PTransform):
    """{split: raw RecordBatches} (+ "reference": HASH_DTYPE row arrays) -> (None, Analysis) (module doc).

    Args:
      splits: the split names, in order ("X_in_Y" counts need Y before X).
      buckets: `leakage.num_buckets` of all images.
      summarize: compute the splits' summaries.
      dedup: look for duplicates (leakage.py).
      hashes_dir: where the join writes the image hashes (None: nowhere).
      reference: names of the splits whose rows come in as inputs["reference"]
        (checked against, never counted); their split codes index `[*reference, *splits]`.
    """

    def __init__(self, splits, buckets: int, summarize=True, dedup=True, hashes_dir=None, reference=()):
        super().__init__()
        self._splits, self._buckets = list(splits), buckets
        self._summarize, self._dedup, self._hashes_dir = summarize, dedup, hashes_dir
        self._reference = tuple(reference)

    def expand(self, inputs):
        names, buckets = [*self._reference, *self._splits], self._buckets
        verb = "Summarize" if self._summarize else "Hash"
        keyed = [
            inputs[split]
            | f"{verb}{split.title()}"
            >> beam.ParDo(SummarizeAndHash(names.index(split), buckets, self._summarize, self._dedup))
            for split in self._splits
        ]
        if self._reference and self._dedup:
            keyed.append(
                inputs["reference"]
                | "KeyReference" >> beam.FlatMap(_reference_blocks, buckets).with_output_types(KEYED)
            )
        match = MatchBuckets(self._splits, self._reference, self._hashes_dir, buckets, self._dedup)
        matched = (
            keyed | "AllKeyed" >> beam.Flatten() | "Join" >> beam.GroupByKey() | "Match" >> beam.ParDo(match)
        )
        if buckets == 1:
            return matched
        return (
            matched
            | "OncePerImage" >> beam.GroupByKey()  # an image in near pairs of several buckets counts once
            | "OneKey"
            >> beam.Map(lambda group: (None, (group[0], next(iter(group[1]))))).with_output_types(PAIR)
            | "Gather" >> beam.CombinePerKey(GatherAnalysis(self._splits, self._reference, self._dedup))
        )


class ComputeStatistics(beam.PTransform):
    """{split: raw RecordBatches} -> statistics/ files; emits the leakage summary (one dict, {} without dedup).

    Args:
      output_dir: the directory that receives statistics/ (the staging directory).
      class_names: NUM_CLASSES names, recorded with the label statistics.
      dedup: look for duplicates (leakage.py).
      buckets: `leakage.num_buckets` of all images.
      reference: (names, PCollection of HASH_DTYPE rows) of earlier data to check
        against, or None.
    """

    def __init__(self, output_dir: str, class_names, dedup: bool = True, buckets: int = 1, reference=None):
        super().__init__()
        self._output_dir, self._class_names = output_dir, tuple(class_names)
        self._dedup, self._buckets, self._reference = dedup, buckets, reference

    def expand(self, raw):
        splits, inputs, names = list(raw), dict(raw), ()
        if self._reference and self._dedup:
            names, inputs["reference"] = self._reference
        hashes_dir = layout.join(statistics_dir(self._output_dir), HASHES_DIR) if self._dedup else None
        analysis = inputs | "Analyze" >> AnalyzeSplits(
            splits, self._buckets, dedup=self._dedup, hashes_dir=hashes_dir, reference=names
        )
        return analysis | "WriteStatistics" >> beam.Map(
            _write_gathered, self._output_dir, splits, self._class_names
        ).with_output_types(dict)


def _write_gathered(keyed: tuple, output_dir: str, splits, class_names) -> dict:
    """(None, Analysis) of AnalyzeSplits -> `write_statistics`."""
    return write_statistics(keyed[1], output_dir, splits, class_names)


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
            | "ReadHashes" >> beam.FlatMap(_read_in_blocks).with_output_types(np.ndarray)
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


def write_statistics(analysis: Analysis, output_dir: str, splits, class_names) -> dict:
    """Writes statistics.pb, class_means.npz and leakage.json; returns the leakage summary."""
    by_split = {split: image_stats.Summary.empty() for split in splits}  # a split of no images has no key
    by_split.update(analysis.summaries)
    found = analysis.leakage
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
