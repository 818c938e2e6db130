"""Public model_to_estimator and sequence-model programs, ported with the import rename only.

Each test is one public program rewritten compactly on tiny synthetic data, with the
original's API surface and call patterns:

- model_to_estimator programs (a named Sequential fed through numpy_input_fn, a
  Dataset-fed binary classifier);
- the Coursera / training-data-analyst sequence models (an LSTM "from a research
  paper" with static_rnn, GRU and stacked GRU with dynamic_rnn, a tf_keras LSTM).

Besides the rename (`tf.estimator` -> `tfe`, `tf.` -> `tf.compat.v1.` in TF1 code),
the ports change only what TensorFlow itself removed; each such change is marked
"port:" where it happens. The programs' own string formatting (%, str.format) is kept.
"""

# ruff: noqa: UP031, UP032

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe
from tests.estimator import programs

tf1 = tf.compat.v1


# ------------------------------------------------------------------- model_to_estimator
def test_model_to_estimator_named_sequential_with_numpy_input_and_train_and_evaluate(tmp_path):
    rng = np.random.RandomState(0)
    x_train = rng.random_sample((400, 20)).astype(np.float32)
    y_int = np.argmax(x_train @ rng.randn(20, 10), 1)
    y_train = tf_keras.utils.to_categorical(y_int, num_classes=10)
    model = tf_keras.models.Sequential()
    model.add(tf_keras.layers.Dense(64, activation="relu", input_dim=20, name="X"))
    model.add(tf_keras.layers.Dropout(0.5))
    model.add(tf_keras.layers.Dense(64, activation="relu"))
    model.add(tf_keras.layers.Dense(10, activation="softmax", name="probabilities"))
    # port: keras.optimizers.SGD(lr=..., decay=...) is tf_keras's legacy SGD now.
    sgd = tf_keras.optimizers.legacy.SGD(lr=0.05, decay=1e-6, momentum=0.9, nesterov=True)
    model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])
    assert model.input_names == ["X_input"]

    est_model = tfe.model_to_estimator(keras_model=model, model_dir=str(tmp_path))
    input_name = model.input_names[0]
    train_input_fn = tfe.inputs.numpy_input_fn(
        x={input_name: x_train}, y=y_train, batch_size=32, num_epochs=None, shuffle=True
    )
    eval_input_fn = tfe.inputs.numpy_input_fn(x={input_name: x_train}, y=y_train, num_epochs=1, shuffle=False)

    def serving_input_receiver_fn():
        feature_tensor = tf1.placeholder(tf.float32, [None, 20])
        return tfe.export.ServingInputReceiver({input_name: feature_tensor}, {input_name: feature_tensor})

    exporter = tfe.LatestExporter("keras", serving_input_receiver_fn)
    train_spec = tfe.TrainSpec(input_fn=train_input_fn, max_steps=300)
    eval_spec = tfe.EvalSpec(input_fn=eval_input_fn, steps=10, exporters=exporter)  # one exporter, not a list
    metrics, exports = tfe.train_and_evaluate(est_model, train_spec, eval_spec)
    assert set(metrics) == {"accuracy", "loss", "global_step"} and metrics["global_step"] == 300
    assert metrics["accuracy"] > 0.5  # ten classes: chance is 0.1

    predict_input_fn = tfe.inputs.numpy_input_fn(x={input_name: x_train[:8]}, num_epochs=1, shuffle=False)
    predictions = list(est_model.predict(input_fn=predict_input_fn))
    assert set(predictions[0]) == {"probabilities"}  # keyed by the output layer's name
    served = programs.serve(exports[0].decode(), "serving_default", {input_name: x_train[:8]})
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in predictions], atol=1e-6)


def test_model_to_estimator_on_a_dataset_with_the_saver_checkpoint_format(tmp_path):
    tf_keras.utils.set_random_seed(0)  # Keras' initial weights are what the Estimator warm-starts from
    model = tf_keras.models.Sequential(
        [
            tf_keras.layers.Dense(16, activation="relu", input_shape=(4,), name="dense"),
            tf_keras.layers.Dropout(0.2),
            tf_keras.layers.Dense(1, activation="sigmoid", name="is_setosa"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer=tf_keras.optimizers.Adam(0.01), metrics=["accuracy"])
    key = model.input_names[0]  # "dense_input" in a fresh process; Keras numbers repeats of a name
    features, species = programs.iris(120, 0)
    x = ((features - features.mean()) / features.std()).values.astype(np.float32)
    y = (species.values == 0).astype(np.float32)

    def input_fn():
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        dataset = dataset.map(lambda features, labels: ({key: features}, labels))
        return dataset.batch(32).repeat()

    keras_estimator = tfe.model_to_estimator(
        keras_model=model,
        model_dir=str(tmp_path),
        checkpoint_format="saver",
        config=tfe.RunConfig(tf_random_seed=0),
    )
    keras_estimator.train(input_fn=input_fn, steps=100)
    eval_result = keras_estimator.evaluate(input_fn=input_fn, steps=10)
    assert "Eval result: {}".format(eval_result)
    assert eval_result["accuracy"] > 0.9 and eval_result["global_step"] == 100

    # A TF 2 program serves the export through tf.saved_model.load.
    receiver = tfe.export.build_raw_serving_input_receiver_fn({key: tf.zeros([1, 4])})
    export_dir = keras_estimator.export_saved_model(str(tmp_path / "export"), receiver)
    served = tf.saved_model.load(export_dir).signatures["serving_default"](**{key: tf.constant(x[:5])})
    predicted = list(
        keras_estimator.predict(lambda: tf.data.Dataset.from_tensor_slices({key: x[:5]}).batch(5))
    )
    np.testing.assert_allclose(served["is_setosa"].numpy(), [p["is_setosa"] for p in predicted], atol=1e-6)


# ------------------------------------------------------ sequence models (LSTM, GRU, tf_keras)
TIMESERIES_COL = "height"
SEQ_LEN = 10
N_INPUTS, N_OUTPUTS = SEQ_LEN - 1, 1
DEFAULTS = [[0.0] for _ in range(SEQ_LEN)]


def _static_lstm_model(features, mode, params):
    """The "model from a research paper": static_rnn over a BasicLSTMCell, a hand-made output layer."""
    lstm_size = 3
    x = tf.split(features[TIMESERIES_COL], N_INPUTS, 1)
    lstm_cell = tf1.nn.rnn_cell.BasicLSTMCell(lstm_size, forget_bias=1.0)  # port: was contrib's rnn.
    outputs, _ = tf1.nn.static_rnn(lstm_cell, x, dtype=tf.float32)
    outputs = outputs[-1]
    weight = tf.Variable(tf1.random_normal([lstm_size, N_OUTPUTS]))
    bias = tf.Variable(tf1.random_normal([N_OUTPUTS]))
    return tf.matmul(outputs, weight) + bias


def _gru_model(features, mode, params):
    x = tf.reshape(features[TIMESERIES_COL], [-1, N_INPUTS, 1])
    cell = tf1.nn.rnn_cell.GRUCell(N_INPUTS // 3)
    outputs, state = tf1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    h1 = tf1.layers.dense(state, N_INPUTS // 2, activation=tf.nn.relu)
    return tf1.layers.dense(h1, 1, activation=None)


def _stacked_gru_model(features, mode, params):
    x = tf.reshape(features[TIMESERIES_COL], [-1, N_INPUTS, 1])
    cells = tf1.nn.rnn_cell.MultiRNNCell(
        [tf1.nn.rnn_cell.GRUCell(N_INPUTS * 2), tf1.nn.rnn_cell.GRUCell(N_INPUTS // 2)]
    )
    outputs, state = tf1.nn.dynamic_rnn(cells, x, dtype=tf.float32)
    h1 = tf1.layers.dense(state[1], cells.output_size // 2, activation=tf.nn.relu)
    return tf1.layers.dense(h1, 1, activation=None)


def _keras_lstm_model(features, mode, params):
    x = tf.reshape(features[TIMESERIES_COL], [-1, N_INPUTS, 1])
    return tf_keras.layers.Dense(1)(tf_keras.layers.LSTM(8)(x))


def _sequence_regressor(features, labels, mode, params):
    model_functions = {
        "static_lstm": _static_lstm_model,
        "rnn": _gru_model,
        "rnn2": _stacked_gru_model,
        "keras_lstm": _keras_lstm_model,
    }
    predictions = model_functions[params["model"]](features, mode, params)
    loss = train_op = eval_metric_ops = None
    if mode == tfe.ModeKeys.TRAIN or mode == tfe.ModeKeys.EVAL:
        labels = tf.expand_dims(labels, -1)
        loss = tf1.losses.mean_squared_error(labels, predictions)
        if mode == tfe.ModeKeys.TRAIN:
            update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
            with tf.control_dependencies(update_ops):
                # port: tf.contrib.layers.optimize_loss(..., optimizer="Adam") -> the optimizer itself.
                optimizer = tf1.train.AdamOptimizer(params["learning_rate"])
                train_op = optimizer.minimize(loss, tf1.train.get_global_step())
        eval_metric_ops = {
            "RMSE": tf1.metrics.root_mean_squared_error(labels, predictions),
            "RMSE_same_as_last": tf1.metrics.root_mean_squared_error(
                labels, features[TIMESERIES_COL][:, -1:]
            ),
        }
    predictions_dict = {"predicted": predictions}
    return tfe.EstimatorSpec(
        mode=mode,
        predictions=predictions_dict,
        loss=loss,
        train_op=train_op,
        eval_metric_ops=eval_metric_ops,
        export_outputs={"predictions": tfe.export.PredictOutput(predictions_dict)},
    )


def _read_dataset(filename, mode, batch_size=512):
    def _input_fn():
        def decode_csv(row):
            features = tf1.decode_csv(row, record_defaults=DEFAULTS)
            label = features.pop()
            return {TIMESERIES_COL: tf.stack(features)}, label

        dataset = tf.data.Dataset.list_files(filename).flat_map(tf.data.TextLineDataset).map(decode_csv)
        if mode == tfe.ModeKeys.TRAIN:
            num_epochs = None
            dataset = dataset.shuffle(buffer_size=10 * batch_size)
        else:
            num_epochs = 1
        dataset = dataset.repeat(num_epochs).batch(batch_size)
        return tf1.data.make_one_shot_iterator(dataset).get_next()

    return _input_fn


def _sequence_serving_input_fn():
    feature_placeholders = {TIMESERIES_COL: tf1.placeholder(tf.float32, [None, N_INPUTS])}
    features = {key: tf.expand_dims(tensor, -1) for key, tensor in feature_placeholders.items()}
    features[TIMESERIES_COL] = tf.squeeze(features[TIMESERIES_COL], axis=[2])
    return tfe.export.ServingInputReceiver(features, feature_placeholders)


def _sine_waves(path, n, seed):
    rng = np.random.RandomState(seed)
    frequency, phase = rng.uniform(0.1, 0.5, (n, 1)), rng.uniform(0, 6, (n, 1))
    waves = np.sin(frequency * np.arange(SEQ_LEN) + phase)
    path.write_text("\n".join(",".join("%.4f" % v for v in row) for row in waves) + "\n")
    return waves.astype(np.float32)


@pytest.mark.parametrize(
    "model",
    [
        "static_lstm",
        "keras_lstm",
        pytest.param("rnn", marks=pytest.mark.slow),
        pytest.param("rnn2", marks=pytest.mark.slow),
    ],
)
def test_sequence_regressor_with_recurrent_model_fns(tmp_path, model):
    _sine_waves(tmp_path / "train-1.csv", 300, 0)
    _sine_waves(tmp_path / "train-2.csv", 300, 2)
    valid = _sine_waves(tmp_path / "valid.csv", 100, 1)
    tf1.summary.FileWriterCache.clear()
    hparams = {"model": model, "learning_rate": 0.05, "train_steps": 120, "min_eval_frequency": 600}
    estimator = tfe.Estimator(
        model_fn=_sequence_regressor,
        params=hparams,
        config=tfe.RunConfig(save_checkpoints_secs=hparams["min_eval_frequency"], tf_random_seed=5),
        model_dir=str(tmp_path / "model"),
    )
    train_spec = tfe.TrainSpec(
        input_fn=_read_dataset(str(tmp_path / "train-*.csv"), tfe.ModeKeys.TRAIN, 64),
        max_steps=hparams["train_steps"],
    )
    exporter = tfe.LatestExporter("exporter", _sequence_serving_input_fn)
    eval_spec = tfe.EvalSpec(
        input_fn=_read_dataset(str(tmp_path / "valid.csv"), tfe.ModeKeys.EVAL, 1000),
        steps=None,
        exporters=exporter,
        start_delay_secs=0,
        throttle_secs=hparams["min_eval_frequency"],
    )
    metrics, exports = tfe.train_and_evaluate(estimator, train_spec, eval_spec)
    assert set(metrics) == {"RMSE", "RMSE_same_as_last", "loss", "global_step"}
    assert metrics["RMSE"] < 0.75 * metrics["RMSE_same_as_last"]  # better than repeating the last value

    served = programs.serve(exports[0].decode(), "predictions", {TIMESERIES_COL: valid[:5, :N_INPUTS]})
    predicted = estimator.predict(
        tfe.inputs.numpy_input_fn({TIMESERIES_COL: valid[:5, :N_INPUTS]}, shuffle=False),
        predict_keys="predicted",
    )
    np.testing.assert_allclose(served["predicted"], [p["predicted"] for p in predicted], atol=1e-5)
