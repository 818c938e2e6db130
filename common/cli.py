"""What every entry point shares: logging, one-line errors, a truthful exit status.

The exit status is the truth: 0 on success, 1 on failure, 2 for a usage error,
130 on Ctrl-C. Expected failures (`errors.UserError`: bad input, bad flags, an
existing output) print one line, `error: <message>`, even when a runner wrapped
them in another exception; anything else is a bug and prints its traceback.

Why `os._exit`: on this stack (protobuf 6's upb backend with TF 2.21, TFT 1.21,
Beam 2.77) a process that ran a tf.Transform pipeline dies with SIGSEGV while the
interpreter tears itself down, after all work is done: upb repeated-field
containers kept alive by Beam's DoFn caches are freed after the upb module's
state is gone (PyUpb_RepeatedContainer_Dealloc -> PyModule_GetState(NULL);
protocolbuffers/protobuf#22067). The entry points therefore flush their output
and leave with `os._exit`, skipping the teardown that crashes. Library callers
(tests, notebooks) are not affected: only `main` wrappers exit this way.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence

from common import console
from common.errors import OutputError, UserError


class _DropUserErrorTracebacks(logging.Filter):
    """Drops ERROR records about a UserError (its traceback, or a worker's report of it as text).

    Runners log an exception they are about to re-raise (Beam logs a DoFn's
    error with its traceback, and relays the log of a worker process that
    failed); an expected failure is then reported once, as the entry point's
    one `error:` line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        if record.exc_info and record.exc_info[1] and user_error(record.exc_info[1]):
            return False
        message = record.getMessage()
        return not any(f"{name}: " in message for name in _qualified_names())


# Beam's loggers that tell a Dataflow user where the job is and how it goes (its console URL,
# state changes, worker errors relayed from the service), kept at INFO when the rest of Beam is not.
DATAFLOW_LOGGERS = (
    "apache_beam.runners.dataflow.dataflow_runner",
    "apache_beam.runners.dataflow.internal.apiclient",
)


def setup_logging(verbosity: int = 0) -> None:
    """Logs INFO (DEBUG at verbosity 2) lines with a time stamp to stderr; see _DropUserErrorTracebacks.

    Libraries (Beam, absl, TensorFlow) log WARNING and above at verbosity 0, less
    TensorFlow's notices about its own internals (`console.TensorFlowNotices`); INFO
    at 1 (-v); DEBUG at 2 (-vv). Beam's DATAFLOW_LOGGERS always log INFO.
    """
    verbosity = int(verbosity)
    logging.basicConfig(
        level=logging.DEBUG if verbosity >= 2 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropUserErrorTracebacks())
        if verbosity == 0:
            handler.addFilter(console.TensorFlowNotices())
    libraries = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    for noisy in ("apache_beam", "absl", "tensorflow", "root"):
        logging.getLogger(noisy).setLevel(libraries)
    for name in DATAFLOW_LOGGERS:
        logging.getLogger(name).setLevel(min(libraries, logging.INFO))


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's one style: a usage error is the usage line, then one
    `error: <message>` line, like every other failure (exit status 2); --help ends with
    real examples of the command.

    Args:
      examples: command lines shown at the end of --help, under "examples:".
      epilog: text before the examples.
    """

    def __init__(self, *args, examples: Sequence[str] = (), epilog: str | None = None, **kwargs):
        parts = [epilog] if epilog else []
        if examples:
            parts.append("examples:\n" + "\n".join(f"  {example}" for example in examples))
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, epilog="\n\n".join(parts) or None, **kwargs)
        self.examples = tuple(examples)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def user_error(error: BaseException) -> UserError | None:
    """Finds a UserError in an exception or its causes (runners wrap them), or None.

    A runner that ran the failing code in another process (Beam's multi-process
    mode, Dataflow) passes the error on as text, e.g. `RuntimeError: Traceback ...
    common.idx.IdxFormatError: <message> [while running 'Read']`: a UserError named
    in such text is recovered as a UserError with that message. A full disk
    (ENOSPC, however TensorFlow or a runner reports it) is one too: an OutputError
    saying "No space left on device" and where.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, UserError):
            return error
        found = _named_in_text(str(error)) or _disk_full(error)
        if found is not None:
            return found
        error = error.__cause__ or error.__context__
    return None


_NO_SPACE = "No space left on device"


def _disk_full(error: BaseException) -> OutputError | None:
    """An OutputError naming where the disk filled up, if `error` says it did (ENOSPC)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return OutputError(f"{_NO_SPACE}: writing {error.filename or 'an output'}")
    text = str(error)
    if _NO_SPACE not in text:
        return None
    # TensorFlow's file system: "<path>; No space left on device", maybe inside a runner's message.
    match = re.search(rf"(?:^|\s|')(/\S+|\w+://\S+)(?:'|;) ?(?:\[Errno 28\] )?{_NO_SPACE}", text)
    return OutputError(
        f"{_NO_SPACE}: writing {match.group(1)}" if match else f"{_NO_SPACE} ({type(error).__name__})"
    )


def _subclasses(cls: type) -> list[type]:
    return [cls] + [sub for direct in cls.__subclasses__() for sub in _subclasses(direct)]


def _qualified_names() -> list[str]:
    """module.Class of UserError and every subclass, longest first."""
    return sorted({f"{c.__module__}.{c.__qualname__}" for c in _subclasses(UserError)}, key=len, reverse=True)


def _named_in_text(text: str) -> UserError | None:
    pattern = "|".join(re.escape(name) for name in _qualified_names())
    match = re.search(rf"^(?:\w+: )?({pattern}): (.+?)(?: \[while running .*\])?$", text, re.MULTILINE)
    return UserError(match.group(2)) if match else None


def run_main(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
    """Runs `main(argv)` and returns its exit status, reporting any failure.

    An int returned by main is the status; anything else (None, a result) means 0.
    """
    try:
        result = main(argv)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse's --help and usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:  # noqa: BLE001 - the process boundary reports everything
        user = user_error(e)
        if user is not None:
            print(
                f"error: {str(user).splitlines()[0] if str(user) else type(user).__name__}", file=sys.stderr
            )
        else:
            traceback.print_exc()
            print(f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        return 1


def exit_with(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> None:
    """Runs `main`, flushes all output and ends the process with its status (see module doc)."""
    status = run_main(main, argv)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
