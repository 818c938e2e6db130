"""Check new raw IDX files against an earlier preprocessing output before anyone trains on them.

    python -m pipeline.validate --input-dir NEW --against OUT [--anomalies anomalies.pbtxt] [Beam flags]

NEW holds train-* and/or t10k-* IDX pairs; OUT is an earlier output of
pipeline.preprocess (its manifest, statistics/ and image hashes). Checked: the
IDX dimensions against OUT's image shape; every label against the classes (the
first offending record of each file is named); drift of each new file against
OUT's train split (pipeline/drift.py, thresholds as pipeline.preprocess's flags);
exact and near duplicates of OUT's images (pipeline/leakage.py). The statistics
of the new data are computed by the same Beam composites as preprocessing, so
the same flags run it on Dataflow (then give a gs:// --statistics-dir).

Exit status: 0 and a short summary for clean data; 1 and one line per finding
otherwise (also written to --anomalies as tensorflow_metadata's Anomalies, as
TFX's ExampleValidator emits them); 2 for a usage error. Flags are parsed
before TensorFlow and Beam load.
"""

from __future__ import annotations

from collections.abc import Sequence

from common import cli, console
from pipeline import config as config_lib

EXAMPLES = (
    "python -m pipeline.validate --input-dir data/new-batch --against out/data",
    "python -m pipeline.validate --input-dir gs://BUCKET/new-batch --against gs://BUCKET/data"
    " --statistics-dir gs://BUCKET/validation --runner=DataflowRunner --project=PROJECT --region=us-central1"
    " --temp_location=gs://BUCKET/tmp --setup_file=./setup.py",
)


def parse_args(argv: Sequence[str] | None):
    """(own flags, Beam flags)."""
    parser = cli.ArgumentParser(
        prog="python -m pipeline.validate",
        description="Check new raw IDX files against an earlier output's schema and statistics.",
        epilog="Any other flag (--runner, --project, ...) is passed to Beam.",
        examples=EXAMPLES,
    )
    parser.add_argument(
        "--input-dir", required=True, metavar="DIR", help="the new train-* and/or t10k-* IDX files"
    )
    parser.add_argument(
        "--against", required=True, metavar="DIR", help="an earlier output dir of pipeline.preprocess"
    )
    parser.add_argument(
        "--anomalies",
        default="anomalies.pbtxt",
        metavar="FILE",
        help="the Anomalies proto (default: %(default)s)",
    )
    parser.add_argument(
        "--statistics-dir",
        metavar="DIR",
        help="keep the new data's statistics/ here (default: a temporary dir)",
    )
    parser.add_argument(
        "--dedup",
        choices=config_lib.DEDUP_MODES,
        default=config_lib.DEDUP_WARN,
        help="look for duplicates of the old images (default: %(default)s)",
    )
    defaults = config_lib.DriftThresholds()
    for name in ("label_linf", "intensity_js", "class_intensity_js"):
        parser.add_argument(
            "--max-" + name.replace("_", "-"),
            type=float,
            default=getattr(defaults, name),
            metavar="X",
            help="drift threshold, as pipeline.preprocess's (range 0 <= X <= 1; default: %(default)s)",
        )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    args, beam_args = parser.parse_known_args(argv)
    cli.setup_logging(args.verbose)
    args.drift = config_lib.DriftThresholds(
        args.max_label_linf, args.max_intensity_js, args.max_class_intensity_js
    )
    return args, beam_args


def run(argv: Sequence[str] | None = None) -> int:
    """Parses flags, validates, prints the summary or the findings; returns the exit status."""
    args, beam_args = parse_args(argv)
    console.import_tensorflow()  # only once the flags are good, without its start-up lines
    from pipeline import validation  # Beam

    result = validation.validate(
        args.input_dir, args.against, args.drift, args.dedup, beam_args, args.statistics_dir, args.anomalies
    )
    for line in result.lines():
        print(line)
    return 1 if result.problems else 0


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(run)


if __name__ == "__main__":
    entry()
