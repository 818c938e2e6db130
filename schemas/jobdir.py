"""The job dir: its names and typed accessors, a contract as `layout.py` is for the data dir.

The trainer writes it; `trainer.predict`, the report, benchmarks and tools read it;
tests check it. Every name below is written once, here:

    JOB_DIR/
      hparams.json                 the run's resolved hyperparameters, schedule and environment
      hparams.<stamp>.json         an earlier hparams.json a resume with other values superseded
      metrics_history.csv          one row per evaluation: epoch, step, time, every metric
      data.json                    the pinned identity of the data it trains on (trainer/data.py)
      checkpoint, model.ckpt-N.*   tf.estimator's own names (the Saver's)
      events.out.tfevents.*        training summaries; eval/ and eval_test/ hold evaluations'
      export/latest/<timestamp>/   SavedModels of the LatestExporter
      export/best/<timestamp>/     ... and of the BestExporter (highest eval accuracy)

The export directory names are tf.estimator's (`MODEL_DIR/export/<exporter name>/`,
timestamped exports inside; `estimator.export_dirs` knows which are complete) and
the eval directory names are `Estimator.eval_dir`'s; they are restated here so that
readers need not build an Estimator. All file access goes through `tf.io.gfile`
(local paths and gs:// alike).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import posixpath
import time

import tensorflow as tf

from common.errors import ConfigError, DataError

HPARAMS_FILE = "hparams.json"
HPARAMS_HISTORY_FILE = "hparams.{stamp}.json"  # an earlier hparams.json, by when it was written
HPARAMS_WRITTEN_KEY = "written"  # when hparams.json was written (UTC); not compared on resume
METRICS_HISTORY_FILE = "metrics_history.csv"
# The leading columns of metrics_history.csv; the metrics follow, sorted by name (Keras' CSVLogger's order).
METRICS_HISTORY_INDEX = ("epoch", "step", "time")
DATA_PIN_FILE = "data.json"
EXPORT_DIR = "export"  # tf.estimator's: MODEL_DIR/export/<exporter name>/
LATEST_EXPORTER = "latest"
BEST_EXPORTER = "best"
EVAL_DIR = "eval"  # Estimator.eval_dir(): eval/, or eval_<name>/ for a named evaluation
CHECKPOINT_STATE_FILE = "checkpoint"  # the Saver's: names the newest model.ckpt-N
# A directory holding any of these is a job dir (of this version or an earlier one).
_JOB_FILES = (HPARAMS_FILE, DATA_PIN_FILE, CHECKPOINT_STATE_FILE)
DATA_PIN_VERSION = 1


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
    for parent, _, files in tf.io.gfile.walk(root):
        if any(name in _JOB_FILES for name in files):
            return parent.rstrip("/")
    return None


def _read_json(path: str, error: type[Exception]) -> dict | None:
    """The JSON object at `path`, or None when there is no such file.

    Raises:
      `error`: the file is not a JSON object (naming it, with what to do).
    """
    if not tf.io.gfile.exists(path):
        return None
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
    names = [n for n in tf.io.gfile.listdir(job_dir) if n.startswith(prefix) and n.endswith(suffix)]
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

    Raises:
      DataError: data.json is unreadable or lacks the identity.
    """
    path = data_pin_path(job_dir)
    payload = _read_json(path, DataError)
    if payload is None:
        return None
    identity = payload.get("identity")
    if not isinstance(identity, str):
        raise DataError(f"{path}: no data identity in it; use a new --job-dir")
    return DataPin(
        data_dir=str(payload.get("data_dir", "")),
        identity=identity,
        created=str(payload.get("created", "")),
        format_version=payload.get("format_version", DATA_PIN_VERSION),
    )


def write_data_pin(job_dir: str, pin: DataPin) -> str:
    """Writes data.json; returns its path."""
    return _write_json(data_pin_path(job_dir), dataclasses.asdict(pin))
