"""Canned Estimators on a small synthetic problem: learning, metric and prediction keys,
exported signatures against predict(), optimizers and their default learning rates."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe
from estimator.canned import linear, optimizers
from tests.estimator import models
from tests.estimator.keys import BINARY_METRICS, BINARY_PREDICTIONS, MULTI_CLASS_PREDICTIONS

v1 = tf.compat.v1
fc = v1.feature_column

CITIES = ["paris", "rome", "oslo", "lima"]
COLORS = ["red", "green", "blue"]


def _data(n, seed):
    """Features x (2 floats), age, color, city, id; a score that they determine."""
    rng = np.random.RandomState(seed)
    x = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    age = rng.uniform(18, 80, (n, 1)).astype(np.float32)
    color = rng.choice(COLORS, (n, 1))
    city = rng.choice(CITIES, (n, 1))
    score = 2 * x[:, 0] - x[:, 1] + 1.5 * (color[:, 0] == "red") - 1.5 * (city[:, 0] == "oslo")
    score += 1.0 * (age[:, 0] > 50) - 0.6
    features = {"x": x, "age": age, "color": color, "city": city, "w": np.ones((n, 1), np.float32)}
    return features, score.astype(np.float32)


TRAIN, TRAIN_SCORE = _data(512, 0)
EVAL, EVAL_SCORE = _data(256, 1)
LABELS = {
    "binary": (TRAIN_SCORE > 0).astype(np.int64),
    "multi": np.digitize(TRAIN_SCORE, [-0.7, 0.7]).astype(np.int64),
    "regression": TRAIN_SCORE,
}
EVAL_LABELS = {
    "binary": (EVAL_SCORE > 0).astype(np.int64),
    "multi": np.digitize(EVAL_SCORE, [-0.7, 0.7]).astype(np.int64),
    "regression": EVAL_SCORE,
}


def _train_input(labels, batch_size=32):
    def input_fn():
        data = tf.data.Dataset.from_tensor_slices((TRAIN, labels))
        return data.shuffle(512, seed=0).repeat().batch(batch_size)

    return input_fn


def _eval_input(labels):
    return lambda: tf.data.Dataset.from_tensor_slices((EVAL, labels)).batch(128)


def _predict_input(n=8):
    return lambda: tf.data.Dataset.from_tensor_slices({k: v[:n] for k, v in EVAL.items()}).batch(4)


@pytest.fixture(scope="module")
def columns(tmp_path_factory):
    """Numeric, bucketized, vocabulary list and file, embedding, indicator, hashed and crossed columns."""
    vocab = tmp_path_factory.mktemp("vocab") / "cities.txt"
    vocab.write_text("\n".join(CITIES) + "\n")
    x = fc.numeric_column("x", shape=(2,))
    age = fc.bucketized_column(fc.numeric_column("age"), boundaries=[30.0, 50.0, 65.0])
    color = fc.categorical_column_with_vocabulary_list("color", COLORS)
    city = fc.categorical_column_with_vocabulary_file("city", str(vocab), vocabulary_size=len(CITIES))
    color_hash = fc.categorical_column_with_hash_bucket("color", 10)
    return {
        "vocab_file": vocab,
        "dnn": [x, fc.indicator_column(age), fc.embedding_column(color, 3), fc.indicator_column(city)],
        # A cross of a raw string key hashes a dense and a sparse (parsed) feature differently
        # (TensorFlow's sparse_cross puts sparse inputs first): cross the vocabulary column.
        "linear": [x, age, color_hash, city, fc.crossed_column([color, age], hash_bucket_size=30)],
    }


def _serialized(features, n):
    """n rows of features as serialized tf.Examples."""
    rows = []
    for i in range(n):
        feature = {}
        for key, values in features.items():
            value = values[i].ravel()
            if value.dtype.kind in "US":
                feature[key] = tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[v.encode() for v in value])
                )
            else:
                feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=value.tolist()))
        rows.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return tf.constant(rows)


def _export_and_load(est, columns, tmp_path, vocab_file=None):
    """Exports with a tf.Example parsing receiver; deletes the vocabulary file before
    loading, so the SavedModel must carry it as an asset."""
    spec = fc.make_parse_example_spec(columns)
    path = est.export_saved_model(
        str(tmp_path / "export"), tfe.export.build_parsing_serving_input_receiver_fn(spec)
    )
    if vocab_file is not None and vocab_file.exists():
        vocab_file.rename(str(vocab_file) + ".moved")
    try:
        return tf.saved_model.load(path.decode())
    finally:
        if vocab_file is not None and os.path.exists(str(vocab_file) + ".moved"):
            os.rename(str(vocab_file) + ".moved", vocab_file)


@pytest.fixture(scope="module")
def binary_dnn(columns, tmp_path_factory):
    """A DNNClassifier with string labels and a weight column, trained in two calls
    with one tf_keras optimizer instance."""
    labels = np.where(LABELS["binary"] == 1, "yes", "no")
    est = tfe.DNNClassifier(
        hidden_units=[16, 8],
        feature_columns=columns["dnn"],
        model_dir=str(tmp_path_factory.mktemp("binary_dnn")),
        label_vocabulary=["no", "yes"],
        weight_column="w",
        optimizer=tf_keras.optimizers.legacy.Adagrad(learning_rate=0.3),
        config=models.seeded_config(),
    )
    est.train(_train_input(labels), steps=100)
    est.train(_train_input(labels), steps=100)
    return est


def test_dnn_classifier_learns_and_reports_tf_estimator_keys(binary_dnn):
    eval_labels = np.where(EVAL_LABELS["binary"] == 1, "yes", "no")
    metrics = binary_dnn.evaluate(_eval_input(eval_labels))
    assert set(metrics) == BINARY_METRICS
    assert metrics["global_step"] == 200
    assert metrics["accuracy"] >= 0.9
    assert metrics["auc"] >= 0.95
    assert metrics["accuracy"] > metrics["accuracy_baseline"]
    predictions = list(binary_dnn.predict(_predict_input()))
    assert set(predictions[0]) == BINARY_PREDICTIONS
    assert {p["classes"][0] for p in predictions} <= {b"no", b"yes"}
    assert predictions[0]["all_classes"].tolist() == [b"no", b"yes"]
    names = binary_dnn.get_variable_names()
    assert {"dnn/hiddenlayer_0/kernel", "dnn/hiddenlayer_1/bias", "dnn/logits/kernel"} <= set(names)
    assert "dnn/input_from_feature_columns/input_layer/color_embedding/embedding_weights" in names


def test_dnn_classifier_export_serves_what_predict_returns(binary_dnn, columns, tmp_path):
    loaded = _export_and_load(binary_dnn, columns["dnn"], tmp_path, columns["vocab_file"])
    assert set(loaded.signatures) == {"serving_default", "classification", "regression", "predict"}
    expected = models.stack_predictions(list(binary_dnn.predict(_predict_input())))
    examples = _serialized(EVAL, 8)
    served = loaded.signatures["predict"](examples=examples)
    assert set(served) == BINARY_PREDICTIONS
    for key in ("logits", "probabilities", "class_ids"):
        np.testing.assert_allclose(served[key].numpy(), expected[key], rtol=1e-5, atol=1e-6)
    assert served["classes"].numpy().tolist() == expected["classes"].tolist()
    classified = loaded.signatures["classification"](inputs=examples)
    np.testing.assert_allclose(classified["scores"].numpy(), expected["probabilities"], rtol=1e-5)
    assert classified["classes"].numpy().tolist() == [[b"no", b"yes"]] * 8
    default = loaded.signatures["serving_default"](inputs=examples)
    np.testing.assert_allclose(default["scores"].numpy(), expected["probabilities"], rtol=1e-5)
    regressed = loaded.signatures["regression"](inputs=examples)
    np.testing.assert_allclose(regressed["outputs"].numpy(), expected["logistic"], rtol=1e-5)


def test_dnn_classifier_summaries(binary_dnn):
    tags = set()
    for path in tf.io.gfile.glob(os.path.join(binary_dnn.model_dir, "events.out.tfevents.*")):
        for event in v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    assert {"loss", "dnn/hiddenlayer_0/fraction_of_zero_values", "dnn/logits/activation"} <= tags


def test_multi_class_dnn_and_its_classification_signature(columns, tmp_path):
    est = tfe.DNNClassifier(
        [16],
        columns["dnn"],
        model_dir=str(tmp_path / "m"),
        n_classes=3,
        optimizer=lambda: tf_keras.optimizers.legacy.Adam(0.02),
        batch_norm=True,
        dropout=0.1,
        config=models.seeded_config(),
    )
    est.train(_train_input(LABELS["multi"]), steps=200)
    metrics = est.evaluate(_eval_input(EVAL_LABELS["multi"]))
    assert set(metrics) == {"accuracy", "average_loss", "loss", "global_step"}
    assert metrics["accuracy"] >= 0.8
    assert "dnn/hiddenlayer_0/batchnorm_0/moving_mean" in est.get_variable_names()
    expected = models.stack_predictions(list(est.predict(_predict_input())))
    assert set(expected) == MULTI_CLASS_PREDICTIONS
    assert expected["all_class_ids"][0].tolist() == [0, 1, 2]
    loaded = _export_and_load(est, columns["dnn"], tmp_path)
    assert set(loaded.signatures) == {"serving_default", "classification", "predict"}
    classified = loaded.signatures["classification"](inputs=_serialized(EVAL, 8))
    np.testing.assert_allclose(classified["scores"].numpy(), expected["probabilities"], rtol=1e-5, atol=1e-6)
    assert classified["classes"].numpy()[0].tolist() == [b"0", b"1", b"2"]


def test_dnn_regressor_and_its_regression_signature(columns, tmp_path):
    est = tfe.DNNRegressor(
        [16],
        columns["dnn"],
        model_dir=str(tmp_path / "m"),
        optimizer=v1.train.AdamOptimizer(0.02),
        config=models.seeded_config(),
    )
    est.train(_train_input(LABELS["regression"]), steps=200)
    metrics = est.evaluate(_eval_input(EVAL_LABELS["regression"]))
    assert set(metrics) == {"average_loss", "label/mean", "prediction/mean", "loss", "global_step"}
    assert metrics["average_loss"] < 0.1 * float(np.var(EVAL_SCORE))
    assert metrics["label/mean"] == pytest.approx(float(EVAL_SCORE.mean()), rel=1e-4)
    expected = models.stack_predictions(list(est.predict(_predict_input())))
    assert set(expected) == {"predictions"}
    loaded = _export_and_load(est, columns["dnn"], tmp_path)
    assert set(loaded.signatures) == {"serving_default", "regression", "predict"}
    regressed = loaded.signatures["regression"](inputs=_serialized(EVAL, 8))
    np.testing.assert_allclose(regressed["outputs"].numpy(), expected["predictions"], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_linear_classifier_and_regressor(columns, tmp_path):
    classifier = tfe.LinearClassifier(
        columns["linear"], model_dir=str(tmp_path / "c"), config=models.seeded_config()
    )
    classifier.train(_train_input(LABELS["binary"]), steps=200)
    metrics = classifier.evaluate(_eval_input(EVAL_LABELS["binary"]))
    assert set(metrics) == BINARY_METRICS
    assert metrics["accuracy"] >= 0.9
    names = set(classifier.get_variable_names())
    assert {"linear/linear_model/bias_weights", "linear/linear_model/city/weights"} <= names
    assert classifier.get_variable_value("training/Ftrl/learning_rate") == pytest.approx(
        0.2
    )  # 'Ftrl' by name

    regressor = tfe.LinearRegressor(
        columns["linear"],
        model_dir=str(tmp_path / "r"),
        optimizer=tf_keras.optimizers.legacy.Ftrl(0.5),
        config=models.seeded_config(),
    )
    regressor.train(_train_input(LABELS["regression"]), steps=200)
    metrics = regressor.evaluate(_eval_input(EVAL_LABELS["regression"]))
    assert metrics["average_loss"] < 0.15 * float(np.var(EVAL_SCORE))
    loaded = _export_and_load(regressor, columns["linear"], tmp_path, columns["vocab_file"])
    expected = models.stack_predictions(list(regressor.predict(_predict_input())))
    served = loaded.signatures["serving_default"](inputs=_serialized(EVAL, 8))
    np.testing.assert_allclose(served["outputs"].numpy(), expected["predictions"], rtol=1e-5, atol=1e-5)


def test_dnn_linear_combined_classifier(columns, tmp_path):
    classifier = tfe.DNNLinearCombinedClassifier(
        model_dir=str(tmp_path / "c"),
        linear_feature_columns=columns["linear"],
        linear_optimizer=tf_keras.optimizers.legacy.Ftrl(0.2),
        dnn_feature_columns=columns["dnn"],
        dnn_optimizer=tf_keras.optimizers.Adagrad(0.3),  # new-style: converted to its legacy twin
        dnn_hidden_units=[8],
        n_classes=3,
        config=models.seeded_config(),
    )
    classifier.train(_train_input(LABELS["multi"]), steps=200)
    metrics = classifier.evaluate(_eval_input(EVAL_LABELS["multi"]))
    assert set(metrics) == {"accuracy", "average_loss", "loss", "global_step"}
    assert metrics["global_step"] == 200
    assert metrics["accuracy"] >= 0.8
    names = set(classifier.get_variable_names())
    assert {"dnn/logits/kernel", "linear/linear_model/bias_weights"} <= names


def test_dnn_linear_combined_regressor_with_v1_optimizers(columns, tmp_path):
    regressor = tfe.DNNLinearCombinedRegressor(
        model_dir=str(tmp_path / "r"),
        linear_feature_columns=columns["linear"],
        linear_optimizer=v1.train.FtrlOptimizer(0.3),
        dnn_feature_columns=columns["dnn"],
        dnn_optimizer=v1.train.AdagradOptimizer(0.2),
        dnn_hidden_units=[8],
        config=models.seeded_config(),
    )
    regressor.train(_train_input(LABELS["regression"]), steps=200)
    metrics = regressor.evaluate(_eval_input(EVAL_LABELS["regression"]))
    assert metrics["global_step"] == 200
    assert metrics["average_loss"] < 0.15 * float(np.var(EVAL_SCORE))
    expected = models.stack_predictions(list(regressor.predict(_predict_input())))
    loaded = _export_and_load(regressor, columns["linear"] + columns["dnn"], tmp_path, columns["vocab_file"])
    served = loaded.signatures["predict"](examples=_serialized(EVAL, 8))
    np.testing.assert_allclose(served["predictions"].numpy(), expected["predictions"], rtol=1e-5, atol=1e-5)


def test_baselines_learn_the_prior_and_the_mean(tmp_path):
    classifier = tfe.BaselineClassifier(
        model_dir=str(tmp_path / "c"), n_classes=3, config=models.seeded_config()
    )
    classifier.train(_train_input(LABELS["multi"], batch_size=512), steps=100)
    probabilities = next(classifier.predict(_predict_input()))["probabilities"]
    prior = np.bincount(LABELS["multi"], minlength=3) / len(LABELS["multi"])
    np.testing.assert_allclose(probabilities, prior, atol=0.02)
    assert classifier.get_variable_names() == ["baseline/bias", "global_step"] + sorted(
        n for n in classifier.get_variable_names() if n.startswith("training/")
    )

    regressor = tfe.BaselineRegressor(
        model_dir=str(tmp_path / "r"), optimizer="SGD", config=models.seeded_config()
    )
    regressor.train(_train_input(LABELS["regression"], batch_size=512), steps=50)
    prediction = next(regressor.predict(_predict_input()))["predictions"]
    assert prediction[0] == pytest.approx(float(TRAIN_SCORE.mean()), abs=1e-3)
    assert regressor.get_variable_value("training/SGD/learning_rate") == pytest.approx(0.3)


def test_dnn_estimator_with_a_multi_label_head(columns, tmp_path):
    multi_hot = np.stack([LABELS["binary"], (TRAIN["color"][:, 0] == "red").astype(np.int64)], axis=1)
    est = tfe.DNNEstimator(
        tfe.MultiLabelHead(n_classes=2),
        [8],
        columns["dnn"],
        model_dir=str(tmp_path),
        optimizer=tf_keras.optimizers.legacy.Adagrad(0.3),
        config=models.seeded_config(),
    )
    est.train(lambda: tf.data.Dataset.from_tensor_slices((TRAIN, multi_hot)).repeat().batch(32), steps=200)
    metrics = est.evaluate(lambda: tf.data.Dataset.from_tensor_slices((TRAIN, multi_hot)).batch(256))
    assert set(metrics) == {"auc", "auc_precision_recall", "average_loss", "loss", "global_step"}
    assert metrics["auc"] >= 0.95
    assert set(next(est.predict(_predict_input()))) == {"logits", "probabilities", "classes"}


def test_linear_and_baseline_estimators_with_heads(columns, tmp_path):
    est = tfe.LinearEstimator(
        tfe.RegressionHead(label_dimension=2, name="two"), columns["linear"], model_dir=str(tmp_path / "lin")
    )
    two = np.stack([TRAIN_SCORE, -TRAIN_SCORE], axis=1)
    est.train(lambda: tf.data.Dataset.from_tensor_slices((TRAIN, two)).repeat().batch(32), steps=5)
    metrics = est.evaluate(lambda: tf.data.Dataset.from_tensor_slices((TRAIN, two)).batch(256))
    assert set(metrics) == {
        "average_loss/two",
        "label/mean/two",
        "prediction/mean/two",
        "loss",
        "global_step",
    }

    baseline = tfe.BaselineEstimator(tfe.PoissonRegressionHead(), model_dir=str(tmp_path / "base"))
    counts = np.round(np.exp(TRAIN_SCORE / 2)).astype(np.float32)
    baseline.train(lambda: tf.data.Dataset.from_tensor_slices((TRAIN, counts)).repeat().batch(32), steps=2)
    assert set(next(baseline.predict(_predict_input()))) == {"predictions", "logits"}


def test_dnn_linear_combined_estimator_default_optimizers(columns, tmp_path):
    est = tfe.DNNLinearCombinedEstimator(
        tfe.BinaryClassHead(),
        model_dir=str(tmp_path),
        linear_feature_columns=columns["linear"],
        dnn_feature_columns=columns["dnn"],
        dnn_hidden_units=[4],
    )
    est.train(_train_input(LABELS["binary"]), steps=1)
    assert est.get_variable_value("training/Adagrad/learning_rate") == pytest.approx(0.001)
    assert est.get_variable_value("training/Ftrl/learning_rate") == pytest.approx(min(0.005, 1 / 5**0.5))


def test_default_optimizers_and_learning_rates(columns, tmp_path):
    dnn = tfe.DNNClassifier(
        [4], columns["dnn"], model_dir=str(tmp_path / "dnn"), config=models.seeded_config()
    )
    dnn.train(_train_input(LABELS["binary"]), steps=1)
    # tf.estimator 2.15's v2 DNN Estimators: 'Adagrad' with Keras' default learning rate.
    assert dnn.get_variable_value("training/Adagrad/learning_rate") == pytest.approx(0.001)
    # optimizer=None: Ftrl at min(0.2, 1/sqrt(number of columns)).
    assert linear.default_optimizer([None] * 5).get_config()["learning_rate"] == pytest.approx(0.2)
    assert linear.default_optimizer([None] * 36).get_config()["learning_rate"] == pytest.approx(1 / 6)

    assert optimizers.get_optimizer_instance("Adagrad").get_config()["learning_rate"] == pytest.approx(0.001)
    assert optimizers.get_optimizer_instance("SGD", 0.3).get_config()["learning_rate"] == pytest.approx(0.3)
    v1_optimizer = v1.train.GradientDescentOptimizer(0.1)
    assert optimizers.get_optimizer_instance(lambda: v1_optimizer) is v1_optimizer
    converted = optimizers.to_legacy(tf_keras.optimizers.Adam(0.01))
    assert isinstance(converted, tf_keras.optimizers.legacy.Adam)
    assert converted.get_config()["learning_rate"] == pytest.approx(0.01)
    with tf.Graph().as_default(), pytest.raises(ValueError, match="legacy.Adam"):
        optimizers.get_optimizer_instance(lambda: tf_keras.optimizers.Adam(0.01))
    with pytest.raises(ValueError, match="optimizer name"):
        optimizers.get_optimizer_instance("Adadelta")
    with pytest.raises(ValueError, match="optimizer must be"):
        optimizers.get_optimizer_instance(object())
    with pytest.raises(ValueError, match="linear_feature_columns or dnn_feature_columns"):
        tfe.DNNLinearCombinedClassifier()


def test_warm_start_from_a_trained_canned_estimator(binary_dnn, columns, tmp_path):
    warm = tfe.DNNClassifier(
        [16, 8],
        columns["dnn"],
        model_dir=str(tmp_path / "warm"),
        label_vocabulary=["no", "yes"],
        optimizer=tf_keras.optimizers.legacy.SGD(0.0),
        warm_start_from=binary_dnn.model_dir,
        config=models.seeded_config(),
    )
    warm.train(_train_input(np.where(LABELS["binary"] == 1, "yes", "no")), steps=1)
    np.testing.assert_array_equal(
        warm.get_variable_value("dnn/logits/kernel"), binary_dnn.get_variable_value("dnn/logits/kernel")
    )


def test_add_metrics(binary_dnn):
    def metric_fn(labels, predictions, features):
        auc = tf_keras.metrics.AUC(name="my_auc")
        auc.update_state(y_true=tf.equal(labels, "yes"), y_pred=predictions["logistic"])
        return {"my_auc": auc, "mean_weight": v1.metrics.mean(features["w"])}

    extended = tfe.add_metrics(binary_dnn, metric_fn)
    assert extended.model_dir == binary_dnn.model_dir
    eval_labels = np.where(EVAL_LABELS["binary"] == 1, "yes", "no")
    metrics = extended.evaluate(_eval_input(eval_labels))
    assert set(metrics) == BINARY_METRICS | {"my_auc", "mean_weight"}
    assert metrics["my_auc"] == pytest.approx(metrics["auc"], abs=1e-3)
    assert metrics["mean_weight"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="metric_fn"):
        tfe.add_metrics(binary_dnn, lambda labels, mode: {})


def test_parse_example_specs(columns):
    spec = tfe.classifier_parse_example_spec(columns["dnn"], "label", weight_column="w")
    assert spec["label"] == tf.io.FixedLenFeature((1,), tf.int64)
    assert spec["w"] == tf.io.FixedLenFeature((1,), tf.float32)
    assert spec["x"] == tf.io.FixedLenFeature((2,), tf.float32)
    assert spec["color"] == tf.io.VarLenFeature(tf.string)
    spec = tfe.regressor_parse_example_spec(
        columns["linear"], "y", label_dimension=2, label_default=(0.0, 0.0)
    )
    assert spec["y"] == tf.io.FixedLenFeature((2,), tf.float32, (0.0, 0.0))
    with pytest.raises(ValueError, match="label_key"):
        tfe.classifier_parse_example_spec(columns["dnn"], "x")
    with pytest.raises(ValueError, match="weight_column"):
        tfe.classifier_parse_example_spec(columns["dnn"], "label", weight_column="age")
