"""Drift between two datasets' statistics: the label distribution and the pixel intensities.

Computed from `DatasetFeatureStatistics` alone (image_stats.py's custom
statistics), so the splits of one run, or new data and the data a model was
trained on, compare the same way. TFDV's comparators are the guide:

- labels: the L-infinity distance between the two label distributions (the
  largest difference of one class's share), as TFDV's `infinity_norm` for
  categorical features. Default threshold 0.05: a class whose share moves by 5
  percentage points (Fashion-MNIST: test vs train 0.001; its random 10% eval
  split vs train 0.012).
- intensities: the Jensen-Shannon divergence (base 2, in [0, 1]) of the
  256-level pixel intensity histograms, as TFDV's `jensen_shannon_divergence`
  for numeric features. Default threshold 0.02, overall and 0.05 per class
  (Fashion-MNIST test and eval vs train: 0.00005 overall, at most 0.001 per
  class; every pixel of random images brightened by 30 to 40 levels: well
  above 0.02, tests/pipeline). The thresholds are config.DriftThresholds.

Per-class comparisons skip a class with fewer than MIN_CLASS_EXAMPLES images on
either side, and every comparison is skipped when a side has fewer than
MIN_EXAMPLES images: too few to say anything.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

from pipeline import image_stats
from pipeline.config import DriftThresholds
from schemas import features

MIN_EXAMPLES = 50
MIN_CLASS_EXAMPLES = 20
LABEL_LINF = "label_linf"
INTENSITY_JS = "intensity_js"
CLASS_INTENSITY_JS = "class_intensity_js"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One measurement between a baseline and a dataset.

    Attributes:
      measure: LABEL_LINF, INTENSITY_JS or CLASS_INTENSITY_JS.
      baseline, dataset: the two datasets' names (e.g. "train", "test").
      value: the measured distance.
      threshold: its threshold.
      label: the class (CLASS_INTENSITY_JS only), else None.
    """

    measure: str
    baseline: str
    dataset: str
    value: float
    threshold: float
    label: int | None = None

    @property
    def breached(self) -> bool:
        return self.value > self.threshold

    def line(self) -> str:
        what = f"{self.measure} of class {self.label}" if self.label is not None else self.measure
        return f"drift {self.dataset} vs {self.baseline}: {what} {self.value:.4f} above its threshold {self.threshold:g}"


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms (counts, normalized here)."""
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2

    def kl(a):
        nonzero = a > 0
        return float(np.sum(a[nonzero] * np.log2(a[nonzero] / m[nonzero])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def label_distribution(dataset: statistics_pb2.DatasetFeatureStatistics) -> np.ndarray:
    """float64 [NUM_CLASSES]: each class's share of the dataset's images."""
    label = image_stats.find_feature(dataset, features.LABEL_KEY)
    counts = image_stats.histogram_counts(
        image_stats.find_custom(label, image_stats.LABEL_HISTOGRAM).histogram
    )
    return counts / max(counts.sum(), 1)


def _intensities(dataset, name: str) -> np.ndarray:
    image = image_stats.find_feature(dataset, features.IMAGE_RAW_KEY)
    return image_stats.histogram_counts(image_stats.find_custom(image, name).histogram)


def compare(baseline, dataset, thresholds: DriftThresholds | None = None) -> list[Finding]:
    """Every drift measurement of `dataset` against `baseline` (DatasetFeatureStatistics); [] if too small."""
    thresholds = thresholds or DriftThresholds()
    if min(baseline.num_examples, dataset.num_examples) < MIN_EXAMPLES:
        return []
    names = (baseline.name, dataset.name)
    linf = float(np.abs(label_distribution(baseline) - label_distribution(dataset)).max())
    found = [Finding(LABEL_LINF, *names, linf, thresholds.label_linf)]
    js = jensen_shannon(*(_intensities(d, image_stats.INTENSITY_HISTOGRAM) for d in (baseline, dataset)))
    found.append(Finding(INTENSITY_JS, *names, js, thresholds.intensity_js))
    for label in range(features.NUM_CLASSES):
        name = f"{image_stats.INTENSITY_HISTOGRAM}/{label}"
        counts = [_intensities(d, name) for d in (baseline, dataset)]
        if min(c.sum() for c in counts) < MIN_CLASS_EXAMPLES * features.IMAGE_PIXELS:
            continue
        found.append(
            Finding(CLASS_INTENSITY_JS, *names, jensen_shannon(*counts), thresholds.class_intensity_js, label)
        )
    return found


def to_json(findings: list[Finding]) -> list[dict]:
    return [{**dataclasses.asdict(f), "breached": f.breached} for f in findings]
