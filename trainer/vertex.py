"""Vertex AI (formerly Cloud ML Engine) conventions for a training job.

Vertex AI tells a custom training job where its outputs go through environment
variables (https://cloud.google.com/vertex-ai/docs/training/code-requirements):
AIP_CHECKPOINT_DIR (checkpoints: the model_dir, in place of --job-dir),
AIP_MODEL_DIR (the model to upload: the best export is copied there) and
AIP_TENSORBOARD_LOG_DIR (event files, copied there at the end).

Hyperparameter tuning: a trial runs with CLOUD_ML_TRIAL_ID set (Cloud ML Engine
put it in TF_CONFIG's task.trial). The trial's --job-dir gets the trial id
appended, as Cloud ML Engine's samples did, so trials never share checkpoints,
and the final eval-split accuracy is reported with `cloudml-hypertune` (it
writes CLOUD_ML_HP_METRIC_FILE, which the tuning service reads) under the
metric id HPTUNE_METRIC, the `metricId` of the study (docs/hptuning.yaml).
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re

from common.errors import ConfigError

ENV_MODEL_DIR = "AIP_MODEL_DIR"
ENV_CHECKPOINT_DIR = "AIP_CHECKPOINT_DIR"
ENV_TENSORBOARD_DIR = "AIP_TENSORBOARD_LOG_DIR"
ENV_TRIAL_ID = "CLOUD_ML_TRIAL_ID"
ENV_METRIC_FILE = "CLOUD_ML_HP_METRIC_FILE"
HPTUNE_METRIC = "accuracy"  # the eval split's accuracy: the study's metricId
_LOG = logging.getLogger("trainer")
_TRIAL_ID = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}"  # one plain path component


def trial_id() -> str | None:
    """The hyperparameter tuning trial this process runs, or None outside a tuning job.

    It becomes a directory under --job-dir, so it must be one plain name.

    Raises:
      ConfigError: the trial id is not letters, digits, '.', '_' or '-' (not starting
        with '.'), e.g. "../escaped" or "a/b" (naming where it came from).
    """
    source, trial = ENV_TRIAL_ID, os.environ.get(ENV_TRIAL_ID)
    if not trial:
        source = "TF_CONFIG task.trial"
        try:  # Cloud ML Engine's place for it
            trial = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("trial")
        except (ValueError, AttributeError):
            return None  # a malformed TF_CONFIG is reported by RunConfig
    if not trial:
        return None
    if not re.fullmatch(_TRIAL_ID, str(trial)):
        raise ConfigError(
            f"{source} {str(trial)!r}: a trial id becomes a directory under --job-dir, so it must be one plain"
            " name (letters, digits, '.', '_', '-'; not starting with '.')"
        )
    return str(trial)


def job_dir(flag_value: str | None) -> str | None:
    """The job dir: $AIP_CHECKPOINT_DIR when Vertex AI sets it (already one per trial), else
    the --job-dir flag, with the trial id appended in a tuning trial."""
    if os.environ.get(ENV_CHECKPOINT_DIR):
        return os.environ[ENV_CHECKPOINT_DIR]
    trial = trial_id()
    if flag_value and trial:
        return posixpath.join(flag_value, trial)
    return flag_value


def report_tuning_metric(eval_metrics: dict) -> bool:
    """Reports the final eval accuracy to the tuning service, in a tuning trial only.

    Returns:
      Whether it was reported.
    """
    if not (trial_id() or os.environ.get(ENV_METRIC_FILE)):
        return False
    import hypertune  # cloudml-hypertune

    hypertune.HyperTune().report_hyperparameter_tuning_metric(
        hyperparameter_metric_tag=HPTUNE_METRIC,
        metric_value=float(eval_metrics[HPTUNE_METRIC]),
        global_step=int(eval_metrics["global_step"]),
    )
    _LOG.info("reported %s = %s to hyperparameter tuning", HPTUNE_METRIC, eval_metrics[HPTUNE_METRIC])
    return True


def copy_outputs(job_dir: str, best_export: str) -> None:
    """Puts the best model and the event files where Vertex AI looks for them (if it asks)."""
    from common import files  # TensorFlow: not at import, the entry point reads job_dir() first

    model_dir = os.environ.get(ENV_MODEL_DIR)
    if model_dir:
        files.copy_tree(best_export, model_dir)
        _LOG.info("copied %s to %s", best_export, model_dir)
    tensorboard_dir = os.environ.get(ENV_TENSORBOARD_DIR)
    if tensorboard_dir:
        copied = files.copy_tree(
            job_dir, tensorboard_dir, keep=lambda path: ".tfevents." in posixpath.basename(path)
        )
        _LOG.info("copied %d event files to %s", copied, tensorboard_dir)
