"""The local cluster launcher passes SIGTERM on to its tasks and leaves no process behind."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow
BOUND_SECS = 120


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:  # field 4 of stat, after the command name: the parent pid
            found.add(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_launcher_stops_every_task(preprocessed, tmp_path, signum):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    job_dir = tmp_path / "job"
    task_flags = ["--data-dir", str(data_dir), "--job-dir", str(job_dir), "--train-steps", "1000000"]
    task_flags += ["--batch-size", "8", "--save-checkpoints-steps", "20", "--throttle-secs", "1000"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "trainer.local_cluster", "--workers", "1", "--ps", "1", "--", *task_flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.time() + BOUND_SECS
        while not list(job_dir.glob("model.ckpt-*.index")):  # the tasks are up and training
            assert launcher.poll() is None and time.time() < deadline, "the cluster did not start training"
            time.sleep(0.2)
        tasks = _children(launcher.pid)
        assert len(tasks) == 3  # chief, worker, ps
        launcher.send_signal(signum)
        launcher.wait(timeout=60)
        assert launcher.returncode != 0
        end = time.time() + 15
        while any(_alive(pid) for pid in tasks) and time.time() < end:
            time.sleep(0.1)
        assert not [pid for pid in tasks if _alive(pid)], "tasks outlived the launcher"
    finally:
        for pid in _children(launcher.pid) | {launcher.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
