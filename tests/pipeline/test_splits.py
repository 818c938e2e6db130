"""The train/eval split: exact, deterministic, the same whichever way it is read."""

import numpy as np
import pytest

from pipeline import splits


@pytest.mark.parametrize(
    "count, fraction, expected",
    [(60_000, 0.1, 6_000), (300, 0.1, 30), (1234, 0.25, 308), (999, 0.5, 499), (7, 0.1, 0)],
)
def test_eval_count_is_exact(count, fraction, expected):
    """floor(count * fraction), also where binary rounding puts 0.1 * 60000 a hair below 6000."""
    mask = splits.eval_mask(0, count, count, fraction)
    assert mask.sum() == splits.eval_count(count, fraction) == expected


def test_fashion_mnist_split_sizes():
    assert splits.eval_count(60_000, 0.1) == 6_000


def test_same_mask_whatever_the_chunking():
    whole = splits.eval_mask(0, 5_500, 5_500, 0.1)
    pieces = np.concatenate(
        [splits.eval_mask(s, min(s + 777, 5_500), 5_500, 0.1) for s in range(0, 5_500, 777)]
    )
    np.testing.assert_array_equal(whole, pieces)


def test_deterministic_and_seeded():
    a = splits.eval_mask(0, 3_000, 3_000, 0.1)
    np.testing.assert_array_equal(a, splits.eval_mask(0, 3_000, 3_000, 0.1))
    assert not np.array_equal(a, splits.eval_mask(0, 3_000, 3_000, 0.1, seed=1))


def test_spread_over_the_file():
    mask = splits.eval_mask(0, 10_000, 10_000, 0.1)
    assert [mask[b : b + 1000].sum() for b in range(0, 10_000, 1000)] == [100] * 10
    assert not mask[:100].all()  # random within a block, not its first records


def test_zero_fraction_and_bad_arguments():
    assert not splits.eval_mask(0, 100, 100, 0.0).any()
    with pytest.raises(ValueError):
        splits.eval_mask(0, 100, 100, 1.0)
    with pytest.raises(ValueError):
        splits.eval_mask(50, 200, 100, 0.1)
