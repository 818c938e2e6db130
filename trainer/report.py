"""A report on labelled predictions: metrics.json, pictures, and a report.md that shows them.

    REPORT_DIR/  (names: schemas/jobdir.py)
      metrics.json                     accuracy with its 95% confidence interval; per class precision,
                                       recall, F1 and support; macro and weighted averages; log loss;
                                       expected calibration error; the confusion matrix
      confusion_matrix.png             counts
      confusion_matrix_normalized.png  each row as shares of its true class (= recall on the diagonal)
      mistakes.png                     the first misclassified images, true -> predicted
      reliability.png                  accuracy against confidence (calibration)
      report.md                        the table and the pictures, for people who would rather look

The per-class and averaged metrics, log loss and the confusion matrix are
sklearn.metrics'; the interval (Wilson's) and the calibration error are short formulas here.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from sklearn import metrics as skm

from schemas import jobdir
from trainer import figures
from trainer.prediction import NO_LABEL

Z_95 = 1.959964  # the standard normal's 97.5th percentile
CALIBRATION_BINS = 15  # equal-width confidence bins of the expected calibration error (Guo et al. 2017)


def files(report_dir: str) -> list[str]:
    """The files `write` puts in report_dir."""
    return [posixpath.join(report_dir, name) for name in jobdir.REPORT_FILES]


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion correct/n (95% by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, center - half), min(1.0, center + half)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS):
    """Σ_b (n_b / n) |accuracy_b - confidence_b| over equal-width bins of the top-1 probability."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.clip(np.digitize(confidence, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    gap = np.abs(
        np.bincount(which, weights=correct.astype(float), minlength=bins)
        - np.bincount(which, weights=confidence, minlength=bins)
    )
    return float(gap.sum() / max(len(labels), 1)) if counts.any() else 0.0


def compute(labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]) -> dict:
    """metrics.json's content for labelled predictions (int64 [n], float32 [n, classes])."""
    n_classes, classes = len(class_names), probabilities.argmax(axis=1)
    indices = list(range(n_classes))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        labels, classes, labels=indices, zero_division=0
    )
    correct = int((classes == labels).sum())

    def averaged(kind: str) -> dict:
        p, r, f, _ = skm.precision_recall_fscore_support(
            labels, classes, labels=indices, average=kind, zero_division=0
        )
        return {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(len(labels))}

    return {
        "examples": int(len(labels)),
        "accuracy": correct / len(labels),
        "accuracy_ci95": list(wilson_interval(correct, len(labels))),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)
        },
        "macro_avg": averaged("macro"),
        "weighted_avg": averaged("weighted"),
        "log_loss": float(skm.log_loss(labels, np.clip(probabilities, 1e-15, 1), labels=indices)),
        "expected_calibration_error": expected_calibration_error(probabilities, labels),
        "calibration_bins": CALIBRATION_BINS,
        "class_names": list(class_names),
        "confusion_matrix": skm.confusion_matrix(labels, classes, labels=indices).tolist(),
    }


def _markdown(m: dict) -> str:
    low, high = m["accuracy_ci95"]
    lines = [
        "# Prediction report",
        "",
        f"{m['examples']} labelled examples: accuracy **{m['accuracy']:.4f}** (95% CI {low:.4f}–{high:.4f},"
        f" Wilson), macro F1 {m['macro_avg']['f1']:.4f}, log loss {m['log_loss']:.4f}, expected calibration"
        f" error {m['expected_calibration_error']:.4f} ({m['calibration_bins']} bins). Numbers: `metrics.json`.",
        "",
        "| class | name | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for i, (name, c) in enumerate(m["per_class"].items()):
        lines.append(
            f"| {i} | {name} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |"
        )
    for label, key in (("macro avg", "macro_avg"), ("weighted avg", "weighted_avg")):
        c = m[key]
        lines.append(
            f"| | {label} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |"
        )
    lines.append("")
    for title, name in (
        ("Confusion matrix", jobdir.REPORT_CONFUSION_MATRIX_FILE),
        ("Confusion matrix, normalized by true class", jobdir.REPORT_CONFUSION_MATRIX_NORMALIZED_FILE),
        ("Mistakes (true → predicted)", jobdir.REPORT_MISTAKES_FILE),
        ("Reliability diagram", jobdir.REPORT_RELIABILITY_FILE),
    ):
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    return "\n".join(lines)


def _write_file(path: str, content: bytes | str) -> None:
    with tf.io.gfile.GFile(path, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)


def write(result: dict, class_names: Sequence[str], report_dir: str) -> dict:
    """Writes the report of the labelled examples of `result` into report_dir (created; local or gs://).

    Args:
      result: from `trainer.prediction.predict` (with "mistakes": the images of the first
        misclassified examples, when it kept them).
      class_names: the model's class names, by class index.

    Returns:
      metrics.json's content, with "report_dir".
    """
    labelled = result["labels"] != NO_LABEL
    labels, probabilities = result["labels"][labelled], result["probabilities"][labelled]
    m = compute(labels, probabilities, class_names)
    mistakes = result.get("mistakes") or {
        "images": np.zeros((0, 28, 28), np.uint8),
        "labels": [],
        "classes": [],
    }
    pictures = {
        jobdir.REPORT_CONFUSION_MATRIX_FILE: figures.confusion_matrix(m["confusion_matrix"], class_names),
        jobdir.REPORT_CONFUSION_MATRIX_NORMALIZED_FILE: figures.confusion_matrix(
            m["confusion_matrix"], class_names, normalized=True
        ),
        jobdir.REPORT_MISTAKES_FILE: figures.mistakes(
            mistakes["images"], mistakes["labels"], mistakes["classes"], class_names
        ),
        jobdir.REPORT_RELIABILITY_FILE: figures.reliability(
            probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
        ),
    }
    tf.io.gfile.makedirs(report_dir)
    for name, png in pictures.items():
        _write_file(posixpath.join(report_dir, name), png)
    _write_file(posixpath.join(report_dir, jobdir.REPORT_METRICS_FILE), json.dumps(m, indent=2) + "\n")
    _write_file(posixpath.join(report_dir, jobdir.REPORT_MARKDOWN_FILE), _markdown(m))
    return {**m, "report_dir": report_dir}
