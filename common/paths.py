"""Paths TensorFlow would take for patterns.

TensorFlow's checkpoint and SavedModel readers look files up by pattern
(`tf.io.gfile.glob` semantics), so under a directory named `t[1]` they find
nothing, or the files of a sibling `t1`. Outputs that TensorFlow reads back
(a preprocessing output, a job dir) are therefore refused when their path holds
a pattern character; inputs are listed and opened literally, so any name works.
"""

from __future__ import annotations

from common.errors import ConfigError

PATTERN_CHARACTERS = "*?["


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
