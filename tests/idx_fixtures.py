"""Tiny IDX datasets for tests, written with the project's own IDX writer.

Every image is unique: pixel 0 and 1 hold its index (low, high byte) within its
file, pixel 2 its file (0 train, 1 test), so a transformed example can be traced
back to its raw record.
"""

from __future__ import annotations

import pathlib

import numpy as np

from common import idx
from schemas import features


def make_images(n: int, file_id: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + file_id)
    images = rng.integers(0, 256, size=(n, features.IMAGE_HEIGHT, features.IMAGE_WIDTH), dtype=np.uint8)
    flat = images.reshape(n, -1)
    flat[:, 0] = np.arange(n) % 256
    flat[:, 1] = np.arange(n) // 256
    flat[:, 2] = file_id
    flat[0, 3:] = 0  # the darkest and brightest pixels exist, so scale_to_0_1 spans [0, 1]
    flat[-1, 3:] = 255
    return images


def make_labels(n: int) -> np.ndarray:
    return (np.arange(n) % features.NUM_CLASSES).astype(np.uint8)


def write_dataset(
    directory, n_train: int = 300, n_test: int = 60, gzip_train: bool = True, gzip_test: bool = False
) -> pathlib.Path:
    """Writes train-* and t10k-* IDX pairs into `directory` and returns it."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stem, n, file_id, compress in (("train", n_train, 0, gzip_train), ("t10k", n_test, 1, gzip_test)):
        suffix = ".gz" if compress else ""
        idx.write_idx(str(directory / f"{stem}-images-idx3-ubyte{suffix}"), make_images(n, file_id))
        idx.write_idx(str(directory / f"{stem}-labels-idx1-ubyte{suffix}"), make_labels(n))
    return directory
