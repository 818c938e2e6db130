"""statistics/: what a user reads back, from the shared preprocessing run and from a Summary alone."""

import json
import os

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from common import idx
from pipeline import drift, findings, image_stats, leakage, sources, statistics
from schemas import features, layout
from tests import idx_fixtures


def test_summary_counts_labels_pixels_blank_and_saturated_images():
    pixels = np.full((4, features.IMAGE_PIXELS), 100, np.uint8)
    pixels[1] = 3  # blank
    pixels[2, :500] = 255  # saturated: 64% of its pixels at 255
    labels = np.array([0, 0, 1, 9])
    summary = image_stats.SummarizeImages().add_input(
        image_stats.Summary.empty(), sources.to_record_batch(pixels.reshape(4, 28, 28), labels, 0)
    )
    assert summary.counts.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert (summary.blank, summary.saturated) == (1, 1)
    np.testing.assert_allclose(summary.class_means()[0], 51.5)
    assert (
        summary.histogram[0, 100] == features.IMAGE_PIXELS
        and summary.histogram[0, 3] == features.IMAGE_PIXELS
    )
    dataset = image_stats.to_dataset_statistics(
        "test", summary, features.CLASS_NAMES["mnist"], {"exact_within": 1}
    )
    image = image_stats.find_feature(dataset, features.IMAGE_RAW_KEY)
    assert dataset.num_examples == 4 and image.bytes_stats.unique == 3
    assert image_stats.find_custom(image, "blank_fraction").num == 0.25
    label = image_stats.find_feature(dataset, features.LABEL_KEY)
    assert [(v.value, v.frequency) for v in label.string_stats.top_values[:3]] == [
        ("0", 2),
        ("1", 1),
        ("9", 1),
    ]
    np.testing.assert_allclose(drift.label_distribution(dataset)[[0, 1, 9]], [0.5, 0.25, 0.25])


def test_blank_and_saturated_images_at_their_bounds():
    half = features.IMAGE_PIXELS // 2  # SATURATED_MIN_FRACTION of the pixels
    pixels = np.zeros((6, features.IMAGE_PIXELS), np.uint8)
    pixels[0] = image_stats.BLANK_MAX_PIXEL  # blank: no pixel above the bound
    pixels[1, 0] = image_stats.BLANK_MAX_PIXEL + 1  # dark, but one pixel visible
    pixels[2, :half] = 255  # saturated: exactly half of its pixels at 255
    pixels[3, : half - 1] = 255  # one short
    pixels[3, half - 1 :] = 254  # ... though brighter on average than image 2
    pixels[4, ::2] = 255  # saturated, spread out
    summary = image_stats.Summary.empty().add(pixels, np.arange(6))
    assert (summary.blank, summary.saturated) == (2, 2)  # image 5 (all 0) is blank too


def test_summary_sums_and_histograms_are_exact_for_large_batches():
    # 5,000 images of bright noise: float32 sums of their squares over all the rows would round
    rng = np.random.default_rng(3)
    pixels = rng.integers(200, 256, (5000, features.IMAGE_PIXELS), dtype=np.uint8)
    labels = rng.integers(0, features.NUM_CLASSES, 5000)
    summary = image_stats.Summary.empty().add(pixels, labels)
    wide = pixels.astype(np.int64)
    assert (summary.pixel_sum_sq == np.square(wide).sum(axis=0)).all()
    for label in range(features.NUM_CLASSES):
        chosen = wide[labels == label]
        assert (summary.pixel_sum[label] == chosen.sum(axis=0)).all()
        assert (summary.histogram[label] == np.bincount(chosen.ravel(), minlength=256)).all()
    means = wide.sum(axis=1) / features.IMAGE_PIXELS
    assert summary.mean_sum == pytest.approx(means.sum(), rel=1e-12)


def test_drift_flags_shifted_intensities_and_moved_labels_only():
    rng = np.random.default_rng(0)

    def stats(name, shift=0, labels=None):
        pixels = np.clip(rng.integers(0, 200, (400, features.IMAGE_PIXELS)) + shift, 0, 255).astype(np.uint8)
        labels = np.arange(400) % 10 if labels is None else labels
        summary = image_stats.Summary.empty().add(pixels, labels)
        return image_stats.to_dataset_statistics(name, summary, features.CLASS_NAMES["mnist"])

    base = stats("train")
    assert not [f for f in drift.compare(base, stats("same")) if f.breached]
    shifted = {f.measure for f in drift.compare(base, stats("brighter", shift=30)) if f.breached}
    assert shifted == {drift.INTENSITY_JS, drift.CLASS_INTENSITY_JS}
    skewed = [f for f in drift.compare(base, stats("skewed", labels=np.arange(400) % 5)) if f.breached]
    assert [f.measure for f in skewed] == [drift.LABEL_LINF] and skewed[0].value == pytest.approx(0.1)


@pytest.mark.slow
def test_statistics_of_the_run_parse_and_count_what_the_manifest_counts(preprocessed):
    _, output_dir, manifest = preprocessed
    directory = os.path.join(output_dir, layout.STATISTICS_DIR)
    with open(os.path.join(directory, statistics.STATISTICS_FILE), "rb") as f:
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
    assert [d.name for d in stats.datasets] == list(layout.SPLITS)
    assert {d.name: d.num_examples for d in stats.datasets} == {
        s: v.examples for s, v in manifest.splits.items()
    }
    found = statistics.read_leakage(output_dir)
    assert {k: found[k] for k in (leakage.EXACT, leakage.NEAR)} == manifest.leakage
    # the fixture's first train and test images are blank but for 3 pixels: a near pair, nothing exact
    assert sum(manifest.leakage[leakage.EXACT].values()) == 0
    rows = np.concatenate(
        [leakage.read_hashes(p) for p in leakage.list_hashes(os.path.join(directory, "image_hashes"))]
    )
    assert len(rows) == sum(d.num_examples for d in stats.datasets) and rows.dtype.itemsize == 30
    anomalies = text_format.Parse(
        open(os.path.join(directory, findings.ANOMALIES_FILE)).read(), anomalies_pb2.Anomalies()
    )
    assert bool(anomalies.anomaly_info) == bool(leakage.one_line(found))
    assert json.load(open(os.path.join(directory, findings.DRIFT_FILE))) is not None
    for name in ("report.md", "label_distribution.png", "class_means_train.png"):
        assert os.path.getsize(os.path.join(directory, name)) > 0
    with Image.open(os.path.join(directory, "class_means_train.png")) as png:  # 3x enlarged, 2-pixel gaps
        strip = np.asarray(png)
    means = statistics.read_class_means(str(output_dir))["train"].reshape(-1, 28, 28)
    assert strip.shape == (3 * 28, 3 * (10 * 28 + 9 * 2))
    np.testing.assert_array_equal(strip[::3, 3 * 30 : 3 * 58 : 3], np.rint(means[1]))


@pytest.mark.slow
def test_fail_on_drift_against_an_earlier_output_writes_nothing(preprocessed, tmp_path):
    from pipeline import job, preprocess

    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 200, 60)
    path = input_dir / "t10k-images-idx3-ubyte"
    brighter = np.clip(idx.read_idx(str(path), idx.IMAGES_NDIM).astype(int) + 60, 0, 255).astype(np.uint8)
    idx.write_idx(str(path), brighter)
    argv = ["--input-dir", str(input_dir), "--against", preprocessed[1], "--fail-on-drift"]
    with pytest.raises(
        job.DriftError, match=r"drift test vs old_train: intensity_js [0-9.]+ above its threshold"
    ):
        preprocess.run([*argv, "--output-dir", str(tmp_path / "out")])
    assert sorted(os.listdir(tmp_path)) == ["idx"]
    manifest = preprocess.run(
        [*argv[:4], "--output-dir", str(tmp_path / "warned")]
    )  # without the flag: warned
    found = json.load(open(tmp_path / "warned" / layout.STATISTICS_DIR / findings.DRIFT_FILE))
    assert {(f["dataset"], f["baseline"], f["measure"]) for f in found if f["breached"]} >= {
        ("test", "old_train", drift.INTENSITY_JS)
    }
    # the same generator made both training files: all but the last (white) image are exact copies
    assert sum(n for name, n in manifest.leakage[leakage.EXACT].items() if "_in_old_" in name) == 199


@pytest.mark.slow
def test_dedup_off_writes_statistics_without_hashes(tmp_path):
    from pipeline import preprocess

    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 60, 20)
    manifest = preprocess.run(
        ["--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out"), "--dedup", "off"]
    )
    assert manifest.leakage == {}
    stats = statistics.read_statistics(str(tmp_path / "out"))
    assert [d.num_examples for d in stats.datasets] == [54, 6, 20]
    assert not os.path.exists(tmp_path / "out" / layout.STATISTICS_DIR / "image_hashes")
