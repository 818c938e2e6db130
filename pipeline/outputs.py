"""All-or-nothing output: stage a run beside OUTPUT_DIR, commit it at the end.

A run writes into a staging directory `OUTPUT_DIR.incomplete-<run id>`, ending
with `manifest.json`, and only then commits it to OUTPUT_DIR. OUTPUT_DIR either
holds a finished run's outputs (with a manifest) or is left as it was; a killed
run leaves only a staging directory, which no reader mistakes for output.

`--overwrite` replaces only an earlier output of this pipeline (a directory with
this project's manifest, or an empty one) and never a directory that is, or
holds, the inputs. Its commit keeps the earlier output beside the new one until
the new one is complete, as `OUTPUT_DIR.replaced-<run id>`:

- local directories (two renames): OUTPUT_DIR -> .replaced-<id>; staging ->
  OUTPUT_DIR; delete .replaced-<id>.
- other filesystems (gs://, no rename of directories): copy OUTPUT_DIR to
  .replaced-<id> (its manifest last); delete OUTPUT_DIR (manifest first); write
  a _COMMIT_IN_PROGRESS marker into OUTPUT_DIR; move the staging files in
  (manifest last); delete the marker and .replaced-<id>.

A kill at any point leaves either a finished OUTPUT_DIR or no manifest in it
and a complete .replaced-<id>; the next run for the same OUTPUT_DIR (`recover`)
puts that earlier output back before it starts, and readers that find no
manifest say so. A first commit to gs:// killed half way leaves files and the
marker but no manifest: readers refuse it, and --overwrite replaces it. File lists come from listing directories, never from globs
built on user paths, so a directory named `d[1]` is only ever itself.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid

import tensorflow as tf
from apache_beam.io.filesystems import FileSystems

from common import files
from common.errors import OutputError, UserError
from schemas import layout
from schemas import manifest as manifest_lib

_LOG = logging.getLogger(__name__)


class OutputExistsError(UserError, FileExistsError):
    """The output directory exists and may not be replaced (no --overwrite, or not ours)."""


def is_local(path: str) -> bool:
    return "://" not in path


def _exists(path: str) -> bool:
    return tf.io.gfile.exists(path) or (not is_local(path) and bool(files.list_files(path)))


def _siblings(output_dir: str, infix: str) -> list[str]:
    """Directories beside output_dir named <its name><infix>..., by listing its parent."""
    parent, name = os.path.split(output_dir.rstrip("/"))
    parent = parent or "."
    if not tf.io.gfile.isdir(parent):
        return []
    return sorted(
        layout.join(parent, entry.rstrip("/"))
        for entry in tf.io.gfile.listdir(parent)
        if entry.rstrip("/").startswith(name + infix)
    )


def _delete_tree(path: str) -> None:
    if is_local(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    paths = files.list_files(path)
    if paths:
        FileSystems.delete(paths)
    if tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)


def _real(path: str) -> str:
    return os.path.realpath(path) if is_local(path) else path.rstrip("/")


def _inside(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def is_our_output(directory: str) -> bool:
    """Whether `directory` is an output of this pipeline: finished (its manifest) or a commit
    interrupted half way (the commit marker)."""
    return has_our_manifest(directory) or tf.io.gfile.exists(layout.join(directory, layout.COMMIT_MARKER))


def has_our_manifest(directory: str) -> bool:
    """Whether `directory` holds a manifest written by this pipeline (any format version)."""
    path = layout.join(directory, layout.MANIFEST_FILE)
    try:
        with tf.io.gfile.GFile(path) as f:
            payload = json.loads(f.read())
    except (tf.errors.OpError, ValueError):  # missing, unreadable, not JSON
        return False
    if not isinstance(payload, dict):
        return False
    if payload.get("producer") == manifest_lib.PRODUCER:
        return True
    # Format version 1 had no producer field; its keys were these.
    return payload.get("format_version") == 1 and {"splits", "transform_fn", "inputs"} <= set(payload)


def check_output_dir(output_dir: str, overwrite: bool, input_dir: str | None = None) -> None:
    """Refuses an output directory that this run must not write or replace.

    Raises:
      OutputExistsError: output_dir is (or holds) input_dir; it exists and
        `overwrite` is False; or it exists, `overwrite` is True, and it is
        neither an earlier output of this pipeline nor empty.
    """
    if input_dir is not None and _inside(_real(input_dir), _real(output_dir)):
        what = "is" if _real(input_dir) == _real(output_dir) else "holds"
        raise OutputExistsError(
            f"{output_dir}: the output directory {what} the input directory {input_dir}; choose another"
            " --output-dir"
        )
    if not _exists(output_dir):
        return
    if not overwrite:
        raise OutputExistsError(f"{output_dir}: output directory exists; pass --overwrite to replace it")
    if tf.io.gfile.exists(output_dir) and not tf.io.gfile.isdir(output_dir):
        raise OutputExistsError(f"{output_dir}: a file, not an earlier output: refusing to replace it")
    if not (is_our_output(output_dir) or not files.list_files(output_dir)):
        raise OutputExistsError(
            f"{output_dir}: not an output of this pipeline (no {manifest_lib.PRODUCER} {layout.MANIFEST_FILE}):"
            " --overwrite only replaces earlier outputs; choose another --output-dir"
        )


def recover(output_dir: str) -> None:
    """Finishes what an interrupted --overwrite commit left (see the module doc).

    If OUTPUT_DIR has no manifest and a complete .replaced-<id> copy exists, the
    copy is put back; a .replaced-<id> that is no longer needed is deleted.
    """
    for replaced in _siblings(output_dir, layout.REPLACED_INFIX):
        if has_our_manifest(output_dir) or not has_our_manifest(replaced):
            _LOG.warning("deleting %s, left by an interrupted --overwrite of %s", replaced, output_dir)
            _delete_tree(replaced)
            continue
        _LOG.warning("restoring %s from %s, left by an interrupted --overwrite", output_dir, replaced)
        if is_local(output_dir):
            _delete_tree(output_dir)
            os.rename(replaced, output_dir)
        else:
            _delete_tree(output_dir)
            _copy_files(replaced, output_dir)
            _delete_tree(replaced)


def new_staging_dir(output_dir: str) -> str:
    """Returns a fresh staging directory path beside `output_dir` (not created)."""
    return output_dir.rstrip("/") + layout.STAGING_INFIX + uuid.uuid4().hex[:12]


def create_staging_dir(output_dir: str) -> str:
    """Creates a fresh staging directory beside `output_dir` and returns its path.

    Raises:
      OutputError: the location is not writable (naming output_dir).
    """
    staging_dir = new_staging_dir(output_dir)
    try:
        tf.io.gfile.makedirs(staging_dir)
    except tf.errors.OpError as e:
        raise OutputError(f"{output_dir}: cannot write beside this output directory: {e.message}") from e
    return staging_dir


def stale_staging_dirs(output_dir: str) -> list[str]:
    """Returns the staging directories beside `output_dir` (of killed runs, or of runs in progress)."""
    return _siblings(output_dir, layout.STAGING_INFIX)


def discard(staging_dir: str) -> None:
    """Deletes a staging directory after a failed run (best effort)."""
    try:
        _delete_tree(staging_dir)
    except Exception:  # noqa: BLE001 - the run's own error matters more than a failed cleanup
        _LOG.warning("could not delete %s", staging_dir)


def _move(source_dir: str, destination_dir: str) -> None:
    """Moves every file to the same relative path under destination_dir, the manifest last."""
    sources = files.list_files(source_dir)
    manifest = [s for s in sources if files.relative(s, source_dir) == layout.MANIFEST_FILE]
    for batch in ([s for s in sources if s not in manifest], manifest):
        if batch:
            FileSystems.rename(
                batch, [layout.join(destination_dir, files.relative(s, source_dir)) for s in batch]
            )


def _copy_files(source_dir: str, destination_dir: str) -> None:
    files.copy_tree(source_dir, destination_dir, last=[layout.MANIFEST_FILE])


def commit(staging_dir: str, output_dir: str, manifest: manifest_lib.Manifest, overwrite: bool) -> None:
    """Writes the manifest into the staging directory and moves it to `output_dir`.

    Raises:
      OutputExistsError: `output_dir` appeared meanwhile and `overwrite` is False.
    """
    check_output_dir(output_dir, overwrite)
    manifest.write(staging_dir)
    replaced = None
    if _exists(output_dir):
        replaced = output_dir.rstrip("/") + layout.REPLACED_INFIX + staging_dir.rsplit("-", 1)[-1]
    if is_local(staging_dir) and is_local(output_dir):
        if replaced:
            os.rename(output_dir, replaced)
        os.rename(staging_dir, output_dir)
    else:
        if replaced:
            _copy_files(output_dir, replaced)  # complete once its manifest is there
            old = files.list_files(output_dir)
            first = [f for f in old if f.endswith("/" + layout.MANIFEST_FILE)]
            for batch in (first, [f for f in old if f not in first]):
                if batch:
                    FileSystems.delete(batch)  # the old manifest first: a half-deleted output is not finished
        marker = layout.join(output_dir, layout.COMMIT_MARKER)
        with tf.io.gfile.GFile(marker, "w") as f:
            f.write(staging_dir + "\n")
        _move(staging_dir, output_dir)
        tf.io.gfile.remove(marker)
        _delete_tree(staging_dir)
    if replaced:
        _delete_tree(replaced)
