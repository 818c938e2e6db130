"""Train the CNN Estimator on the preprocessing job's output; export it for serving.

    python -m trainer.task --data-dir out/data --job-dir out/job [--model fast|cnn|vgg]
        [--train-steps N | --num-epochs E] [--batch-size B] [--learning-rate LR] ...

The job (trainer/job.py) trains with `train_and_evaluate`: it evaluates on the
eval split after new checkpoints (at most every --throttle-secs), and exports
two SavedModels that take RAW tf.Examples and apply the preprocessing job's
transform graph: JOB_DIR/export/latest/<timestamp> and JOB_DIR/export/best/<timestamp>
(highest eval accuracy). At the end it evaluates the test split.

On Vertex AI (formerly Cloud ML Engine) it honours AIP_CHECKPOINT_DIR,
AIP_MODEL_DIR and AIP_TENSORBOARD_LOG_DIR (trainer/vertex.py); TF_CONFIG says
which role this process plays. TensorBoard: `tensorboard --logdir JOB_DIR`.
Flags are parsed before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from tqdm.contrib.logging import logging_redirect_tqdm

from common import cli, console
from common.paths import check_literal, check_path
from trainer import hparams as hparams_lib
from trainer import vertex

EXAMPLES = (
    "python -m trainer.task --data-dir out/data --job-dir out/job",
    "python -m trainer.task --data-dir gs://BUCKET/data --job-dir gs://BUCKET/job-vgg --model vgg -v",
)


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, hparams_lib.HParams]:
    parser = cli.ArgumentParser(
        prog="python -m trainer.task", description=__doc__.splitlines()[0], examples=EXAMPLES
    )
    parser.add_argument(
        "--data-dir", required=True, metavar="DIR", help="output directory of pipeline.preprocess (or gs://)"
    )
    parser.add_argument(
        "--job-dir", metavar="DIR", help="checkpoints, summaries and exports (or $AIP_CHECKPOINT_DIR)"
    )
    parser.add_argument(
        "--verify-data",
        action="store_true",
        help="before training, hash every shard and count its records against the manifest"
        " (always: the shard list, sizes and the transform's hash)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: tf.estimator's full INFO log (RunConfig, every evaluation batch, exports);"
        " -vv: DEBUG, and TensorFlow's C++ INFO lines",
    )
    hparams_lib.add_flags(parser)
    args = parser.parse_args(argv)
    args.job_dir = vertex.job_dir(args.job_dir)
    if not args.job_dir:
        parser.error("--job-dir is required (or set AIP_CHECKPOINT_DIR)")
    for flag, path in (("--data-dir", args.data_dir), ("--job-dir", args.job_dir)):
        check_path(path, flag)
        check_literal(path, flag)
    return args, hparams_lib.from_flags(args)


def run(argv: Sequence[str] | None = None):
    """Parses flags, trains, prints the results; returns the `trainer.job.Result`."""
    args, hparams = parse_args(argv)
    console.set_cpp_verbosity(args.verbose)
    # The Estimator logs as tf.estimator did, through TensorFlow's logger ("tensorflow"):
    # WARNING by default, INFO at -v; the job's own lines are the "trainer" logger's.
    cli.setup_logging(args.verbose)
    logging.getLogger("trainer").setLevel(logging.DEBUG if args.verbose >= 2 else logging.INFO)
    console.import_tensorflow(args.verbose)  # only once the flags are good
    from trainer import job

    with logging_redirect_tqdm(loggers=[logging.getLogger()]):
        result = job.train(args.data_dir, args.job_dir, hparams, verify_data=args.verify_data)
    if result.test is None:
        return result
    for split, metrics in (("eval", result.eval), ("test", result.test)):
        scalars = {k: v for k, v in metrics.items() if k != "global_step" and not isinstance(v, bytes)}
        shown = ", ".join(f"{k} {float(v):.4f}" for k, v in sorted(scalars.items()))
        print(f"{split}: {shown} (global step {int(metrics['global_step'])})")
    print(f"exported model: {result.export}")
    print(f"TensorBoard:    tensorboard --logdir {args.job_dir}")
    return result


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(run)


if __name__ == "__main__":
    entry()
