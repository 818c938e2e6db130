"""Statistics of raw images and labels: a mergeable accumulator, its Beam CombineFn, its proto.

`Summary` holds, for one split, fixed-size state only (whatever the number of
images): per class the image count, the per-pixel-position sums and sums of
squares, and the histogram of pixel intensities (256 grey levels); the blank and
saturated image counts; and a tfx_bsl `QuantilesSketch` of each image's mean
intensity. `SummarizeImages` is the Beam CombineFn that builds it from raw
RecordBatches (with combiner lifting, only summaries cross a shuffle).
`to_dataset_statistics` writes one split's summary as tensorflow_metadata's
`DatasetFeatureStatistics`, the format TFDV and Facets read:

- `label` (INT, categorical in the raw schema): `string_stats` as TFDV writes
  them for categorical integers: unique values, top values, rank histogram
  (the label histogram), plus a STANDARD histogram of one bucket per class as
  the custom statistic `label_histogram`.
- `image_raw` (BYTES): `bytes_stats` (the unique count when duplicates were
  looked for), and custom statistics: `mean_intensity_quantiles` (QUANTILES, 10
  buckets, from the sketch), `mean_intensity_mean` / `_std_dev`,
  `pixel_mean_quantiles` and `pixel_std_dev_quantiles` (the 784 per-position
  means and standard deviations, summarized as deciles over positions),
  `blank_fraction`, `saturated_fraction`, `intensity_histogram` (STANDARD, 256
  buckets of pixel counts) and `intensity_histogram/<class index>` per class;
  and the split's duplicate counts (pipeline/leakage.py).
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
import pyarrow as pa
from PIL import Image
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx_bsl import sketches

from schemas import features

GREY_LEVELS = 256
BLANK_MAX_PIXEL = 15  # an image none of whose pixels exceeds this is blank (nothing visible)
SATURATED_PIXEL = 255  # a pixel at this level is saturated ...
SATURATED_MIN_FRACTION = 0.5  # ... and an image with at least this share of them is saturated
_PART_ROWS = 256  # float32 sums of this many squared grey levels (at most 65,025 each: < 2^24) are exact
QUANTILES_EPSILON = 0.01  # rank error of the mean-intensity sketch (TFDV's default)
NUM_QUANTILE_BUCKETS = 10
INTENSITY_HISTOGRAM = "intensity_histogram"  # custom statistic names that drift.py reads back
LABEL_HISTOGRAM = "label_histogram"


def batch_pixels(record_batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """Raw RecordBatch -> (uint8 pixels [n, IMAGE_PIXELS], int64 labels [n]), with no object per row.

    Raises:
      ValueError: an image_raw value is not IMAGE_PIXELS bytes.
    """
    images = record_batch.column(features.IMAGE_RAW_KEY).flatten()
    offsets = np.frombuffer(images.buffers()[1], np.int64)[images.offset : images.offset + len(images) + 1]
    if len(images) and not (np.diff(offsets) == features.IMAGE_PIXELS).all():
        raise ValueError(f"{features.IMAGE_RAW_KEY}: every image must be {features.IMAGE_PIXELS} bytes")
    data = np.frombuffer(images.buffers()[2], np.uint8) if len(images) else np.zeros(0, np.uint8)
    pixels = data[offsets[0] : offsets[-1]].reshape(-1, features.IMAGE_PIXELS)
    labels = np.asarray(record_batch.column(features.LABEL_KEY).flatten(), np.int64)
    return pixels, labels


def _grey_levels(pixels: np.ndarray) -> np.ndarray:
    """int64 [GREY_LEVELS]: the pixel count of each grey level of C-contiguous uint8 pixels [n, IMAGE_PIXELS].

    Pillow's histogram of the bytes read as an RGBA image, whose four bands it
    counts into four tables, summed: twice as fast as one table (mode "L") on
    runs of equal levels such as a blank background, where each count waits for
    the one before it. IMAGE_PIXELS is a multiple of 4.
    """
    image = Image.frombuffer("RGBA", (features.IMAGE_PIXELS // 4, len(pixels)), pixels, "raw", "RGBA", 0, 1)
    return np.asarray(image.histogram(), np.int64).reshape(4, GREY_LEVELS).sum(axis=0)


def _count_per_row(mask: np.ndarray) -> np.ndarray:
    """uint [n]: the True values in each row of a bool [n, IMAGE_PIXELS] array.

    Its bytes (0 or 1) are added 8 at a time as the lanes of uint64 words (no lane
    passes IMAGE_PIXELS / 8 = 98, so none carries into the next), then the 8
    lanes of each row: 3x faster than np.count_nonzero along rows.
    """
    lanes = np.ascontiguousarray(mask).view(np.uint64).sum(axis=1, dtype=np.uint64)
    return lanes.view(np.uint8).reshape(-1, 8).sum(axis=1)


def _new_sketch() -> sketches.QuantilesSketch:
    return sketches.QuantilesSketch(QUANTILES_EPSILON, 1 << 32, 1)


@dataclasses.dataclass
class Summary:
    """Fixed-size statistics of one split's raw images (see the module doc); arrays per class first."""

    counts: np.ndarray  # int64 [NUM_CLASSES]: images per label
    pixel_sum: np.ndarray  # float64 [NUM_CLASSES, IMAGE_PIXELS]
    pixel_sum_sq: np.ndarray  # float64 [IMAGE_PIXELS], over all classes
    histogram: np.ndarray  # int64 [NUM_CLASSES, GREY_LEVELS]: pixels per grey level
    blank: int
    saturated: int
    mean_sum: float  # sum over images of the image's mean intensity
    mean_sum_sq: float
    sketch: sketches.QuantilesSketch

    @classmethod
    def empty(cls) -> Summary:
        k, p = features.NUM_CLASSES, features.IMAGE_PIXELS
        return cls(
            np.zeros(k, np.int64),
            np.zeros((k, p)),
            np.zeros(p),
            np.zeros((k, GREY_LEVELS), np.int64),
            0,
            0,
            0.0,
            0.0,
            _new_sketch(),
        )

    @property
    def num_examples(self) -> int:
        return int(self.counts.sum())

    def add(self, pixels: np.ndarray, labels: np.ndarray) -> Summary:
        """Adds uint8 pixels [n, IMAGE_PIXELS] with int labels [n] in [0, NUM_CLASSES); returns self.

        The images, sorted by label, are read in parts of at most _PART_ROWS
        images of one class, cast to float32 in one reused buffer that stays in
        the CPU's cache: the part's per-position sums, sums of squares and
        per-image sums are exact integers in float32, accumulated in float64.
        The histograms are Pillow's, per class (`_grey_levels`: a quarter of
        the time of np.bincount, which copies the bytes to int64 first). Only
        images whose sum allows it are checked for blank or saturated. Batches
        of a few thousand images cost least: each call pays for about 100
        small numpy calls.
        """
        if not len(pixels):
            return self
        order = np.argsort(labels, kind="stable")
        ordered, classes = pixels[order], labels[order]
        n = len(ordered)
        starts = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1]])
        ends = np.r_[starts[1:], n]
        self.counts += np.bincount(labels, minlength=features.NUM_CLASSES)
        for label, start, end in zip(classes[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
            self.histogram[label] += _grey_levels(ordered[start:end])
        cuts = np.union1d(ends, np.arange(0, n, _PART_ROWS)).tolist()
        buffer = np.empty((_PART_ROWS, features.IMAGE_PIXELS), np.float32)
        sums = np.empty(n, np.float32)
        for start, end in zip(cuts[:-1], cuts[1:], strict=True):
            values = buffer[: end - start]
            np.copyto(values, ordered[start:end], casting="unsafe")
            self.pixel_sum[classes[start]] += values.sum(axis=0)
            self.pixel_sum_sq += np.einsum("ij,ij->j", values, values)
            values.sum(axis=1, out=sums[start:end])
        self._add_extremes(ordered, sums)
        means = np.empty(n)  # in the batch's order: the sketch's result depends on it
        means[order] = sums.astype(np.float64) / features.IMAGE_PIXELS
        self.mean_sum += float(means.sum())
        self.mean_sum_sq += float(np.square(means).sum())
        self.sketch.AddValues(pa.array(means))
        return self

    def _add_extremes(self, pixels: np.ndarray, sums: np.ndarray) -> None:
        """Counts the blank and saturated images of uint8 pixels [n, IMAGE_PIXELS] with grey-level sums [n].

        Only images dark enough to be blank (sum <= BLANK_MAX_PIXEL per pixel)
        or bright enough to be saturated (sum >= their SATURATED_PIXEL share)
        are looked at, pixel by pixel.
        """
        dark = np.flatnonzero(sums <= BLANK_MAX_PIXEL * features.IMAGE_PIXELS)
        if len(dark):
            self.blank += int((pixels[dark].max(axis=1) <= BLANK_MAX_PIXEL).sum())
        least = SATURATED_MIN_FRACTION * features.IMAGE_PIXELS
        bright = np.flatnonzero(sums >= least * SATURATED_PIXEL)
        if len(bright):
            self.saturated += int((_count_per_row(pixels[bright] >= SATURATED_PIXEL) >= least).sum())

    def merge(self, other: Summary) -> Summary:
        """Adds `other` into self; returns self."""
        for name in ("counts", "pixel_sum", "pixel_sum_sq", "histogram"):
            getattr(self, name).__iadd__(getattr(other, name))
        self.blank += other.blank
        self.saturated += other.saturated
        self.mean_sum += other.mean_sum
        self.mean_sum_sq += other.mean_sum_sq
        self.sketch.Merge(other.sketch)
        return self

    def class_means(self) -> np.ndarray:
        """float32 [NUM_CLASSES, IMAGE_PIXELS]: the mean image of each class (0 for an absent class)."""
        return (self.pixel_sum / np.maximum(self.counts, 1)[:, None]).astype(np.float32)

    def mean_intensity_quantiles(self) -> np.ndarray:
        """float64 [NUM_QUANTILE_BUCKETS + 1]: min, deciles and max of the images' mean intensities."""
        if not self.num_examples:
            return np.zeros(NUM_QUANTILE_BUCKETS + 1)
        copy = _new_sketch()
        copy.Merge(self.sketch)  # GetQuantiles finalizes a sketch: keep this one mergeable
        return np.asarray(copy.GetQuantiles(NUM_QUANTILE_BUCKETS + 1).flatten())


class SummarizeImages(beam.CombineFn):
    """Raw RecordBatches of one split -> its `Summary` (a CombineFn: lifted before any shuffle)."""

    def create_accumulator(self) -> Summary:
        return Summary.empty()

    def add_input(self, summary: Summary, record_batch: pa.RecordBatch) -> Summary:
        return summary.add(*batch_pixels(record_batch))

    def merge_accumulators(self, summaries) -> Summary:
        summaries = iter(summaries)
        merged = next(summaries)
        for summary in summaries:
            merged.merge(summary)
        return merged

    def extract_output(self, summary: Summary) -> Summary:
        return summary


def _histogram(counts, edges, kind=statistics_pb2.Histogram.STANDARD) -> statistics_pb2.Histogram:
    histogram = statistics_pb2.Histogram(type=kind)
    for i, count in enumerate(counts):
        histogram.buckets.add(
            low_value=float(edges[i]), high_value=float(edges[i + 1]), sample_count=float(count)
        )
    return histogram


def _quantiles(values: np.ndarray) -> statistics_pb2.Histogram:
    edges = np.quantile(values, np.linspace(0, 1, NUM_QUANTILE_BUCKETS + 1)) if len(values) else np.zeros(11)
    return _quantile_histogram(edges, len(values))


def _quantile_histogram(edges: np.ndarray, count: int) -> statistics_pb2.Histogram:
    return _histogram(
        [count / NUM_QUANTILE_BUCKETS] * NUM_QUANTILE_BUCKETS, edges, statistics_pb2.Histogram.QUANTILES
    )


def _common(n: int) -> statistics_pb2.CommonStatistics:
    common = statistics_pb2.CommonStatistics(num_non_missing=n, num_missing=0, tot_num_values=n)
    if n:
        common.min_num_values, common.max_num_values, common.avg_num_values = 1, 1, 1.0
    return common


def _label_feature(summary: Summary, class_names) -> statistics_pb2.FeatureNameStatistics:
    n = summary.num_examples
    feature = statistics_pb2.FeatureNameStatistics(
        name=features.LABEL_KEY, type=statistics_pb2.FeatureNameStatistics.INT
    )
    stats = feature.string_stats
    stats.common_stats.CopyFrom(_common(n))
    stats.unique = int((summary.counts > 0).sum())
    order = sorted(range(len(summary.counts)), key=lambda c: (-summary.counts[c], c))
    for rank, label in enumerate(order):
        stats.top_values.add(value=str(label), frequency=float(summary.counts[label]))
        stats.rank_histogram.buckets.add(
            low_rank=rank, high_rank=rank, label=str(label), sample_count=float(summary.counts[label])
        )
    edges = np.arange(features.NUM_CLASSES + 1) - 0.5
    feature.custom_stats.add(name=LABEL_HISTOGRAM, histogram=_histogram(summary.counts, edges))
    feature.custom_stats.add(name="class_names", str=",".join(class_names))
    return feature


def _image_feature(summary: Summary, duplicates: dict[str, int]) -> statistics_pb2.FeatureNameStatistics:
    n = summary.num_examples
    feature = statistics_pb2.FeatureNameStatistics(
        name=features.IMAGE_RAW_KEY, type=statistics_pb2.FeatureNameStatistics.BYTES
    )
    stats = feature.bytes_stats
    stats.common_stats.CopyFrom(_common(n))
    if n:
        stats.avg_num_bytes = stats.min_num_bytes = stats.max_num_bytes = features.IMAGE_PIXELS
        stats.max_num_bytes_int = features.IMAGE_PIXELS
    if "exact_within" in duplicates:
        stats.unique = n - duplicates["exact_within"]
    total = max(n, 1)
    pixel_mean = summary.pixel_sum.sum(0) / total
    pixel_var = np.maximum(summary.pixel_sum_sq / total - np.square(pixel_mean), 0.0)
    mean = summary.mean_sum / total
    custom = [
        ("mean_intensity_quantiles", _quantile_histogram(summary.mean_intensity_quantiles(), n)),
        ("mean_intensity_mean", mean),
        ("mean_intensity_std_dev", float(np.sqrt(max(summary.mean_sum_sq / total - mean * mean, 0.0)))),
        ("pixel_mean_quantiles", _quantiles(pixel_mean if n else np.zeros(0))),
        ("pixel_std_dev_quantiles", _quantiles(np.sqrt(pixel_var) if n else np.zeros(0))),
        ("blank_fraction", summary.blank / total),
        ("saturated_fraction", summary.saturated / total),
        (INTENSITY_HISTOGRAM, _histogram(summary.histogram.sum(0), np.arange(GREY_LEVELS + 1))),
    ]
    custom += [
        (f"{INTENSITY_HISTOGRAM}/{c}", _histogram(summary.histogram[c], np.arange(GREY_LEVELS + 1)))
        for c in range(features.NUM_CLASSES)
    ]
    custom += [(f"duplicates/{name}", float(count)) for name, count in sorted(duplicates.items())]
    for name, value in custom:
        if isinstance(value, statistics_pb2.Histogram):
            feature.custom_stats.add(name=name, histogram=value)
        else:
            feature.custom_stats.add(name=name, num=float(value))
    return feature


def to_dataset_statistics(
    split: str, summary: Summary, class_names, duplicates: dict[str, int] | None = None
) -> statistics_pb2.DatasetFeatureStatistics:
    """One split's `DatasetFeatureStatistics` (see the module doc).

    Args:
      split: the dataset's name (layout.TRAIN, ...).
      summary: the split's Summary.
      class_names: NUM_CLASSES names, recorded beside the label histogram.
      duplicates: {count name: images} of this split (leakage.split_counts); none if not looked for.
    """
    dataset = statistics_pb2.DatasetFeatureStatistics(name=split, num_examples=summary.num_examples)
    dataset.features.append(_image_feature(summary, duplicates or {}))
    dataset.features.append(_label_feature(summary, class_names))
    return dataset


def find_feature(
    dataset: statistics_pb2.DatasetFeatureStatistics, name: str
) -> statistics_pb2.FeatureNameStatistics:
    """The statistics of feature `name` in `dataset` (by name or one-step path).

    Raises:
      KeyError: the dataset has no such feature.
    """
    for feature in dataset.features:
        if feature.name == name or list(feature.path.step) == [name]:
            return feature
    raise KeyError(f"no statistics of feature {name!r} in dataset {dataset.name!r}")


def find_custom(feature: statistics_pb2.FeatureNameStatistics, name: str) -> statistics_pb2.CustomStatistic:
    """The custom statistic `name` of a feature. Raises KeyError when absent."""
    for custom in feature.custom_stats:
        if custom.name == name:
            return custom
    raise KeyError(f"no custom statistic {name!r} for feature {feature.name!r}")


def histogram_counts(histogram: statistics_pb2.Histogram) -> np.ndarray:
    """float64 [buckets]: the sample counts of a histogram's buckets."""
    return np.array([bucket.sample_count for bucket in histogram.buckets], np.float64)
