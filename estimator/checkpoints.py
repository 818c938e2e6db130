"""Finding checkpoints and reading their global step."""

from __future__ import annotations

import os
import re

import tensorflow as tf

from . import restore

GLOBAL_STEP_KEY = "global_step"
_LOG = tf.get_logger()


CHECKPOINT_PREFIX = "model.ckpt"  # the Estimator's checkpoints: model.ckpt-<global step>
_LISTED = re.compile(rf"{re.escape(CHECKPOINT_PREFIX)}-(\d+)\.index")


def latest_checkpoint(model_dir: str) -> str | None:
    """The newest checkpoint in `model_dir`, also when the directory was moved or its state file is bad.

    A `checkpoint` state file written elsewhere may name absolute paths; those are
    looked for in `model_dir` by their base name. A state file that does not parse
    (TensorFlow then reports no checkpoint at all, and training would silently
    start again from step 0 beside the old checkpoints) is rebuilt from the
    model.ckpt-<step> files found by listing model_dir, with a warning; so is one
    of bytes that are not text, or one naming no checkpoint, on which TensorFlow's
    reader raises.
    """
    if not model_dir:
        return None
    try:
        path = tf.train.latest_checkpoint(model_dir)
        state = None if path else tf.train.get_checkpoint_state(model_dir)
    except ValueError:  # UnicodeDecodeError (binary garbage), or no model_checkpoint_path in it
        return _rebuild_state(model_dir)
    if path:
        return path
    if state and state.model_checkpoint_path:
        moved = os.path.join(model_dir, os.path.basename(state.model_checkpoint_path))
        if tf.io.gfile.exists(moved + ".index"):
            return moved
    return _rebuild_state(model_dir)


def _rebuild_state(model_dir: str) -> str | None:
    if not tf.io.gfile.isdir(model_dir):
        return None
    steps = sorted(int(m.group(1)) for m in map(_LISTED.fullmatch, tf.io.gfile.listdir(model_dir)) if m)
    if not steps:
        return None
    names = [f"{CHECKPOINT_PREFIX}-{step}" for step in steps]
    _LOG.warning(
        "%s: the checkpoint state file is missing or unreadable, but checkpoints are there: resuming from %s",
        model_dir,
        names[-1],
    )
    tf.compat.v1.train.update_checkpoint_state(model_dir, names[-1], all_model_checkpoint_paths=names)
    return os.path.join(model_dir, names[-1])


def global_step_of(checkpoint_path: str | None) -> int:
    """The global_step stored in a checkpoint, name-based or object-based (0 for None or a
    checkpoint without one)."""
    if not checkpoint_path:
        return 0
    try:
        key = restore.global_step_key(checkpoint_path)
        return int(tf.train.load_variable(checkpoint_path, key)) if key else 0
    except (tf.errors.NotFoundError, ValueError):
        return 0


# A key saved as slices that no whole read covers (2.15's v1 DNN names each partition's slot apart:
# ".../t_0/Adagrad", ".../t_1/Adagrad"): its slices are read when the Saver restores them.
_PARTIAL_SLICES = "Does not have sufficient slices"


def is_readable(checkpoint_path: str) -> bool:
    """Whether every tensor of a checkpoint can be read back (not truncated or corrupt)."""
    try:
        reader = tf.train.load_checkpoint(checkpoint_path)
        for name in reader.get_variable_to_shape_map():
            try:
                reader.get_tensor(name)
            except ValueError as e:
                if _PARTIAL_SLICES not in str(e):
                    raise
        return True
    except (tf.errors.OpError, ValueError, IndexError) as e:  # IndexError: "Read less bytes than requested"
        _LOG.warning("checkpoint %s is unreadable: %s", checkpoint_path, str(e).splitlines()[0])
        return False


def newest_readable_checkpoint(model_dir: str) -> str | None:
    """The newest checkpoint of model_dir that reads back whole.

    A crash can leave the newest checkpoint truncated. Then the newest good one
    becomes the latest (the `checkpoint` state file is rewritten) and the bad one
    is reported; training resumes from the good one.

    Raises:
      ValueError: model_dir has checkpoints but none of them is readable.
    """
    latest = latest_checkpoint(model_dir)
    if latest is None or is_readable(latest):
        return latest
    state = tf.train.get_checkpoint_state(model_dir)
    candidates = [os.path.join(model_dir, os.path.basename(p)) for p in state.all_model_checkpoint_paths]
    for path in reversed(candidates):
        if path != latest and tf.io.gfile.glob(path + ".index") and is_readable(path):
            _LOG.warning("resuming from %s instead of the unreadable %s", path, latest)
            kept = [os.path.basename(p) for p in candidates[: candidates.index(path) + 1]]
            tf.compat.v1.train.update_checkpoint_state(
                model_dir, os.path.basename(path), all_model_checkpoint_paths=kept
            )
            return path
    raise ValueError(
        f"{model_dir}: no readable checkpoint (the newest, {latest}, is corrupt); use a new model_dir"
    )
