"""Running the project's commands as a user does: a real process, its exit status, its output."""

import os
import subprocess
import sys

# The project's commands (`python -m MODULE`; setup.py's idx-* console scripts run the same).
ENTRY_POINTS = (
    "pipeline.preprocess",
    "pipeline.validate",
    "pipeline.download",
    "trainer.task",
    "trainer.predict",
    "trainer.local_cluster",
)


def run_module(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `python -m module args...`; returns the finished process (text output)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    """The `error: ...` lines a command printed to stderr."""
    return [line for line in done.stderr.splitlines() if line.startswith("error:")]
