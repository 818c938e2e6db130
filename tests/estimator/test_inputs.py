"""numpy_input_fn and pandas_input_fn: tf.estimator 2.15's batches, epochs, shuffling and errors."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import estimator as tfe

v1 = tf.compat.v1
numpy_input_fn = tfe.inputs.numpy_input_fn
pandas_input_fn = tfe.inputs.pandas_input_fn


def _batches(input_fn, seed=None, limit=None):
    """Runs input_fn's tensors in a fresh graph until OutOfRange (or `limit` runs)."""
    results = []
    with tf.Graph().as_default() as graph:
        graph.seed = seed
        tensors = input_fn()
        with v1.train.MonitoredSession() as session:
            while not session.should_stop() and (limit is None or len(results) < limit):
                results.append(session.run(tensors))
    return results


def _xy(n):
    return {"a": np.arange(n) * 1.0, "b": np.arange(32, 32 + n)}, np.arange(-32, -32 + n)


# ------------------------------------------------------------------------------ numpy_input_fn
def test_batches_run_across_epochs_and_only_the_last_is_short():
    x, y = _xy(3)
    batches = _batches(numpy_input_fn(x, y, batch_size=2, shuffle=False, num_epochs=3))
    assert [list(labels) for _, labels in batches] == [[-32, -31], [-30, -32], [-31, -30], [-32, -31], [-30]]
    assert [list(f["a"]) for f, _ in batches] == [[0, 1], [2, 0], [1, 2], [0, 1], [2]]
    assert [list(f["b"]) for f, _ in batches][-1] == [34]
    assert batches[0][0]["a"].dtype == np.float64 and batches[0][0]["b"].dtype == np.int64


def test_a_batch_larger_than_the_data_takes_every_epoch_at_once():
    x, y = _xy(2)
    ((features, labels),) = _batches(numpy_input_fn(x, y, batch_size=128, shuffle=False, num_epochs=2))
    assert list(features["a"]) == [0, 1, 0, 1] and list(labels) == [-32, -31, -32, -31]


def test_zero_epochs_give_nothing_and_none_repeat_forever_with_full_static_batches():
    x, y = _xy(5)
    assert _batches(numpy_input_fn(x, y, batch_size=2, shuffle=False, num_epochs=0)) == []
    fn = numpy_input_fn(x, y, batch_size=2, shuffle=False, num_epochs=None)
    batches = _batches(fn, limit=6)
    assert [list(labels) for _, labels in batches][2:4] == [[-28, -32], [-31, -30]]
    with tf.Graph().as_default():
        features, labels = fn()
        assert features["a"].shape.as_list() == [2] and labels.shape.as_list() == [2]
    with tf.Graph().as_default():
        features, _ = numpy_input_fn(x, y, batch_size=2, shuffle=False)()
        assert features["a"].shape.as_list() == [None]


def test_single_array_x_is_the_features_tensor_and_y_may_be_a_dict():
    x = np.arange(16).reshape(4, 2, 2) * 1.0
    batches = _batches(numpy_input_fn(x, {"y1": np.arange(4)}, batch_size=3, shuffle=False))
    features, labels = batches[0]
    assert isinstance(features, np.ndarray) and features.shape == (3, 2, 2)
    np.testing.assert_array_equal(features, x[:3])
    assert list(labels) == ["y1"] and list(labels["y1"]) == [0, 1, 2]
    assert [f.shape[0] for f, _ in batches] == [3, 1]
    (same_as_dict,) = _batches(numpy_input_fn({"feature1": x}, batch_size=4, shuffle=False))
    np.testing.assert_array_equal(same_as_dict["feature1"], np.concatenate([b[0] for b in batches]))


def test_without_y_the_input_fn_returns_features_only_and_strings_become_bytes():
    x = {"n": np.arange(3), "s": np.array(["sedan", "hardtop", "wagon"])}
    (features,) = _batches(numpy_input_fn(x, batch_size=3, shuffle=False))
    assert sorted(features) == ["n", "s"]
    assert list(features["s"]) == [b"sedan", b"hardtop", b"wagon"]


def test_y_keyed_like_the_internal_target_key_is_fine_and_x_is_not_changed():
    array = np.arange(32, 36)
    x = {"__target_key__": array}
    (features, labels), _ = _batches(numpy_input_fn(x, np.arange(4), batch_size=2, shuffle=False))
    assert list(x) == ["__target_key__"] and x["__target_key__"] is array
    assert list(features["__target_key__"]) == [32, 33] and list(labels) == [0, 1]


def test_shuffle_reads_every_row_once_per_epoch_in_an_order_the_graph_seed_fixes():
    x = {"i": np.arange(50)}
    fn = numpy_input_fn(x, batch_size=50, shuffle=True, num_epochs=1)
    (first,) = _batches(fn, seed=7)
    (again,) = _batches(fn, seed=7)
    (other,) = _batches(fn, seed=8)
    assert sorted(first["i"]) == list(range(50)) and list(first["i"]) != list(range(50))
    np.testing.assert_array_equal(first["i"], again["i"])
    assert list(other["i"]) != list(first["i"])
    (in_order,) = _batches(numpy_input_fn(x, batch_size=50, shuffle=False, num_epochs=1))
    assert list(in_order["i"]) == list(range(50))


def test_the_shuffle_buffer_is_queue_capacity_and_reading_starts_at_a_random_row():
    # A buffer of one row shuffles nothing: the rows come in order from a random start.
    (rows,) = _batches(
        numpy_input_fn({"i": np.arange(20)}, batch_size=20, shuffle=True, queue_capacity=1), seed=3
    )
    start = rows["i"][0]
    assert list(rows["i"]) == [(start + k) % 20 for k in range(20)]
    # Several epochs share one buffer: a batch may mix rows of two epochs, and each row comes twice.
    (both,) = _batches(
        numpy_input_fn({"i": np.arange(20)}, batch_size=40, shuffle=True, num_epochs=2), seed=3
    )
    assert sorted(both["i"]) == sorted(list(range(20)) * 2)


def test_each_of_num_threads_readers_reads_num_epochs_epochs():
    x, y = _xy(3)
    batches = _batches(numpy_input_fn(x, y, batch_size=2, shuffle=False, num_epochs=1, num_threads=2))
    labels = np.concatenate([labels for _, labels in batches])
    assert sorted(labels) == sorted([-32, -31, -30] * 2)


def test_numpy_input_fn_errors():
    x, y = _xy(4)
    with pytest.raises(ValueError, match="shuffle must be provided and explicitly set as boolean"):
        numpy_input_fn(x, y)
    cases = [
        (list(range(4)), y, TypeError, "x must be a dict or array"),
        ({}, y, ValueError, "x cannot be an empty dict"),
        (np.array([[], []]), y, ValueError, "x cannot be an empty array"),
        (x, {}, ValueError, "y cannot be empty dict"),
        (x, {"y1": y, "a": y, "b": y}, ValueError, "2 duplicate keys are found in both x and y"),
        (x, np.arange(10), ValueError, "Length of tensors in x and y is mismatched"),
        (
            {"a": np.arange(1), "b": np.arange(4)},
            None,
            ValueError,
            "Length of tensors in x and y is mismatched",
        ),
    ]
    for bad_x, bad_y, error, message in cases:
        input_fn = numpy_input_fn(
            bad_x, bad_y, batch_size=2, shuffle=False
        )  # checked when called, as in 2.15
        with tf.Graph().as_default(), pytest.raises(error, match=message):
            input_fn()
    for name, kwargs in (("batch_size", {"batch_size": 0}), ("num_epochs", {"num_epochs": -1})):
        with tf.Graph().as_default(), pytest.raises(ValueError, match=name):
            numpy_input_fn(x, y, shuffle=False, **kwargs)()


# ----------------------------------------------------------------------------- pandas_input_fn
def _frame():
    index = np.arange(100, 104)
    x = pd.DataFrame({"a": np.arange(4), "b": np.arange(32, 36)}, index=index)
    return x, pd.Series(np.arange(-32, -28), index=index)


def test_pandas_series_target_and_uneven_batches_without_the_index():
    x, y = _frame()
    batches = _batches(pandas_input_fn(x, y, batch_size=3, shuffle=False, num_epochs=1))
    assert [list(labels) for _, labels in batches] == [[-32, -31, -30], [-29]]
    features, _ = batches[0]
    assert sorted(features) == ["a", "b"] and list(features["b"]) == [32, 33, 34]
    (features_only,) = _batches(pandas_input_fn(x, batch_size=4, shuffle=False))
    assert sorted(features_only) == ["a", "b"]


def test_pandas_dataframe_target_keeps_its_column_names_even_when_x_has_them():
    x, _ = _frame()
    y = pd.DataFrame({"a": np.arange(10, 14), "a_n": np.arange(50, 54)}, index=x.index)
    (features, labels), _ = _batches(pandas_input_fn(x, y, batch_size=2, shuffle=False))
    assert list(features["a"]) == [0, 1] and list(features["b"]) == [32, 33]
    assert list(labels["a"]) == [10, 11] and list(labels["a_n"]) == [50, 51]


def test_pandas_epochs_shuffle_with_automatic_capacity_and_string_columns():
    x, y = _frame()
    x["s"] = ["p", "q", "r", "t"]
    batches = _batches(
        pandas_input_fn(x, y, batch_size=2, shuffle=True, queue_capacity=None, num_epochs=2), seed=1
    )
    assert len(batches) == 4
    labels = np.concatenate([labels for _, labels in batches])
    assert sorted(labels) == sorted(list(y) * 2)
    by_label = dict(zip(y, x["s"], strict=True))
    for features, labels in batches:
        assert [by_label[v].encode() for v in labels] == list(features["s"])


def test_pandas_input_fn_errors():
    x, y = _frame()
    with pytest.raises(ValueError, match="shuffle must be provided"):
        pandas_input_fn(x, y)
    with pytest.raises(ValueError, match="Index for x and y are mismatched"):
        pandas_input_fn(x, pd.Series(np.arange(4)), shuffle=False)
    with pytest.raises(TypeError, match="target_column must be a string type"):
        pandas_input_fn(x, y, shuffle=False, target_column=["one", "two"])
    with pytest.raises(ValueError, match="Cannot use name a for target column"):
        pandas_input_fn(x, y, shuffle=False, target_column="a")


def test_pandas_input_fn_copies_the_data_when_called():
    x, y = _frame()
    input_fn = pandas_input_fn(x, y, batch_size=4, shuffle=False)
    x["a"] = -1
    ((features, _),) = _batches(input_fn)
    assert list(features["a"]) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- with an Estimator
def _linear_model_fn(features, labels, mode):
    columns = [v1.feature_column.numeric_column("x", shape=[2])]
    prediction = tf.squeeze(v1.layers.dense(v1.feature_column.input_layer(features, columns), 1, name="w"), 1)
    if mode == tfe.ModeKeys.PREDICT:
        return tfe.EstimatorSpec(mode, predictions={"y": prediction})
    loss = tf.reduce_mean(tf.square(prediction - tf.cast(labels, tf.float32)))
    train_op = v1.train.GradientDescentOptimizer(0.2).minimize(loss, global_step=v1.train.get_global_step())
    return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_an_estimator_trains_evaluates_and_predicts_on_numpy_and_pandas_inputs(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.randn(50, 2)
    y = x @ np.array([2.0, -1.0]) + 0.5
    est = tfe.Estimator(_linear_model_fn, str(tmp_path), config=tfe.RunConfig(tf_random_seed=1))
    est.train(numpy_input_fn({"x": x}, y, batch_size=10, num_epochs=None, shuffle=True), max_steps=150)
    assert est.get_variable_value("global_step") == 150
    np.testing.assert_allclose(est.get_variable_value("w/kernel")[:, 0], [2.0, -1.0], atol=0.05)
    # One epoch, the last batch short: 5 steps, then the input ends.
    est.train(numpy_input_fn({"x": x}, y, batch_size=12, num_epochs=1, shuffle=True))
    assert est.get_variable_value("global_step") == 155
    results = est.evaluate(numpy_input_fn({"x": x}, y, batch_size=16, shuffle=False))
    assert results["loss"] < 0.01 and results["global_step"] == 155
    predictions = list(est.predict(numpy_input_fn({"x": x[:7]}, batch_size=3, shuffle=False)))
    assert len(predictions) == 7
    np.testing.assert_allclose([p["y"] for p in predictions], y[:7], atol=0.2)

    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1]})
    pandas_fn = pandas_input_fn(frame, pd.Series(y), batch_size=25, shuffle=False)
    pandas_results = est.evaluate(lambda: _stacked(pandas_fn()))
    assert pandas_results["loss"] == pytest.approx(results["loss"], rel=1e-4)


def _stacked(features_and_labels):
    features, labels = features_and_labels
    return {"x": tf.stack([features["x1"], features["x2"]], axis=1)}, labels
