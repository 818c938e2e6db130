"""pipeline.validate's checks: new raw IDX files against an earlier output (see validate.py)."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile

import apache_beam as beam
import numpy as np
import tensorflow as tf

from common import idx
from common.errors import InputNotFoundError
from pipeline import drift, findings, job, leakage, sources, statistics, transforms
from pipeline.config import DEDUP_OFF, DriftThresholds
from schemas import features, layout
from schemas import manifest as manifest_lib

_SPLIT_OF = {sources.TRAINING_SOURCE: layout.TRAIN, sources.TEST_SOURCE: layout.TEST}


@dataclasses.dataclass
class Result:
    """What validation found: problems (findings.Problem) and, per new split, its image count."""

    problems: list
    counts: dict
    against: str

    def lines(self) -> list[str]:
        if self.problems:
            return [p.line for p in self.problems]
        files = ", ".join(f"{split} {n} images" for split, n in self.counts.items())
        return [
            f"ok: {files}: no drift or duplicates against {self.against}, labels and shapes as its schema says"
        ]


def _new_pairs(input_dir: str) -> dict[str, tuple[str, str]]:
    """{stem: (images path, labels path)} of the IDX pairs in `input_dir` (train-*, t10k-*; at least one)."""
    if not tf.io.gfile.isdir(input_dir):
        raise InputNotFoundError(f"{input_dir}: input directory is missing")
    names = tf.io.gfile.listdir(input_dir)
    pairs = {}
    for stem in (sources.TRAINING_SOURCE, sources.TEST_SOURCE):
        if any(n.startswith(f"{stem}-images") for n in names):
            pairs[stem] = tuple(
                job.find_idx_file(input_dir, f"{stem}-{kind}") for kind in ("images", "labels")
            )
    if not pairs:
        raise InputNotFoundError(f"{input_dir}: no train-images* or t10k-images* IDX file")
    return pairs


def _expected_shape(manifest: manifest_lib.Manifest) -> tuple[int, ...]:
    for entry in manifest.inputs.values():
        if len(entry.get("dims", ())) == idx.IMAGES_NDIM:
            return tuple(entry["dims"][1:])
    return (features.IMAGE_HEIGHT, features.IMAGE_WIDTH)


def check_files(pairs, shape: tuple[int, ...]) -> tuple[list, dict]:
    """Header and label checks of every pair: (problems, {stem: validated sources.IdxPair})."""
    problems, opened = [], {}
    for stem, (images_path, labels_path) in pairs.items():
        images = idx.read_header(images_path, idx.IMAGES_NDIM)
        labels = idx.read_header(labels_path, idx.LABELS_NDIM)
        if tuple(images.dims[1:]) != shape:
            found, wanted = "x".join(map(str, images.dims[1:])), "x".join(map(str, shape))
            line = f"{images_path}: images are {found}, the schema's are {wanted}"
            problems.append(
                findings.Problem(features.IMAGE_RAW_KEY, "CUSTOM_VALIDATION", "image shape", line)
            )
        bad = _label_problem(labels)
        if bad:
            problems.append(bad)
        if not problems:
            idx.check_pair(images, labels)
            opened[stem] = sources.IdxPair(images, labels)
    return problems, opened


def _label_problem(header: idx.IdxHeader):
    first, count = None, 0
    for start, labels in idx.iter_chunks(header):
        bad = np.flatnonzero(labels >= features.NUM_CLASSES)
        if len(bad) and first is None:
            first = (start + int(bad[0]), int(labels[bad[0]]))
        count += len(bad)
    if first is None:
        return None
    line = (
        f"{header.path}: record {first[0]}: label {first[1]} outside the {features.NUM_CLASSES} classes"
        f" 0..{features.NUM_CLASSES - 1} ({count} labels out of range)"
    )
    return findings.Problem(features.LABEL_KEY, "INT_TYPE_BIG_INT", "label out of range", line)


def _run_statistics(opened, against: str, dedup: str, beam_args, statistics_dir: str, class_names) -> None:
    options = job.pipeline_options(beam_args)
    with beam.Pipeline(options=options) as p:
        tasks = [
            t
            for stem, pair in opened.items()
            for t in sources.plan_reads(pair, _SPLIT_OF[stem], job.shards_for(pair.count, 0))
        ]
        raw = p | "Read" >> transforms.ReadSplits(tasks, "images_read", tuple(_SPLIT_OF[s] for s in opened))
        reference = None
        if dedup != DEDUP_OFF:
            names, paths = statistics.reference(against)
            reference = (names, p | "ReadAgainst" >> statistics.ReadReferenceHashes(paths))
        images = sum(pair.count for pair in opened.values())
        _ = raw | "Statistics" >> statistics.ComputeStatistics(
            statistics_dir, class_names, dedup != DEDUP_OFF, leakage.num_buckets(images), reference
        )


def validate(
    input_dir, against, thresholds: DriftThresholds, dedup, beam_args, statistics_dir, anomalies_path
) -> Result:
    """Runs every check; writes the Anomalies proto to `anomalies_path`.

    Raises:
      InputNotFoundError: no IDX pair in input_dir; against is not a finished output or has no statistics.
      IdxFormatError: a file that is not IDX at all, or a pair whose counts differ.
    """
    manifest = manifest_lib.Manifest.read(against)
    baseline = statistics.dataset(statistics.read_statistics(against), layout.TRAIN)
    problems, opened = check_files(_new_pairs(input_dir), _expected_shape(manifest))
    counts = {}
    if not problems:
        work = statistics_dir or tempfile.mkdtemp(prefix="validate-")
        try:
            _run_statistics(opened, against, dedup, beam_args, work, manifest.class_names)
            stats = statistics.read_statistics(work)
            counts = {d.name: d.num_examples for d in stats.datasets}
            old = type(baseline)()
            old.CopyFrom(baseline)
            old.name = f"old_{layout.TRAIN}"
            measured = [f for d in stats.datasets for f in drift.compare(old, d, thresholds)]
            problems = findings.drift_problems(measured) + findings.leakage_problems(
                statistics.read_leakage(work), True
            )
        finally:
            if not statistics_dir:
                shutil.rmtree(work, ignore_errors=True)
    findings.write_anomalies(anomalies_path, problems)
    return Result(problems, counts, against)
