"""Preprocess IDX files into sharded TFRecords plus a tf.Transform graph.

Locally (Beam's in-process runner, deterministic, offline):

    python -m pipeline.preprocess \\
        --input-dir /usr/share/datasets/fashion-mnist --output-dir out/data

In several local worker processes, as Dataflow runs DoFns:

    python -m pipeline.preprocess --input-dir DIR --output-dir OUT \\
        --direct_running_mode=multi_processing --direct_num_workers=2

On Google Cloud Dataflow (inputs and outputs on gs://):

    python -m pipeline.preprocess \\
        --input-dir gs://BUCKET/fashion-mnist --output-dir gs://BUCKET/data \\
        --runner=DataflowRunner --project=PROJECT --region=REGION \\
        --temp_location=gs://BUCKET/tmp --setup_file=./setup.py

Flags of the job are below; every other flag goes to Beam's PipelineOptions.
Exit status: 0 when OUTPUT_DIR holds a finished run, 1 otherwise (with one line
`error: ...` for bad input), 2 for a usage error; nothing finished-looking is
left on failure. Flags are parsed before TensorFlow and Beam are imported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from common import cli, console
from pipeline import config as config_lib
from schemas import features, layout

_LOG = logging.getLogger("pipeline.preprocess")


EXAMPLES = (
    "python -m pipeline.preprocess --input-dir data/fashion-mnist --output-dir out/data --overwrite",
    "python -m pipeline.preprocess --input-dir gs://BUCKET/fashion-mnist --output-dir gs://BUCKET/data"
    " --runner=DataflowRunner --project=PROJECT --region=us-central1 --temp_location=gs://BUCKET/tmp"
    " --setup_file=./setup.py",
)


def parse_args(argv: Sequence[str] | None) -> tuple[config_lib.PreprocessConfig, list[str]]:
    """Splits argv into the job's config and the remaining Beam flags."""
    parser = cli.ArgumentParser(
        prog="python -m pipeline.preprocess",
        description="IDX image/label files -> sharded GZIP TFRecords + tf.Transform graph.",
        epilog="Any other flag (--runner, --project, --direct_num_workers, ...) is passed to Beam.",
        examples=EXAMPLES,
    )
    parser.add_argument(
        "--input-dir", required=True, metavar="DIR", help="directory with train-* and t10k-* IDX files"
    )
    parser.add_argument(
        "--output-dir", required=True, metavar="DIR", help="where the outputs go (local or gs://)"
    )
    parser.add_argument(
        "--eval-fraction",
        type=float,
        default=config_lib.PreprocessConfig.eval_fraction,
        metavar="X",
        help="share of the training file held out as eval, deterministically (range 0 <= X < 1;"
        " default: %(default)s)",
    )
    parser.add_argument(
        "--num-shards",
        type=int,
        default=0,
        metavar="N",
        help=f"shards per split (range 0..{config_lib.MAX_SHARDS:,}; default 0: one per"
        f" {config_lib.EXAMPLES_PER_SHARD:,} records"
        " of the split's source file)",
    )
    parser.add_argument(
        "--normalization",
        choices=config_lib.NORMALIZATIONS,
        default=config_lib.PreprocessConfig.normalization,
        help="pixel normalization, with statistics of the train split (default: %(default)s)",
    )
    parser.add_argument(
        "--dataset",
        choices=sorted(features.CLASS_NAMES),
        default=config_lib.PreprocessConfig.dataset,
        help="whose class names to record in the manifest (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier output of this pipeline at --output-dir"
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    _add_statistics_flags(parser)
    args, beam_args = parser.parse_known_args(argv)
    cli.setup_logging(args.verbose)
    return _config(args), beam_args


def _config(args) -> config_lib.PreprocessConfig:
    """The job's config from the parsed flags (raises ConfigError for a value out of range)."""
    return config_lib.PreprocessConfig(
        input_dir=args.input_dir,
        output_dir=args.output_dir,
        eval_fraction=args.eval_fraction,
        num_shards=args.num_shards,
        normalization=args.normalization,
        overwrite=args.overwrite,
        dataset=args.dataset,
        statistics=args.statistics,
        dedup=args.dedup,
        drift=config_lib.DriftThresholds(
            args.max_label_linf, args.max_intensity_js, args.max_class_intensity_js
        ),
        fail_on_drift=args.fail_on_drift,
        against=args.against or "",
    )


def _add_statistics_flags(parser: cli.ArgumentParser) -> None:
    """Flags of statistics/: duplicates, drift thresholds, an earlier output to check against."""
    group = parser.add_argument_group("statistics, duplicates and drift (written to OUTPUT_DIR/statistics/)")
    group.add_argument(
        "--no-statistics",
        dest="statistics",
        action="store_false",
        help="compute no statistics (needs --dedup off)",
    )
    group.add_argument(
        "--dedup",
        choices=config_lib.DEDUP_MODES,
        default=config_lib.PreprocessConfig.dedup,
        help="look for exact and near-duplicate images within and between splits (default: %(default)s)",
    )
    defaults = config_lib.DriftThresholds()
    for name, what in (
        ("label_linf", "L-infinity distance of the label distributions"),
        ("intensity_js", "Jensen-Shannon divergence of the pixel intensity histograms"),
        ("class_intensity_js", "the same, within each class"),
    ):
        flag = "--max-" + name.replace("_", "-")
        group.add_argument(
            flag,
            type=float,
            default=getattr(defaults, name),
            metavar="X",
            help=f"drift threshold: {what} (range 0 <= X <= 1; default: %(default)s)",
        )
    group.add_argument(
        "--fail-on-drift", action="store_true", help="a drift above its threshold fails the run"
    )
    group.add_argument(
        "--against",
        metavar="DIR",
        help="an earlier output dir: check this data's drift and duplicates against it",
    )


def run(argv: Sequence[str] | None = None):
    """Parses flags, runs the job and returns the `schemas.manifest.Manifest` (raises on failure)."""
    config, beam_args = parse_args(argv)
    console.import_tensorflow()  # only once the flags are good, without its start-up lines
    from pipeline import job  # tf.Transform and Beam

    manifest = job.run_preprocessing(config, beam_args)
    summary = {split: info.examples for split, info in manifest.splits.items()}
    print(
        f"wrote {config.output_dir}: {json.dumps(summary)} examples, "
        f"{layout.TRANSFORM_FN_DIR}/ and {layout.MANIFEST_FILE} in {manifest.wall_time_seconds} s"
    )
    from pipeline import leakage

    if leakage.one_line(manifest.leakage):
        print(f"duplicate images ({layout.STATISTICS_DIR}/report.md): {leakage.one_line(manifest.leakage)}")
    return manifest


def entry() -> None:
    """Console-script entry point: runs `main` and exits with its status."""
    cli.exit_with(run)


if __name__ == "__main__":
    entry()
