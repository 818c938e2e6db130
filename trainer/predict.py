"""Batch prediction with an exported model, on raw IDX files or raw tf.Examples.

    python -m trainer.predict --saved-model out/job/export/best \\
        --idx-images data/t10k-images-idx3-ubyte.gz --idx-labels data/t10k-labels-idx1-ubyte.gz \\
        --output out/predictions.csv --report-dir out/report

    python -m trainer.predict --saved-model DIR --tfrecords 'raw/part-*.tfrecord.gz' --output p.jsonl

--saved-model is an export (a directory holding saved_model.pb) or a directory
of timestamped exports, of which the newest complete one is used. The model is
called as a server would call it (trainer/prediction.py); class names come from
the model. Writes one row per example (CSV, or JSON lines for .jsonl); with
labels, prints the accuracy and writes a confusion-matrix PNG and a per-class
table into --report-dir. Flags are parsed before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import posixpath
from collections.abc import Sequence

from common import cli


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainer.predict", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--saved-model",
        required=True,
        help="an export, or a directory of exports (the newest complete is used)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--idx-images", help="IDX image file (gzip or not)")
    source.add_argument("--tfrecords", help="glob of TFRecord files of raw tf.Examples (image_raw[, label])")
    parser.add_argument("--idx-labels", help="IDX label file matching --idx-images (for accuracy)")
    parser.add_argument("--output", default="predictions.csv", help="CSV, or JSON lines if it ends in .jsonl")
    parser.add_argument("--report-dir", help="where the confusion matrix and per-class table go")
    parser.add_argument("--batch-size", type=int, default=256, help="examples per call of the model")
    args = parser.parse_args(argv)
    if args.idx_labels and not args.idx_images:
        parser.error("--idx-labels goes with --idx-images")
    if not 1 <= args.batch_size <= 65_536:
        parser.error(f"--batch-size must be in [1, 65536], got {args.batch_size}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from trainer import prediction, report  # TensorFlow: only once the flags are good

    export = prediction.resolve_export(args.saved_model)
    report_dir = args.report_dir or posixpath.dirname(args.output) or "."
    inputs = [p for p in (args.idx_images, args.idx_labels) if p] or prediction.tfrecord_files(args.tfrecords)
    prediction.check_outputs(args.output, report.files(report_dir), inputs, [args.saved_model, export])
    prediction.check_writable(args.output)
    loaded = prediction.load(export)
    names = prediction.class_names(loaded)
    if args.idx_images:
        total, batches = prediction.idx_batches(args.idx_images, args.idx_labels, args.batch_size, len(names))
        signature = prediction.RAW_BYTES_SIGNATURE
    else:
        total, batches = prediction.tfrecord_batches(args.tfrecords, args.batch_size)
        signature = prediction.EXAMPLES_SIGNATURE
    result = prediction.predict(loaded, batches, total, signature)
    prediction.write_predictions(args.output, result, names)
    print(f"model: {export}")
    print(f"predictions: {args.output} ({len(result['classes'])} examples)")
    if (result["labels"] != prediction.NO_LABEL).any():
        summary = report.write(result, names, report_dir)
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
