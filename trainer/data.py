"""The data dir a job trains on: checked before training, pinned for the whole job.

Before anything trains, `open_data_dir` validates the preprocessing output
against its manifest (schemas/manifest.py): every split's listed shards with
their sizes (and, on request, sha256 and record counts), the transform's hash,
and an eval split to choose exports by. `pin` records the manifest's identity in
the job dir (JOB_DIR/data.json) on the first run and refuses a later run, a
resume, on other data; `check_unchanged` is called before every export, so a
data dir rewritten under a running job (`preprocess --overwrite`) stops it with
one line instead of exporting weights trained on one transform with another.
"""

from __future__ import annotations

import json
import logging

import tensorflow as tf

from common.errors import DataError
from schemas import layout
from schemas import manifest as manifest_lib

PIN_FILE = "data.json"
_LOG = logging.getLogger(__name__)


def open_data_dir(data_dir: str, deep: bool = False) -> manifest_lib.Manifest:
    """Validates a data dir for training; returns its manifest.

    Args:
      data_dir: output of pipeline.preprocess (local or gs://).
      deep: also hash every shard and count its records (reads all the data).

    Raises:
      InputNotFoundError, DataError: as `schemas.manifest.check_data_dir`;
        DataError also when the train or eval split is empty (evaluations and
        the best export need eval examples: preprocess with --eval-fraction > 0).
    """
    manifest = manifest_lib.check_data_dir(data_dir, deep=deep)
    for split in (layout.TRAIN, layout.EVAL):
        if manifest.splits[split].examples == 0:
            raise DataError(
                f"{data_dir}: the {split} split is empty; training needs train and eval examples"
                " (preprocess with --eval-fraction > 0)"
            )
    return manifest


def _pin_path(job_dir: str) -> str:
    return job_dir.rstrip("/") + "/" + PIN_FILE


def pin(job_dir: str, data_dir: str, manifest: manifest_lib.Manifest) -> None:
    """Records what the job trains on, or refuses data other than what it was started on.

    Raises:
      DataError: job_dir was started on data of another identity (another data
        dir, or the same one preprocessed again); the message names both.
    """
    path = _pin_path(job_dir)
    if tf.io.gfile.exists(path):
        try:
            with tf.io.gfile.GFile(path) as f:
                pinned = json.loads(f.read())
            identity = pinned["identity"]
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path}: unreadable ({e}); use a new --job-dir") from None
        if identity != manifest.identity:
            raise DataError(
                f"{job_dir} was trained on {pinned.get('data_dir')} (data {identity[:12]}…), not on"
                f" {data_dir} (data {manifest.identity[:12]}…): resume with the same data or use a new --job-dir"
            )
        if pinned.get("data_dir") != data_dir:
            _LOG.warning(
                "%s was started on %s; %s holds the same data (identity %s…)",
                job_dir,
                pinned.get("data_dir"),
                data_dir,
                identity[:12],
            )
        return
    tf.io.gfile.makedirs(job_dir)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(
            json.dumps({"data_dir": data_dir, "identity": manifest.identity, "created": manifest.created})
        )


def check_unchanged(data_dir: str, manifest: manifest_lib.Manifest) -> None:
    """Checks that data_dir still holds the data the job started on (cheap: manifest and transform).

    Raises:
      DataError: the manifest or the transform changed since the job started.
    """
    try:
        current = manifest_lib.Manifest.read(data_dir)
    except (OSError, ValueError) as e:
        raise DataError(f"{data_dir} changed while training: {e}") from None
    if current.identity != manifest.identity:
        raise DataError(
            f"{data_dir} changed while training (it was preprocessed again at {current.created}): refusing to"
            " export this model with a transform it was not trained with"
        )
    if manifest_lib.transform_sha256(data_dir) != manifest.transform_sha256:
        raise DataError(
            f"{layout.join(data_dir, layout.TRANSFORM_FN_DIR)} changed while training: refusing to export"
        )


def find_corrupt_shard(data_dir: str, manifest: manifest_lib.Manifest) -> None:
    """After tf.data reported data loss (it does not say where): finds the shard and names it.

    Raises:
      DataError: the first shard that does not read back whole, or holds another
        record count than the manifest lists.
    """
    for split in layout.SPLITS:
        for shard in manifest.shards(split):
            manifest_lib.check_shard(data_dir, shard, deep=True)
