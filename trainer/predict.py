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

from common import cli, console
from common.paths import check_path

EXAMPLES = (
    "python -m trainer.predict --saved-model out/job/export/best --idx-images"
    " data/fashion-mnist/t10k-images-idx3-ubyte.gz --idx-labels data/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    " --output out/predictions.csv --report-dir out/report",
    "python -m trainer.predict --saved-model out/job/export/latest --tfrecords 'raw/part-*.tfrecord.gz'"
    " --output out/p.jsonl",
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.ArgumentParser(
        prog="python -m trainer.predict", description=__doc__.splitlines()[0], examples=EXAMPLES
    )
    parser.add_argument(
        "--saved-model",
        required=True,
        metavar="DIR",
        help="an export, or a directory of exports (the newest complete is used)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--idx-images", metavar="FILE", help="IDX image file (gzip or not)")
    source.add_argument(
        "--tfrecords", metavar="GLOB", help="TFRecord files of raw tf.Examples (image_raw[, label])"
    )
    parser.add_argument(
        "--idx-labels", metavar="FILE", help="IDX label file matching --idx-images (for the report)"
    )
    parser.add_argument(
        "--output",
        default="predictions.csv",
        metavar="FILE",
        help="one row per example with its top 3 classes: CSV, or JSON lines if it ends in .jsonl"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--report-dir",
        metavar="DIR",
        help="with labels: metrics.json, report.md, confusion matrices, mistakes, reliability diagram"
        " (default: --output's directory)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=256,
        metavar="N",
        help="examples per call of the model (range 1..65,536; default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.idx_labels and not args.idx_images:
        parser.error("--idx-labels goes with --idx-images")
    for flag in ("--saved-model", "--idx-images", "--idx-labels", "--tfrecords", "--output", "--report-dir"):
        path = getattr(args, flag[2:].replace("-", "_"))
        if path is not None:
            check_path(path, flag)
    if not 1 <= args.batch_size <= 65_536:
        parser.error(f"--batch-size must be in [1, 65536], got {args.batch_size}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console.import_tensorflow()  # only once the flags are good, without its start-up lines
    from schemas import jobdir
    from trainer import prediction, report

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
        print(f"  {'class':<12} precision  recall     F1  support")
        for name, c in summary["per_class"].items():
            print(f"  {name:<12} {c['precision']:9.4f} {c['recall']:7.4f} {c['f1']:6.4f} {c['support']:8d}")
        low, high = summary["accuracy_ci95"]
        print(f"accuracy: {summary['accuracy']:.4f} (95% CI {low:.4f}-{high:.4f})")
        print(f"report: {posixpath.join(report_dir, jobdir.REPORT_MARKDOWN_FILE)}")
    return 0


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(main)


if __name__ == "__main__":
    entry()
