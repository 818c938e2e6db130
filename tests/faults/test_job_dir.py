"""One trainer per job dir, and what killed trainers leave is cleaned up by the next run."""

import logging
import os
import shutil
import socket
import subprocess
import time

import pytest

from estimator import export_dirs
from schemas import jobdir
from tests import commands
from trainer import job
from trainer.hparams import HParams

pytestmark = pytest.mark.slow


def test_a_second_trainer_on_a_job_dir_a_live_trainer_holds_is_refused_in_one_line(preprocessed, tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    held = jobdir.acquire_lock(str(job_dir))  # this test process stands for the live trainer
    try:
        done = commands.run_module("trainer.task", "--data-dir", preprocessed[1], "--job-dir", str(job_dir))
    finally:
        held.release()
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1, done.stderr[-3000:]
    assert (
        f"{job_dir}: another trainer is using this job dir (host {socket.gethostname()}, pid {os.getpid()}"
        in (errors[0])
    )
    assert "Traceback" not in done.stderr and os.listdir(job_dir) == []  # nothing written


def test_a_stale_lock_is_taken_over_renewed_at_each_checkpoint_and_released(
    preprocessed, tmp_path, monkeypatch, caplog
):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    killed = subprocess.Popen(["true"])
    killed.wait()  # the pid of a trainer that is gone
    now = time.time()
    stale = jobdir.JobLock(str(job_dir), "0123456789ab", socket.gethostname(), killed.pid, now, now)
    (job_dir / jobdir.LOCK_FILE).write_text(stale._payload())
    beats = []
    real_beat = jobdir.JobLock.beat

    def counted(lock):
        beats.append(jobdir.read_lock(str(job_dir)).pid)
        real_beat(lock)

    monkeypatch.setattr(jobdir.JobLock, "beat", counted)
    caplog.set_level(logging.WARNING)
    hparams = HParams(train_steps=8, batch_size=16, save_checkpoints_steps=4, throttle_secs=0)
    job.train(preprocessed[1], str(job_dir), hparams)
    (line,) = [r.getMessage() for r in caplog.records if "stale lock" in r.getMessage()]
    assert f"pid {killed.pid}" in line and "is gone" in line
    assert len(beats) >= 2 and set(beats) == {os.getpid()}  # checkpoints at steps 4 and 8 (and 0)
    assert not (job_dir / jobdir.LOCK_FILE).exists()  # released at the end


def test_a_later_run_removes_what_killed_saves_and_exports_left(trained, tmp_path, caplog):
    _, data_dir, result, hparams = trained
    job_dir = tmp_path / "job"
    shutil.copytree(result.job_dir, job_dir)
    stamp = int(time.time())
    leftovers = [
        job_dir
        / f"{jobdir.CHECKPOINT_PREFIX}-30{jobdir.CHECKPOINT_TEMP_SUFFIX}",  # kill -9 in a checkpoint save
        job_dir
        / jobdir.EXPORT_DIR
        / jobdir.LATEST_EXPORTER
        / f"{jobdir.EXPORT_TEMP_PREFIX}{stamp}",  # ... an export
        job_dir / jobdir.EXPORT_DIR / jobdir.BEST_EXPORTER / f"{jobdir.EXPORT_TEMP_PREFIX}{stamp - 60}",
    ]
    for path in leftovers:
        (path / "variables").mkdir(parents=True)
        (path / "variables" / "variables.index").write_bytes(b"half")
    caplog.set_level(logging.WARNING)
    again = job.train(data_dir, str(job_dir), hparams)  # at its last step already: trains no further
    assert again.test["global_step"] == result.test["global_step"]
    assert not [path for path in leftovers if path.exists()]
    (line,) = [
        r.getMessage() for r in caplog.records if "interrupted checkpoints and exports" in r.getMessage()
    ]
    assert all(str(path) in line for path in leftovers)
    assert export_dirs.newest_export(
        str(job_dir / jobdir.EXPORT_DIR / jobdir.BEST_EXPORTER)
    )  # complete ones stay
