"""All-or-nothing output: stage a run beside OUTPUT_DIR, commit it at the end.

A run writes into a staging directory `OUTPUT_DIR.incomplete-<run id>` and only
on success moves it to OUTPUT_DIR, writing `manifest.json` last. So OUTPUT_DIR
either holds a finished run's outputs (with a manifest) or is left as it was; a
killed run leaves only a staging directory, which no reader mistakes for output.
Local directories are committed with one atomic rename; other filesystems
(gs://) by moving each file, the manifest last.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid

import tensorflow as tf
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas import layout

STAGING_INFIX = ".incomplete-"
_HASH_BLOCK = 1 << 22


class OutputExistsError(FileExistsError):
    """The output directory exists and the run was not told to overwrite it."""


def _is_local(path: str) -> bool:
    return "://" not in path


def _exists(path: str) -> bool:
    if _is_local(path):
        return os.path.exists(path)
    return FileSystems.exists(path) or bool(_list_files(path))


def _list_files(directory: str) -> list[str]:
    pattern = layout.join(directory.rstrip("/"), "**")
    return [m.path for result in FileSystems.match([pattern]) for m in result.metadata_list]


def _delete_tree(path: str) -> None:
    if _is_local(path):
        shutil.rmtree(path, ignore_errors=True)
    elif _exists(path):
        FileSystems.delete([path.rstrip("/") + "/"])


def check_output_dir(output_dir: str, overwrite: bool) -> None:
    """Refuses an existing output directory unless `overwrite`.

    Raises:
      OutputExistsError: it exists and `overwrite` is False.
    """
    if not overwrite and _exists(output_dir):
        raise OutputExistsError(f"{output_dir}: output directory exists; pass --overwrite to replace it")


def new_staging_dir(output_dir: str) -> str:
    """Returns a fresh staging directory path beside `output_dir` (not created)."""
    return output_dir.rstrip("/") + STAGING_INFIX + uuid.uuid4().hex[:12]


def create_staging_dir(output_dir: str) -> str:
    """Creates a fresh staging directory beside `output_dir` and returns its path.

    Raises:
      OSError: the location is not writable (naming output_dir).
    """
    staging_dir = new_staging_dir(output_dir)
    try:
        FileSystems.mkdirs(staging_dir)
    except OSError as e:
        raise OSError(f"{output_dir}: cannot write beside this output directory: {e}") from e
    return staging_dir


def stale_staging_dirs(output_dir: str) -> list[str]:
    """Returns the staging directories beside `output_dir` (of killed runs, or of runs in progress)."""
    return sorted(tf.io.gfile.glob(output_dir.rstrip("/") + STAGING_INFIX + "*"))


def discard(staging_dir: str) -> None:
    """Deletes a staging directory after a failed run (best effort)."""
    try:
        _delete_tree(staging_dir)
    except Exception:  # noqa: BLE001 - the run's own error matters more than a failed cleanup
        pass


def write_json(path: str, payload: dict) -> None:
    with FileSystems.create(
        path, mime_type="application/json", compression_type=CompressionTypes.UNCOMPRESSED
    ) as f:
        f.write(json.dumps(payload, indent=2, sort_keys=True).encode("utf-8") + b"\n")


def read_manifest(output_dir: str) -> dict:
    """Reads a finished run's manifest.

    Raises:
      FileNotFoundError: no manifest: the directory is not a finished run's output.
    """
    path = layout.join(output_dir, layout.MANIFEST_FILE)
    if not FileSystems.exists(path):
        raise FileNotFoundError(
            f"{path}: no manifest; {output_dir} is not the output of a finished preprocessing run"
        )
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return json.loads(f.read().decode("utf-8"))


def commit(staging_dir: str, output_dir: str, manifest: dict, overwrite: bool) -> None:
    """Moves a finished staging directory to `output_dir`, the manifest last.

    Raises:
      OutputExistsError: `output_dir` appeared meanwhile and `overwrite` is False.
    """
    check_output_dir(output_dir, overwrite)
    if _is_local(staging_dir):
        write_json(layout.join(staging_dir, layout.MANIFEST_FILE), manifest)
        old = None
        if os.path.exists(output_dir):
            old = new_staging_dir(output_dir) + ".old"
            os.rename(output_dir, old)
        os.rename(staging_dir, output_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        return
    if overwrite:
        _delete_tree(output_dir)
    sources = _list_files(staging_dir)
    prefix = staging_dir.rstrip("/") + "/"
    destinations = [layout.join(output_dir, src[len(prefix) :]) for src in sources]
    FileSystems.rename(sources, destinations)
    write_json(layout.join(output_dir, layout.MANIFEST_FILE), manifest)
    _delete_tree(staging_dir)


def sha256(path: str) -> str:
    """Returns the hex sha256 of a file's bytes as stored (compressed if gzip)."""
    digest = hashlib.sha256()
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
