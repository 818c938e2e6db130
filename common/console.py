"""A quiet console for TensorFlow programs, without hiding what a user must see.

TensorFlow talks a lot before a program has done anything: its C++ libraries log
INFO notices while they load (oneDNN, the CUDA stub, CPU features), before
`TF_CPP_MIN_LOG_LEVEL` is consulted and under absl's "All log messages before
absl::InitializeLog()" banner; a machine without an NVIDIA driver gets an
E-level `cuInit` failure as soon as a session lists its devices; and Python-side,
TensorFlow warns about its own deprecated internals. This module sets the
defaults before TensorFlow loads (`set_defaults`), imports TensorFlow with its
load-time INFO lines dropped (`import_tensorflow`), and tells whether the machine has an NVIDIA driver
(`has_nvidia_driver`): only where it has none is CUDA's failed probe dropped.
Nothing else at WARNING or above from C++ is dropped, and from Python only
TensorFlow's notices about its own internals.

No TensorFlow import at module level: this runs before it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import sys
import tempfile

CPP_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"  # TensorFlow's C++ log threshold: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL
QUIET_CPP_LOG_LEVEL = "1"  # C++ INFO off; warnings and errors stay
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# A C++ log line's prefix, e.g. "I0000 00:00:1796256407.364316   32226 port.cc:153] ".
_CPP_INFO_LINE = re.compile(r"^I\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_CPP_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_CUDA_INIT_FAILED = "] failed call to cuInit: "
_USER_SET: set[str] = set()  # environment variables the user set before set_defaults


def set_defaults() -> None:
    """Sets TF_CPP_MIN_LOG_LEVEL to 1 (C++ INFO off) unless the user set it. Call before TensorFlow loads."""
    if CPP_LOG_LEVEL in os.environ:
        _USER_SET.add(CPP_LOG_LEVEL)
    os.environ.setdefault(CPP_LOG_LEVEL, QUIET_CPP_LOG_LEVEL)


def set_cpp_verbosity(verbosity: int) -> None:
    """At verbosity >= 2 (-vv), TensorFlow's C++ INFO lines too, unless the user chose a level."""
    if verbosity >= 2 and CPP_LOG_LEVEL not in _USER_SET:
        os.environ[CPP_LOG_LEVEL] = "0"


def has_nvidia_driver() -> bool:
    """Whether this machine has an NVIDIA driver (its kernel module, or libcuda as WSL2 ships it).

    Without one, CUDA probing can only fail (TensorFlow logs `failed call to cuInit`
    at E level), so sessions may skip it; with one, a GPU is used as usual.
    """
    if os.path.exists("/proc/driver/nvidia/version"):
        return True
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def _cpp_info_hidden() -> bool:
    try:
        return int(os.environ.get(CPP_LOG_LEVEL, "0")) >= 1
    except ValueError:
        return False


def startup_noise(lines: list[str], nvidia_driver: bool = True) -> list[bool]:
    """For each line TensorFlow printed while loading, whether it is start-up noise to drop:
    absl's pre-init banner; C++ INFO lines (with their continuation lines) when
    TF_CPP_MIN_LOG_LEVEL >= 1 asks for no INFO; and, only on a machine with no NVIDIA
    driver, CUDA's `failed call to cuInit` (the expected answer there, an error elsewhere).
    Other W, E and F lines and anything else are kept."""
    drop, previous_dropped = [], False
    for line in lines:
        if line.rstrip("\n") == _ABSL_BANNER:
            dropped = True
        elif _CPP_LINE.match(line):
            dropped = bool(_CPP_INFO_LINE.match(line)) and _cpp_info_hidden()
            dropped = dropped or (not nvidia_driver and _CUDA_INIT_FAILED in line)
        else:  # a continuation of a multi-line C++ record, e.g. cpu_feature_guard's second line
            dropped = previous_dropped and line.startswith("To enable the following instructions")
        drop.append(dropped)
        previous_dropped = dropped
    return drop


@contextlib.contextmanager
def _stderr_filtered(nvidia_driver: bool):
    """Captures file descriptor 2 (C++ and Python alike) and writes back what is not start-up noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            noise = startup_noise(lines, nvidia_driver)
            kept = [line for line, dropped in zip(lines, noise, strict=True) if not dropped]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def import_tensorflow(verbosity: int = 0):
    """Imports TensorFlow; at verbosity 0 its load-time INFO lines are dropped (see `startup_noise`).

    On a machine with no NVIDIA driver it also lists the devices once, in the same
    window: TensorFlow probes CUDA the first time anything (a tf.data graph, a session)
    needs the devices, and where there is no driver that probe can only fail. TensorFlow
    probes once per process, so nothing later repeats the line. Where there is a
    driver nothing is probed here, and any CUDA error is shown.

    Returns:
      The tensorflow module.
    """
    if verbosity > 0 or "tensorflow" in sys.modules:
        import tensorflow

        return tensorflow
    driver = has_nvidia_driver()
    with _stderr_filtered(driver):
        import tensorflow

        if not driver:
            tensorflow.config.list_physical_devices()
    return tensorflow


class TensorFlowNotices(logging.Filter):
    """Drops TensorFlow's Python warnings about its own internals, which no user can act on:
    deprecation notices ("From <TensorFlow file>: ... Instructions for updating") and the
    SavedModel loader's note that eager mode is off (the transform graph loads into the
    export graph, as it should)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "tensorflow" or record.levelno >= logging.ERROR:
            return True
        message = record.getMessage()
        if message.startswith("From ") and "Instructions for updating" in message:
            return False
        return not message.startswith("Loading a TF2 SavedModel but eager mode seems disabled")
