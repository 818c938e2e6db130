"""The job dir: its names and typed accessors, a contract as `layout.py` is for the data dir.

The trainer writes it; `trainer.predict`, the report, benchmarks and tools read it;
tests check it. Every name below is written once, here:

    JOB_DIR/
      hparams.json                 the run's resolved hyperparameters, schedule and environment
      hparams.<stamp>.json         an earlier hparams.json a resume with other values superseded
      metrics_history.csv          one row per evaluation: epoch, step, time, every metric
      report/                      what `trainer.predict --report-dir` writes (REPORT_FILES), e.g. `make demo`'s
      data.json                    the pinned identity of the data it trains on (trainer/data.py)
      trainer.lock                 while a trainer runs: who holds the job dir (`JobLock`)
      checkpoint, model.ckpt-N.*   tf.estimator's own names (the Saver's); model.ckpt-N_temp/ while
                                   one is saved
      events.out.tfevents.*        training summaries; eval/ and eval_test/ hold evaluations'
      export/latest/<timestamp>/   SavedModels of the LatestExporter
      export/best/<timestamp>/     ... and of the BestExporter (highest eval accuracy); temp-<timestamp>/
                                   beside them while one is written

The export directory names are tf.estimator's (`MODEL_DIR/export/<exporter name>/`,
timestamped exports inside; `estimator.export_dirs` knows which are complete) and
the eval directory names are `Estimator.eval_dir`'s; they are restated here so that
readers need not build an Estimator. All file access goes through `tf.io.gfile`
(local paths and gs:// alike).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import logging
import os
import posixpath
import re
import socket
import time
import uuid

import tensorflow as tf

from common import files
from common.errors import ConfigError, DataError
from common.paths import check_regular

HPARAMS_FILE = "hparams.json"
HPARAMS_HISTORY_FILE = "hparams.{stamp}.json"  # an earlier hparams.json, by when it was written
HPARAMS_WRITTEN_KEY = "written"  # when hparams.json was written (UTC); not compared on resume
METRICS_HISTORY_FILE = "metrics_history.csv"
# The leading columns of metrics_history.csv; the metrics follow, sorted by name (Keras' CSVLogger's order).
METRICS_HISTORY_INDEX = ("epoch", "step", "time")
REPORT_DIR = "report"  # the report's usual place (make demo: OUT/report); any --report-dir works
REPORT_METRICS_FILE = "metrics.json"
REPORT_MARKDOWN_FILE = "report.md"
REPORT_CONFUSION_MATRIX_FILE = "confusion_matrix.png"
REPORT_CONFUSION_MATRIX_NORMALIZED_FILE = "confusion_matrix_normalized.png"
REPORT_MISTAKES_FILE = "mistakes.png"
REPORT_RELIABILITY_FILE = "reliability.png"
REPORT_FILES = (
    REPORT_METRICS_FILE,
    REPORT_MARKDOWN_FILE,
    REPORT_CONFUSION_MATRIX_FILE,
    REPORT_CONFUSION_MATRIX_NORMALIZED_FILE,
    REPORT_MISTAKES_FILE,
    REPORT_RELIABILITY_FILE,
)
DATA_PIN_FILE = "data.json"
EXPORT_DIR = "export"  # tf.estimator's: MODEL_DIR/export/<exporter name>/
LATEST_EXPORTER = "latest"
BEST_EXPORTER = "best"
EVAL_DIR = "eval"  # Estimator.eval_dir(): eval/, or eval_<name>/ for a named evaluation
CHECKPOINT_STATE_FILE = "checkpoint"  # the Saver's: names the newest model.ckpt-N
CHECKPOINT_PREFIX = "model.ckpt"  # tf.estimator's: model.ckpt-<global step>.*
CHECKPOINT_TEMP_SUFFIX = "_temp"  # the Saver's: model.ckpt-N_temp/ holds a sharded save in progress
EXPORT_TEMP_PREFIX = "temp-"  # tf.estimator's: export/<exporter>/temp-<timestamp>/ while it exports
# 1: the manifest's identity (transform, shards). 2: also metadata/, the raw schema exports serve with.
DATA_PIN_VERSION = 2
LOCK_FILE = "trainer.lock"
# A lock whose heartbeat (written when the lock is taken and at each checkpoint) is older than
# this is stale, whatever host holds it; on the holder's own host, so is one whose pid is gone.
LOCK_STALE_SECONDS = 3600
_LOCK_WRITE_SECONDS = 5.0  # an empty or torn lock file older than this was left by a killed writer
_LOG = logging.getLogger(__name__)
# A directory holding any of these is a job dir (of this version or an earlier one).
_JOB_FILES = (HPARAMS_FILE, DATA_PIN_FILE, CHECKPOINT_STATE_FILE, LOCK_FILE)


def join(*parts: str) -> str:
    """Joins path parts with '/', for local paths and URLs such as gs:// alike."""
    return posixpath.join(*parts)


def export_base(job_dir: str, exporter: str) -> str:
    """JOB_DIR/export/<exporter>: where that exporter's timestamped exports go."""
    return join(job_dir, EXPORT_DIR, exporter)


def eval_dir(job_dir: str, name: str | None = None) -> str:
    """JOB_DIR/eval or JOB_DIR/eval_<name>: an evaluation's summaries, as `Estimator.eval_dir`."""
    return join(job_dir, EVAL_DIR if not name else f"{EVAL_DIR}_{name}")


def hparams_path(job_dir: str) -> str:
    return join(job_dir, HPARAMS_FILE)


def data_pin_path(job_dir: str) -> str:
    return join(job_dir, DATA_PIN_FILE)


def find_job_dir(root: str) -> str | None:
    """The first job dir at or under `root` (one holding hparams.json, data.json or the checkpoint
    state file), by listing; None if there is none."""
    if not tf.io.gfile.isdir(root):
        return None
    for parent, _, names in files.walk(root):
        if any(name in _JOB_FILES for name in names):
            return parent.rstrip("/")
    return None


def _read_json(path: str, error: type[Exception]) -> dict | None:
    """The JSON object at `path`, or None when there is no such file.

    Raises:
      `error`: the file is not a JSON object (naming it, with what to do).
    """
    if not tf.io.gfile.exists(path):
        return None
    check_regular(path)
    try:
        with tf.io.gfile.GFile(path) as f:
            payload = json.loads(f.read())
    except (ValueError, tf.errors.OpError) as e:
        raise error(f"{path}: unreadable ({type(e).__name__}: {e}); use a new --job-dir") from None
    if not isinstance(payload, dict):
        raise error(f"{path}: expected a JSON object, found {type(payload).__name__}; use a new --job-dir")
    return payload


def _write_json(path: str, payload: dict) -> str:
    """Writes `payload` as JSON to `path` through a temporary sibling, so a reader never sees half."""
    tf.io.gfile.makedirs(posixpath.dirname(path))
    temp = path + ".tmp"
    with tf.io.gfile.GFile(temp, "w") as f:
        f.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tf.io.gfile.rename(temp, path, overwrite=True)
    return path


def read_hparams(job_dir: str) -> dict | None:
    """The hyperparameters a job dir was trained with (hparams.json), or None before its first run.

    Raises:
      ConfigError: hparams.json is not a JSON object.
    """
    return _read_json(hparams_path(job_dir), ConfigError)


def write_hparams(job_dir: str, hparams: dict) -> str:
    """Writes hparams.json, stamped with the time; an earlier hparams.json with other values
    is kept beside it as hparams.<its stamp>.json, never overwritten. Returns its path.

    Raises:
      ConfigError: the earlier hparams.json is not a JSON object.
    """
    earlier = read_hparams(job_dir)
    stamped = dict(hparams, **{HPARAMS_WRITTEN_KEY: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
    if earlier is not None and _unstamped(earlier) != _unstamped(stamped):
        stamp = str(earlier.get(HPARAMS_WRITTEN_KEY) or "earlier")
        history = join(job_dir, HPARAMS_HISTORY_FILE.format(stamp=stamp))
        suffix = 1
        while tf.io.gfile.exists(history):
            suffix += 1
            history = join(job_dir, HPARAMS_HISTORY_FILE.format(stamp=f"{stamp}-{suffix}"))
        tf.io.gfile.rename(hparams_path(job_dir), history)
    elif earlier is not None:
        return hparams_path(job_dir)  # the same values: the first run's record stands
    return _write_json(hparams_path(job_dir), stamped)


def _unstamped(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != HPARAMS_WRITTEN_KEY}


def hparams_history(job_dir: str) -> list[str]:
    """The earlier hparams.json files a job dir keeps (hparams.<stamp>.json), oldest first."""
    prefix, suffix = HPARAMS_HISTORY_FILE.split("{stamp}")
    names = [n for n in files.listdir(job_dir) if n.startswith(prefix) and n.endswith(suffix)]
    return [join(job_dir, n) for n in sorted(n for n in names if n != HPARAMS_FILE)]


def metrics_history_path(job_dir: str) -> str:
    return join(job_dir, METRICS_HISTORY_FILE)


def read_metrics_history(job_dir: str) -> list[dict]:
    """The rows of metrics_history.csv ([] before the first evaluation): "time" a string,
    "step" an int, every other column a float (None where a row has no value)."""
    path = metrics_history_path(job_dir)
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    return [
        {
            k: (v if k == "time" else int(v) if k == "step" else float(v) if v not in ("", "NA") else None)
            for k, v in row.items()
        }
        for row in rows
    ]


def append_metrics_history(job_dir: str, row: dict) -> bool:
    """Adds an evaluation's row to metrics_history.csv, written as Keras' CSVLogger writes
    its file (a header, then one comma-separated row per evaluation; the index columns
    METRICS_HISTORY_INDEX first, then the metrics sorted by name). The file is rewritten
    through a temporary sibling (Cloud Storage has no append).

    Args:
      row: {"epoch": float, "step": int, "time": str, metric name: float, ...}.

    Returns:
      False, writing nothing, when the file already has a row for row["step"]
      (the final evaluation of a checkpoint already evaluated, or a resume).
    """
    rows = read_metrics_history(job_dir)
    if any(r["step"] == row["step"] for r in rows):
        return False
    rows.append(row)
    metrics = sorted({k for r in rows for k in r} - set(METRICS_HISTORY_INDEX))
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=[*METRICS_HISTORY_INDEX, *metrics], restval="", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    path = metrics_history_path(job_dir)
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        f.write(out.getvalue())
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
    return True


@dataclasses.dataclass(frozen=True)
class DataPin:
    """What a job trains on, recorded by its first run (data.json).

    Attributes:
      data_dir: the --data-dir of the first run.
      identity: `schemas.manifest.Manifest.identity` of that data (hex sha256).
      created: the data's `Manifest.created` (ISO 8601 UTC).
      format_version: DATA_PIN_VERSION of the writer.
    """

    data_dir: str
    identity: str
    created: str = ""
    format_version: int = DATA_PIN_VERSION


def read_data_pin(job_dir: str) -> DataPin | None:
    """The job dir's pinned data identity, or None before its first run.

    A pin without a format_version is of version 1 (written before it had one).

    Raises:
      DataError: data.json is unreadable, lacks the identity, or is of a format
        version this one does not know (a newer one's).
    """
    path = data_pin_path(job_dir)
    payload = _read_json(path, DataError)
    if payload is None:
        return None
    identity = payload.get("identity")
    if not isinstance(identity, str):
        raise DataError(f"{path}: no data identity in it; use a new --job-dir")
    version = payload.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= DATA_PIN_VERSION:
        raise DataError(
            f"{path}: format_version {version!r}, but this version reads 1 to {DATA_PIN_VERSION} (written by a"
            " newer version?); use a new --job-dir"
        )
    return DataPin(
        data_dir=str(payload.get("data_dir", "")),
        identity=identity,
        created=str(payload.get("created", "")),
        format_version=version,
    )


def write_data_pin(job_dir: str, pin: DataPin) -> str:
    """Writes data.json; returns its path."""
    return _write_json(data_pin_path(job_dir), dataclasses.asdict(pin))


def lock_path(job_dir: str) -> str:
    return join(job_dir, LOCK_FILE)


def _utc(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process (or a pid we cannot judge: not ours to take)
    return True


@dataclasses.dataclass
class JobLock:
    """JOB_DIR/trainer.lock: the one trainer (a chief, or a single process) writing a job dir.

    Workers, parameter servers and the evaluator of the chief's cluster share the
    job dir without it. The file (JSON) records the holder's host, pid, start
    time, a run id and a heartbeat; it is written through `tf.io.gfile` (local
    and gs:// alike; locally it is created exclusively, so of two trainers
    starting at once one wins).

    Attributes:
      job_dir: the job dir held.
      run: this holder's id.
      host, pid: the holder.
      started, heartbeat: seconds since the epoch.
    """

    job_dir: str
    run: str
    host: str
    pid: int
    started: float
    heartbeat: float

    @property
    def path(self) -> str:
        return lock_path(self.job_dir)

    def describe(self) -> str:
        age = time.time() - self.heartbeat
        return (
            f"host {self.host}, pid {self.pid}, started {_utc(self.started)}, last heartbeat {age:.0f} s ago"
        )

    def stale_because(self) -> str | None:
        """Why this lock no longer holds (its process is gone, its heartbeat too old), or None."""
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return f"its process {self.pid} is gone"
        if time.time() - self.heartbeat > LOCK_STALE_SECONDS:
            return f"its heartbeat is older than {LOCK_STALE_SECONDS} s"
        return None

    def _payload(self) -> str:
        fields = dataclasses.asdict(self)
        del fields["job_dir"]
        return json.dumps(
            {**fields, "started_utc": _utc(self.started), "heartbeat_utc": _utc(self.heartbeat)}
        )

    def beat(self) -> None:
        """Renews the heartbeat (at each checkpoint).

        Raises:
          ConfigError: the lock file no longer names this holder (another trainer took it over).
        """
        holder = read_lock(self.job_dir)
        if holder is None or holder.run != self.run:
            raise ConfigError(
                f"{self.path}: another trainer took this job dir over"
                f" ({holder.describe() if holder else 'the lock is gone'}); stopping this one"
            )
        self.heartbeat = time.time()
        _write_json(self.path, json.loads(self._payload()))

    def release(self) -> None:
        """Removes the lock file if it is still this holder's."""
        holder = read_lock(self.job_dir)
        if holder is not None and holder.run == self.run:
            tf.io.gfile.remove(self.path)


def read_lock(job_dir: str) -> JobLock | None:
    """The lock of a job dir, or None if none is held (or its file is unreadable: a torn write)."""
    try:
        payload = _read_json(lock_path(job_dir), ConfigError)
        if payload is None:
            return None
        return JobLock(
            job_dir=job_dir,
            run=str(payload["run"]),
            host=str(payload["host"]),
            pid=int(payload["pid"]),
            started=float(payload["started"]),
            heartbeat=float(payload["heartbeat"]),
        )
    except (ConfigError, KeyError, TypeError, ValueError):
        return None


def _create_exclusively(path: str, text: str) -> bool:
    """Creates `path` holding `text` unless it exists; False if it exists (locally: atomic)."""
    if "://" not in path:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        return True
    if tf.io.gfile.exists(path):
        return False
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text + "\n")
    return True


def _take_over_unreadable(path: str) -> None:
    """Removes a lock file that has stayed unreadable (its holder was killed while writing it)."""
    try:
        age = time.time() - tf.io.gfile.stat(path).mtime_nsec / 1e9
    except tf.errors.NotFoundError:
        return  # released meanwhile
    if age < _LOCK_WRITE_SECONDS:
        time.sleep(_LOCK_WRITE_SECONDS / 5)  # another trainer may be writing it now
        return
    _LOG.warning("%s: taking over an unreadable lock (%.0f s old)", path, age)
    tf.io.gfile.remove(path)


def acquire_lock(job_dir: str) -> JobLock:
    """Takes the job dir's lock, taking over a stale one (one line says so).

    Raises:
      ConfigError: another live trainer holds it (naming its host, pid, start and heartbeat).
    """
    now = time.time()
    lock = JobLock(job_dir, uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(), now, now)
    for _ in range(5):  # a lock removed, being written or taken over meanwhile: look again
        if _create_exclusively(lock.path, lock._payload()):
            if (read_lock(job_dir) or lock).run == lock.run:
                return lock
        holder = read_lock(job_dir)
        if holder is None:
            _take_over_unreadable(lock.path)
            continue
        reason = holder.stale_because()
        if reason is None:
            raise ConfigError(
                f"{job_dir}: another trainer is using this job dir ({holder.describe()}; {lock.path}): wait"
                f" for it to end or use another --job-dir (a lock is taken over once its process is gone or"
                f" its heartbeat is older than {LOCK_STALE_SECONDS} s)"
            )
        _LOG.warning("%s: taking over a stale lock (%s): %s", lock.path, holder.describe(), reason)
        if read_lock(job_dir) == holder:
            tf.io.gfile.remove(lock.path)
    raise ConfigError(f"{lock.path}: could not take the lock (trainers starting at once?); try again")


def _subdirs(directory: str) -> list[str]:
    if not tf.io.gfile.isdir(directory):
        return []
    paths = [join(directory, name) for name in files.listdir(directory) if files.is_utf8(name)]
    return [path for path in paths if tf.io.gfile.isdir(path)]


def remove_leftovers(job_dir: str, min_export_age_seconds: float = 0.0) -> list[str]:
    """Deletes what writers killed half way left: model.ckpt-N_temp/ and export/*/temp-*/.

    Only the lock's holder calls this (no checkpoint or export of its own is in
    progress). Exports in progress of other tasks of its cluster (an evaluator)
    are spared by `min_export_age_seconds`: a temp-<timestamp> dir younger than
    that is kept. Returns the deleted paths.
    """
    if not tf.io.gfile.isdir(job_dir):
        return []
    names = files.listdir(job_dir)
    leftovers = [
        join(job_dir, name)
        for name in names
        if re.fullmatch(rf"{re.escape(CHECKPOINT_PREFIX)}-\d+{CHECKPOINT_TEMP_SUFFIX}", name)
    ]
    newest_allowed = time.time() - min_export_age_seconds
    for exporter in _subdirs(join(job_dir, EXPORT_DIR)):
        for name in (posixpath.basename(path) for path in _subdirs(exporter)):
            stamp = name[len(EXPORT_TEMP_PREFIX) :]
            if name.startswith(EXPORT_TEMP_PREFIX) and stamp.isdigit() and int(stamp) <= newest_allowed:
                leftovers.append(join(exporter, name))
    for path in leftovers:
        tf.io.gfile.rmtree(path)
    if leftovers:
        _LOG.warning("removed what interrupted checkpoints and exports left: %s", ", ".join(leftovers))
    return leftovers
