"""What checking the data costs: shard hashes in the pipeline, the trainer's checks at start.

On Fashion-MNIST preprocessed with the defaults (13 shards, ~85 MB of GZIP TFRecords):

- pipeline: the sha256 of every shard, hashed by reading each file back as the
  shard writer does, against the preprocessing run's own wall time;
- trainer: `trainer.data.open_data_dir` as every training run calls it (manifest,
  the transform's hash, the shard list and sizes) and with `--verify-data`
  (also every shard's sha256 and record count), in seconds, to set against a
  training run's minutes (time_to_accuracy).
"""

from __future__ import annotations

import os
import tempfile
import time

from bench import common
from pipeline import job
from pipeline.config import PreprocessConfig
from schemas import layout
from schemas import manifest as manifest_lib
from trainer import data


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
    return {
        "preprocess_s": round(preprocess_s, 2),
        "shard_hashing_s": round(hash_s, 3),
        "shard_hashing_share": hash_s / preprocess_s,
        "start_check_s": round(check_s, 3),
        "verify_data_s": round(verify_s, 3),
        "shards": len(paths),
        "shard_mb": round(shard_bytes / 1e6, 1),
    }


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"integrity: shard sha256s {r['shard_hashing_s']:.2f} s = {100 * r['shard_hashing_share']:.1f}% of"
        f" preprocessing ({r['preprocess_s']:.0f} s); trainer start check {1000 * r['start_check_s']:.0f} ms,"
        f" --verify-data {r['verify_data_s']:.1f} s ({r['shards']} shards, {r['shard_mb']} MB)"
    )
