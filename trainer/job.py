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

import contextlib
import dataclasses
import functools
import logging
import posixpath
import re

import tensorflow as tf
import tensorflow_transform as tft

import estimator as tfe
from common.errors import ConfigError
from common.paths import check_literal
from estimator import checkpoints, export_dirs
from schemas import jobdir, layout
from schemas import manifest as manifest_lib
from trainer import console, data, inputs, model, runinfo, serving, tensorboard, vertex
from trainer import hparams as hparams_lib

_LOG = logging.getLogger("trainer")
_EXPORT_MINUTES = 30  # in a cluster, a temp export younger than this may be the evaluator's, in progress
# What tf.compat.v1's Saver and the Estimator's restore check say when a checkpoint lacks one of
# the graph's variables (a NotFoundError; a ValueError from an export).
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
    previous = jobdir.read_hparams(job_dir)
    if previous is None:
        return
    if "model" not in previous:
        raise ConfigError(f"{jobdir.hparams_path(job_dir)}: names no model; use a new --job-dir")
    if previous["model"] != hparams.model:
        raise ConfigError(
            f"{job_dir} holds checkpoints of model {previous.get('model')!r}, not {hparams.model!r}:"
            " use another --job-dir"
        )


def _check_restored(error: Exception, job_dir: str, model_name: str) -> None:
    """Raises ConfigError if `error` is a checkpoint of another network layout failing to restore.

    A job dir written by an earlier version of the same --model (the `fast`
    network's batch norm got new names when it moved after pooling) passes
    `check_job_dir` and then fails in the Saver's restore.
    """
    if isinstance(error, tf.errors.NotFoundError):
        missing = _MISSING_KEY.search(error.message)
    elif isinstance(error, ValueError):  # an export's "Could not load all requested variables"
        missing = _MISSING_KEY.search(str(error))
    else:
        missing = None
    if missing:
        raise ConfigError(
            f"{job_dir}: its checkpoint lacks variable {missing.group(1)!r} of --model {model_name}"
            " as this version builds it (written by an earlier version of the network?): use another --job-dir"
        ) from None


def _run_config(job_dir: str, hparams: hparams_lib.HParams, train_examples: int) -> tfe.RunConfig:
    try:
        return tfe.RunConfig(
            model_dir=job_dir,
            tf_random_seed=hparams.seed,
            save_checkpoints_steps=hparams.checkpoint_steps(train_examples),
            keep_checkpoint_max=hparams.keep_checkpoint_max,
            log_step_count_steps=hparams.log_step_count_steps,
        )
    except ValueError as e:  # a malformed TF_CONFIG
        raise ConfigError(str(e)) from None


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What a job trains on and how: its data, its cluster role, its input and serving functions."""

    data_dir: str
    job_dir: str
    hparams: hparams_lib.HParams
    manifest: manifest_lib.Manifest
    config: tfe.RunConfig
    transform_output: tft.TFTransformOutput
    identity: str  # data.identity: the manifest's and metadata/'s

    @property
    def max_steps(self) -> int:
        return self.hparams.max_steps(self.manifest.splits[layout.TRAIN].examples)

    @property
    def epoch_steps(self) -> float:
        """Steps per pass over the train split (batches run across epochs: a float)."""
        return self.manifest.splits[layout.TRAIN].examples / self.hparams.batch_size

    def input_fn(self, split: str, mode: str):
        """The input_fn of a split's shards. Each task of a cluster shuffles with its own seed:
        workers read the same files in different orders (robust to a worker dying)."""
        return functools.partial(
            inputs.input_fn,
            self.manifest.shard_paths(self.data_dir, split),
            self.transform_output,
            self.hparams.batch_size,
            mode,
            shuffle_buffer=self.hparams.shuffle_buffer,
            seed=self.hparams.seed + max(0, self.config.global_id_in_cluster),
            flip=self.hparams.flips(self.manifest.dataset),
        )

    def serving_input_receiver_fn(self):
        """Raw tf.Examples through the data's transform graph; refuses data changed since the start."""
        make_receiver = serving.make_serving_input_receiver_fn(self.transform_output)

        def receiver_fn():
            data.check_unchanged(
                self.data_dir, self.manifest, self.identity
            )  # never export with another transform
            return make_receiver()

        return receiver_fn


def _prepare(data_dir: str, job_dir: str, hparams: hparams_lib.HParams, verify_data: bool) -> _Plan:
    """Checks the data dir and the job dir and pins the data (on the chief)."""
    check_literal(data_dir, "--data-dir")
    check_literal(job_dir, "--job-dir")
    manifest = data.open_data_dir(data_dir, deep=verify_data)
    data.check_apart(data_dir, job_dir)
    hparams.max_steps(manifest.splits[layout.TRAIN].examples)  # a schedule the data cannot support fails here
    check_job_dir(job_dir, hparams)
    config = _run_config(job_dir, hparams, manifest.splits[layout.TRAIN].examples)
    transform_output = tft.TFTransformOutput(data_dir)
    return _Plan(
        data_dir, job_dir, hparams, manifest, config, transform_output, data.identity(data_dir, manifest)
    )


@contextlib.contextmanager
def _claimed(plan: _Plan):
    """On the chief (or a single process): holds the job dir's lock while the job runs, removes
    what interrupted checkpoints and exports left, pins the data and saves the run's settings;
    yields the lock (None on the other tasks of a cluster)."""
    if not plan.config.is_chief:  # workers, ps and the evaluator share the chief's job dir
        yield None
        return
    lock = jobdir.acquire_lock(plan.job_dir)
    try:
        in_cluster = bool(plan.config.cluster_spec.as_dict())  # an evaluator may be exporting now
        jobdir.remove_leftovers(
            plan.job_dir, min_export_age_seconds=_EXPORT_MINUTES * 60 if in_cluster else 0
        )
        check_checkpoints(plan.job_dir)
        data.pin(plan.job_dir, plan.data_dir, plan.manifest)
        tensorboard.write_session_start(plan.job_dir, runinfo.save(plan.job_dir, plan.hparams, plan.manifest))
        yield lock
    finally:
        lock.release()


def check_checkpoints(job_dir: str) -> None:
    """Refuses, before training, a job dir whose checkpoints cannot be resumed from.

    A truncated newest checkpoint is skipped for the one before it, and a
    `checkpoint` state file that does not read is rebuilt from the checkpoints
    beside it (estimator.checkpoints); this is what is left.

    Raises:
      ConfigError: no checkpoint reads back whole, or the state file is unreadable
        and names nothing to resume (naming the file).
    """
    try:
        checkpoints.newest_readable_checkpoint(job_dir)
    except ValueError:
        raise ConfigError(
            f"{job_dir}: no checkpoint in it reads back whole (the newest,"
            f" {checkpoints.latest_checkpoint(job_dir)}, is truncated or corrupt); use a new --job-dir"
        ) from None
    try:
        tf.train.get_checkpoint_state(job_dir)  # what the training session reads to restore
    except ValueError:  # bytes that are not text, or no checkpoint named, and none to rebuild it from
        raise ConfigError(
            f"{jobdir.join(job_dir, jobdir.CHECKPOINT_STATE_FILE)}: an unreadable checkpoint state file and"
            " no checkpoint beside it; remove it or use a new --job-dir"
        ) from None


class _Heartbeat(tf.compat.v1.train.CheckpointSaverListener):
    """Renews the job dir lock's heartbeat at each checkpoint (and stops if the lock was taken over)."""

    def __init__(self, lock: jobdir.JobLock | None):
        self._lock = lock

    def after_save(self, session, global_step_value):
        if self._lock is not None:
            self._lock.beat()


def _specs(plan: _Plan, lock: jobdir.JobLock | None) -> tuple[tfe.TrainSpec, tfe.EvalSpec]:
    """train_and_evaluate's specs: the train split to max_steps, with a progress line per
    epoch and the lock renewed at each checkpoint; the eval split, logged (console.EvaluationLog) and exported by a LatestExporter
    and a BestExporter (highest eval accuracy)."""
    receiver_fn = plan.serving_input_receiver_fn()
    exporters = [
        console.EvaluationLog(plan.job_dir, plan.epoch_steps),
        tfe.LatestExporter(
            jobdir.LATEST_EXPORTER, receiver_fn, exports_to_keep=plan.hparams.keep_checkpoint_max
        ),
        tfe.BestExporter(jobdir.BEST_EXPORTER, receiver_fn, compare_fn=_higher_accuracy, exports_to_keep=1),
    ]
    progress = console.ProgressHook(
        plan.max_steps,
        plan.epoch_steps,
        plan.hparams.batch_size,
        console.progress_interval(plan.max_steps, plan.epoch_steps),
    )
    train_spec = tfe.TrainSpec(
        plan.input_fn(layout.TRAIN, tfe.ModeKeys.TRAIN),
        max_steps=plan.max_steps,
        hooks=[progress],
        saving_listeners=[progress.listener(), _Heartbeat(lock)],
    )
    eval_spec = tfe.EvalSpec(
        plan.input_fn(layout.EVAL, tfe.ModeKeys.EVAL),
        steps=plan.hparams.eval_steps,
        exporters=exporters,
        start_delay_secs=0,
        throttle_secs=plan.hparams.throttle_secs,
    )
    return train_spec, eval_spec


@contextlib.contextmanager
def _failures_explained(plan: _Plan):
    """Turns what TensorFlow reports about the data dir and the job dir into one-line errors."""
    try:
        yield
    except tf.errors.OpError as error:
        data.check_unchanged(plan.data_dir, plan.manifest, plan.identity)  # files vanished or changed
        if isinstance(error, tf.errors.DataLossError):
            data.find_corrupt_shard(plan.data_dir, plan.manifest)  # tf.data does not say which file
        _check_restored(error, plan.job_dir, plan.hparams.model)
        raise
    except ValueError as error:  # an export's restore
        _check_restored(error, plan.job_dir, plan.hparams.model)
        raise


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
        one that is, is inside or holds a data dir, one another live trainer holds
        (its lock, schemas/jobdir.py), or one whose checkpoint lacks a variable of
        the network (an older layout).
    """
    plan = _prepare(data_dir, job_dir, hparams, verify_data)
    _LOG.info(
        "training %s for %s epochs (%d steps of %d examples), evaluating every %d steps; job dir %s",
        hparams.model,
        f"{plan.max_steps / plan.epoch_steps:.3g}",
        plan.max_steps,
        hparams.batch_size,
        plan.config.save_checkpoints_steps,
        plan.job_dir,
    )
    with _claimed(plan) as lock:
        estimator = _estimator(plan, evaluation_flips=False)
        with _failures_explained(plan):
            metrics, exports = _train_and_evaluate(estimator, plan, lock)
            if not plan.config.is_chief:  # worker, ps or evaluator: the chief reports the results
                return Result(eval=metrics or {}, test=None, export=None, exports=[], job_dir=job_dir)
            test_metrics = _estimator(plan, evaluation_flips=True).evaluate(
                plan.input_fn(layout.TEST, tfe.ModeKeys.EVAL), name=layout.TEST
            )
        best = export_dirs.newest_export(jobdir.export_base(job_dir, jobdir.BEST_EXPORTER))
    if best is None:
        raise RuntimeError(
            f"{jobdir.export_base(job_dir, jobdir.BEST_EXPORTER)}: no complete export after training"
        )
    tensorboard.write_session_end(job_dir)
    vertex.copy_outputs(job_dir, best)
    vertex.report_tuning_metric(metrics)
    exports = [e.decode() if isinstance(e, bytes) else e for e in exports if e is not None]
    return Result(eval=metrics, test=test_metrics, export=best, exports=exports, job_dir=job_dir)


def _train_and_evaluate(estimator: tfe.Estimator, plan: _Plan, lock) -> tuple[dict | None, list]:
    """train_and_evaluate's (metrics, export results). A job dir already at max_steps trains,
    evaluates and exports nothing (tf.estimator's (None, None)): the chief then evaluates the
    newest checkpoint for the report, and there is no new export."""
    metrics, exports = tfe.train_and_evaluate(estimator, *_specs(plan, lock))
    if metrics is None and plan.config.is_chief:
        metrics = estimator.evaluate(
            plan.input_fn(layout.EVAL, tfe.ModeKeys.EVAL), steps=plan.hparams.eval_steps
        )
    return metrics, list(exports or [])


def _estimator(plan: _Plan, evaluation_flips: bool) -> tfe.Estimator:
    """The Estimator of the job's model_fn, its parameters resolved against the data.

    Args:
      evaluation_flips: whether its evaluations use test-time flips (when the job has
        them): not the evaluations during training, which cost half as much without
        (they choose the best export, all measured alike); the final test evaluation does.
        Exports use them either way.
    """
    params = plan.hparams.model_params(
        plan.manifest.splits[layout.TRAIN].examples, plan.manifest.class_names, plan.manifest.dataset
    )
    return tfe.Estimator(
        model.model_fn, config=plan.config, params={**params, "evaluation_flips": evaluation_flips}
    )
