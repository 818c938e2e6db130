"""Planted duplicates found in the right numbers: the hashes alone, then the Beam join."""

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import leakage, sources
from schemas import features, layout

RUNNER = "FnApiRunner"


def images(n: int, seed: int) -> np.ndarray:
    """uint8 [n, 28, 28] random pictures, all different."""
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28)).astype(np.uint8)


def noised(pictures: np.ndarray, seed: int, amplitude: int = 1) -> np.ndarray:
    """A light copy: every pixel moved by up to +-amplitude grey levels (a re-encoding's round-off)."""
    rng = np.random.default_rng(seed)
    moved = pictures.astype(int) + rng.integers(-amplitude, amplitude + 1, pictures.shape)
    return np.clip(moved, 0, 255).astype(np.uint8)


def _flat(images):
    return images.reshape(len(images), -1)


def test_light_noise_and_brightness_stay_near_and_different_images_stay_far():
    pictures = _flat(images(300, seed=1))
    base = leakage.perceptual_hashes(pictures)
    close = leakage.hamming(base, leakage.perceptual_hashes(_flat(noised(pictures, seed=2)))).diagonal()
    darker = (pictures * 0.8).astype(np.uint8)  # contrast: the hash compares frequencies with their median
    apart = leakage.hamming(base, base)[np.triu_indices(len(base), 1)]
    assert close.max() <= leakage.HAMMING_THRESHOLD
    assert (
        leakage.hamming(base, leakage.perceptual_hashes(darker)).diagonal().max() <= leakage.HAMMING_THRESHOLD
    )
    assert apart.min() > 3 * leakage.HAMMING_THRESHOLD


def test_hashes_are_those_earlier_outputs_stored():
    # statistics/image_hashes/ of earlier outputs are checked against new data (validate --against):
    # the values below are those of the hashes at c74c9c1, recorded before they were made faster
    pictures = np.concatenate([_flat(images(3, seed=7)), np.zeros((1, features.IMAGE_PIXELS), np.uint8)])
    content = ["0ee154bdd487a32f", "b32455a9d6ed7635", "408c69b4170908c5", "3624f54a497d2fed"]
    perceptual = [
        ["d110eb01c559b8be", "d2607f4a45598fdd"],
        ["74153def0268efb6", "e23c959ac3616185"],
        ["6c267d21674eaf09", "3c22aac563a23b77"],
        ["0000000000000000", "0000000000000000"],
    ]
    assert [f"{int(h):016x}" for h in leakage.content_hashes(pictures)] == content
    assert [[f"{int(w):016x}" for w in h] for h in leakage.perceptual_hashes(pictures)] == perceptual


def test_hashes_within_the_threshold_share_a_band():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**63, (500, 2), dtype=np.uint64)
    b = a.copy()
    for row in b:  # flip HAMMING_THRESHOLD random bits of each
        for bit in rng.choice(leakage.HASH_BITS, leakage.HAMMING_THRESHOLD, replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    assert (leakage.hamming(a, b).diagonal() == leakage.HAMMING_THRESHOLD).all()
    assert (leakage.band_keys(a) == leakage.band_keys(b)).any(axis=1).all()


def _batches(images, labels, records=None, size=7):
    records = np.arange(len(images)) if records is None else records
    return [
        sources.to_record_batch(images[i : i + size], labels[i : i + size], 0, records[i : i + size])
        for i in range(0, len(images), size)
    ]


@pytest.mark.parametrize("buckets", [1, 3])
def test_find_duplicates_counts_planted_copies(buckets):
    train = images(60, seed=10)
    train[50] = train[3]  # an exact repeat within train
    labels = np.arange(60) % features.NUM_CLASSES
    test = images(20, seed=11)
    test[:4] = train[10:14]  # 4 exact copies of train images ...
    test[4:9] = noised(train[20:25], seed=12)  # ... and 5 lightly noised ones
    test[9] = noised(train[3], seed=13)  # a near copy of an image that is in train twice
    test[10] = noised(train[30], seed=14)  # a near copy with another label
    test_labels = np.arange(20) % features.NUM_CLASSES
    test_labels[:2] = labels[10:12]  # two exact copies keep their labels, two get others
    test_labels[2:4] = (labels[12:14] + 1) % features.NUM_CLASSES
    test_labels[4:9] = labels[20:25]
    test_labels[9] = labels[3]  # train[3] and train[50] carry different labels themselves
    test_labels[10] = (labels[30] + 1) % features.NUM_CLASSES
    with TestPipeline(runner=RUNNER) as p:
        raw = {
            layout.TRAIN: p | "Train" >> beam.Create(_batches(train, labels)),
            layout.TEST: p | "Test" >> beam.Create(_batches(test, test_labels)),
        }
        counts = raw | leakage.FindDuplicates([layout.TRAIN, layout.TEST], buckets)
        expected = {
            # label conflicts: test[2:4] with train[12:14], and train[3] (label 3) with train[50] (label 0)
            leakage.EXACT: {"within_train": 1, "within_test": 0, "test_in_train": 4, "label_conflicts": 6},
            # test[9] (label 3) is matched with train[3] (label 3), the first of train[3] and its repeat
            # train[50] (label 0): near matching takes one image per content; test[10] and train[30] conflict
            leakage.NEAR: {"within_train": 0, "within_test": 0, "test_in_train": 7, "label_conflicts": 2},
        }
        assert_that(counts, equal_to([expected]))
