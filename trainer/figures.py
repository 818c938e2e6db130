"""The pictures of a model's results, as PNG bytes: for TensorBoard's evaluation images and the report.

- `confusion_matrix`: counts, or each row normalized to the share of its true class.
- `mistakes`: a grid of misclassified images, each titled with its true and predicted class.
- `reliability`: a reliability diagram (accuracy against confidence, by confidence bin).

matplotlib (Agg, no display) draws them; nothing here imports TensorFlow.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], normalized: bool = False) -> bytes:
    """A heat map of `matrix` (int [n, n]: row = true class, column = predicted), each cell
    labelled with its count, or with its share of the row when `normalized`."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalized else matrix
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(shown, cmap="Blues", vmin=0)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total, correct = int(matrix.sum()), int(np.trace(matrix))
    kind = "normalized by true class" if normalized else "counts"
    ax.set_title(f"confusion matrix ({kind})\n{total} examples, accuracy {correct / max(total, 1):.4f}")
    for i in range(n):
        for j in range(n):
            text = f"{shown[i, j]:.2f}" if normalized else str(int(matrix[i, j]))
            color = "white" if shown[i, j] > shown.max() / 2 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    return _png(fig)


def mistakes(
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    class_names: Sequence[str],
    columns: int = 8,
) -> bytes:
    """A grid of misclassified images (float or uint8 [k, height, width]), each titled
    "true / predicted" by class name; a blank panel when there are none."""
    plt = _pyplot()
    k = len(images)
    rows = max(1, -(-k // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            ax.imshow(images[i], cmap="gray_r")
            ax.set_title(f"{class_names[labels[i]]}\n→ {class_names[predicted[i]]}", fontsize=7)
    fig.suptitle(f"the first {k} mistakes: true → predicted" if k else "no mistakes", fontsize=9)
    return _png(fig)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> bytes:
    """A reliability diagram: for each confidence bin ([0, 1] in `bins` equal parts), the
    accuracy of its predictions against their mean confidence; the diagonal is perfect
    calibration, and each bar is labelled with its number of predictions."""
    plt = _pyplot()
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    accuracy = np.bincount(which, weights=correct.astype(float), minlength=bins) / np.maximum(counts, 1)
    fig, ax = plt.subplots(figsize=(5, 5))
    centers = (edges[:-1] + edges[1:]) / 2
    ax.bar(centers, accuracy, width=1 / bins, edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    for x, y, n in zip(centers, accuracy, counts, strict=True):
        if n:
            ax.text(x, y + 0.01, str(n), ha="center", fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    ax.set_title("reliability diagram")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)
