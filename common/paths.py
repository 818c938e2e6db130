"""Paths TensorFlow would take for patterns, and files that are not files.

TensorFlow's checkpoint and SavedModel readers look files up by pattern
(`tf.io.gfile.glob` semantics), so under a directory named `t[1]` they find
nothing, or the files of a sibling `t1`. Outputs that TensorFlow reads back
(a preprocessing output, a job dir) are therefore refused when their path holds
a pattern character; inputs are listed and opened literally, so any name works.

A FIFO, a device or a socket where a file is expected (or a symlink to one) would
block a reader forever or never end (`/dev/zero`): `check_regular` refuses it
before it is opened.
"""

from __future__ import annotations

import os
import stat

from common.errors import ConfigError, InputNotFoundError

PATTERN_CHARACTERS = "*?["


def check_path(path: str, flag: str) -> None:
    """Refuses a path flag that is empty, or whose name is not UTF-8 (TensorFlow's file APIs take
    paths as UTF-8: such a name cannot be opened or listed through them).

    Raises:
      ConfigError: naming the flag (and the path, its other bytes shown as \\xNN).
    """
    if not path:
        raise ConfigError(f"{flag} is empty: give a directory or file path")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise ConfigError(
            f"{flag} {shown}: the name is not UTF-8, and TensorFlow's file APIs take only UTF-8 paths;"
            " rename it"
        ) from None


def check_literal(path: str, flag: str) -> None:
    """Refuses a path TensorFlow would read as a pattern.

    Raises:
      ConfigError: `path` holds *, ? or [ (naming the flag).
    """
    found = sorted({c for c in path if c in PATTERN_CHARACTERS})
    if found:
        raise ConfigError(
            f"{flag} {path}: TensorFlow reads {' '.join(found)} in paths as patterns (its checkpoint and"
            " SavedModel readers would find the wrong files); choose a path without * ? ["
        )


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))  # fmt: skip


def check_regular(path: str) -> None:
    """Refuses a local path that is (or links to) a FIFO, a device or a socket, without opening it.

    Remote paths (gs://) hold only objects and pass; so does a path that does not exist
    (its reader reports that).

    Raises:
      InputNotFoundError: `path` is such a file (naming it and what it is).
    """
    if "://" in path:
        return
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, a broken link, a NUL in the name: the reader says so
        return
    for is_kind, kind in _KINDS:
        if is_kind(mode):
            link = f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else ""
            raise InputNotFoundError(f"{path}: {kind}{link}, not a regular file; refusing to read it")
