"""tfe.experimental.RNNClassifier / RNNEstimator on sequences whose label depends on the order of
their steps: learning, tf.estimator 2.15's metric and prediction keys, the exported signatures
against predict(), sequential (per-step) predictions, and argument checks."""

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from estimator.canned import rnn
from tests.estimator import models
from tests.estimator.keys import BINARY_METRICS, BINARY_PREDICTIONS

v1 = tf.compat.v1
fc = v1.feature_column

MAX_LENGTH = 6
TOKENS = ["a", "b", "c", "x", "y"]
SEQUENCE_KEYS = ("price", "tok")  # the other features are per example (context)


def _monotone(n, seed):
    """Sequences of 3..6 values, sorted up (label 1) or down (label 0): the same values
    either way, so only their order tells the label. float32 [n, 6] padded, lengths, labels."""
    rng = np.random.RandomState(seed)
    lengths = rng.randint(3, MAX_LENGTH + 1, n)
    values = np.zeros((n, MAX_LENGTH), np.float32)
    labels = rng.randint(0, 2, n).astype(np.int64)
    for i, length in enumerate(lengths):
        sorted_values = np.sort(rng.uniform(-1, 1, length))
        values[i, :length] = sorted_values if labels[i] else sorted_values[::-1]
    return values, lengths, labels


def _first_token(n, seed):
    """Token sequences of 2..6 whose label is the first token (a, b or c); later tokens
    are drawn from all five, so the set of tokens does not tell the label."""
    rng = np.random.RandomState(seed)
    lengths = rng.randint(2, MAX_LENGTH + 1, n)
    tokens = np.full((n, MAX_LENGTH), "", dtype=object)
    labels = rng.choice(TOKENS[:3], n)
    for i, length in enumerate(lengths):
        tokens[i, 0] = labels[i]
        tokens[i, 1:length] = rng.choice(TOKENS, length - 1)
    return tokens.astype(str), lengths, labels


def _sparse(padded, lengths):
    return tf.RaggedTensor.from_tensor(padded, lengths=lengths).to_sparse()


def _input(features, lengths, labels=None, repeat=False, batch_size=32):
    """An input_fn of {key: SparseTensor [batch, time]} for SEQUENCE_KEYS, dense Tensors for the others."""

    def input_fn():
        data = tf.data.Dataset.from_tensor_slices(
            (features, lengths, labels if labels is not None else lengths)
        )
        if repeat:
            data = data.shuffle(1000, seed=0).repeat()

        def to_features(batch, batch_lengths, batch_labels):
            out = {
                key: _sparse(value, batch_lengths) if key in SEQUENCE_KEYS else value
                for key, value in batch.items()
            }
            return (out, batch_labels) if labels is not None else out

        return data.batch(batch_size).map(to_features)

    return input_fn


TRAIN_X, TRAIN_LEN, TRAIN_Y = _monotone(1000, 0)
EVAL_X, EVAL_LEN, EVAL_Y = _monotone(300, 1)
PRICE = fc.sequence_numeric_column("price")


@pytest.fixture(scope="module")
def binary_rnn(tmp_path_factory):
    est = tfe.experimental.RNNClassifier(
        sequence_feature_columns=[PRICE],
        units=[16],
        cell_type="lstm",
        model_dir=str(tmp_path_factory.mktemp("binary_rnn")),
        config=models.seeded_config(),
    )
    est.train(_input({"price": TRAIN_X}, TRAIN_LEN, TRAIN_Y, repeat=True), steps=300)
    return est


def test_rnn_classifier_learns_order_with_tf_estimator_keys(binary_rnn):
    metrics = binary_rnn.evaluate(_input({"price": EVAL_X}, EVAL_LEN, EVAL_Y))
    assert set(metrics) == BINARY_METRICS
    assert metrics["global_step"] == 300
    assert metrics["accuracy"] >= 0.95
    assert metrics["auc"] >= 0.98
    predictions = list(binary_rnn.predict(_input({"price": EVAL_X[:8]}, EVAL_LEN[:8])))
    assert set(predictions[0]) == BINARY_PREDICTIONS
    assert [int(p["class_ids"][0]) for p in predictions] == EVAL_Y[:8].tolist()
    names = set(binary_rnn.get_variable_names())
    assert {"rnn_model/logits/kernel", "rnn_model/logits/bias", "rnn_model/rnn/lstm_cell/kernel"} <= names
    # The string optimizer: Adagrad at tf.estimator's RNN learning rate 0.05.
    assert binary_rnn.get_variable_value("training/Adagrad/learning_rate") == pytest.approx(0.05)


def _serialized(values, lengths):
    rows = []
    for row, length in zip(values, lengths, strict=True):
        feature = {"price": tf.train.Feature(float_list=tf.train.FloatList(value=row[:length].tolist()))}
        rows.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return tf.constant(rows)


def test_rnn_classifier_export_serves_what_predict_returns(binary_rnn, tmp_path):
    spec = tf.feature_column.make_parse_example_spec([PRICE])  # the v1 function takes no sequence column
    path = binary_rnn.export_saved_model(
        str(tmp_path / "export"), tfe.export.build_parsing_serving_input_receiver_fn(spec)
    )
    loaded = tf.saved_model.load(path.decode())
    assert set(loaded.signatures) == {"serving_default", "classification", "regression", "predict"}
    expected = models.stack_predictions(
        list(binary_rnn.predict(_input({"price": EVAL_X[:8]}, EVAL_LEN[:8], batch_size=3)))
    )
    examples = _serialized(EVAL_X[:8], EVAL_LEN[:8])
    served = loaded.signatures["predict"](examples=examples)
    assert set(served) == BINARY_PREDICTIONS
    for key in ("logits", "probabilities", "class_ids"):
        np.testing.assert_allclose(served[key].numpy(), expected[key], rtol=1e-4, atol=1e-5)
    classified = loaded.signatures["classification"](inputs=examples)
    np.testing.assert_allclose(classified["scores"].numpy(), expected["probabilities"], rtol=1e-4, atol=1e-5)


def test_multi_class_rnn_with_vocabulary_embedding_and_context(tmp_path):
    tokens, lengths, labels = _first_token(600, 2)
    eval_tokens, eval_lengths, eval_labels = _first_token(200, 3)
    rng = np.random.RandomState(4)
    context, eval_context = rng.rand(600, 1).astype(np.float32), rng.rand(200, 1).astype(np.float32)
    column = fc.embedding_column(fc.sequence_categorical_column_with_vocabulary_list("tok", TOKENS), 4)
    est = tfe.experimental.RNNClassifier(
        sequence_feature_columns=[column],
        context_feature_columns=[fc.numeric_column("ctx")],
        units=[16],
        cell_type="gru",
        n_classes=3,
        label_vocabulary=TOKENS[:3],
        optimizer="Adam",
        model_dir=str(tmp_path),
        config=models.seeded_config(),
    )
    est.train(_input({"tok": tokens, "ctx": context}, lengths, labels, repeat=True), steps=150)
    metrics = est.evaluate(_input({"tok": eval_tokens, "ctx": eval_context}, eval_lengths, eval_labels))
    assert set(metrics) == {"accuracy", "average_loss", "loss", "global_step"}
    assert metrics["accuracy"] >= 0.95
    prediction = next(
        est.predict(_input({"tok": eval_tokens[:4], "ctx": eval_context[:4]}, eval_lengths[:4]))
    )
    assert set(prediction) == BINARY_PREDICTIONS - {"logistic"}
    assert prediction["all_classes"].tolist() == [b"a", b"b", b"c"]
    assert prediction["classes"][0].decode() == eval_labels[0]
    names = set(est.get_variable_names())
    assert {"rnn_model/rnn/gru_cell/kernel", "sequence_features/tok_embedding/embedding_weights"} <= names


def test_return_sequences_predicts_every_step(tmp_path):
    """Per-step labels (has token "a" appeared yet?) as a SparseTensor; loss and metrics over
    the unpadded steps; predictions of every step plus the "sequence_mask"."""
    tokens, lengths, _ = _first_token(600, 5)
    seen = np.cumsum(tokens == "a", axis=1) > 0
    step_labels = (seen & (np.arange(MAX_LENGTH) < lengths[:, None])).astype(np.int64)

    def input_fn(n, repeat=False):
        def fn():
            data = tf.data.Dataset.from_tensor_slices((tokens[:n], lengths[:n], step_labels[:n]))
            if repeat:
                data = data.shuffle(600, seed=0).repeat()
            return data.batch(32).map(lambda t, n, y: ({"tok": _sparse(t, n)}, _sparse(y, n)))

        return fn

    column = fc.embedding_column(fc.sequence_categorical_column_with_vocabulary_list("tok", TOKENS), 3)
    # An int `units` with the default cell_type: a tf_keras SimpleRNN layer.
    est = tfe.experimental.RNNClassifier(
        [column], units=8, return_sequences=True, model_dir=str(tmp_path), config=models.seeded_config()
    )
    est.train(input_fn(600, repeat=True), steps=200)
    metrics = est.evaluate(input_fn(200))
    assert set(metrics) == BINARY_METRICS
    assert metrics["accuracy"] >= 0.95
    # label/mean averages the unpadded steps only.
    steps = np.arange(MAX_LENGTH) < lengths[:200, None]
    assert metrics["label/mean"] == pytest.approx(step_labels[:200][steps].mean(), rel=1e-4)
    prediction = next(est.predict(input_fn(4)))
    assert set(prediction) == BINARY_PREDICTIONS | {"sequence_mask"}
    width = prediction["sequence_mask"].shape[0]
    assert prediction["sequence_mask"].tolist() == [i < lengths[0] for i in range(width)]
    assert prediction["class_ids"].shape == (width, 1)
    assert prediction["class_ids"][: lengths[0], 0].tolist() == step_labels[0, : lengths[0]].tolist()
    assert "rnn_model/simple_rnn/simple_rnn_cell/kernel" in est.get_variable_names()


def test_rnn_estimator_with_a_regression_head_and_rnn_cell_fn(tmp_path):
    def cells():
        return [tf.keras.layers.SimpleRNNCell(4), tf.keras.layers.SimpleRNNCell(3)]

    est = tfe.experimental.RNNEstimator(
        tfe.RegressionHead(),
        [PRICE],
        rnn_cell_fn=cells,
        optimizer=tf.keras.optimizers.legacy.Adam(0.01),
        model_dir=str(tmp_path),
        config=models.seeded_config(),
    )
    first = TRAIN_X[:, :1]
    est.train(_input({"price": TRAIN_X}, TRAIN_LEN, first, repeat=True), steps=5)
    metrics = est.evaluate(_input({"price": EVAL_X}, EVAL_LEN, EVAL_X[:, :1]))
    assert set(metrics) == {"average_loss", "label/mean", "prediction/mean", "loss", "global_step"}
    assert metrics["global_step"] == 5 and np.isfinite(metrics["average_loss"])
    names = set(est.get_variable_names())
    assert {"rnn_model/rnn/stacked_rnn_cells/simple_rnn_cell_1/kernel", "rnn_model/logits/kernel"} <= names


def test_argument_checks():
    with pytest.raises(ValueError, match="rnn_cell_fn"):
        tfe.experimental.RNNClassifier([PRICE], units=[4], rnn_cell_fn=lambda: tf.keras.layers.GRUCell(4))
    with pytest.raises(ValueError, match="units"):
        tfe.experimental.RNNClassifier([PRICE])
    with pytest.raises(ValueError, match="cell_type"):
        tfe.experimental.RNNClassifier([PRICE], units=[4], cell_type="tanh_rnn")
    with pytest.raises(ValueError, match="SequentialHeadWrapper"):
        tfe.experimental.RNNEstimator(tfe.RegressionHead(), [PRICE], units=[4], return_sequences=True)
    with pytest.raises(TypeError, match="feature_columns"):
        tfe.experimental.RNNClassifier(
            [PRICE], units=[4], return_sequences=True, weight_column=fc.numeric_column("w")
        )
    assert rnn.USE_DEFAULT is not None and repr(rnn.USE_DEFAULT) == "USE_DEFAULT"
