"""Batches the rows of in-memory columns (numpy arrays) as a tf.data pipeline.

The engine behind `inputs.numpy_input_fn` and `inputs.pandas_input_fn`. It
delivers rows as tf.estimator 2.15's queue feeding did: `num_threads` readers
each pass over the rows `num_epochs` times (a shuffling reader starts at a random
row); batches run across epoch boundaries and only the very last one may be
short; shuffling draws from a buffer of `capacity` rows shared by all epochs.

Only row indices flow through tf.data: each batch is gathered from the arrays by
a `tf.numpy_function`, so the data are not embedded in the graph (nor in the
checkpoints' meta graphs), as 2.15's feed_dict did not embed them either.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_LOG = tf.get_logger()


def column_dtype(name, array: np.ndarray) -> tf.DType:
    """The TensorFlow dtype of a column; strings and objects become tf.string.

    Raises:
      TypeError: a numpy dtype TensorFlow has no equivalent for (e.g. datetime).
    """
    if array.dtype.kind in ("U", "S", "O"):
        return tf.string
    try:
        return tf.dtypes.as_dtype(array.dtype)
    except TypeError as e:
        raise TypeError(f"column {name!r} has dtype {array.dtype}, which TensorFlow cannot hold") from e


def _row_indices(num_rows: int, num_epochs: int | None, random_start: bool, reader=0) -> tf.data.Dataset:
    """Reader number `reader`: `num_epochs` passes (None: forever) over 0..num_rows-1."""
    if not random_start:
        return tf.data.Dataset.range(num_rows).repeat(num_epochs)
    # The start row is drawn once per iterator (the reader-th draw: readers start apart);
    # Dataset.random follows the graph seed.
    start = tf.data.Dataset.random().skip(reader).take(1)
    return start.flat_map(
        lambda offset: (
            tf.data.Dataset.range(num_rows)
            .repeat(num_epochs)
            .map(lambda i: tf.math.floormod(i + offset, num_rows))
        )
    )


def _warn_about_threads(shuffle: bool, num_epochs: int | None, num_threads: int) -> None:
    if num_threads > 1 and num_epochs is not None:
        _LOG.warning(
            "num_threads=%d readers each read num_epochs=%d epochs: this delivers %d epochs in all",
            num_threads,
            num_epochs,
            num_threads * num_epochs,
        )
    if not shuffle and num_threads > 1:
        _LOG.warning(
            "shuffle=False with num_threads=%d: the readers' rows are interleaved, not in order; "
            "use num_threads=1 to read rows in order",
            num_threads,
        )


def batched_columns(
    columns: dict,
    batch_size: int,
    num_epochs: int | None,
    shuffle: bool,
    capacity: int,
    num_threads: int,
) -> dict:
    """Tensors giving the next batch of rows of `columns` each time they are run.

    Args:
      columns: {key: numpy array}, all of the same length N >= 1 (the rows).
      batch_size: rows per batch (>= 1).
      num_epochs: passes over the rows per reader; None: forever (then every
        batch is full and its first dimension is static).
      shuffle: read in random order, through a buffer of `capacity` rows.
      capacity: the shuffle buffer size (>= 1).
      num_threads: readers (>= 1), each delivering `num_epochs` epochs.

    Returns:
      {key: Tensor [batch, *array.shape[1:]]} from a one-shot iterator (no
      initializer to run); running them past the last row raises OutOfRangeError.

    Raises:
      ValueError: an argument out of range.
    """
    for name, value, lowest in (("batch_size", batch_size, 1), ("num_threads", num_threads, 1)):
        if not isinstance(value, (int, np.integer)) or value < lowest:
            raise ValueError(f"{name} must be an integer >= {lowest}, found {value!r}")
    if num_epochs is not None and (not isinstance(num_epochs, (int, np.integer)) or num_epochs < 0):
        raise ValueError(f"num_epochs must be None or an integer >= 0, found {num_epochs!r}")
    if shuffle and (not isinstance(capacity, (int, np.integer)) or capacity < 1):
        raise ValueError(f"queue_capacity must be an integer >= 1 to shuffle, found {capacity!r}")
    _warn_about_threads(shuffle, num_epochs, num_threads)

    keys = list(columns)
    arrays = [columns[k] for k in keys]
    num_rows = len(arrays[0])
    dtypes = [column_dtype(k, a) for k, a in zip(keys, arrays, strict=True)]

    if num_threads == 1:
        indices = _row_indices(num_rows, num_epochs, shuffle)
    else:
        # 2.15's reader threads each enqueued batch_size rows at a time.
        indices = tf.data.Dataset.range(num_threads).interleave(
            lambda reader: _row_indices(num_rows, num_epochs, shuffle, reader),
            cycle_length=num_threads,
            block_length=batch_size,
        )
    if shuffle:
        indices = indices.shuffle(int(capacity))
    indices = indices.batch(int(batch_size), drop_remainder=num_epochs is None)

    def gather(rows):
        return [np.asarray(a[rows]) for a in arrays]

    static_batch = int(batch_size) if num_epochs is None else None

    def to_columns(rows):
        values = tf.numpy_function(gather, [rows], dtypes, stateful=False)
        for value, array in zip(values, arrays, strict=True):
            value.set_shape((static_batch, *array.shape[1:]))
        return tuple(values)

    # Keys stay out of tf.data: pandas column names need not be strings.
    batches = indices.map(to_columns).prefetch(1)
    return dict(zip(keys, tf.compat.v1.data.make_one_shot_iterator(batches).get_next(), strict=True))
