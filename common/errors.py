"""The failures a user can fix from the message alone.

Every expected failure of the project derives from `UserError`: the entry points
print it as one line, `error: <message>`, and exit with status 1. Anything else
is a bug and keeps its traceback. Each subclass also derives from the built-in
exception a caller would catch for it (ValueError, OSError, ...), so library
callers need not know this module.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure the user can fix: bad input, a bad flag, an existing output, ...

    The message names the file, flag or feature, what was expected and what was found.
    """


class ConfigError(UserError, ValueError):
    """A flag, hyperparameter or environment setting (TF_CONFIG, AIP_*) is not acceptable."""


class InputNotFoundError(UserError, FileNotFoundError):
    """An input file or directory is missing."""


class OutputError(UserError, OSError):
    """An output location cannot be written (not writable, a file in the way, ...)."""


class DataError(UserError, ValueError):
    """Data on disk is not what its description promises: a corrupt or changed shard,
    a manifest that does not match its files, a data dir changed under a job."""
