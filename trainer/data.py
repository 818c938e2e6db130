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

import logging
import os
import posixpath

from common.errors import ConfigError, DataError
from schemas import jobdir, layout
from schemas import manifest as manifest_lib

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


def _real(path: str) -> str:
    return os.path.realpath(path) if "://" not in path else path.rstrip("/")


def _inside(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def check_apart(data_dir: str, job_dir: str) -> None:
    """Refuses a job dir that is, or lies inside, a data dir, or that holds the data dir.

    A preprocessing run with --overwrite replaces the whole data dir: a job dir
    inside it would lose its checkpoints and exports.

    Raises:
      ConfigError: job_dir is data_dir, or inside it or inside another
        preprocessing output (a parent holding this project's manifest), or
        data_dir lies inside job_dir (naming both).
    """
    data, job = _real(data_dir), _real(job_dir)
    if _inside(job, data):
        where = "is" if job == data else "is inside"
        raise ConfigError(
            f"--job-dir {job_dir} {where} the data dir {data_dir}: preprocessing it again would delete the"
            " job's checkpoints and exports; choose a --job-dir outside it"
        )
    if _inside(data, job):
        raise ConfigError(f"--job-dir {job_dir} holds the data dir {data_dir}; choose a --job-dir beside it")
    parent = posixpath.dirname(job)
    while parent != posixpath.dirname(parent) and ("://" not in job or parent.count("/") >= 2):
        if manifest_lib.is_data_dir(parent):
            raise ConfigError(
                f"--job-dir {job_dir} is inside the data dir {parent}: preprocessing it again would delete"
                " the job's checkpoints and exports; choose a --job-dir outside it"
            )
        parent = posixpath.dirname(parent)


def pin(job_dir: str, data_dir: str, manifest: manifest_lib.Manifest) -> None:
    """Records what the job trains on, or refuses data other than what it was started on.

    Raises:
      DataError: job_dir was started on data of another identity (another data
        dir, or the same one preprocessed again), naming both; or its data.json
        is unreadable.
    """
    pinned = jobdir.read_data_pin(job_dir)
    if pinned is None:
        jobdir.write_data_pin(
            job_dir, jobdir.DataPin(data_dir=data_dir, identity=manifest.identity, created=manifest.created)
        )
        return
    if pinned.identity != manifest.identity:
        raise DataError(
            f"{job_dir} was trained on {pinned.data_dir} (data {pinned.identity[:12]}…), not on"
            f" {data_dir} (data {manifest.identity[:12]}…): resume with the same data or use a new --job-dir"
        )
    if pinned.data_dir != data_dir:
        _LOG.warning(
            "%s was started on %s; %s holds the same data (identity %s…)",
            job_dir,
            pinned.data_dir,
            data_dir,
            pinned.identity[:12],
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
