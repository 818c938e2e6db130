"""What JOB_DIR/hparams.json records: the resolved hyperparameters, and what the job ran on.

    {"model": "fast", "train_steps": 2953, "num_epochs": 7, "augment": true, ...,  resolved values
     "steps_per_epoch": 422, "decay_steps": 2953, "warmup_steps": 127,              the schedule
     "environment": {"python": "3.11.2", "packages": {"tensorflow": "2.21.0", ...},
                     "cpu": "AMD EPYC 7B13", "cpu_count": 2, "gpus": []},
     "written": "20261203T000046Z"}

A resume whose record differs keeps the earlier file as hparams.<stamp>.json
(schemas/jobdir.py).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform

import tensorflow as tf

from common import console
from schemas import jobdir, layout
from schemas import manifest as manifest_lib
from trainer import hparams as hparams_lib

PACKAGES = ("idx-tfrecords", "tensorflow", "tensorflow-transform", "tf-keras", "numpy", "protobuf")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what `platform` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[str]:
    """The GPUs TensorFlow sees, by name; [] without probing CUDA on a machine with no NVIDIA driver."""
    if not console.has_nvidia_driver():
        return []
    devices = tf.config.list_physical_devices("GPU")
    return [tf.config.experimental.get_device_details(d).get("device_name", d.name) for d in devices]


def environment() -> dict:
    """Python, package versions, CPU and GPUs of this process."""
    return {
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus(),
    }


def record(hparams: hparams_lib.HParams, manifest: manifest_lib.Manifest) -> dict:
    """hparams.json's content for a job on the data `manifest` describes."""
    values = hparams.resolved(
        manifest.splits[layout.TRAIN].examples, manifest.splits[layout.EVAL].examples, manifest.dataset
    )
    return {**values, "environment": environment()}


def save(job_dir: str, hparams: hparams_lib.HParams, manifest: manifest_lib.Manifest) -> dict:
    """Writes JOB_DIR/hparams.json (keeping an earlier one with other values); returns what it holds."""
    values = record(hparams, manifest)
    jobdir.write_hparams(job_dir, values)
    return values
