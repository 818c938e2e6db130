"""Vertex AI (formerly Cloud ML Engine) conventions for a training job.

Vertex AI tells a custom training job where its outputs go through environment
variables (https://cloud.google.com/vertex-ai/docs/training/code-requirements):
AIP_CHECKPOINT_DIR (checkpoints: the model_dir, in place of --job-dir),
AIP_MODEL_DIR (the model to upload: the best export is copied there) and
AIP_TENSORBOARD_LOG_DIR (event files, copied there at the end).
"""

from __future__ import annotations

import logging
import os
import posixpath

ENV_MODEL_DIR = "AIP_MODEL_DIR"
ENV_CHECKPOINT_DIR = "AIP_CHECKPOINT_DIR"
ENV_TENSORBOARD_DIR = "AIP_TENSORBOARD_LOG_DIR"
_LOG = logging.getLogger("trainer")


def job_dir(flag_value: str | None) -> str | None:
    """The job dir: $AIP_CHECKPOINT_DIR when Vertex AI sets it, else the --job-dir flag."""
    return os.environ.get(ENV_CHECKPOINT_DIR) or flag_value


def _copy_tree(source: str, destination: str, keep=lambda name: True) -> int:
    import tensorflow as tf  # not at import: the entry point reads job_dir() before TensorFlow loads

    copied = 0
    prefix = source.rstrip("/")
    for directory, _, files in tf.io.gfile.walk(source):
        relative = directory.rstrip("/")[len(prefix) :].lstrip(
            "/"
        )  # no relpath: it resolves gs:// against the cwd
        target_dir = posixpath.join(destination, relative) if relative else destination
        for name in filter(keep, files):
            tf.io.gfile.makedirs(target_dir)
            tf.io.gfile.copy(
                posixpath.join(directory, name), posixpath.join(target_dir, name), overwrite=True
            )
            copied += 1
    return copied


def copy_outputs(job_dir: str, best_export: str) -> None:
    """Puts the best model and the event files where Vertex AI looks for them (if it asks)."""
    model_dir = os.environ.get(ENV_MODEL_DIR)
    if model_dir:
        _copy_tree(best_export, model_dir)
        _LOG.info("copied %s to %s", best_export, model_dir)
    tensorboard_dir = os.environ.get(ENV_TENSORBOARD_DIR)
    if tensorboard_dir:
        copied = _copy_tree(job_dir, tensorboard_dir, keep=lambda name: ".tfevents." in name)
        _LOG.info("copied %d event files to %s", copied, tensorboard_dir)
