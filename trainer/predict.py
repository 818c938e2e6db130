"""Batch prediction with an exported model, on raw IDX files or raw tf.Examples.

    python -m trainer.predict --saved-model out/job/export/best/1700000000 \\
        --idx-images data/t10k-images-idx3-ubyte.gz --idx-labels data/t10k-labels-idx1-ubyte.gz \\
        --output out/predictions.csv --report-dir out/report

    python -m trainer.predict --saved-model DIR --tfrecords 'raw/part-*.tfrecord.gz' --output p.jsonl

The model is used exactly as a server would use it: IDX images go to its
`image_raw:serving_default` signature as raw bytes, tf.Examples to
`serving_default`; the transform graph inside the model does the rest. Writes
one row per example (CSV or JSON lines, by the output's suffix); with labels, it
prints the accuracy and writes a confusion-matrix PNG and a per-class accuracy
table into --report-dir.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from pipeline import cli, idx
from schemas import features
from trainer import serving

EXAMPLES_SIGNATURE = "serving_default"
RAW_BYTES_SIGNATURE = f"{serving.RAW_BYTES_RECEIVER}:serving_default"
NO_LABEL = -1


def _idx_batches(images_path: str, labels_path: str | None, batch_size: int) -> tuple[int, Iterator]:
    images = idx.read_header(images_path, idx.IMAGES_NDIM, (features.IMAGE_HEIGHT, features.IMAGE_WIDTH))
    labels = idx.read_header(labels_path, idx.LABELS_NDIM) if labels_path else None
    if labels is not None:
        idx.check_pair(images, labels)

    def batches():
        label_chunks = idx.iter_chunks(labels, chunk_records=batch_size) if labels else None
        for _, chunk in idx.iter_chunks(images, chunk_records=batch_size):
            inputs = {features.IMAGE_RAW_KEY: tf.constant([row.tobytes() for row in chunk])}
            y = next(label_chunks)[1].astype(np.int64) if label_chunks else np.full(len(chunk), NO_LABEL)
            yield inputs, y

    return images.count, batches()


def _tfrecord_batches(pattern: str, batch_size: int) -> tuple[int | None, Iterator]:
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {pattern}")
    compression = "GZIP" if files[0].endswith(".gz") else ""
    label_spec = {features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=NO_LABEL)}

    def batches():
        for batch in tf.data.TFRecordDataset(files, compression_type=compression).batch(batch_size):
            labels = tf.io.parse_example(batch, label_spec)[features.LABEL_KEY].numpy()
            yield {"examples": batch}, labels

    return None, batches()


def predict(
    saved_model: str,
    batches: Iterator,
    total: int | None = None,
    signature: str = RAW_BYTES_SIGNATURE,
) -> dict[str, np.ndarray]:
    """Runs a signature of the model over input batches.

    Returns:
      {"classes": int64 [n], "probabilities": float32 [n, NUM_CLASSES], "labels": int64 [n]
      (NO_LABEL where unknown)}.
    """
    model = tf.saved_model.load(saved_model)
    if signature not in model.signatures:
        raise ValueError(f"{saved_model} has no signature {signature!r}; it has {sorted(model.signatures)}")
    fn = model.signatures[signature]
    classes, probabilities, labels = [], [], []
    with tqdm(total=total, unit="img", desc="predict") as bar:
        for inputs, y in batches:
            out = fn(**inputs)
            classes.append(out["classes"].numpy())
            probabilities.append(out["probabilities"].numpy())
            labels.append(y)
            bar.update(len(y))
    if not classes:
        raise ValueError("no examples to predict")
    return {
        "classes": np.concatenate(classes),
        "probabilities": np.concatenate(probabilities),
        "labels": np.concatenate(labels),
    }


def write_predictions(path: str, result: dict, class_names: Sequence[str]) -> None:
    """Writes one row per example: CSV, or JSON lines for a .jsonl/.json suffix."""
    tf.io.gfile.makedirs(os.path.dirname(path) or ".")
    rows = zip(result["classes"], result["probabilities"], result["labels"], strict=True)
    with tf.io.gfile.GFile(path, "w") as f:
        if path.endswith((".jsonl", ".json")):
            for i, (c, p, y) in enumerate(rows):
                record = {
                    "index": i,
                    "class": int(c),
                    "class_name": class_names[c],
                    "probabilities": p.round(6).tolist(),
                }
                if y != NO_LABEL:
                    record["label"] = int(y)
                f.write(json.dumps(record) + "\n")
            return
        writer = csv.writer(f)
        writer.writerow(["index", "class", "class_name", "probability", "label"])
        for i, (c, p, y) in enumerate(rows):
            writer.writerow([i, int(c), class_names[c], f"{p[c]:.6f}", "" if y == NO_LABEL else int(y)])


def report(result: dict, class_names: Sequence[str], report_dir: str) -> dict:
    """Accuracy, per-class accuracy and a confusion-matrix PNG for labelled examples.

    Returns:
      {"accuracy": float, "per_class_accuracy": {name: float}, "confusion_matrix": path,
       "per_class_table": path}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labelled = result["labels"] != NO_LABEL
    y, c = result["labels"][labelled], result["classes"][labelled]
    n = len(class_names)
    matrix = tf.math.confusion_matrix(y, c, num_classes=n).numpy()
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    tf.io.gfile.makedirs(report_dir)
    table = os.path.join(report_dir, "per_class_accuracy.md")
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
    accuracy = float((y == c).mean())
    ax.set_title(f"confusion matrix: {len(y)} examples, accuracy {accuracy:.4f}")
    for i in range(n):
        for j in range(n):
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    png = os.path.join(report_dir, "confusion_matrix.png")
    with tf.io.gfile.GFile(png, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return {
        "accuracy": accuracy,
        "per_class_accuracy": dict(zip(class_names, per_class.round(4).tolist(), strict=True)),
        "confusion_matrix": png,
        "per_class_table": table,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.predict", description=__doc__.splitlines()[0])
    parser.add_argument("--saved-model", required=True, help="an export directory (holding saved_model.pb)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--idx-images", help="IDX image file (gzip or not)")
    source.add_argument("--tfrecords", help="glob of TFRecord files of raw tf.Examples (image_raw[, label])")
    parser.add_argument("--idx-labels", help="IDX label file matching --idx-images (for accuracy)")
    parser.add_argument("--output", default="predictions.csv", help="CSV, or JSON lines if it ends in .jsonl")
    parser.add_argument("--report-dir", help="where the confusion matrix and per-class table go")
    parser.add_argument("--dataset", choices=sorted(features.CLASS_NAMES), default=features.DEFAULT_DATASET)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    if args.idx_labels and not args.idx_images:
        parser.error("--idx-labels goes with --idx-images")
    if args.idx_images:
        total, batches = _idx_batches(args.idx_images, args.idx_labels, args.batch_size)
        signature = RAW_BYTES_SIGNATURE
    else:
        total, batches = _tfrecord_batches(args.tfrecords, args.batch_size)
        signature = EXAMPLES_SIGNATURE
    class_names = features.class_names(args.dataset)
    result = predict(args.saved_model, batches, total, signature)
    write_predictions(args.output, result, class_names)
    print(f"predictions: {args.output} ({len(result['classes'])} examples)")
    if (result["labels"] != NO_LABEL).any():
        summary = report(
            result, class_names, args.report_dir or os.path.dirname(os.path.abspath(args.output))
        )
        for name, accuracy in summary["per_class_accuracy"].items():
            print(f"  {name:<12} {accuracy:.4f}")
        print(f"accuracy: {summary['accuracy']:.4f}")
        print(f"confusion matrix: {summary['confusion_matrix']}")
    return 0


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(main)


if __name__ == "__main__":
    entry()
