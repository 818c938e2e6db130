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

import dataclasses
import hashlib
import logging
import os
import posixpath

import tensorflow as tf
import tensorflow_transform as tft

from common.errors import ConfigError, DataError, InputNotFoundError
from schemas import features, jobdir, layout
from schemas import manifest as manifest_lib

_LOG = logging.getLogger(__name__)


def open_data_dir(data_dir: str, deep: bool = False) -> manifest_lib.Manifest:
    """Validates a data dir for training; returns its manifest.

    Args:
      data_dir: output of pipeline.preprocess (local or gs://).
      deep: also hash every shard and count its records (reads all the data).

    Raises:
      InputNotFoundError, DataError: as `schemas.manifest.check_data_dir` and
        `check_raw_schema`; DataError also when the train or eval split is empty
        (evaluations and the best export need eval examples: preprocess with
        --eval-fraction > 0).
    """
    manifest = manifest_lib.check_data_dir(data_dir, deep=deep)
    check_raw_schema(data_dir)
    for split in (layout.TRAIN, layout.EVAL):
        if manifest.splits[split].examples == 0:
            raise DataError(
                f"{data_dir}: the {split} split is empty; training needs train and eval examples"
                " (preprocess with --eval-fraction > 0)"
            )
    return manifest


def check_raw_schema(data_dir: str) -> None:
    """Checks metadata/, the raw schema the export serves with: present, and this version's.

    A schema edited to require another feature would make the export refuse every
    real request; one this version does not know is refused before training.

    Raises:
      InputNotFoundError: no metadata/. DataError: it does not read, or its raw
        feature spec is not `schemas.features.raw_feature_spec()` (naming both).
    """
    metadata = layout.join(data_dir, layout.RAW_METADATA_DIR)
    if not tf.io.gfile.isdir(metadata):
        raise InputNotFoundError(
            f"{data_dir}: no {layout.RAW_METADATA_DIR}/ (the raw schema exports serve with): not a complete"
            " preprocessing output"
        )
    try:
        found = tft.TFTransformOutput(data_dir).raw_feature_spec()
    except Exception as e:  # noqa: BLE001 - a hand-edited schema fails in the proto parser or tf.Transform
        raise DataError(
            f"{metadata}: unreadable raw schema: {type(e).__name__}: {str(e).splitlines()[0]}"
        ) from None
    expected = features.raw_feature_spec()
    if found != expected:
        raise DataError(
            f"{metadata}: the raw schema is not the one this version serves with (features {sorted(found)},"
            f" expected {sorted(expected)} as {expected}): preprocess the data again"
        )


def identity(data_dir: str, manifest: manifest_lib.Manifest) -> str:
    """What a job pins (hex sha256): the manifest's identity (transform and shards) and metadata/."""
    metadata = manifest_lib.tree_sha256([layout.join(data_dir, layout.RAW_METADATA_DIR)])
    return hashlib.sha256(f"{manifest.identity}\n{layout.RAW_METADATA_DIR} {metadata}".encode()).hexdigest()


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
    """Records what the job trains on (`identity`), or refuses data other than what it was started on.

    A pin of format version 1 (written before metadata/ was part of the identity)
    is checked the old way, against the manifest's identity alone; when that
    holds, it is rewritten in the current version (one line says so) and the job
    resumes.

    Raises:
      DataError: job_dir was started on data of another identity (another data
        dir, the same one preprocessed again, or another metadata/), naming both;
        or its data.json is unreadable.
    """
    pinned = jobdir.read_data_pin(job_dir)
    current = identity(data_dir, manifest)
    fresh = jobdir.DataPin(data_dir=data_dir, identity=current, created=manifest.created)
    if pinned is None:
        jobdir.write_data_pin(job_dir, fresh)
        return
    old_way = pinned.format_version < 2
    if pinned.identity != (manifest.identity if old_way else current):
        raise DataError(
            f"{job_dir} was trained on {pinned.data_dir} (data {pinned.identity[:12]}…), not on"
            f" {data_dir} (data {current[:12]}…): resume with the same data or use a new --job-dir"
        )
    if old_way:
        _LOG.warning(
            "%s: data pin of format version %d checked against the manifest; rewritten in version %d, with %s/",
            jobdir.data_pin_path(job_dir),
            pinned.format_version,
            jobdir.DATA_PIN_VERSION,
            layout.RAW_METADATA_DIR,
        )
        jobdir.write_data_pin(job_dir, dataclasses.replace(fresh, data_dir=pinned.data_dir))
    if pinned.data_dir != data_dir:
        _LOG.warning(
            "%s was started on %s; %s holds the same data (identity %s…)",
            job_dir,
            pinned.data_dir,
            data_dir,
            pinned.identity[:12],
        )


def check_unchanged(data_dir: str, manifest: manifest_lib.Manifest, pinned: str | None = None) -> None:
    """Checks that data_dir still holds the data the job started on (cheap: manifest, transform and,
    given the `identity` it started with, metadata/).

    Raises:
      DataError: the manifest, the transform or metadata/ changed since the job started.
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
    if pinned is not None and identity(data_dir, manifest) != pinned:
        raise DataError(
            f"{layout.join(data_dir, layout.RAW_METADATA_DIR)} changed while training: refusing to export"
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
