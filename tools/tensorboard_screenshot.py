"""Screenshot TensorBoard's scalars dashboard over a job dir, as a user sees it.

    python -m tools.tensorboard_screenshot --job-dir out/job --output docs/tensorboard_scalars.png

Starts the real `tensorboard` on a free loopback port, waits until it serves the
job's runs, and has headless Chromium (Debian's `chromium` package) render the
scalars dashboard to a PNG. `make tensorboard-screenshot` runs it after `make demo`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from common.net import free_ports

# Chromium started as the test probes of these machines start it: no background
# networking (the sandbox refuses it), a fresh profile, software rendering.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _wait_for_runs(url: str, process: subprocess.Popen, timeout: float) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/data/runs", timeout=5) as response:
                runs = json.loads(response.read())
            if runs:
                return runs
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"tensorboard at {url} served no runs within {timeout:.0f} s")


def screenshot(job_dir: str, output: str, width: int = 1500, height: int = 1000) -> str:
    """Renders the scalars dashboard of `job_dir` into the PNG `output`; returns its path.

    Raises:
      FileNotFoundError: chromium is not installed (apt-get install chromium).
      RuntimeError: tensorboard did not come up.
    """
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise FileNotFoundError("chromium not found: apt-get install chromium")
    port = free_ports()[0]
    url = f"http://127.0.0.1:{port}"
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    server = subprocess.Popen(
        [tensorboard, "--logdir", job_dir, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_runs(url, server, timeout=120)
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    f"--window-size={width},{height}",
                    "--virtual-time-budget=15000",  # let the dashboard fetch and draw its charts
                    f"--screenshot={os.path.abspath(output)}",
                    f"{url}/#scalars",
                ],
                check=True,
                capture_output=True,
                timeout=180,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.tensorboard_screenshot", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--job-dir", default="out/job")
    parser.add_argument("--output", default="docs/tensorboard_scalars.png")
    args = parser.parse_args(argv)
    print(screenshot(args.job_dir, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
