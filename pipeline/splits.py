"""A deterministic, exact and streamable train/eval split of the training file.

The training IDX file is cut into blocks of BLOCK_RECORDS consecutive records.
Block b (records [b0, b1)) sends exactly floor(b1 * f) - floor(b0 * f) of its
records to eval, chosen by a random generator seeded with (seed, b). So:

  - the eval split holds exactly floor(count * f) records (6,000 of 60,000 at 0.1);
  - any reader of any record range computes the same mask, with no coordination;
  - reruns give the same split; memory is one block.
"""

from __future__ import annotations

import math

import numpy as np

BLOCK_RECORDS = 1000
DEFAULT_SEED = 20171220  # fixed so every run and every worker agree


def _eval_quota(index: int, fraction: float) -> int:
    # floor(index * fraction), robust to binary rounding of the fraction (0.1 * 60000).
    return math.floor(index * fraction + 1e-9)


def eval_count(count: int, fraction: float) -> int:
    """Returns how many of `count` training records go to eval."""
    return _eval_quota(count, fraction)


def eval_mask(start: int, stop: int, count: int, fraction: float, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Says which of the training records [start, stop) belong to eval.

    Args:
      start, stop: the record range, 0 <= start <= stop <= count.
      count: records in the whole training file.
      fraction: the eval fraction, in [0, 1).
      seed: the split's seed.

    Returns:
      bool array of length stop - start; True means eval.

    Raises:
      ValueError: a bad range or fraction.
    """
    if not 0 <= start <= stop <= count:
        raise ValueError(f"records [{start}, {stop}) outside [0, {count})")
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"eval fraction must be in [0, 1), got {fraction}")
    mask = np.zeros(stop - start, dtype=bool)
    if start == stop or fraction == 0.0:
        return mask
    for block in range(start // BLOCK_RECORDS, (stop - 1) // BLOCK_RECORDS + 1):
        b0 = block * BLOCK_RECORDS
        b1 = min(b0 + BLOCK_RECORDS, count)
        quota = _eval_quota(b1, fraction) - _eval_quota(b0, fraction)
        rng = np.random.default_rng([seed, block])
        picks = b0 + rng.choice(b1 - b0, size=quota, replace=False)
        picks = picks[(picks >= start) & (picks < stop)]
        mask[picks - start] = True
    return mask
