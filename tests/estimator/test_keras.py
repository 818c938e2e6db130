"""model_to_estimator: tf_keras models trained, evaluated, predicted and exported by the Estimator.

Keras builds its graph-mode classes when the Estimator clones a model, which
leaves models made earlier unusable for eager `predict` (as with tf.estimator
2.15): the tests take the Keras model's own predictions first, or make a new
model afterwards.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe
from estimator.keras import FormattedKeyError

SEED = 3


def _data(n=96, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 4).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _sequential():
    tf_keras.utils.set_random_seed(SEED)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Dense(8, activation="relu", input_shape=(4,)),
            tf_keras.layers.BatchNormalization(),
            tf_keras.layers.Dropout(0.1),
            tf_keras.layers.Dense(2, activation="softmax"),
        ]
    )
    # Non-default batch-norm statistics: warm-starting must carry non-trainable weights too.
    bn = model.layers[1]
    bn.set_weights(
        [bn.gamma.numpy(), bn.beta.numpy(), np.full(8, 0.3, np.float32), np.full(8, 2.0, np.float32)]
    )
    return model


def _variable_names(model):
    return [w.name.split(":")[0] for w in model.weights]


def _weights_from(est, names):
    """The weights of these variables in the estimator's newest checkpoint."""
    return [est.get_variable_value(name) for name in names]


def _config(**kwargs):
    return tfe.RunConfig(
        tf_random_seed=SEED, save_checkpoints_steps=1000, log_step_count_steps=None, **kwargs
    )


def test_sequential_model_warm_starts_trains_evaluates_predicts_and_exports(tmp_path):
    x, y = _data()
    model = _sequential()
    model.compile(
        optimizer=tf_keras.optimizers.legacy.Adam(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", tf_keras.metrics.SparseCategoricalCrossentropy(name="xent")],
    )
    keras_predictions = model.predict(x, verbose=0)
    names, (input_name,), (output_name,) = _variable_names(model), model.input_names, model.output_names
    est = tfe.model_to_estimator(model, model_dir=str(tmp_path / "m"), config=_config())
    assert (tmp_path / "m" / "keras" / "keras_model.ckpt.index").exists()

    def predict(estimator=est):
        fn = tfe.inputs.numpy_input_fn(x, batch_size=40, shuffle=False)
        return np.stack([p[output_name] for p in estimator.predict(fn)])

    # No checkpoint yet: the Keras model's weights, batch-norm statistics included.
    np.testing.assert_allclose(predict(), keras_predictions, atol=1e-5)

    est.train(tfe.inputs.numpy_input_fn({input_name: x}, y, batch_size=16, num_epochs=4, shuffle=True))
    assert est.get_variable_value("global_step") == 24  # 4 epochs of 96 rows, 16 a batch
    moving_mean = est.get_variable_value(names[4])
    assert not np.allclose(moving_mean, 0.3)  # the batch-norm updates ran with each step

    results = est.evaluate(tfe.inputs.numpy_input_fn(x, y, batch_size=96, shuffle=False))
    assert sorted(results) == ["accuracy", "global_step", "loss", "xent"]
    trained = predict()
    expected_loss = -np.mean(np.log(trained[np.arange(len(y)), y]))
    assert results["loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert results["xent"] == pytest.approx(expected_loss, rel=1e-4)
    assert results["accuracy"] == pytest.approx(np.mean(trained.argmax(1) == y))
    assert results["accuracy"] > 0.85

    # The checkpoint's weights in a Keras model give the estimator's predictions.
    fresh = _sequential()
    fresh.set_weights(_weights_from(est, names))
    np.testing.assert_allclose(fresh.predict(x, verbose=0), trained, atol=1e-5)

    receiver = tfe.export.build_raw_serving_input_receiver_fn({input_name: tf.zeros([1, 4])})
    export_dir = est.export_saved_model(str(tmp_path / "export"), receiver)
    serving = tf.saved_model.load(export_dir.decode()).signatures["serving_default"]
    np.testing.assert_allclose(
        serving(**{input_name: tf.constant(x)})[output_name].numpy(), trained, atol=1e-5
    )


def _functional(compiled=True, optimizer="sgd"):
    tf_keras.utils.set_random_seed(SEED)
    a = tf_keras.Input((4,), name="a")
    b = tf_keras.Input((2,), name="b")
    hidden = tf_keras.layers.Dense(8, activation="tanh", name="hidden")(tf_keras.layers.concatenate([a, b]))
    cls = tf_keras.layers.Dense(2, activation="softmax", name="cls")(hidden)
    reg = tf_keras.layers.Dense(1, name="reg", kernel_regularizer=tf_keras.regularizers.l2(0.01))(hidden)
    model = tf_keras.Model([a, b], [cls, reg])
    if compiled:
        model.compile(
            optimizer=optimizer,
            loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
            loss_weights={"cls": 1.0, "reg": 0.5},
            metrics={"cls": ["accuracy"], "reg": ["mae", tf_keras.metrics.MeanSquaredError()]},
        )
    return model


def _multi_io_data():
    x, y = _data()
    features = {"a": x, "b": x[:, :2] * 2}
    labels = {"cls": y, "reg": (x[:, :1] - x[:, 1:2]).astype(np.float32)}
    return features, labels


def test_functional_multi_io_model_uses_the_compiled_loss_metrics_and_optimizer(tmp_path):
    features, labels = _multi_io_data()
    model = _functional(optimizer=tf.compat.v1.train.AdamOptimizer(0.05))
    before = model.predict([features["a"], features["b"]], verbose=0)
    names = _variable_names(model)
    est = tfe.model_to_estimator(
        model,
        config=_config(model_dir=str(tmp_path / "m")),
        metric_names_map={"cls_accuracy": "acc", "reg_mae": "mae", "reg_mean_squared_error": "mse"},
    )
    eval_fn = tfe.inputs.numpy_input_fn(features, labels, batch_size=96, shuffle=False)
    first = est.evaluate(eval_fn)
    assert sorted(first) == ["acc", "global_step", "loss", "mae", "mse"]
    predicted = list(est.predict(tfe.inputs.numpy_input_fn(features, batch_size=50, shuffle=False)))
    assert sorted(predicted[0]) == ["cls", "reg"] and len(predicted) == 96
    np.testing.assert_allclose(np.stack([p["cls"] for p in predicted]), before[0], atol=1e-5)

    est.train(
        tfe.inputs.numpy_input_fn(features, labels, batch_size=32, num_epochs=None, shuffle=True), steps=30
    )
    assert est.get_variable_value("global_step") == 30
    results = est.evaluate(eval_fn)
    assert results["loss"] < first["loss"]
    assert {key for key in est.get_variable_names() if "Adam" in key}  # the TF1 optimizer's slots

    # loss = cls cross-entropy + 0.5 x reg mse + the l2 penalty (all rows in one batch).
    out = list(est.predict(tfe.inputs.numpy_input_fn(features, batch_size=96, shuffle=False)))
    cls = np.stack([p["cls"] for p in out])
    reg = np.stack([p["reg"] for p in out])
    mse = np.mean((reg - labels["reg"]) ** 2)
    l2 = 0.01 * np.sum(est.get_variable_value("reg/kernel") ** 2)
    xent = -np.mean(np.log(cls[np.arange(96), labels["cls"]]))
    assert results["loss"] == pytest.approx(xent + 0.5 * mse + l2, rel=1e-4)
    assert results["mse"] == pytest.approx(mse, rel=1e-4)
    assert results["mae"] == pytest.approx(np.mean(np.abs(reg - labels["reg"])), rel=1e-4)
    assert results["acc"] == pytest.approx(np.mean(cls.argmax(1) == labels["cls"]))

    fresh = _functional(compiled=False)
    fresh.set_weights(_weights_from(est, names))
    fresh_cls, fresh_reg = fresh.predict([features["a"], features["b"]], verbose=0)
    np.testing.assert_allclose(fresh_cls, cls, atol=1e-5)
    np.testing.assert_allclose(fresh_reg, reg, atol=1e-5)


def test_metric_keys_are_keras_names_and_export_outputs_add_signatures(tmp_path):
    features, labels = _multi_io_data()
    est = tfe.model_to_estimator(
        _functional(), model_dir=str(tmp_path / "m"), export_outputs={"reg": tfe.export.RegressionOutput}
    )
    # A loss-weighted sum of the outputs' losses; Keras names: "<output>_<metric>".
    results = est.evaluate(tfe.inputs.numpy_input_fn(features, labels, batch_size=48, shuffle=False))
    assert sorted(results) == ["cls_accuracy", "global_step", "loss", "reg_mae", "reg_mean_squared_error"]
    bad_map = tfe.model_to_estimator(
        _functional(), model_dir=str(tmp_path / "n"), metric_names_map={"x": "y"}
    )
    with pytest.raises(ValueError, match="Invalid `metric_names_map`"):
        bad_map.evaluate(tfe.inputs.numpy_input_fn(features, labels, batch_size=48, shuffle=False))

    spec = {"a": tf.io.FixedLenFeature([4], tf.float32), "b": tf.io.FixedLenFeature([2], tf.float32)}
    receiver = tfe.export.build_parsing_serving_input_receiver_fn(spec)
    export_dir = est.export_saved_model(
        str(tmp_path / "export"), receiver
    )  # no checkpoint: the Keras weights
    signatures = tf.saved_model.load(export_dir.decode()).signatures
    assert sorted(signatures) == ["reg", "serving_default"]
    with pytest.raises(FormattedKeyError, match="Missed keys"):
        tfe.model_to_estimator(
            _functional(), model_dir=str(tmp_path / "o"), export_outputs={"nope": tfe.export.RegressionOutput}
        ).export_saved_model(str(tmp_path / "export2"), receiver)


def test_an_uncompiled_model_predicts_but_cannot_train_or_evaluate(tmp_path):
    features, labels = _multi_io_data()
    model = _functional(compiled=False)
    keras_cls, _ = model.predict([features["a"], features["b"]], verbose=0)
    est = tfe.model_to_estimator(model, model_dir=str(tmp_path))
    out = est.predict(
        tfe.inputs.numpy_input_fn(features, batch_size=96, shuffle=False), yield_single_examples=False
    )
    np.testing.assert_allclose(next(out)["cls"], keras_cls, atol=1e-5)
    train_fn = tfe.inputs.numpy_input_fn(features, labels, batch_size=32, shuffle=False)
    with pytest.raises(ValueError, match="has not been compiled yet"):
        est.train(train_fn, steps=1)
    with pytest.raises(ValueError, match="has not been compiled yet"):
        est.evaluate(train_fn)


def test_a_saved_model_file_sample_weights_and_input_errors(tmp_path):
    x, y = _data()
    model = _sequential()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # converted to a legacy Adam
    path = str(tmp_path / "model.h5")
    model.save(path)
    keras_predictions = model.predict(x, verbose=0)
    (input_name,), (output_name,) = model.input_names, model.output_names
    est = tfe.model_to_estimator(keras_model_path=path, model_dir=str(tmp_path / "m"))
    out = est.predict(tfe.inputs.numpy_input_fn(x, batch_size=96, shuffle=False), yield_single_examples=False)
    np.testing.assert_allclose(next(out)[output_name], keras_predictions, atol=1e-5)

    # {"features", "sample_weights"}: as in Keras, the weighted sum over the batch size.
    def weighted_input_fn():
        weights = (np.arange(96) < 48).astype(np.float32)
        features = {"features": tf.constant(x), "sample_weights": tf.constant(weights)}
        return tf.data.Dataset.from_tensors((features, tf.constant(y)))

    half = est.evaluate(weighted_input_fn)
    first_half = est.evaluate(tfe.inputs.numpy_input_fn(x[:48], y[:48], batch_size=48, shuffle=False))
    assert half["loss"] == pytest.approx(first_half["loss"] * 48 / 96, rel=1e-5)

    est.train(tfe.inputs.numpy_input_fn(x, y, batch_size=32, shuffle=True), steps=2)
    assert est.get_variable_value("global_step") == 2
    with pytest.raises(FormattedKeyError, match=rf"features keys(.|\n)*Missed keys: \{{'{input_name}'\}}"):
        est.train(tfe.inputs.numpy_input_fn({"wrong": x}, y, batch_size=32, shuffle=False), steps=1)


def test_model_to_estimator_argument_errors(tmp_path):
    model = _functional()
    with pytest.raises(ValueError, match="Either"):
        tfe.model_to_estimator()
    with pytest.raises(ValueError, match="not both"):
        tfe.model_to_estimator(keras_model=model, keras_model_path=str(tmp_path))
    with pytest.raises(ValueError, match="Checkpoint format must be one of"):
        tfe.model_to_estimator(model, checkpoint_format="object")
    with pytest.raises(ValueError, match="`model_dir` are set both in constructor and `RunConfig`"):
        tfe.model_to_estimator(
            model, model_dir=str(tmp_path / "a"), config=tfe.RunConfig(model_dir=str(tmp_path))
        )
    with pytest.raises(TypeError, match="tf_keras Model"):
        tfe.model_to_estimator(keras_model=object())
    # "checkpoint" (object-based in 2.15) is accepted; checkpoints stay name-based here.
    est = tfe.model_to_estimator(model, model_dir=str(tmp_path / "c"), checkpoint_format="checkpoint")
    assert "hidden/kernel" in {name for name, _ in tf.train.list_variables(str(tmp_path / "c" / "keras"))}
    assert est.model_dir == str(tmp_path / "c")


class _Subclassed(tf_keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = tf_keras.layers.Dense(4, activation="relu")
        self.out = tf_keras.layers.Dense(2, activation="softmax")

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {}


def test_a_subclassed_model_is_rebuilt_from_its_config_and_keyed_output_1(tmp_path):
    x, y = _data(32)
    model = _Subclassed()
    model.compile(optimizer=tf_keras.optimizers.legacy.SGD(0.1), loss="sparse_categorical_crossentropy")
    est = tfe.model_to_estimator(model, model_dir=str(tmp_path))
    est.train(tfe.inputs.numpy_input_fn(x, y, batch_size=8, shuffle=True), steps=2)
    assert est.get_variable_value("global_step") == 2
    (first, *_) = est.predict(tfe.inputs.numpy_input_fn(x, batch_size=8, shuffle=False))
    assert list(first) == ["output_1"] and first["output_1"].shape == (2,)
