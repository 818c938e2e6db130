"""The job dir: its names and typed accessors, a contract as `layout.py` is for the data dir.

The trainer writes it; `trainer.predict`, the report, benchmarks and tools read it;
tests check it. Every name below is written once, here:

    JOB_DIR/
      hparams.json                 the run's hyperparameters (trainer/hparams.py)
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

import dataclasses
import json
import posixpath

import tensorflow as tf

from common.errors import ConfigError, DataError

HPARAMS_FILE = "hparams.json"
DATA_PIN_FILE = "data.json"
EXPORT_DIR = "export"  # tf.estimator's: MODEL_DIR/export/<exporter name>/
LATEST_EXPORTER = "latest"
BEST_EXPORTER = "best"
EVAL_DIR = "eval"  # Estimator.eval_dir(): eval/, or eval_<name>/ for a named evaluation
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
    """Writes hparams.json; returns its path."""
    return _write_json(hparams_path(job_dir), hparams)


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
