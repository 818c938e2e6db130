"""All-or-nothing output: stage a run beside OUTPUT_DIR, commit it at the end.

A run writes into a staging directory `OUTPUT_DIR.incomplete-<run id>`, ending
with `manifest.json`, and only then commits it to OUTPUT_DIR. OUTPUT_DIR either
holds a finished run's outputs (with a manifest) or is left as it was; a killed
run leaves only a staging directory, which no reader mistakes for output.

`--overwrite` replaces only an earlier output of this pipeline (a directory with
this project's manifest, or an empty one) and never a directory that is, or
holds, the inputs. Its commit keeps the earlier output beside the new one until
the new one is complete, as `OUTPUT_DIR.replaced-<run id>`:

- local directories (two renames): write a _SET_ASIDE.json marker into
  OUTPUT_DIR (the run, OUTPUT_DIR, state "set-aside"); OUTPUT_DIR ->
  .replaced-<id> (the marker moves with it); staging -> OUTPUT_DIR; delete
  .replaced-<id>.
- other filesystems (gs://, no rename of directories): mark .replaced-<id>
  "copying"; copy OUTPUT_DIR into it; mark it "set-aside"; write a
  _COMMIT_IN_PROGRESS marker into OUTPUT_DIR; delete the old files (manifest
  first); move the staging files in (manifest last); delete the commit marker
  and .replaced-<id>.

A kill at any point leaves either a finished OUTPUT_DIR or no manifest in it
and a complete, marked .replaced-<id>; the next run for the same OUTPUT_DIR
(`recover`) puts that earlier output back before it starts, and readers that
find no manifest say so. Recovery touches only directories whose marker names
this OUTPUT_DIR and the run in their name, and puts one back only where
OUTPUT_DIR is missing, empty or this pipeline's half-committed output: a user's
`data.replaced-backup/` or an older version's unmarked leftover is left alone
and reported in one line. A first commit to gs:// killed half way leaves files
and the marker but no manifest: readers refuse it, and --overwrite replaces it.
File lists come from listing directories, never from globs built on user paths,
so a directory named `d[1]` is only ever itself.
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
from schemas import jobdir, layout
from schemas import manifest as manifest_lib

_LOG = logging.getLogger(__name__)
SET_ASIDE = "set-aside"  # the marker's states: a complete earlier output, which recovery may put back
COPYING = "copying"  # ... a copy in progress (gs://), which recovery deletes


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
        layout.join(parent, entry)
        for entry in files.listdir(parent)
        if entry.startswith(name + infix) and files.is_utf8(entry)
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
    return manifest_lib.is_data_dir(directory)


def check_output_dir(output_dir: str, overwrite: bool, input_dir: str | None = None) -> None:
    """Refuses an output directory that this run must not write or replace.

    Raises:
      OutputExistsError: output_dir is (or holds) input_dir; it exists and
        `overwrite` is False; it holds a training job dir; or it exists,
        `overwrite` is True, and it is neither an earlier output of this
        pipeline nor empty.
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
    job_dir = jobdir.find_job_dir(output_dir)
    if job_dir is not None:
        raise OutputExistsError(
            f"{output_dir}: holds the training job dir {job_dir} (checkpoints, exports), which --overwrite"
            " would delete; move the job dir out or choose another --output-dir"
        )
    if tf.io.gfile.exists(output_dir) and not tf.io.gfile.isdir(output_dir):
        raise OutputExistsError(f"{output_dir}: a file, not an earlier output: refusing to replace it")
    if not (is_our_output(output_dir) or not files.list_files(output_dir)):
        raise OutputExistsError(
            f"{output_dir}: not an output of this pipeline (no {manifest_lib.PRODUCER} {layout.MANIFEST_FILE}):"
            " --overwrite only replaces earlier outputs; choose another --output-dir"
        )


def _run_id(staging_dir: str) -> str:
    return staging_dir.rstrip("/").rsplit("-", 1)[-1]


def _write_set_aside_marker(directory: str, output_dir: str, run: str, state: str) -> None:
    """Marks `directory` as the earlier output of `output_dir` that run `run` set aside (see recover)."""
    payload = {"producer": manifest_lib.PRODUCER, "run": run, "output": _real(output_dir), "state": state}
    with tf.io.gfile.GFile(layout.join(directory, layout.SET_ASIDE_MARKER), "w") as f:
        f.write(json.dumps(payload) + "\n")


def set_aside_state(directory: str, output_dir: str, run: str | None = None) -> str | None:
    """The state (SET_ASIDE or COPYING) in which this pipeline left `directory`, an earlier output
    of `output_dir`, in run `run` (default: the run its name carries); None unless its marker says so."""
    try:
        with tf.io.gfile.GFile(layout.join(directory, layout.SET_ASIDE_MARKER)) as f:
            marker = json.loads(f.read())
    except (tf.errors.OpError, ValueError):  # no marker (an older version's, or not ours), unreadable
        return None
    if not isinstance(marker, dict) or marker.get("producer") != manifest_lib.PRODUCER:
        return None
    if marker.get("output") != _real(output_dir) or marker.get("run") != (run or _run_id(directory)):
        return None
    return marker.get("state") if marker.get("state") in (SET_ASIDE, COPYING) else None


def _drop_set_aside_marker(directory: str, output_dir: str) -> None:
    """Removes the marker a commit wrote into `directory` (OUTPUT_DIR) before setting it aside."""
    marker = layout.join(directory, layout.SET_ASIDE_MARKER)
    try:
        with tf.io.gfile.GFile(marker) as f:
            run = json.loads(f.read()).get("run")
    except (tf.errors.OpError, ValueError, AttributeError):
        return
    if isinstance(run, str) and set_aside_state(directory, output_dir, run) is not None:
        tf.io.gfile.remove(marker)


def recover(output_dir: str) -> None:
    """Finishes what an interrupted --overwrite commit left (see the module doc).

    Only a `.replaced-<id>` directory whose marker says this pipeline set it aside
    for `output_dir` is touched: it is deleted once OUTPUT_DIR holds a finished
    output (or if it was never completely copied), and otherwise put back, but only
    where OUTPUT_DIR is missing, empty or this pipeline's half-committed output.
    Anything else named like it (an older version's, or a user's) is left alone,
    and reported in one line.
    """
    left_alone = []
    for replaced in _siblings(output_dir, layout.REPLACED_INFIX):
        state = set_aside_state(replaced, output_dir)
        if state is None:
            left_alone.append(replaced)
        elif has_our_manifest(output_dir) or state == COPYING:
            _LOG.warning("deleting %s, left by an interrupted --overwrite of %s", replaced, output_dir)
            _delete_tree(replaced)
        elif _exists(output_dir) and not is_our_output(output_dir) and files.list_files(output_dir):
            left_alone.append(replaced)  # never replace what is not an earlier output
        else:
            _restore(replaced, output_dir)
    _drop_set_aside_marker(output_dir, output_dir)  # of a commit killed before its first rename
    if left_alone:
        _LOG.warning(
            "left alone beside %s, not set aside by this version of the pipeline for it (delete or move"
            " them yourself): %s",
            output_dir,
            ", ".join(left_alone),
        )


def _restore(replaced: str, output_dir: str) -> None:
    _LOG.warning("restoring %s from %s, left by an interrupted --overwrite", output_dir, replaced)
    _delete_tree(output_dir)
    if is_local(output_dir):
        os.rename(replaced, output_dir)
    else:
        _copy_files(replaced, output_dir)
        _delete_tree(replaced)
    _drop_set_aside_marker(output_dir, output_dir)


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
    run = _run_id(staging_dir)
    replaced = output_dir.rstrip("/") + layout.REPLACED_INFIX + run if _exists(output_dir) else None
    if is_local(staging_dir) and is_local(output_dir):
        if replaced:
            _write_set_aside_marker(output_dir, output_dir, run, SET_ASIDE)  # it moves with the rename
            os.rename(output_dir, replaced)
        os.rename(staging_dir, output_dir)
    else:
        marker = layout.join(output_dir, layout.COMMIT_MARKER)
        if replaced:
            _write_set_aside_marker(replaced, output_dir, run, COPYING)
            _copy_files(output_dir, replaced)
            _write_set_aside_marker(replaced, output_dir, run, SET_ASIDE)  # complete: may be restored
        with tf.io.gfile.GFile(marker, "w") as f:
            f.write(staging_dir + "\n")  # before any old file goes: a half-deleted output is ours
        old = [f for f in files.list_files(output_dir) if f != marker]
        first = [f for f in old if f.endswith("/" + layout.MANIFEST_FILE)]
        for batch in (first, [f for f in old if f not in first]):
            if batch:
                FileSystems.delete(batch)  # the old manifest first: a half-deleted output is not finished
        _move(staging_dir, output_dir)
        tf.io.gfile.remove(marker)
        _delete_tree(staging_dir)
    if replaced:
        _delete_tree(replaced)
