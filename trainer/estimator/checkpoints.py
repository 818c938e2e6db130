"""Finding checkpoints and reading their global step."""

from __future__ import annotations

import os

import tensorflow as tf

GLOBAL_STEP_KEY = "global_step"


def latest_checkpoint(model_dir: str) -> str | None:
    """The newest checkpoint in `model_dir`, also when the directory was moved.

    A `checkpoint` state file written elsewhere may name absolute paths; those are
    looked for in `model_dir` by their base name.
    """
    if not model_dir:
        return None
    path = tf.train.latest_checkpoint(model_dir)
    if path:
        return path
    state = tf.train.get_checkpoint_state(model_dir)
    if state and state.model_checkpoint_path:
        moved = os.path.join(model_dir, os.path.basename(state.model_checkpoint_path))
        if tf.io.gfile.glob(moved + ".index"):
            return moved
    return None


def global_step_of(checkpoint_path: str | None) -> int:
    """The global_step stored in a checkpoint (0 for None or a checkpoint without one)."""
    if not checkpoint_path:
        return 0
    try:
        return int(tf.train.load_variable(checkpoint_path, GLOBAL_STEP_KEY))
    except (tf.errors.NotFoundError, ValueError):
        return 0
