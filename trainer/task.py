"""Train the CNN Estimator on the preprocessing job's output; export it for serving.

    python -m trainer.task --data-dir out/data --job-dir out/job [--model cnn|vgg]
        [--train-steps N | --num-epochs E] [--batch-size B] [--learning-rate LR] ...

The job trains with `train_and_evaluate`: it evaluates on the eval split after new
checkpoints (at most every --throttle-secs), and exports two SavedModels that
take RAW tf.Examples and apply the preprocessing job's transform graph:
JOB_DIR/export/latest/<timestamp> and JOB_DIR/export/best/<timestamp> (highest
eval accuracy). At the end it evaluates the test split.

On Vertex AI (formerly Cloud ML Engine) it honours AIP_CHECKPOINT_DIR (the
model_dir, instead of --job-dir), AIP_MODEL_DIR (the best export is copied
there) and AIP_TENSORBOARD_LOG_DIR (event files are copied there at the end);
TF_CONFIG says which role this process plays. TensorBoard: `tensorboard --logdir JOB_DIR`.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft

from pipeline import cli, outputs
from schemas import layout
from trainer import estimator as tfe
from trainer import hparams as hparams_lib
from trainer import inputs, model, serving

_LOG = logging.getLogger("trainer.task")
LATEST_EXPORTER = "latest"
BEST_EXPORTER = "best"
ENV_MODEL_DIR = "AIP_MODEL_DIR"
ENV_CHECKPOINT_DIR = "AIP_CHECKPOINT_DIR"
ENV_TENSORBOARD_DIR = "AIP_TENSORBOARD_LOG_DIR"


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, hparams_lib.HParams]:
    defaults = hparams_lib.HParams()
    parser = argparse.ArgumentParser(prog="python -m trainer.task", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="output directory of pipeline.preprocess")
    parser.add_argument("--job-dir", help="checkpoints, summaries and exports (or $AIP_CHECKPOINT_DIR)")
    parser.add_argument("--model", choices=model.MODELS, default=defaults.model)
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--train-steps", type=int, help="global step to train to")
    steps.add_argument(
        "--num-epochs", type=float, help=f"passes over the train split (default {hparams_lib.DEFAULT_EPOCHS})"
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument(
        "--constant-learning-rate", action="store_true", help="no cosine decay of the learning rate"
    )
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=defaults.augment,
        help="random left-right flips while training (default: for Fashion-MNIST, not for digits)",
    )
    parser.add_argument(
        "--eval-steps", type=int, help="batches per evaluation (default: the whole eval split)"
    )
    parser.add_argument("--save-checkpoints-steps", type=int, default=defaults.save_checkpoints_steps)
    parser.add_argument("--keep-checkpoint-max", type=int, default=defaults.keep_checkpoint_max)
    parser.add_argument("--throttle-secs", type=int, default=defaults.throttle_secs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--log-steps", type=int, default=defaults.log_step_count_steps, help="log every N steps"
    )
    parser.add_argument("--verbose", action="store_true", help="TensorFlow's own INFO logs too")
    args = parser.parse_args(argv)
    args.job_dir = os.environ.get(ENV_CHECKPOINT_DIR) or args.job_dir
    if not args.job_dir:
        parser.error("--job-dir is required (or set AIP_CHECKPOINT_DIR)")
    hparams = hparams_lib.HParams(
        model=args.model,
        train_steps=args.train_steps,
        num_epochs=args.num_epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        constant_learning_rate=args.constant_learning_rate,
        augment=args.augment,
        eval_steps=args.eval_steps,
        save_checkpoints_steps=args.save_checkpoints_steps,
        keep_checkpoint_max=args.keep_checkpoint_max,
        throttle_secs=args.throttle_secs,
        seed=args.seed,
        log_step_count_steps=args.log_steps,
    )
    return args, hparams


def _higher_accuracy(best_eval_result, current_eval_result) -> bool:
    return current_eval_result["accuracy"] > best_eval_result["accuracy"]


def check_job_dir(job_dir: str, hparams: hparams_lib.HParams) -> None:
    """Refuses a job dir whose checkpoints belong to a different model.

    Raises:
      ValueError: its hparams.json names another --model.
    """
    path = os.path.join(job_dir, hparams_lib.HPARAMS_FILE)
    if not tf.io.gfile.exists(path):
        return
    with tf.io.gfile.GFile(path) as f:
        previous = json.load(f)
    if previous.get("model") != hparams.model:
        raise ValueError(
            f"{job_dir} holds checkpoints of model {previous.get('model')!r}, not {hparams.model!r}: "
            "use another --job-dir"
        )


def train(data_dir: str, job_dir: str, hparams: hparams_lib.HParams) -> dict:
    """Trains, evaluates and exports; returns a summary of the run.

    Returns:
      {"eval": final eval metrics, "test": test metrics, "export": best export dir,
       "exports": all final export dirs, "job_dir": job_dir}.

    Raises:
      FileNotFoundError: data_dir is not a finished preprocessing run.
      ValueError: bad hyperparameters, or a job_dir of another model.
    """
    manifest = outputs.read_manifest(data_dir)
    if not tf.io.gfile.isdir(os.path.join(data_dir, layout.TRANSFORM_FN_DIR)):
        raise FileNotFoundError(
            f"{data_dir}: no {layout.TRANSFORM_FN_DIR}/: not a complete preprocessing output"
        )
    missing = [s for split in layout.SPLITS for s in manifest["splits"][split]["shards"]]
    missing = [s for s in missing if not tf.io.gfile.exists(os.path.join(data_dir, s))]
    if missing:
        raise FileNotFoundError(
            f"{data_dir}: shards listed in the manifest are missing: {', '.join(missing)}"
        )
    transform_output = tft.TFTransformOutput(data_dir)
    check_job_dir(job_dir, hparams)
    config = tfe.RunConfig(
        model_dir=job_dir,
        tf_random_seed=hparams.seed,
        save_checkpoints_steps=hparams.save_checkpoints_steps,
        keep_checkpoint_max=hparams.keep_checkpoint_max,
        log_step_count_steps=hparams.log_step_count_steps,
    )
    if config.is_chief:
        hparams.save(job_dir)
    # Each task of a cluster shuffles its input with its own seed: workers read the
    # same files in different orders (robust to a worker dying, unlike file sharding).
    shuffle_seed = hparams.seed + max(0, config.global_id_in_cluster)
    max_steps = hparams.max_steps(manifest["splits"][layout.TRAIN]["examples"])
    _LOG.info(
        "training %s to step %d, batch %d; model_dir %s",
        hparams.model,
        max_steps,
        hparams.batch_size,
        job_dir,
    )

    def input_fn_for(split, mode):
        return functools.partial(
            inputs.input_fn,
            layout.shard_pattern(data_dir, split),
            transform_output,
            hparams.batch_size,
            mode,
            shuffle_buffer=hparams.shuffle_buffer,
            seed=shuffle_seed,
        )

    params = hparams.model_params(max_steps, manifest["dataset"], manifest["class_names"])
    estimator = tfe.Estimator(model.model_fn, config=config, params=params)
    receiver_fn = serving.make_serving_input_receiver_fn(transform_output)
    exporters = [
        tfe.LatestExporter(LATEST_EXPORTER, receiver_fn, exports_to_keep=hparams.keep_checkpoint_max),
        tfe.BestExporter(BEST_EXPORTER, receiver_fn, compare_fn=_higher_accuracy, exports_to_keep=1),
    ]
    try:
        metrics, exports = tfe.train_and_evaluate(
            estimator,
            tfe.TrainSpec(input_fn_for(layout.TRAIN, tfe.ModeKeys.TRAIN), max_steps=max_steps),
            tfe.EvalSpec(
                input_fn_for(layout.EVAL, tfe.ModeKeys.EVAL),
                steps=hparams.eval_steps,
                exporters=exporters,
                start_delay_secs=0,
                throttle_secs=hparams.throttle_secs,
            ),
        )
    except tf.errors.DataLossError:
        # tf.data does not say which file is corrupt: find it (costs a pass over the data only here).
        for split in layout.SPLITS:
            inputs.verify_shards(layout.shard_pattern(data_dir, split), manifest["splits"][split]["examples"])
        raise
    if not config.is_chief:  # worker, ps or evaluator: the chief reports the results
        return {"eval": metrics, "test": None, "export": None, "exports": [], "job_dir": job_dir}
    test_metrics = estimator.evaluate(input_fn_for(layout.TEST, tfe.ModeKeys.EVAL), name=layout.TEST)
    best = newest_export(os.path.join(job_dir, "export", BEST_EXPORTER))
    _copy_for_vertex(job_dir, best)
    return {
        "eval": metrics,
        "test": test_metrics,
        "export": best,
        "exports": [e.decode() for e in exports],
        "job_dir": job_dir,
    }


def newest_export(export_base: str) -> str:
    """The newest complete export under export_base: a timestamped directory holding
    a saved_model.pb (a crash can leave temp-* or, on gs://, half-copied ones).

    Raises:
      FileNotFoundError: there is none.
    """
    stamps = sorted(int(d.strip("/")) for d in tf.io.gfile.listdir(export_base) if d.strip("/").isdigit())
    for stamp in reversed(stamps):
        path = os.path.join(export_base, str(stamp))
        if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
            return path
    raise FileNotFoundError(f"{export_base}: no complete export")


def _copy_tree(source: str, destination: str) -> None:
    for directory, _, files in tf.io.gfile.walk(source):
        target_dir = os.path.join(destination, os.path.relpath(directory, source))
        tf.io.gfile.makedirs(target_dir)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target_dir, name), overwrite=True)


def _copy_for_vertex(job_dir: str, best_export: str) -> None:
    """Puts the best model and the event files where Vertex AI looks for them."""
    if os.environ.get(ENV_MODEL_DIR):
        _copy_tree(best_export, os.environ[ENV_MODEL_DIR])
        _LOG.info("copied %s to %s", best_export, os.environ[ENV_MODEL_DIR])
    if os.environ.get(ENV_TENSORBOARD_DIR):
        target = os.environ[ENV_TENSORBOARD_DIR]
        for directory, _, files in tf.io.gfile.walk(job_dir):
            for name in files:
                if ".tfevents." in name:
                    relative = os.path.relpath(directory, job_dir)
                    tf.io.gfile.makedirs(os.path.join(target, relative))
                    tf.io.gfile.copy(
                        os.path.join(directory, name), os.path.join(target, relative, name), True
                    )


def run(argv: Sequence[str] | None = None) -> dict:
    """Parses flags, trains, prints the results; returns them."""
    args, hparams = parse_args(argv)
    cli.setup_logging()
    logging.getLogger("trainer").setLevel(logging.INFO)
    if args.verbose:
        logging.getLogger("tensorflow").setLevel(logging.INFO)
    result = train(args.data_dir, args.job_dir, hparams)
    if result["test"] is None:
        return result
    for split in ("eval", "test"):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result[split].items()) if isinstance(v, float))
        print(f"{split}: {shown} (global step {result[split]['global_step']})")
    print(f"exported model: {result['export']}")
    print(f"TensorBoard:    tensorboard --logdir {args.job_dir}")
    return result


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(run)


if __name__ == "__main__":
    entry()
