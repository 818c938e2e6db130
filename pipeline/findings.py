"""What a run or a validation found, as console lines and as tensorflow_metadata `Anomalies`.

A `Problem` is one finding: the feature it is about, the `AnomalyInfo.Type` TFX
would give it (INT_TYPE_BIG_INT for a label beyond the classes,
COMPARATOR_L_INFTY_HIGH and COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH for drift,
CUSTOM_VALIDATION for image shape and duplicates), and one line for people.
`write_anomalies` writes them as the `Anomalies` proto that TFX's
ExampleValidator emits (text format), one `anomaly_info` entry per feature.
"""

from __future__ import annotations

import dataclasses
import json

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2

from pipeline import drift, leakage, statistics
from pipeline.config import DriftThresholds
from schemas import features, layout

ANOMALIES_FILE = "anomalies.pbtxt"
DRIFT_FILE = "drift.json"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One finding: feature name, AnomalyInfo.Type name, short description, one console line."""

    feature: str
    reason: str
    short: str
    line: str


def drift_problems(found: list[drift.Finding]) -> list[Problem]:
    """The breached drift measurements as Problems."""
    problems = []
    for finding in (f for f in found if f.breached):
        if finding.measure == drift.LABEL_LINF:
            problems.append(
                Problem(features.LABEL_KEY, "COMPARATOR_L_INFTY_HIGH", "label drift", finding.line())
            )
        else:
            reason = "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"
            problems.append(Problem(features.IMAGE_RAW_KEY, reason, "intensity drift", finding.line()))
    return problems


def leakage_problems(found: dict, only_against: bool = False) -> list[Problem]:
    """Non-zero duplicate counts as Problems (with `only_against`, those against old_* splits only)."""
    problems = []
    for kind in (leakage.EXACT, leakage.NEAR):
        for name, count in found.get(kind, {}).items():
            if count and (not only_against or "_in_old_" in name):
                line = f"{kind} duplicates {name}: {count} images"
                problems.append(
                    Problem(features.IMAGE_RAW_KEY, "CUSTOM_VALIDATION", f"{kind} duplicates", line)
                )
    return problems


def to_anomalies(problems: list[Problem]) -> anomalies_pb2.Anomalies:
    """The Problems as an Anomalies proto: one AnomalyInfo per feature, a Reason per problem."""
    anomalies = anomalies_pb2.Anomalies(anomaly_name_format=anomalies_pb2.Anomalies.SERIALIZED_PATH)
    for problem in problems:
        info = anomalies.anomaly_info[problem.feature]
        info.severity = anomalies_pb2.AnomalyInfo.ERROR
        info.path.step[:] = [problem.feature]
        info.reason.add(
            type=anomalies_pb2.AnomalyInfo.Type.Value(problem.reason),
            short_description=problem.short,
            description=problem.line,
        )
        info.short_description = problem.short if len(info.reason) == 1 else "Multiple errors"
        info.description = "; ".join(reason.description for reason in info.reason)
    return anomalies


def write_anomalies(path: str, problems: list[Problem]) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text_format.MessageToString(to_anomalies(problems)))


def compare_splits(stats, thresholds: DriftThresholds, baseline=None) -> list[drift.Finding]:
    """Drift of every split against the train split, and against `baseline`'s train split if given."""
    found = []
    train = (
        statistics.dataset(stats, layout.TRAIN)
        if any(d.name == layout.TRAIN for d in stats.datasets)
        else None
    )
    for dataset in stats.datasets:
        if train is not None and dataset.name != layout.TRAIN:
            found += drift.compare(train, dataset, thresholds)
        if baseline is not None:
            old = statistics.dataset(baseline, layout.TRAIN)
            old_named = type(old)()
            old_named.CopyFrom(old)
            old_named.name = f"old_{layout.TRAIN}"
            found += drift.compare(old_named, dataset, thresholds)
    return found


def finish(output_dir: str, stats, class_names, thresholds: DriftThresholds, baseline=None):
    """After a run: drift.json, anomalies.pbtxt and report.md in OUTPUT_DIR/statistics/.

    `stats` is the run's DatasetFeatureStatisticsList (statistics.read_statistics(output_dir)).

    Returns:
      (leakage summary, drift findings, problems).
    """
    from pipeline import report

    found = statistics.read_leakage(output_dir)
    findings = compare_splits(stats, thresholds, baseline)
    directory = statistics.statistics_dir(output_dir)
    with tf.io.gfile.GFile(layout.join(directory, DRIFT_FILE), "w") as f:
        f.write(json.dumps(drift.to_json(findings), indent=2) + "\n")
    problems = drift_problems(findings) + leakage_problems(found)
    write_anomalies(layout.join(directory, ANOMALIES_FILE), problems)
    report.write_report(output_dir, stats, class_names, found, findings)
    return found, findings, problems
