"""Directory trees on any filesystem TensorFlow reaches (local paths, gs://), by listing, never globbing.

A directory named `d[1]` is only ever itself: file lists come from walking
directories, never from patterns built on user paths. Local directories are
listed with `os` rather than `tf.io.gfile`, which raises UnicodeDecodeError on
an entry whose name is not UTF-8 (a stray file beside an output, say): such a
name comes back with its bytes as surrogate escapes (`os.fsdecode`), and
`is_utf8` tells it apart (TensorFlow's file APIs cannot open it).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable

import tensorflow as tf


def is_utf8(name: str) -> bool:
    """Whether a path or name is UTF-8 (not one listed with undecodable bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: str) -> str:
    """`path` for a message: bytes that are not UTF-8 shown as \\xNN."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def listdir(directory: str) -> list[str]:
    """The names in a directory, sorted, without the trailing '/' object stores add to folders."""
    if "://" not in directory:
        return sorted(os.listdir(directory))
    return sorted(name.rstrip("/") for name in tf.io.gfile.listdir(directory))


def walk(directory: str):
    """(directory, subdirectory names, file names) for `directory` and every folder under it."""
    if "://" not in directory:
        return os.walk(directory, followlinks=True)  # as tf.io.gfile.walk, which follows links
    return tf.io.gfile.walk(directory)


def list_files(directory: str) -> list[str]:
    """Every file under `directory` (full paths, sorted); [] when it is not a directory."""
    if not tf.io.gfile.isdir(directory):
        return []
    return sorted(posixpath.join(parent, name) for parent, _, files in walk(directory) for name in files)


def relative(path: str, directory: str) -> str:
    """`path` relative to `directory`, by prefix (no os.path.relpath: it resolves gs:// against the cwd)."""
    return path[len(directory.rstrip("/")) :].lstrip("/")


def copy_tree(
    source: str,
    destination: str,
    keep: Callable[[str], bool] = lambda relative_path: True,
    last: Iterable[str] = (),
) -> int:
    """Copies the files under `source` to the same relative paths under `destination`.

    Args:
      source, destination: directories (local or gs://); local directories are created.
      keep: takes a file's path relative to `source`; only files it accepts are copied.
      last: relative paths copied after every other file (e.g. a manifest that marks
        the copy complete).

    Returns:
      The number of files copied (existing files are overwritten).
    """
    last = set(last)
    files = [path for path in list_files(source) if keep(relative(path, source))]
    files.sort(key=lambda path: relative(path, source) in last)  # stable: the rest keep their order
    for path in files:
        target = posixpath.join(destination, relative(path, source))
        if "://" not in target:  # object stores need no directories (TF's GCS would add marker objects)
            tf.io.gfile.makedirs(posixpath.dirname(target))
        tf.io.gfile.copy(path, target, overwrite=True)
    return len(files)
