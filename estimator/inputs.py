"""Input functions over in-memory data: `tfe.inputs.numpy_input_fn`, `pandas_input_fn`.

The arguments, defaults, validation errors and the order and size of the batches
are tf.estimator 2.15's (`tf.compat.v1.estimator.inputs`); they run on tf.data
instead of queue runners (see `feeding`). The returned input_fn builds its
tensors in the default graph, so it works inside the Estimator's graph and in
any TF1-style graph run by a `MonitoredSession`.

    input_fn = tfe.inputs.numpy_input_fn({"x": x}, y, batch_size=32, num_epochs=None, shuffle=True)
    estimator.train(input_fn, max_steps=1000)
"""

from __future__ import annotations

import numpy as np

from . import feeding

# The key a bare y travels under among the feature columns (never a key of x).
_TARGET_KEY = "__target_key__"
_SHUFFLE_ERROR = (
    "shuffle must be provided and explicitly set as boolean "
    "(it is recommended to set it as True for training); got {}"
)


def _check_shuffle(shuffle) -> None:
    if not isinstance(shuffle, bool):
        raise ValueError(_SHUFFLE_ERROR.format(shuffle))


def _capacity(queue_capacity, shuffle: bool, num_rows: int):
    """queue_capacity, or (None) 4 x the rows when shuffling and the rows otherwise."""
    if queue_capacity is None:
        return 4 * num_rows if shuffle else num_rows
    return queue_capacity


def _feature_columns(x) -> dict:
    """x as {key: array} in sorted key order; a bare array is one column.

    Raises:
      TypeError: x is neither a dict nor a numpy array.
      ValueError: x is an empty dict or an empty array.
    """
    if isinstance(x, dict):
        if not x:
            raise ValueError("x cannot be an empty dict")
        return {key: np.asarray(x[key]) for key in sorted(x)}
    if isinstance(x, np.ndarray):
        if x.size == 0:
            raise ValueError("x cannot be an empty array")
        return {"__direct_np_input__": x}
    raise TypeError(f"x must be a dict or array; got {type(x).__name__}")


def numpy_input_fn(x, y=None, batch_size=128, num_epochs=1, shuffle=None, queue_capacity=1000, num_threads=1):
    """Returns an input_fn that batches numpy arrays (tf.estimator.inputs.numpy_input_fn).

    Args:
      x: a numpy array (the features are then that single Tensor) or a dict of
        arrays (the features are a dict with the same keys); all arrays share
        their first (row) dimension N.
      y: None, an array of N rows (the labels are one Tensor) or a dict of such
        arrays (the labels are a dict with its keys, which may not be keys of x).
      batch_size: rows per batch; the last batch of the last epoch may be short.
      num_epochs: passes over the rows; None repeats forever (every batch full).
      shuffle: required bool: read rows in random order.
      queue_capacity: rows in the shuffle buffer (None: 4 x N).
      num_threads: readers; each reads `num_epochs` epochs, as in 2.15 (so >1
        multiplies the epochs and, without shuffle, interleaves the rows).

    Returns:
      `input_fn()` returning features, or (features, labels): Tensors of shape
      [batch, *row shape] and the arrays' dtypes (strings: tf.string). Running
      them after the last row raises `tf.errors.OutOfRangeError`.

    Raises:
      ValueError: shuffle is not a bool (here); when input_fn is called: an
        empty x or y, keys in both x and y, or arrays of different lengths.
      TypeError: x is not a dict or an array (when input_fn is called).
    """
    _check_shuffle(shuffle)

    def input_fn():
        columns = _feature_columns(x)
        feature_keys = list(columns)
        if y is None:
            target_keys = None
        elif isinstance(y, dict):
            if not y:
                raise ValueError("y cannot be empty dict, use None instead.")
            target_keys = sorted(y)
            duplicates = set(feature_keys) & set(target_keys)
            if duplicates:
                raise ValueError(f"{len(duplicates)} duplicate keys are found in both x and y: {duplicates}")
            columns.update({key: np.asarray(y[key]) for key in target_keys})
        else:
            target_keys = _TARGET_KEY
            while target_keys in columns:
                target_keys += "_n"
            columns[target_keys] = np.asarray(y)

        for key, array in columns.items():
            if array.ndim == 0:
                raise ValueError(f"every array in x and y needs a row dimension; {key!r} is a scalar")
        if len({array.shape[0] for array in columns.values()}) != 1:
            x_shapes = {key: columns[key].shape for key in feature_keys}
            if target_keys is None:
                y_shapes = None
            elif isinstance(target_keys, str):
                y_shapes = columns[target_keys].shape
            else:
                y_shapes = {key: columns[key].shape for key in target_keys}
            raise ValueError(
                "Length of tensors in x and y is mismatched. All elements in x and y must have the "
                f"same length.\nShapes in x: {x_shapes}\nShapes in y: {y_shapes}\n"
            )

        num_rows = len(next(iter(columns.values())))
        batch = feeding.batched_columns(
            columns,
            batch_size=batch_size,
            num_epochs=num_epochs,
            shuffle=shuffle,
            capacity=_capacity(queue_capacity, shuffle, num_rows),
            num_threads=num_threads,
        )
        if isinstance(x, dict):
            features = {key: batch[key] for key in feature_keys}
        else:
            features = batch[feature_keys[0]]
        if target_keys is None:
            return features
        if isinstance(target_keys, str):
            return features, batch[target_keys]
        return features, {key: batch[key] for key in target_keys}

    return input_fn


def pandas_input_fn(
    x,
    y=None,
    batch_size=128,
    num_epochs=1,
    shuffle=None,
    queue_capacity=1000,
    num_threads=1,
    target_column="target",
):
    """Returns an input_fn that batches a pandas DataFrame (tf.estimator.inputs.pandas_input_fn).

    The data are checked and copied when this is called; the index is not a feature.

    Args:
      x: a `pandas.DataFrame`; the features are {column name: Tensor [batch]}.
      y: None, a `pandas.Series` (the labels are one Tensor) or a `DataFrame`
        (the labels are {its column name: Tensor}); its index must equal x's.
      batch_size, num_epochs, queue_capacity, num_threads: as for
        `numpy_input_fn` (queue_capacity None: 4 x the rows when shuffling,
        else the rows).
      shuffle: required bool: read rows in random order.
      target_column: the name y's column may not share with x's columns (when y
        is a Series).

    Returns:
      `input_fn()` returning features, or (features, labels).

    Raises:
      ValueError: shuffle is not a bool, x already has a column named
        `target_column`, or the indexes of x and y differ.
      TypeError: target_column is not a string, x is not a DataFrame, or y is
        neither a Series nor a DataFrame.
    """

    _check_shuffle(shuffle)
    if not isinstance(target_column, str):
        raise TypeError("target_column must be a string type")
    # Duck-typed as 2.15 (which failed only when the input_fn ran): a DataFrame-like x, Series-like y.
    if not hasattr(x, "columns"):
        raise TypeError(f"x must be a pandas DataFrame; got {type(x).__name__}")
    if y is not None and not hasattr(y, "index"):
        raise TypeError(f"y must be a pandas Series or DataFrame; got {type(y).__name__}")

    columns = {name: _column_values(x[name]) for name in x.columns}
    feature_names = list(x.columns)
    target_names = None  # y's own column names, for a DataFrame y
    target_key = None  # where a Series y travels
    if y is not None:
        if target_column in x:
            raise ValueError(
                f"Cannot use name {target_column} for target column: DataFrame already has a "
                f"column with that name: {x.columns}"
            )
        if not np.array_equal(x.index, y.index):
            raise ValueError(
                f"Index for x and y are mismatched.\nIndex for x: {x.index}\nIndex for y: {y.index}\n"
            )
        if hasattr(y, "columns"):
            target_names = list(y.columns)
            columns.update({("target", name): _column_values(y[name]) for name in target_names})
        else:
            target_key = ("target", target_column)
            columns[target_key] = _column_values(y)

    capacity = _capacity(queue_capacity, shuffle, len(x))

    def input_fn():
        if not len(x):
            raise ValueError("x cannot be an empty DataFrame")
        batch = feeding.batched_columns(
            columns,
            batch_size=batch_size,
            num_epochs=num_epochs,
            shuffle=shuffle,
            capacity=capacity,
            num_threads=num_threads,
        )
        features = {name: batch[name] for name in feature_names}
        if target_names is not None:
            return features, {name: batch[("target", name)] for name in target_names}
        if target_key is not None:
            return features, batch[target_key]
        return features

    return input_fn


def _column_values(series) -> np.ndarray:
    """A column as a numpy array (a copy); pandas string columns become object arrays."""
    values = series.to_numpy(copy=True)
    if values.dtype.kind not in "biufcUSO":
        raise TypeError(f"column {series.name!r} has dtype {series.dtype}, which TensorFlow cannot hold")
    return values
