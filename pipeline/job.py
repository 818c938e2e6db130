"""The preprocessing job: IDX pairs -> tf.Transform -> sharded GZIP TFRecords.

    train-* pair --ReadForAnalysis--> train records --+
    train-*, t10k-* pairs --Read--> train | eval | test --AnalyzeAndTransform--> transform_fn,
        each split transformed by it --WriteTrain|Eval|Test--> SPLIT/part-SSSSS-of-NNNNN.tfrecord.gz
    transform_fn --WriteTransformFn--> transform_fn/, transformed_metadata/
    raw train | eval | test --Statistics--> statistics/ (statistics.py: per split, duplicates)

The steps are the composites of transforms.py (the train/eval split is
deterministic: splits.py). The analyzers see the train split only; every split
is transformed by the same transform_fn. The training pair is read twice, once to analyze and once to
transform, rather than read once and kept: a runner must otherwise materialize
the whole raw split between analysis and transform (the local runner, in
memory). Raw data enters tf.Transform as Arrow RecordBatches (TFXIO) and leaves
as RecordBatches; each carries its shard index through tf.Transform as a
passthrough column, so every shard file is written in one pass with no shuffle
(sinks.py). Everything is written to a staging directory and committed at the
end (outputs.py), with the manifest (schemas/manifest.py) written last; before
the commit the driver compares the splits' statistics (drift.py) and writes the
report (findings.py, report.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import logging
import math
import platform
import time

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

from common import files, idx
from common.errors import InputNotFoundError, UserError
from pipeline import findings, leakage, outputs, sinks, sources, splits, statistics, transforms
from pipeline.config import DEDUP_OFF, EXAMPLES_PER_SHARD, PreprocessConfig
from schemas import features, layout
from schemas import manifest as manifest_lib

DEFAULT_RUNNER = "FnApiRunner"  # Beam's in-process portable runner: no Prism download, same results offline
_LOG = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """The pipeline ran but its outputs are not what the inputs promised."""


class DriftError(UserError):
    """--fail-on-drift and a drift above its threshold: the run wrote nothing."""


def find_idx_file(input_dir: str, stem: str) -> str:
    """Finds the one file named `stem`* (e.g. train-images*) in `input_dir`.

    The directory is listed, not globbed: its own name is taken literally.

    Raises:
      InputNotFoundError: none, or more than one, matches.
    """
    names = [
        n
        for n in files.listdir(input_dir)
        if n.startswith(stem) and not (files.is_utf8(n) and tf.io.gfile.isdir(layout.join(input_dir, n)))
    ]
    if len(names) != 1:
        found = ", ".join(files.printable(n) for n in names) or "none"
        raise InputNotFoundError(f"{input_dir}: expected exactly one IDX file named {stem}*, found {found}")
    if not files.is_utf8(names[0]):
        raise InputNotFoundError(
            f"{files.printable(layout.join(input_dir, names[0]))}: the name is not UTF-8, and TensorFlow's file"
            " APIs take only UTF-8 paths; rename it"
        )
    return layout.join(input_dir, names[0])


def open_inputs(input_dir: str) -> dict[str, sources.IdxPair]:
    """Finds and validates the training and test IDX pairs of `input_dir`.

    Returns:
      {sources.TRAINING_SOURCE: pair, sources.TEST_SOURCE: pair}.

    Raises:
      InputNotFoundError, IdxFormatError: as `find_idx_file`, `sources.open_pair`
      and `sources.check_all_labels`; IdxFormatError also for a pair of no records.
    """
    if not tf.io.gfile.isdir(input_dir) or not files.listdir(input_dir):
        raise InputNotFoundError(f"{input_dir}: input directory is missing or empty")
    pairs = {}
    for stem in (sources.TRAINING_SOURCE, sources.TEST_SOURCE):
        pair = sources.open_pair(
            find_idx_file(input_dir, f"{stem}-images"), find_idx_file(input_dir, f"{stem}-labels")
        )
        if pair.count == 0:
            raise idx.IdxFormatError(pair.images.path, "byte offset 4 (record count)", "at least 1", "0")
        sources.check_all_labels(pair)
        pairs[stem] = pair
    return pairs


def expected_counts(pairs: dict[str, sources.IdxPair], eval_fraction: float) -> dict[str, int]:
    """Returns the examples each split must hold, from the headers alone."""
    train_total = pairs[sources.TRAINING_SOURCE].count
    n_eval = splits.eval_count(train_total, eval_fraction)
    return {
        layout.TRAIN: train_total - n_eval,
        layout.EVAL: n_eval,
        layout.TEST: pairs[sources.TEST_SOURCE].count,
    }


def shards_for(count: int, num_shards: int) -> int:
    """Returns the shards of a source file of `count` records: `num_shards`, or automatic when 0."""
    return num_shards or max(1, math.ceil(count / EXAMPLES_PER_SHARD))


def shard_counts(pairs: dict[str, sources.IdxPair], num_shards: int) -> dict[str, int]:
    """Returns each split's shard count: its source file's shard grid."""
    train = shards_for(pairs[sources.TRAINING_SOURCE].count, num_shards)
    test = shards_for(pairs[sources.TEST_SOURCE].count, num_shards)
    return {layout.TRAIN: train, layout.EVAL: train, layout.TEST: test}


def pipeline_options(beam_args: list[str]) -> PipelineOptions:
    """Beam options from the flags the job does not own; local default runner.

    With no --runner, the job runs on Beam's in-process FnApiRunner, the runner
    DirectRunner itself falls back to when it cannot start Prism: deterministic
    and offline. --runner=DirectRunner keeps Beam's own choice (it tries to
    download Prism first); --runner=DataflowRunner runs on Google Cloud.
    """
    options = PipelineOptions(list(beam_args))
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    return options


def build_pipeline(p: beam.Pipeline, config: PreprocessConfig, pairs, shards, staging_dir: str) -> None:
    """Adds the whole job to `p`, writing into `staging_dir`; `shards` as `shard_counts`."""
    train_tasks = sources.plan_reads(
        pairs[sources.TRAINING_SOURCE], layout.TRAIN, shards[layout.TRAIN], config.eval_fraction
    )
    test_tasks = sources.plan_reads(pairs[sources.TEST_SOURCE], layout.TEST, shards[layout.TEST])
    analysis = p | "ReadForAnalysis" >> transforms.ReadSplits(train_tasks, "images_analyzed", (layout.TRAIN,))
    raw = p | "Read" >> transforms.ReadSplits(train_tasks + test_tasks, "images_read")
    transformed, transform_fn = (analysis[layout.TRAIN], raw) | "AnalyzeAndTransform" >> (
        transforms.AnalyzeAndTransform(config.normalization, layout.temp_dir(staging_dir))
    )
    for split in layout.SPLITS:
        _ = transformed[split] | f"Write{split.title()}" >> transforms.WriteSplit(
            staging_dir, split, shards[split]
        )
    _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(staging_dir)
    if config.statistics:
        _ = raw | "Statistics" >> _statistics(p, config, pairs, staging_dir)


def _statistics(p: beam.Pipeline, config: PreprocessConfig, pairs, staging_dir: str):
    """The statistics composite of this run: with the hashes of --against's output when given."""
    reference = None
    if config.against and config.dedup != DEDUP_OFF:
        names, paths = statistics.reference(config.against)
        reference = (names, p | "ReadAgainst" >> statistics.ReadReferenceHashes(paths))
    images = sum(pair.count for pair in pairs.values())
    return statistics.ComputeStatistics(
        staging_dir,
        features.class_names(config.dataset),
        dedup=config.dedup != DEDUP_OFF,
        buckets=leakage.num_buckets(images),
        reference=reference,
    )


def _counter(result, name: str) -> int:
    query = result.metrics().query(MetricsFilter().with_namespace(sources.COUNTER_NAMESPACE).with_name(name))
    return sum(c.committed or 0 for c in query["counters"])


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in (
        "idx-tfrecords",
        "tensorflow",
        "tensorflow-transform",
        "apache-beam",
        "tfx-bsl",
        "pyarrow",
        "numpy",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _input_records(pairs: dict[str, sources.IdxPair]) -> dict[str, dict]:
    records = {}
    for stem, pair in pairs.items():
        for kind, header in (("images", pair.images), ("labels", pair.labels)):
            records[f"{stem}_{kind}"] = {
                "path": header.path,
                "sha256": manifest_lib.file_sha256(header.path),
                "bytes": header.file_size,
                "records": header.count,
                "dims": list(header.dims),
            }
    return records


def _written_splits(staging_dir: str, shards: dict[str, int], counts: dict[str, int]) -> dict:
    """The manifest's splits from the shard records, checked against the expected counts."""
    written = {}
    for split in layout.SPLITS:
        listed = sinks.read_shards(staging_dir, split, shards[split])
        total = sum(shard.examples for shard in listed)
        if total != counts[split]:
            raise PipelineError(f"{split}: shards hold {total} examples, the inputs {counts[split]}")
        written[split] = manifest_lib.Split(examples=total, shards=listed)
    return written


def _prepare_output(config: PreprocessConfig) -> None:
    """Recovers an interrupted --overwrite, refuses a bad output dir, names stale staging dirs."""
    outputs.recover(config.output_dir)
    outputs.check_output_dir(config.output_dir, config.overwrite, config.input_dir)
    stale = outputs.stale_staging_dirs(config.output_dir)
    if stale:
        _LOG.warning(
            "staging directories of earlier runs that did not finish (delete them once no run uses them): %s",
            ", ".join(stale),
        )


def _run_beam(config: PreprocessConfig, options: PipelineOptions, pairs, shards, staging_dir: str):
    """Writes the raw metadata, runs the Beam job into `staging_dir` and returns its result.

    Raises:
      PipelineError: the job did not end in state DONE.
    """
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(features.load_raw_schema()),
        layout.join(staging_dir, layout.RAW_METADATA_DIR),
    )
    p = beam.Pipeline(options=options)
    build_pipeline(p, config, pairs, shards, staging_dir)
    result = p.run()
    state = result.wait_until_finish()
    if state != beam.runners.runner.PipelineState.DONE:
        raise PipelineError(f"pipeline ended in state {state}")
    return result


def _check_statistics(config: PreprocessConfig, staging_dir: str, counts: dict[str, int]) -> dict:
    """Drift, duplicates and the report of the run's statistics; returns the manifest's leakage counts.

    Raises:
      PipelineError: the statistics count other examples than the shards hold.
      DriftError: config.fail_on_drift and a drift above its threshold.
    """
    if not config.statistics:
        return {}
    stats = statistics.read_statistics(staging_dir)
    counted = {d.name: d.num_examples for d in stats.datasets}
    if counted != counts:
        raise PipelineError(f"the statistics count {counted} examples, the shards hold {counts}")
    baseline = statistics.read_statistics(config.against) if config.against else None
    found, measured, problems = findings.finish(
        staging_dir, stats, features.class_names(config.dataset), config.drift, baseline
    )
    drifted = [f.line() for f in measured if f.breached]
    for line in drifted:
        _LOG.warning("%s", line)
    if drifted and config.fail_on_drift:
        raise DriftError(f"--fail-on-drift: {len(drifted)} drift findings: " + "; ".join(drifted))
    return {kind: found[kind] for kind in (leakage.EXACT, leakage.NEAR) if kind in found}


def _manifest(config, options, result, inputs, written_splits, staging_dir, started, duplicates):
    """The manifest of a finished job (see schemas/manifest.py); `duplicates` as `_check_statistics`."""
    return manifest_lib.Manifest(
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        dataset=config.dataset,
        class_names=features.class_names(config.dataset),
        inputs=inputs,
        splits=written_splits,
        transform_sha256=manifest_lib.transform_sha256(staging_dir),
        options={
            **{k: v for k, v in dataclasses.asdict(config).items() if k not in ("input_dir", "output_dir")},
            "split_seed": splits.DEFAULT_SEED,
            "runner": str(options.view_as(StandardOptions).runner),
            "images_read": _counter(result, "images_read"),
            "images_analyzed": _counter(result, "images_analyzed"),  # the training file's second read
        },
        versions=_versions(),
        wall_time_seconds=round(time.time() - started, 1),
        leakage=duplicates,
    )


def run_preprocessing(config: PreprocessConfig, beam_args: list[str] | tuple = ()) -> manifest_lib.Manifest:
    """Runs the job and commits its outputs to `config.output_dir`.

    Args:
      config: the job's own settings.
      beam_args: every other flag, for Beam's PipelineOptions (--runner, ...).

    Returns:
      The manifest written to OUTPUT_DIR/manifest.json.

    Raises:
      OutputExistsError: output_dir exists and config.overwrite is False, or it
        may not be replaced (not an earlier output; it holds the inputs).
      InputNotFoundError, IdxFormatError: missing or malformed inputs.
      PipelineError: the written counts differ from what the inputs hold.
      DriftError: config.fail_on_drift and a drift above its threshold.
      InputNotFoundError: config.against has no statistics or image hashes.
      Exception: whatever the runner raises; nothing is left in output_dir.
    """
    started = time.time()
    _prepare_output(config)
    pairs = open_inputs(config.input_dir)
    counts = expected_counts(pairs, config.eval_fraction)
    shards = shard_counts(pairs, config.num_shards)
    options = pipeline_options(beam_args)
    staging_dir = outputs.create_staging_dir(config.output_dir)
    _LOG.info("staging outputs in %s", staging_dir)
    try:
        inputs = _input_records(pairs)
        result = _run_beam(config, options, pairs, shards, staging_dir)
        written = {split: _counter(result, f"examples_written_{split}") for split in layout.SPLITS}
        if written != counts:
            raise PipelineError(f"examples written {written} differ from the inputs' {counts}")
        written_splits = _written_splits(staging_dir, shards, counts)
        duplicates = _check_statistics(config, staging_dir, counts)
        outputs.discard(layout.temp_dir(staging_dir))
        manifest = _manifest(
            config, options, result, inputs, written_splits, staging_dir, started, duplicates
        )
        outputs.commit(staging_dir, config.output_dir, manifest, config.overwrite)
    except BaseException:
        outputs.discard(staging_dir)
        raise
    _LOG.info("wrote %s in %.1f s", config.output_dir, time.time() - started)
    return manifest
