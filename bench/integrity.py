"""What checking the data costs: shard hashes in the pipeline, the trainer's checks at start.

On Fashion-MNIST preprocessed with the defaults (13 shards, ~85 MB of GZIP TFRecords):

- pipeline: the sha256 of every shard, hashed by reading each file back as the
  shard writer does, against the preprocessing run's own wall time;
- trainer: `trainer.data.open_data_dir` as every training run calls it (manifest,
  the transform's hash, the shard list and sizes) and with `--verify-data`
  (also every shard's sha256 and record count), in seconds, to set against a
  training run's minutes (time_to_accuracy);
- the manifest and job-dir checks one default training run makes, all together:
  once at start the data dir's checks, the pinned identity (metadata/ included),
  the job dir's placement, taking the lock, clearing leftovers and checking the
  checkpoints; at each checkpoint the lock's heartbeat; before each export the
  data dir's unchanged check; at the end releasing the lock. Their sum is set
  against the default run's wall time that BENCHMARKS.md records for this CPU
  (`DEFAULT_TRAINING_S`).
"""

from __future__ import annotations

import math
import os
import tempfile
import time

from bench import common
from pipeline import job
from pipeline.config import PreprocessConfig
from schemas import jobdir, layout
from schemas import manifest as manifest_lib
from trainer import data
from trainer import hparams as hparams_lib
from trainer import job as trainer_job

# trainer.task with its defaults on Fashion-MNIST, median wall time of 3 runs (BENCHMARKS.md,
# "Evaluations: five a job", 2026-12-03, 2 cores of an AMD EPYC).
DEFAULT_TRAINING_S = 238.0


def _median_seconds(fn, repeats: int) -> float:
    return common.time_runs("x", fn, repeats).median


def run(repeats: int = 3, input_dir: str = common.FASHION_MNIST_DIR) -> dict:
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        started = time.perf_counter()
        manifest = job.run_preprocessing(PreprocessConfig(input_dir, data_dir))
        preprocess_s = time.perf_counter() - started
        paths = [path for split in layout.SPLITS for path in manifest.shard_paths(data_dir, split)]
        hash_s = _median_seconds(lambda: [manifest_lib.file_sha256(p) for p in paths], repeats)
        check_s = _median_seconds(lambda: data.open_data_dir(data_dir), repeats)
        verify_s = _median_seconds(lambda: data.open_data_dir(data_dir, deep=True), repeats)
        shard_bytes = sum(s.bytes for split in layout.SPLITS for s in manifest.shards(split))
        checks = run_checks(data_dir, os.path.join(work, "job"), repeats)
    return {
        **checks,
        "preprocess_s": round(preprocess_s, 2),
        "shard_hashing_s": round(hash_s, 3),
        "shard_hashing_share": hash_s / preprocess_s,
        "start_check_s": round(check_s, 3),
        "verify_data_s": round(verify_s, 3),
        "shards": len(paths),
        "shard_mb": round(shard_bytes / 1e6, 1),
    }


def run_checks(data_dir: str, job_dir: str, repeats: int = 3) -> dict:
    """What the manifest and job-dir checks of one default training run cost, in seconds.

    Returns:
      {"checks_start_s", "checks_heartbeat_s", "checks_export_s" (each one call),
       "checkpoints", "exports" (calls in a default run), "checks_total_s", "checks_share"
       (of DEFAULT_TRAINING_S)}.
    """
    hparams = hparams_lib.HParams()
    manifest = data.open_data_dir(data_dir)
    train_examples = manifest.splits[layout.TRAIN].examples
    evaluations = math.ceil(hparams.max_steps(train_examples) / hparams.checkpoint_steps(train_examples))
    pinned = data.identity(data_dir, manifest)
    os.makedirs(job_dir, exist_ok=True)

    def start():
        data.open_data_dir(data_dir)
        data.check_apart(data_dir, job_dir)
        lock = jobdir.acquire_lock(job_dir)
        jobdir.remove_leftovers(job_dir)
        trainer_job.check_checkpoints(job_dir)
        data.pin(job_dir, data_dir, manifest)
        lock.release()

    lock = jobdir.acquire_lock(job_dir)
    heartbeat_s = _median_seconds(lock.beat, repeats)
    lock.release()
    start_s = _median_seconds(start, repeats)
    export_s = _median_seconds(lambda: data.check_unchanged(data_dir, manifest, pinned), repeats)
    checkpoints, exports = (
        evaluations + 1,
        2 * evaluations,
    )  # a checkpoint at step 0; latest and best exporters
    total = start_s + checkpoints * heartbeat_s + exports * export_s
    return {
        "checks_start_s": round(start_s, 4),
        "checks_heartbeat_s": round(heartbeat_s, 5),
        "checks_export_s": round(export_s, 4),
        "checkpoints": checkpoints,
        "exports": exports,
        "checks_total_s": round(total, 3),
        "checks_share": total / DEFAULT_TRAINING_S,
    }


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"integrity: shard sha256s {r['shard_hashing_s']:.2f} s = {100 * r['shard_hashing_share']:.1f}% of"
        f" preprocessing ({r['preprocess_s']:.0f} s); trainer start check {1000 * r['start_check_s']:.0f} ms,"
        f" --verify-data {r['verify_data_s']:.1f} s ({r['shards']} shards, {r['shard_mb']} MB); manifest and"
        f" job-dir checks of a default run {r['checks_total_s']:.2f} s = {100 * r['checks_share']:.2f}% of"
        f" its {DEFAULT_TRAINING_S:.0f} s (target < 1%)"
    )
