"""Where exports go and which of them are complete: the one place that names export directories.

An export is written to EXPORT_DIR_BASE/temp-<timestamp>/ and published as
EXPORT_DIR_BASE/<timestamp>/ (seconds since the epoch, as tf.estimator and TF
Serving's model versions name them). Publishing is one rename on a local disk;
on object stores (gs://), where a directory rename copies object by object, the
files are copied with `saved_model.pb` last, so a timestamped directory holding
a `saved_model.pb` is always complete. Every reader (exporters' garbage
collection, the best exporter after a restart, the trainer's report,
`trainer.predict`) goes through `complete_exports`.
"""

from __future__ import annotations

import os
import time
from posixpath import join as _join

import tensorflow as tf

SAVED_MODEL_FILE = "saved_model.pb"
TEMP_PREFIX = "temp-"
_LOG = tf.get_logger()


def get_timestamped_export_dir(export_dir_base: str) -> str:
    """A new EXPORT_DIR_BASE/<timestamp> path that does not exist yet (the base is created)."""
    export_dir_base = os.fspath(export_dir_base)
    tf.io.gfile.makedirs(export_dir_base)
    stamp = int(time.time())
    while tf.io.gfile.exists(_join(export_dir_base, str(stamp))) or tf.io.gfile.exists(
        _join(export_dir_base, TEMP_PREFIX + str(stamp))
    ):
        stamp += 1
    return _join(export_dir_base, str(stamp))


def get_temp_export_dir(timestamped_export_dir: str) -> str:
    """The temporary sibling an export is written to before it is published: temp-<timestamp>."""
    base, stamp = os.path.split(timestamped_export_dir.rstrip("/"))
    return _join(base, TEMP_PREFIX + stamp)


def publish(temp_dir: str, export_dir: str) -> None:
    """Moves a finished export from its temporary directory to its timestamped one (see module doc)."""
    if "://" not in temp_dir:
        tf.io.gfile.rename(temp_dir, export_dir)
        return
    files = [_join(parent, name) for parent, _, names in tf.io.gfile.walk(temp_dir) for name in names]
    files.sort(key=lambda path: path.endswith("/" + SAVED_MODEL_FILE))  # saved_model.pb last
    for source in files:
        target = export_dir + source[len(temp_dir.rstrip("/")) :]
        tf.io.gfile.makedirs(os.path.dirname(target))
        tf.io.gfile.copy(source, target, overwrite=True)
    tf.io.gfile.rmtree(temp_dir)


def complete_exports(export_dir_base: str) -> list[str]:
    """The complete exports under export_dir_base, oldest first (none if it does not exist)."""
    if not tf.io.gfile.isdir(export_dir_base):
        return []
    stamps = sorted(
        int(name.rstrip("/")) for name in tf.io.gfile.listdir(export_dir_base) if name.rstrip("/").isdigit()
    )
    paths = [_join(export_dir_base, str(stamp)) for stamp in stamps]
    return [path for path in paths if tf.io.gfile.exists(_join(path, SAVED_MODEL_FILE))]


def newest_export(export_dir_base: str) -> str | None:
    """The newest complete export under export_dir_base, or None."""
    exports = complete_exports(export_dir_base)
    return exports[-1] if exports else None


def remove_stale_temp_dirs(export_dir_base: str) -> list[str]:
    """Deletes temp-<t> directories older than the newest complete export: exports a
    crash interrupted, which can never finish. Returns what was deleted."""
    newest = newest_export(export_dir_base)
    if newest is None:
        return []
    newest_stamp = int(os.path.basename(newest))
    removed = []
    for name in tf.io.gfile.listdir(export_dir_base):
        name = name.rstrip("/")
        stamp = name[len(TEMP_PREFIX) :]
        if name.startswith(TEMP_PREFIX) and stamp.isdigit() and int(stamp) < newest_stamp:
            path = _join(export_dir_base, name)
            tf.io.gfile.rmtree(path)
            removed.append(path)
            _LOG.info("removed %s, an export a crash interrupted", path)
    return removed


def interrupted_exports(export_dir_base: str) -> list[str]:
    """The temp-<t> directories newer than the newest complete export (all of them without
    one): exports a crash interrupted that no later export replaced."""
    if not tf.io.gfile.isdir(export_dir_base):
        return []
    newest = newest_export(export_dir_base)
    newest_stamp = int(os.path.basename(newest)) if newest else -1
    found = []
    for name in tf.io.gfile.listdir(export_dir_base):
        name = name.rstrip("/")
        stamp = name[len(TEMP_PREFIX) :]
        if name.startswith(TEMP_PREFIX) and stamp.isdigit() and int(stamp) > newest_stamp:
            found.append(_join(export_dir_base, name))
    return sorted(found)


def export_global_step(export_dir: str) -> int | None:
    """The global_step stored in an export's variables, or None if it has none."""
    try:
        return int(tf.train.load_variable(_join(export_dir, "variables", "variables"), "global_step"))
    except (tf.errors.NotFoundError, ValueError):
        return None
