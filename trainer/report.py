"""A report on labelled predictions: accuracy, per-class accuracy, a confusion-matrix PNG."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from trainer.prediction import NO_LABEL

CONFUSION_MATRIX_FILE = "confusion_matrix.png"
PER_CLASS_FILE = "per_class_accuracy.md"


def files(report_dir: str) -> list[str]:
    """The paths `write` writes into report_dir."""
    return [posixpath.join(report_dir, name) for name in (PER_CLASS_FILE, CONFUSION_MATRIX_FILE)]


def confusion_matrix(labels: np.ndarray, classes: np.ndarray, num_classes: int) -> np.ndarray:
    """int [num_classes, num_classes]: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, classes), 1)
    return matrix


def write(result: dict, class_names: Sequence[str], report_dir: str) -> dict:
    """Writes the per-class table and the confusion-matrix PNG for the labelled examples.

    Args:
      result: from `trainer.prediction.predict`.
      class_names: the model's class names, by class index.
      report_dir: where the files go (created; local or gs://).

    Returns:
      {"accuracy": float, "per_class_accuracy": {name: float}, "confusion_matrix": PNG path,
       "per_class_table": Markdown path}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labelled = result["labels"] != NO_LABEL
    y, c = result["labels"][labelled], result["classes"][labelled]
    n = len(class_names)
    matrix = confusion_matrix(y, c, n)
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    accuracy = float((y == c).mean())
    tf.io.gfile.makedirs(report_dir)
    table = posixpath.join(report_dir, PER_CLASS_FILE)
    with tf.io.gfile.GFile(table, "w") as f:
        f.write("| class | name | examples | accuracy |\n| --- | --- | --- | --- |\n")
        for i, name in enumerate(class_names):
            f.write(f"| {i} | {name} | {matrix[i].sum()} | {per_class[i]:.4f} |\n")
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix: {len(y)} examples, accuracy {accuracy:.4f}")
    for i in range(n):
        for j in range(n):
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    png = posixpath.join(report_dir, CONFUSION_MATRIX_FILE)
    with tf.io.gfile.GFile(png, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return {
        "accuracy": accuracy,
        "per_class_accuracy": dict(zip(class_names, per_class.round(4).tolist(), strict=True)),
        "confusion_matrix": png,
        "per_class_table": table,
    }
