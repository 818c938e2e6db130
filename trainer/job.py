"""The training job: check and pin the data, train and evaluate, export, report.

    data dir (manifest, transform_fn/, shards) --check, pin--> Estimator(model_fn)
      --train_and_evaluate: eval split after checkpoints, LatestExporter + BestExporter-->
      JOB_DIR/export/{latest,best}/<timestamp>/ --final test evaluation--> results

Exports take RAW tf.Examples and apply the preprocessing job's transform graph
(serving.py). Before each export the data dir is checked to be the one the job
started on (data.py), so a model is never exported with a transform it was not
trained with.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import posixpath
import re

import tensorflow as tf
import tensorflow_transform as tft

import estimator as tfe
from common.errors import ConfigError
from common.paths import check_literal
from estimator import export_dirs
from schemas import layout
from trainer import data, inputs, model, serving, vertex
from trainer import hparams as hparams_lib

_LOG = logging.getLogger("trainer")
LATEST_EXPORTER = "latest"
BEST_EXPORTER = "best"
EXPORT_DIR = "export"  # tf.estimator's: MODEL_DIR/export/<exporter name>/
# What tf.compat.v1's Saver says when a checkpoint lacks one of the graph's variables.
_MISSING_KEY = re.compile(r"Key (\S+) not found in checkpoint")


@dataclasses.dataclass
class Result:
    """What a training job produced.

    Attributes:
      eval: metrics of the final evaluation on the eval split ({} on a worker or ps).
      test: metrics on the test split (None except on the chief).
      export: the best complete export (None except on the chief).
      exports: the export directories of the final evaluation.
      job_dir: where checkpoints, summaries and exports are.
    """

    eval: dict
    test: dict | None
    export: str | None
    exports: list[str]
    job_dir: str


def export_base(job_dir: str, exporter: str) -> str:
    """JOB_DIR/export/<exporter>: where that exporter's timestamped exports go."""
    return posixpath.join(job_dir, EXPORT_DIR, exporter)


def _higher_accuracy(best_eval_result, current_eval_result) -> bool:
    return current_eval_result["accuracy"] > best_eval_result["accuracy"]


def check_job_dir(job_dir: str, hparams: hparams_lib.HParams) -> None:
    """Refuses a job dir that is not a writable directory, or whose checkpoints belong to another model.

    Raises:
      ConfigError: job_dir is a file, cannot be created or written, or its
        hparams.json names another --model (or is unreadable).
    """
    try:
        if tf.io.gfile.exists(job_dir) and not tf.io.gfile.isdir(job_dir):
            raise ConfigError(f"{job_dir}: --job-dir is a file, not a directory")
        tf.io.gfile.makedirs(job_dir)
        probe = posixpath.join(job_dir, ".write-test")
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("")
        tf.io.gfile.remove(probe)
    except tf.errors.OpError as e:
        raise ConfigError(f"{job_dir}: --job-dir is not writable: {e.message}") from None
    path = posixpath.join(job_dir, hparams_lib.HPARAMS_FILE)
    if not tf.io.gfile.exists(path):
        return
    try:
        with tf.io.gfile.GFile(path) as f:
            previous = json.loads(f.read())
        previous_model = previous["model"]
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: unreadable ({type(e).__name__}: {e}); use a new --job-dir") from None
    if previous_model != hparams.model:
        raise ConfigError(
            f"{job_dir} holds checkpoints of model {previous_model!r}, not {hparams.model!r}: use another --job-dir"
        )


def _check_restored(error: tf.errors.OpError, job_dir: str, model_name: str) -> None:
    """Raises ConfigError if `error` is a checkpoint of another network layout failing to restore.

    A job dir written by an earlier version of the same --model (the `fast`
    network's batch norm got new names when it moved after pooling) passes
    `check_job_dir` and then fails in the Saver's restore.
    """
    missing = _MISSING_KEY.search(error.message) if isinstance(error, tf.errors.NotFoundError) else None
    if missing:
        raise ConfigError(
            f"{job_dir}: its checkpoint lacks variable {missing.group(1)!r} of --model {model_name}"
            " as this version builds it (written by an earlier version of the network?): use another --job-dir"
        ) from None


def _run_config(job_dir: str, hparams: hparams_lib.HParams) -> tfe.RunConfig:
    try:
        return tfe.RunConfig(
            model_dir=job_dir,
            tf_random_seed=hparams.seed,
            save_checkpoints_steps=hparams.save_checkpoints_steps,
            keep_checkpoint_max=hparams.keep_checkpoint_max,
            log_step_count_steps=hparams.log_step_count_steps,
        )
    except ValueError as e:  # a malformed TF_CONFIG
        raise ConfigError(str(e)) from None


def train(data_dir: str, job_dir: str, hparams: hparams_lib.HParams, verify_data: bool = False) -> Result:
    """Trains, evaluates and exports.

    Args:
      data_dir: output of pipeline.preprocess (local or gs://).
      job_dir: checkpoints, summaries, exports (local or gs://); a job dir of an
        earlier run of the same model and data resumes from its newest checkpoint.
      hparams: the hyperparameters.
      verify_data: also hash every shard and count its records before training.

    Raises:
      InputNotFoundError, DataError: the data dir is not a complete, unchanged
        preprocessing output (naming the file), or changed during training.
      ConfigError: hyperparameters the data cannot support, a bad TF_CONFIG, a
        path TensorFlow would read as a pattern, a job dir of another model or data,
        or one whose checkpoint lacks a variable of the network (an older layout).
    """
    check_literal(data_dir, "--data-dir")
    check_literal(job_dir, "--job-dir")
    manifest = data.open_data_dir(data_dir, deep=verify_data)
    max_steps = hparams.max_steps(manifest.splits[layout.TRAIN].examples)
    check_job_dir(job_dir, hparams)
    config = _run_config(job_dir, hparams)
    if config.is_chief:
        data.pin(job_dir, data_dir, manifest)
        hparams.save(job_dir)
    transform_output = tft.TFTransformOutput(data_dir)
    # Each task of a cluster shuffles its input with its own seed: workers read the
    # same files in different orders (robust to a worker dying, unlike file sharding).
    shuffle_seed = hparams.seed + max(0, config.global_id_in_cluster)
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
            manifest.shard_paths(data_dir, split),
            transform_output,
            hparams.batch_size,
            mode,
            shuffle_buffer=hparams.shuffle_buffer,
            seed=shuffle_seed,
            flip=hparams.flips(manifest.dataset),
        )

    make_receiver = serving.make_serving_input_receiver_fn(transform_output)

    def receiver_fn():
        data.check_unchanged(data_dir, manifest)  # never export with a transform the model was not trained on
        return make_receiver()

    params = hparams.model_params(
        manifest.splits[layout.TRAIN].examples, manifest.class_names, manifest.dataset
    )
    estimator = tfe.Estimator(model.model_fn, config=config, params=params)
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
        if not config.is_chief:  # worker, ps or evaluator: the chief reports the results
            return Result(eval=metrics or {}, test=None, export=None, exports=[], job_dir=job_dir)
        test_metrics = estimator.evaluate(input_fn_for(layout.TEST, tfe.ModeKeys.EVAL), name=layout.TEST)
    except tf.errors.OpError as error:
        data.check_unchanged(data_dir, manifest)  # files vanished or changed under the job: say so
        if isinstance(error, tf.errors.DataLossError):
            data.find_corrupt_shard(data_dir, manifest)  # tf.data does not say which file: name it
        _check_restored(error, job_dir, hparams.model)
        raise
    best = export_dirs.newest_export(export_base(job_dir, BEST_EXPORTER))
    if best is None:
        raise RuntimeError(f"{export_base(job_dir, BEST_EXPORTER)}: no complete export after training")
    vertex.copy_outputs(job_dir, best)
    vertex.report_tuning_metric(metrics)
    return Result(
        eval=metrics,
        test=test_metrics,
        export=best,
        exports=[e.decode() if isinstance(e, bytes) else e for e in exports],
        job_dir=job_dir,
    )
