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
    """The newest checkpoint in `model_dir`, also when the directory was copied or moved, or its
    state file is bad.

    A `checkpoint` state file written elsewhere (another machine's disk, gs://old-bucket/...;
    TF1 Savers and tf.estimator 2.15's object-based ones wrote absolute paths) names files
    at the old place: model_dir's own file of that name is taken instead, said once in the
    log (tf.estimator 2.15 failed: "The passed save_path is not a valid checkpoint", or read
    the old place's files while they existed). A state file that does not parse (TensorFlow
    then reports no checkpoint at all, and training would silently start again from step 0
    beside the old checkpoints) is rebuilt from the model.ckpt-<step> files found by listing
    model_dir, with a warning; so is one of bytes that are not text, or one naming no
    checkpoint, on which TensorFlow's reader raises.
    """
    if not model_dir:
        return None
    state = _state(model_dir)
    if state is not None and state.model_checkpoint_path:
        path = state.model_checkpoint_path
        own = _join(model_dir, _basename(path))
        if _exists(own):
            if not _in_dir(path, model_dir):
                _report_moved(model_dir, path, own)
            return own
        if _exists(path):
            return path
    return _rebuild_state(model_dir)


def adopt_moved_state(model_dir: str) -> None:
    """Before training: a state file naming checkpoints at another place is rewritten to name
    model_dir's own copies of them, so that the Saver restores those and, removing old
    checkpoints (keep_checkpoint_max), never deletes files at the old place."""
    state = _state(model_dir)
    if state is None or not state.model_checkpoint_path:
        return
    paths = [state.model_checkpoint_path, *state.all_model_checkpoint_paths]
    if all(_in_dir(path, model_dir) for path in paths):
        return
    latest = _basename(state.model_checkpoint_path)
    if not _exists(_join(model_dir, latest)):
        return
    kept = [_basename(p) for p in state.all_model_checkpoint_paths if _exists(_join(model_dir, _basename(p)))]
    _report_moved(model_dir, state.model_checkpoint_path, _join(model_dir, latest))
    tf.compat.v1.train.update_checkpoint_state(model_dir, latest, all_model_checkpoint_paths=kept or [latest])


_reported_moves: set[tuple[str, str]] = set()


def _report_moved(model_dir: str, old: str, own: str) -> None:
    if (model_dir, old) not in _reported_moves:
        _reported_moves.add((model_dir, old))
        _LOG.info(
            "%s: its checkpoint state file names %s (written at another place): using this dir's own %s",
            model_dir,
            old,
            own,
        )


def _state(model_dir: str):
    try:
        return tf.train.get_checkpoint_state(model_dir)
    except (tf.errors.OpError, ValueError):  # an unreadable state file: rebuilt by _rebuild_state
        return None


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _in_dir(path: str, model_dir: str) -> bool:
    """Whether a path of the state file names a file of model_dir (a relative path always does)."""
    if "/" not in path:
        return True
    parent = path.rstrip("/").rsplit("/", 1)[0]
    if "://" in parent or "://" in model_dir:
        return parent.rstrip("/") == model_dir.rstrip("/")
    return os.path.abspath(parent) == os.path.abspath(model_dir)


def _exists(checkpoint_path: str) -> bool:
    return tf.io.gfile.exists(checkpoint_path + ".index")


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
        return int(tf.train.load_variable(checkpoint_path, GLOBAL_STEP_KEY))
    except (tf.errors.NotFoundError, ValueError):
        pass
    try:
        key = restore.global_step_key(checkpoint_path)  # an object-based checkpoint's
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
