"""TensorBoard's HParams dashboard for a job dir: its hyperparameters, and which metrics to show.

Written with TensorBoard's own `hparams` API (tensorboard.plugins.hparams) into the
job dir's `eval` run, beside the evaluations' summaries: the experiment config (the
hyperparameters, and the metrics: that run's scalars), the session's hyperparameter
values when a job starts, and its status when it ends. The session is the `eval` run
because the dashboard reads a session's metrics from runs at or under it (a session
at the top-level run "." would look for "./eval"). A tuning sweep's trial dirs
(JOB_DIR/<trial id>, trainer/vertex.py) are then one table, a row per trial, under
`tensorboard --logdir JOB_DIR`.
"""

from __future__ import annotations

import time

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import summary as hp_summary

from schemas import jobdir

# The metrics of the dashboard: the evaluations' scalars, by tag.
METRICS = ("accuracy", "mean_per_class_accuracy", "cross_entropy", "loss")
_SCALARS = (bool, int, float, str)


def hparam_values(record: dict) -> dict:
    """The hyperparameters of an hparams.json record that the dashboard can show: scalars only
    (the environment and `written` are not hyperparameters; None has no column type)."""
    return {k: v for k, v in record.items() if isinstance(v, _SCALARS) and k != jobdir.HPARAMS_WRITTEN_KEY}


def _write(run_dir: str, *protos) -> None:
    writer = tf.summary.create_file_writer(run_dir)
    with writer.as_default():
        for proto in protos:
            tf.summary.experimental.write_raw_pb(proto.SerializeToString(), step=0)
    writer.close()


def write_session_start(job_dir: str, record: dict) -> None:
    """Writes the experiment config and this session's hyperparameters (record: hparams.json's)."""
    values = hparam_values(record)
    config = hp.hparams_config_pb(
        hparams=[hp.HParam(name) for name in sorted(values)],
        metrics=[hp.Metric(tag) for tag in METRICS],
    )
    _write(jobdir.eval_dir(job_dir), config, hp.hparams_pb(values, start_time_secs=time.time()))


def write_session_end(job_dir: str, succeeded: bool = True) -> None:
    """Marks the session finished (or failed) for the dashboard's status column."""
    status = api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE
    _write(jobdir.eval_dir(job_dir), hp_summary.session_end_pb(status, end_time_secs=time.time()))
