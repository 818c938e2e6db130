"""Run the benchmarks and print a table.

    python -m bench                 # the everyday set (about an hour on 2 cores, 45 minutes of it time_to_accuracy)
    python -m bench --full          # also accuracy, distributed, scale and vgg's time to accuracy (over 2 hours more)
    python -m bench --only serving  # one benchmark

Every figure is a ratio against a baseline run in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from bench import (  # noqa: E402
    accuracy,
    canned,
    common,
    distributed,
    input_pipeline,
    integrity,
    preprocessing,
    scale,
    serving,
    time_to_accuracy,
    training,
)

MULTIPROCESS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


def _preprocessing(repeats):
    return {
        "in_memory": preprocessing.run(repeats),
        "multi_process": preprocessing.run(repeats, beam_args=MULTIPROCESS),
    }


FAST = {
    "preprocessing": _preprocessing,
    "input_pipeline": lambda repeats: input_pipeline.run(repeats),
    "training": lambda repeats: training.run(max(repeats, 5)),
    "serving": lambda repeats: serving.run(),
    "canned": lambda repeats: canned.run(repeats),
    "integrity": lambda repeats: integrity.run(repeats),
    "time_to_accuracy": lambda repeats: time_to_accuracy.run(seeds=repeats),
}
FULL = {
    "accuracy": lambda repeats: accuracy.run(),
    "distributed": lambda repeats: distributed.run(),
    "scale": lambda repeats: scale.run(),
    "time_to_accuracy_vgg": lambda repeats: time_to_accuracy.run_vgg(seeds=1),
}


def _table(results: dict) -> str:
    lines = ["machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items())]
    if "preprocessing" in results:
        for mode, r in results["preprocessing"].items():
            lines.append(
                f"preprocessing ({mode}): pipeline {r['pipeline_s']:.1f} s vs plain writer {r['baseline_s']:.1f} s"
                f" -> ratio {r['ratio']:.2f} (target <= 2.0); {r['examples']} examples"
            )
    if "input_pipeline" in results:
        r = results["input_pipeline"]
        lines.append(
            f"input pipeline: input_fn {r['input_fn_examples_per_s']:,.0f} ex/s vs bare batch-then-parse"
            f" {r['bare_examples_per_s']:,.0f} ex/s -> ratio {r['ratio']:.2f} (target >= 0.8);"
            f" the shuffle costs {100 * r['shuffle_cost']:.0f}% ({r['no_shuffle_examples_per_s']:,.0f} ex/s without)"
        )
    if "training" in results:
        r = results["training"]
        lines.append(
            f"training ({r['model']}, batch {r['batch_size']}): Estimator {r['estimator_examples_per_s']:.0f} ex/s vs Model.fit {r['keras_fit_examples_per_s']:.0f}"
            f" ex/s -> ratio {r['ratio_vs_keras_fit']:.2f} (target >= 1.0); hooks+summaries cost"
            f" {100 * r['hooks_and_summaries_cost']:.1f}% (target <= 5%)"
        )
    if "serving" in results:
        r = results["serving"]
        w, wo = r["with_transform"], r["without_transform"]
        lines.append(
            f"serving: batch 1 p50/p99 {w['p50_ms']:.2f}/{w['p99_ms']:.2f} ms with transform vs"
            f" {wo['p50_ms']:.2f}/{wo['p99_ms']:.2f} ms without; batch 256 {w['batch256_examples_per_s']:.0f} vs"
            f" {wo['batch256_examples_per_s']:.0f} ex/s -> transform cost {100 * r['transform_cost_p50']:+.1f}% p50,"
            f" {100 * r['transform_cost_throughput']:+.1f}% throughput (target <= 10%)"
        )
    if "canned" in results:
        r = results["canned"]
        lines.append(
            f"canned: DNNClassifier {r['canned_examples_per_s']:.0f} ex/s vs the same network as a model_fn"
            f" {r['model_fn_examples_per_s']:.0f} ex/s -> ratio {r['ratio']:.2f} (target >= 0.9)"
        )
    if "integrity" in results:
        r = results["integrity"]
        lines.append(
            f"integrity: shard sha256s {r['shard_hashing_s']:.2f} s = {100 * r['shard_hashing_share']:.1f}% of"
            f" preprocessing ({r['preprocess_s']:.0f} s); trainer start check {1000 * r['start_check_s']:.0f} ms,"
            f" --verify-data {r['verify_data_s']:.1f} s ({r['shards']} shards, {r['shard_mb']} MB)"
        )
    for name, label in (("time_to_accuracy", "default"), ("time_to_accuracy_vgg", "vgg")):
        if name in results:
            r = results[name]
            today, new, targets = r["todays_default"], r["new_default"], r["targets"]
            lines.append(
                f"time to accuracy ({label}): new {new['train_s']:.0f} s, test {new['test_accuracy']:.4f}"
                f" (median of {len(new['runs'])} seeds) vs today's {today['train_s']:.0f} s,"
                f" test {today['test_accuracy']:.4f} (median of {len(today['runs'])}) -> time ratio"
                f" {r['time_ratio']:.2f} (target <= {targets['time_ratio']:.2f} at >= {targets['test_accuracy']})"
            )
    if "distributed" in results:
        r = results["distributed"]
        lines.append(
            f"distributed: {r['1_replicas_steps_per_s']:.1f} global steps/s with 1 replica,"
            f" {r['2_replicas_steps_per_s']:.1f} with 2 -> ratio {r['ratio_2_vs_1']:.2f} (2 cores: no speed-up expected)"
        )
    if "scale" in results:
        r = results["scale"]
        lines.append(
            f"scale: {r['images']:,} images in {r['wall_s']:.0f} s, peak RSS {r['peak_rss_gb']:.2f} GB (target < 2),"
            f" {r['examples_per_s']:,.0f} ex/s vs Fashion-MNIST {r['fashion_mnist_examples_per_s']:,.0f}"
            f" -> ratio {r['throughput_ratio']:.2f} (target >= 0.5)"
        )
    for name, r in results.get("accuracy", {}).items():
        lines.append(
            f"accuracy ({name}): test {r['test_accuracy']:.4f} (target >= {r['target']}) after {r['steps']} steps,"
            f" {r['train_minutes']:.1f} min"
        )
    lines.append("wall time: " + ", ".join(f"{k} {v} min" for k, v in results["wall_minutes"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the long benchmarks")
    parser.add_argument("--only", choices=sorted({**FAST, **FULL}), action="append")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    chosen = args.only or list(FAST) + (list(FULL) if args.full else [])
    results = {"machine": common.machine(), "wall_minutes": {}}
    for name in chosen:
        start = time.perf_counter()
        results[name] = {**FAST, **FULL}[name](args.repeats)
        results["wall_minutes"][name] = round((time.perf_counter() - start) / 60, 1)
        if args.json:  # after each benchmark, so a later failure keeps what was measured
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
