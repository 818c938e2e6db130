"""statistics/report.md and its PNGs: the statistics of a preprocessing output, for people.

report.md                 per split: examples, label counts, mean-intensity quantiles,
                          blank/saturated shares; duplicates; drift between the splits
label_distribution.png    each class's share, one bar group per split
class_means_<split>.png   the mean image of each class
"""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf

from pipeline import drift, image_stats, leakage, statistics
from schemas import features, layout

REPORT_FILE = "report.md"
LABELS_PNG = "label_distribution.png"


def _label_png(stats, class_names, path: str) -> None:
    """Each class's share of each split, as grouped bars (matplotlib's Agg canvas; pyplot is not loaded)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.5), dpi=80)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(bottom=0.3)
    axes = figure.add_subplot()
    width = 0.8 / max(len(stats.datasets), 1)
    for i, dataset in enumerate(stats.datasets):
        shares = drift.label_distribution(dataset)
        label = f"{dataset.name} ({dataset.num_examples})"
        axes.bar(np.arange(len(shares)) + i * width, shares, width, label=label)
    axes.set_xticks(np.arange(features.NUM_CLASSES) + width * (len(stats.datasets) - 1) / 2)
    axes.set_xticklabels(class_names, rotation=30, ha="right")
    axes.set_ylabel("share of the split's images")
    axes.set_ylim(0, axes.get_ylim()[1] * 1.25)  # room for the legend above the bars
    axes.legend(loc="upper center", ncol=len(stats.datasets))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def _means_png(means: np.ndarray, path: str, scale: int = 3) -> None:
    """The NUM_CLASSES mean images side by side (class 0 on the left), each `scale` times enlarged.

    A greyscale PNG written by Pillow: grey levels 0-255 as they are, white gaps.
    """
    from PIL import Image

    tiles = np.rint(means.reshape(-1, features.IMAGE_HEIGHT, features.IMAGE_WIDTH)).astype(np.uint8)
    gap = np.full((features.IMAGE_HEIGHT, 2), 255, np.uint8)
    strip = np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)
    strip = strip.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(strip, "L").save(buffer, format="png")
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def _split_lines(dataset, class_names) -> list[str]:
    image = image_stats.find_feature(dataset, features.IMAGE_RAW_KEY)
    custom = {c.name: c for c in image.custom_stats}
    quantiles = [b.low_value for b in custom["mean_intensity_quantiles"].histogram.buckets]
    quantiles += [custom["mean_intensity_quantiles"].histogram.buckets[-1].high_value] if quantiles else []
    counts = image_stats.histogram_counts(
        image_stats.find_custom(
            image_stats.find_feature(dataset, features.LABEL_KEY), image_stats.LABEL_HISTOGRAM
        ).histogram
    )
    labels = ", ".join(f"{name} {int(n)}" for name, n in zip(class_names, counts, strict=True))
    return [
        f"### {dataset.name}: {dataset.num_examples} images",
        "",
        f"- labels: {labels}",
        "- mean intensity (0-255) min, deciles, max: " + ", ".join(f"{q:.1f}" for q in quantiles),
        f"- blank images: {custom['blank_fraction'].num:.4f}; saturated: {custom['saturated_fraction'].num:.4f}",
        f"- mean image per class ({', '.join(class_names)}, left to right):",
        f"  ![{dataset.name}](class_means_{dataset.name}.png)",
        "",
    ]


def write_report(output_dir: str, stats, class_names, found: dict, findings: list) -> str:
    """Writes report.md and its PNGs into OUTPUT_DIR/statistics/ (`stats`: its statistics.pb); returns its path."""
    directory = statistics.statistics_dir(output_dir)
    _label_png(stats, class_names, layout.join(directory, LABELS_PNG))
    for split, means in statistics.read_class_means(output_dir).items():
        _means_png(means, layout.join(directory, f"class_means_{split}.png"))
    lines = ["# Statistics of the raw data", "", f"![label distribution per split]({LABELS_PNG})", ""]
    for dataset in stats.datasets:
        lines += _split_lines(dataset, class_names)
    lines += ["## Duplicates", ""]
    if found:
        lines.append(
            f"Exact: equal raw pixels. Near: {leakage.HASH_BITS}-bit perceptual hashes at most"
            f" {leakage.HAMMING_THRESHOLD} bits apart, content different (pipeline/leakage.py)."
        )
        lines += ["", "| count | exact | near |", "| --- | --- | --- |"]
        lines += [
            f"| {n} | {found[leakage.EXACT][n]} | {found[leakage.NEAR][n]} |" for n in found[leakage.EXACT]
        ]
    else:
        lines.append("Not looked for (--dedup off).")
    lines += [
        "",
        "## Drift",
        "",
        "| split vs baseline | measure | value | threshold | breached |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in findings:
        what = f.measure if f.label is None else f"{f.measure} ({class_names[f.label]})"
        lines.append(
            f"| {f.dataset} vs {f.baseline} | {what} | {f.value:.4f} | {f.threshold:g} | {'yes' if f.breached else ''} |"
        )
    if not findings:
        lines.append(f"| (no comparison: a split under {drift.MIN_EXAMPLES} images) | | | | |")
    path = layout.join(directory, REPORT_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
