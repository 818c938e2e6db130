"""The job-dir contract: names that agree with the runtime's, typed reads and writes, the lock."""

import json
import logging
import os
import re
import socket
import subprocess
import time

import pytest
import tensorflow as tf

import estimator as tfe
from common.errors import ConfigError, DataError
from estimator import export_dirs
from schemas import jobdir, layout


def _model_fn(features, labels, mode):  # never called: the Estimator is only asked for its names
    raise AssertionError("not built")


def test_eval_dirs_are_the_estimators_own(tmp_path):
    est = tfe.Estimator(_model_fn, model_dir=str(tmp_path))
    assert jobdir.eval_dir(str(tmp_path)) == est.eval_dir()
    assert jobdir.eval_dir(str(tmp_path), layout.TEST) == est.eval_dir(layout.TEST)


def test_export_bases_are_tf_estimators_layout():
    assert jobdir.export_base("gs://b/job", jobdir.BEST_EXPORTER) == "gs://b/job/export/best"
    assert jobdir.export_base("/j", jobdir.LATEST_EXPORTER) == "/j/export/latest"


def test_hparams_round_trip_and_nothing_half_written(tmp_path):
    job_dir = str(tmp_path / "job")
    assert jobdir.read_hparams(job_dir) is None
    path = jobdir.write_hparams(job_dir, {"model": "fast", "batch_size": 128})
    assert path == jobdir.hparams_path(job_dir)
    written = jobdir.read_hparams(job_dir)
    assert written.pop(jobdir.HPARAMS_WRITTEN_KEY)
    assert written == {"model": "fast", "batch_size": 128}
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == [jobdir.HPARAMS_FILE]


def test_a_resume_with_other_hparams_keeps_the_earlier_file(tmp_path):
    job_dir = str(tmp_path)
    jobdir.write_hparams(job_dir, {"model": "fast", "learning_rate": 0.002})
    first = jobdir.read_hparams(job_dir)
    jobdir.write_hparams(job_dir, {"model": "fast", "learning_rate": 0.002})  # the same values: kept as is
    assert jobdir.read_hparams(job_dir) == first and jobdir.hparams_history(job_dir) == []
    jobdir.write_hparams(job_dir, {"model": "fast", "learning_rate": 0.001})
    (earlier,) = jobdir.hparams_history(job_dir)
    assert json.loads(open(earlier).read()) == first
    assert jobdir.read_hparams(job_dir)["learning_rate"] == 0.001
    jobdir.write_hparams(job_dir, {"model": "fast", "learning_rate": 0.0005})
    assert len(jobdir.hparams_history(job_dir)) == 2  # never overwritten, even within one second


def test_metrics_history_is_written_as_keras_csv_logger_writes(tmp_path):
    job_dir = str(tmp_path)
    assert jobdir.read_metrics_history(job_dir) == []
    row = {"epoch": 1.0, "step": 10, "time": "2026-12-03T00:00:00Z", "loss": 0.5, "accuracy": 0.75}
    assert jobdir.append_metrics_history(job_dir, row)
    assert not jobdir.append_metrics_history(job_dir, dict(row, loss=0.4))  # step 10 is recorded
    assert jobdir.append_metrics_history(job_dir, dict(row, epoch=2.0, step=20, auc=0.9))
    text = (tmp_path / jobdir.METRICS_HISTORY_FILE).read_text()
    assert text.splitlines() == [
        "epoch,step,time,accuracy,auc,loss",
        "1.0,10,2026-12-03T00:00:00Z,0.75,,0.5",
        "2.0,20,2026-12-03T00:00:00Z,0.75,0.9,0.5",
    ]
    first, second = jobdir.read_metrics_history(job_dir)
    assert first == {**row, "auc": None} and second["step"] == 20 and second["auc"] == 0.9


def test_data_pin_round_trip(tmp_path):
    pin = jobdir.DataPin(data_dir="out/data", identity="ab" * 32, created="2026-12-02T00:00:00Z")
    jobdir.write_data_pin(str(tmp_path), pin)
    assert jobdir.read_data_pin(str(tmp_path)) == pin
    assert (
        json.loads((tmp_path / jobdir.DATA_PIN_FILE).read_text())["format_version"] == jobdir.DATA_PIN_VERSION
    )


def test_a_pin_of_the_first_format_reads(tmp_path):
    # Written before the pin had a format_version (commit a74a964 and earlier).
    (tmp_path / jobdir.DATA_PIN_FILE).write_text(
        json.dumps({"data_dir": "d", "identity": "f" * 64, "created": ""})
    )
    assert jobdir.read_data_pin(str(tmp_path)) == jobdir.DataPin("d", "f" * 64, "", 1)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"a string"'])
def test_unreadable_files_are_refused_naming_them(tmp_path, text):
    (tmp_path / jobdir.HPARAMS_FILE).write_text(text)
    (tmp_path / jobdir.DATA_PIN_FILE).write_text(text)
    with pytest.raises(ConfigError, match=jobdir.HPARAMS_FILE):
        jobdir.read_hparams(str(tmp_path))
    with pytest.raises(DataError, match=jobdir.DATA_PIN_FILE):
        jobdir.read_data_pin(str(tmp_path))


def test_a_pin_without_identity_is_refused(tmp_path):
    (tmp_path / jobdir.DATA_PIN_FILE).write_text(json.dumps({"data_dir": "d"}))
    with pytest.raises(DataError, match="no data identity"):
        jobdir.read_data_pin(str(tmp_path))


def _holder(job_dir, host=None, pid=None, heartbeat_age=0.0) -> jobdir.JobLock:
    """Writes a lock file as another trainer would have: its host, pid and heartbeat."""
    now = time.time()
    lock = jobdir.JobLock(
        str(job_dir), "0123456789ab", host or socket.gethostname(), pid or os.getpid(), now - heartbeat_age,
        now - heartbeat_age,
    )  # fmt: skip
    (job_dir / jobdir.LOCK_FILE).write_text(lock._payload())
    return lock


def _reaped_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_the_lock_records_its_holder_is_renewed_and_released(tmp_path):
    lock = jobdir.acquire_lock(str(tmp_path))
    written = json.loads((tmp_path / jobdir.LOCK_FILE).read_text())
    assert (written["host"], written["pid"]) == (socket.gethostname(), os.getpid())
    assert {"started_utc", "heartbeat_utc", "run"} <= set(written)
    before = lock.heartbeat
    time.sleep(0.01)
    lock.beat()
    assert jobdir.read_lock(str(tmp_path)).heartbeat > before
    lock.release()
    assert not (tmp_path / jobdir.LOCK_FILE).exists()


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param({}, id="a live process on this host"),
        pytest.param({"host": "another-host", "pid": 1}, id="a fresh heartbeat from another host"),
    ],
)
def test_a_held_lock_is_refused_naming_its_holder(tmp_path, holder):
    held = _holder(tmp_path, **holder)
    with pytest.raises(ConfigError, match=rf"another trainer is using this job dir \(host {held.host}, pid"):
        jobdir.acquire_lock(str(tmp_path))
    assert jobdir.read_lock(str(tmp_path)) == held


@pytest.mark.parametrize(
    "holder, reason",
    [
        ({"pid": "gone"}, "its process .* is gone"),
        (
            {"host": "another-host", "pid": 1, "heartbeat_age": jobdir.LOCK_STALE_SECONDS + 60},
            "its heartbeat is older than",
        ),
    ],
)
def test_a_stale_lock_is_taken_over_in_one_line(tmp_path, caplog, holder, reason):
    if holder.get("pid") == "gone":
        holder = {"pid": _reaped_pid()}
    stale = _holder(tmp_path, **holder)
    with caplog.at_level(logging.WARNING):
        lock = jobdir.acquire_lock(str(tmp_path))
    (line,) = [r.getMessage() for r in caplog.records]
    assert re.search(rf"taking over a stale lock \(host {stale.host}, pid {stale.pid}.*\): {reason}", line), (
        line
    )
    assert jobdir.read_lock(str(tmp_path)).run == lock.run != stale.run


def test_a_holder_whose_lock_was_taken_over_stops_at_its_next_heartbeat(tmp_path):
    lock = jobdir.acquire_lock(str(tmp_path))
    other = _holder(tmp_path, host="another-host", pid=1)  # e.g. after this host stood still for an hour
    with pytest.raises(ConfigError, match=r"another trainer took this job dir over \(host another-host"):
        lock.beat()
    lock.release()  # not ours any more: left as it is
    assert jobdir.read_lock(str(tmp_path)) == other


def test_a_lock_file_left_empty_by_a_killed_writer_is_taken_over(tmp_path):
    path = tmp_path / jobdir.LOCK_FILE
    path.write_text("")
    old = time.time() - 60
    os.utime(path, (old, old))
    assert jobdir.acquire_lock(str(tmp_path)).pid == os.getpid()


def test_temporary_names_are_the_runtimes_own():
    assert jobdir.EXPORT_TEMP_PREFIX == export_dirs.TEMP_PREFIX
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.Variable(1.0, name="v")
        tf.compat.v1.train.Saver(sharded=True)  # tf.estimator's Scaffold saves sharded
    strings = [
        value.decode()
        for node in graph.as_graph_def().node
        if node.op == "Const" and node.attr["value"].tensor.dtype == tf.string.as_datatype_enum
        for value in node.attr["value"].tensor.string_val
    ]
    assert f"{jobdir.CHECKPOINT_TEMP_SUFFIX}/part" in strings  # the Saver writes PREFIX_temp/part-*


def test_leftovers_of_interrupted_saves_and_exports_are_removed(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    now = int(time.time())
    for path in (f"model.ckpt-20{jobdir.CHECKPOINT_TEMP_SUFFIX}/part-00000-of-00001.index",
                 f"export/latest/{jobdir.EXPORT_TEMP_PREFIX}{now - 7200}/saved_model.pb",
                 f"export/best/{jobdir.EXPORT_TEMP_PREFIX}{now}/variables/variables.index",
                 "export/best/1700000000/saved_model.pb", "model.ckpt-20.index", "export/notes-temp-1/x",
                 "model.ckpt-x_temp/y"):  # fmt: skip
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    young = str(tmp_path / "export" / "best" / f"{jobdir.EXPORT_TEMP_PREFIX}{now}")
    removed = jobdir.remove_leftovers(str(tmp_path), min_export_age_seconds=3600)  # in a cluster
    assert removed == [
        str(tmp_path / f"model.ckpt-20{jobdir.CHECKPOINT_TEMP_SUFFIX}"),
        str(tmp_path / "export" / "latest" / f"{jobdir.EXPORT_TEMP_PREFIX}{now - 7200}"),
    ]
    caplog.clear()
    assert jobdir.remove_leftovers(str(tmp_path)) == [young]  # alone: every one
    assert len(caplog.records) == 1 and young in caplog.records[0].getMessage()
    assert (tmp_path / "export/best/1700000000/saved_model.pb").exists() and (
        tmp_path / "model.ckpt-x_temp"
    ).exists()
