"""Heads: losses against hand-computed numbers, weights, vocabularies, reductions, metrics, exports."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe
from estimator import export
from estimator.canned.metric_keys import MetricKeys
from estimator.canned.prediction_keys import PredictionKeys
from tests.estimator.keys import BINARY_HEAD_METRICS

v1 = tf.compat.v1
TRAIN, EVAL, PREDICT = tfe.ModeKeys.TRAIN, tfe.ModeKeys.EVAL, tfe.ModeKeys.PREDICT


def _init(session):
    session.run(
        [v1.global_variables_initializer(), v1.local_variables_initializer(), v1.tables_initializer()]
    )


def _spec_values(head, mode, logits, labels=None, features=None, **kwargs):
    """Builds head.create_estimator_spec in a new graph and returns (spec, session results).

    EVAL: runs every update op once and returns {"loss": ..., "metrics": {key: value}}.
    TRAIN: runs the train op once and returns loss, global step and summary tags.
    PREDICT: returns the predictions.
    """
    with tf.Graph().as_default():
        global_step = v1.train.get_or_create_global_step()
        features = features if features is not None else {"x": tf.zeros([len(logits), 1])}
        labels = None if labels is None else tf.constant(labels)
        spec = head.create_estimator_spec(
            features=features, mode=mode, logits=tf.constant(logits, tf.float32), labels=labels, **kwargs
        )
        with v1.Session() as session:
            _init(session)
            if mode == EVAL:
                session.run([update for _, update in spec.eval_metric_ops.values()])
                metrics = session.run({k: value for k, (value, _) in spec.eval_metric_ops.items()})
                return spec, {"loss": session.run(spec.loss), "metrics": metrics}
            if mode == TRAIN:
                summary = v1.Summary.FromString(session.run(v1.summary.merge_all()))
                loss, _ = session.run([spec.loss, spec.train_op])
                return spec, {
                    "loss": loss,
                    "global_step": session.run(global_step),
                    "summaries": {v.tag: v.simple_value for v in summary.value},
                }
            return spec, session.run(spec.predictions)


LOGITS_2 = np.array([[45.0], [-41.0]], np.float32)
LABELS_2 = np.array([[1], [1]], np.int64)


def test_binary_head_loss_and_metrics_match_hand_computed_values():
    # cross entropies 0 and 41; mean 20.5 (the tf.estimator 2.15 docstring example)
    spec, out = _spec_values(tfe.BinaryClassHead(), EVAL, LOGITS_2, LABELS_2)
    assert out["loss"] == pytest.approx(20.5)
    assert set(out["metrics"]) == BINARY_HEAD_METRICS
    expected = {
        "accuracy": 0.5,
        "accuracy_baseline": 1.0,
        "auc": 0.0,
        "auc_precision_recall": 1.0,
        "average_loss": 20.5,
        "label/mean": 1.0,
        "precision": 1.0,
        "prediction/mean": 0.5,
        "recall": 0.5,
    }
    assert {k: float(v) for k, v in out["metrics"].items()} == pytest.approx(expected, abs=1e-3)
    assert spec.export_outputs is None


@pytest.mark.parametrize(
    "reduction, expected",
    [
        ("sum_over_batch_size", (1 * 0 + 2 * 41) / 2),
        ("auto", (1 * 0 + 2 * 41) / 2),
        ("sum", 1 * 0 + 2 * 41),
        (v1.losses.Reduction.SUM_OVER_BATCH_SIZE, (1 * 0 + 2 * 41) / 2),
        (v1.losses.Reduction.SUM, 82.0),
        (v1.losses.Reduction.MEAN, 82.0 / 3),
        (v1.losses.Reduction.SUM_BY_NONZERO_WEIGHTS, 82.0 / 2),
    ],
)
def test_loss_reductions_with_example_weights(reduction, expected):
    head = tfe.BinaryClassHead(weight_column="w", loss_reduction=reduction)
    features = {"w": np.array([1.0, 2.0], np.float32)}  # rank 1: expanded to [batch, 1]
    with tf.Graph().as_default(), v1.Session() as session:
        loss = head.loss(tf.constant(LABELS_2), tf.constant(LOGITS_2), features=features)
        _init(session)
        assert session.run(loss) == pytest.approx(expected)
    assert head.loss_reduction == reduction


def test_weighted_average_loss_metric_and_weight_column_normalizer():
    weight = v1.feature_column.numeric_column("w", normalizer_fn=lambda w: w * 2.0)
    head = tfe.BinaryClassHead(weight_column=weight)
    _, out = _spec_values(
        head, EVAL, LOGITS_2, LABELS_2, features={"w": np.array([[0.5], [1.0]], np.float32)}
    )
    assert out["loss"] == pytest.approx((1 * 0 + 2 * 41) / 2)
    assert out["metrics"]["average_loss"] == pytest.approx(82.0 / 3)


def test_loss_reduction_none_and_unknown_names_are_refused():
    for bad in ("none", v1.losses.Reduction.NONE, "mean"):
        with pytest.raises(ValueError, match="loss_reduction"):
            tfe.BinaryClassHead(loss_reduction=bad)


def test_binary_head_label_vocabulary_thresholds_and_name():
    head = tfe.BinaryClassHead(label_vocabulary=["neg", "pos"], thresholds=[0.3, 0.7], name="h")
    labels = np.array([[b"pos"], [b"neg"]])
    _, out = _spec_values(head, EVAL, np.array([[2.0], [-1.0]], np.float32), labels)
    expected = math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))
    assert out["loss"] == pytest.approx(expected / 2, rel=1e-5)
    keys = set(out["metrics"])
    assert {f"{k}/h" for k in BINARY_HEAD_METRICS} <= keys
    assert "accuracy/positive_threshold_0.3/h" in keys and "recall/positive_threshold_0.7/h" in keys
    assert out["metrics"]["accuracy/h"] == 1.0
    _, predictions = _spec_values(head, PREDICT, np.array([[2.0], [-1.0]], np.float32))
    assert predictions["classes"].tolist() == [[b"pos"], [b"neg"]]
    assert predictions["all_classes"].tolist() == [[b"neg", b"pos"]] * 2


def test_labels_outside_the_vocabulary_or_range_fail_when_run():
    head = tfe.BinaryClassHead(label_vocabulary=["neg", "pos"])
    with pytest.raises(tf.errors.InvalidArgumentError):
        _spec_values(head, EVAL, LOGITS_2, np.array([[b"pos"], [b"maybe"]]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        _spec_values(tfe.BinaryClassHead(), EVAL, LOGITS_2, np.array([[1], [2]]))
    with pytest.raises(ValueError, match="label_vocabulary"):
        _spec_values(tfe.BinaryClassHead(), EVAL, LOGITS_2, np.array([[b"a"], [b"b"]]))


def test_binary_head_predictions_and_export_outputs():
    head = tfe.BinaryClassHead()
    spec, predictions = _spec_values(head, PREDICT, np.array([[0.0], [2.0]], np.float32))
    k = PredictionKeys
    assert set(predictions) == {
        k.LOGITS,
        k.LOGISTIC,
        k.PROBABILITIES,
        k.CLASS_IDS,
        k.CLASSES,
        k.ALL_CLASS_IDS,
        k.ALL_CLASSES,
    }
    logistic = 1 / (1 + math.exp(-2.0))
    np.testing.assert_allclose(
        predictions["probabilities"], [[0.5, 0.5], [1 - logistic, logistic]], rtol=1e-6
    )
    assert predictions["class_ids"].tolist() == [[0], [1]]
    assert predictions["classes"].tolist() == [[b"0"], [b"1"]]
    assert predictions["all_class_ids"].tolist() == [[0, 1], [0, 1]]
    outputs = spec.export_outputs
    assert set(outputs) == {"serving_default", "classification", "regression", "predict"}
    assert isinstance(outputs["serving_default"], export.ClassificationOutput)
    assert outputs["serving_default"] is outputs["classification"]
    assert isinstance(outputs["regression"], export.RegressionOutput)
    assert isinstance(outputs["predict"], export.PredictOutput)


def test_multi_class_head_loss_vocabulary_and_exports():
    logits = np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], np.float32)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(log_softmax[0, 1] + log_softmax[1, 1]) / 2  # about 5
    spec, out = _spec_values(tfe.MultiClassHead(3), EVAL, logits, np.array([[1], [1]]))
    assert out["loss"] == pytest.approx(expected, rel=1e-5)
    assert out["metrics"] == pytest.approx({"accuracy": 0.5, "average_loss": expected}, rel=1e-5)
    head = tfe.MultiClassHead(3, label_vocabulary=["a", "b", "c"], weight_column="w")
    features = {"w": np.array([[3.0], [1.0]], np.float32)}
    _, out = _spec_values(head, EVAL, logits, np.array([[b"b"], [b"b"]]), features=features)
    assert out["loss"] == pytest.approx(-(3 * log_softmax[0, 1] + log_softmax[1, 1]) / 2, rel=1e-5)
    assert out["metrics"]["accuracy"] == pytest.approx(0.25)
    spec, predictions = _spec_values(head, PREDICT, logits)
    assert predictions["classes"].tolist() == [[b"a"], [b"b"]]
    assert predictions["all_classes"].tolist() == [[b"a", b"b", b"c"]] * 2
    assert set(spec.export_outputs) == {"serving_default", "classification", "predict"}
    with pytest.raises(ValueError, match="n_classes"):
        tfe.MultiClassHead(2)
    with pytest.raises(ValueError, match="n_classes"):
        tfe.MultiClassHead(3, label_vocabulary=["a", "b"])


def test_multi_label_head_dense_and_sparse_labels_and_class_metrics():
    logits = np.array([[-10.0, 10.0], [-15.0, 10.0]], np.float32)
    # sigmoid cross entropy ~ [[10, 10], [15, 0]]: mean over classes then batch = 8.75
    _, out = _spec_values(tfe.MultiLabelHead(2, name="head1"), EVAL, logits, np.array([[1, 0], [1, 1]]))
    assert out["loss"] == pytest.approx(8.75, abs=1e-3)
    assert out["metrics"] == pytest.approx(
        {"average_loss/head1": 8.75, "auc/head1": 1 / 6, "auc_precision_recall/head1": 0.6023}, abs=1e-3
    )
    head = tfe.MultiLabelHead(
        2, label_vocabulary=["x", "y"], classes_for_class_based_metrics=["y"], thresholds=[0.5]
    )
    with tf.Graph().as_default(), v1.Session() as session:
        sparse = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], [b"x", b"x", b"y"], [2, 2])
        loss = head.loss(sparse, tf.constant(logits))
        _init(session)
        assert session.run(loss) == pytest.approx(8.75, abs=1e-3)
    with tf.Graph().as_default():
        metrics = head.metrics()
    assert set(metrics) == {
        "average_loss",
        "auc",
        "auc_precision_recall",
        "accuracy/positive_threshold_0.5",
        "precision/positive_threshold_0.5",
        "recall/positive_threshold_0.5",
        "probability_mean/y",
        "auc/y",
        "auc_precision_recall/y",
    }
    assert all(isinstance(m, tf_keras.metrics.Metric) for m in metrics.values())
    with pytest.raises(ValueError, match="label_vocabulary"):
        tfe.MultiLabelHead(2, classes_for_class_based_metrics=["y"])


def test_regression_heads():
    logits = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    labels = np.array([[2.0, 2.0], [3.0, 1.0]], np.float32)
    head = tfe.RegressionHead(label_dimension=2, weight_column="w")
    features = {"w": np.array([[1.0, 0.0], [1.0, 2.0]], np.float32)}  # per-label-dimension weights
    spec, out = _spec_values(head, EVAL, logits, labels, features=features)
    assert out["loss"] == pytest.approx((1 * 1 + 0 * 0 + 1 * 0 + 2 * 9) / 4)
    assert set(out["metrics"]) == {"average_loss", "label/mean", "prediction/mean"}
    assert out["metrics"]["average_loss"] == pytest.approx(19 / 4)
    spec, predictions = _spec_values(head, PREDICT, logits)
    assert set(predictions) == {"predictions"}
    assert set(spec.export_outputs) == {"serving_default", "regression", "predict"}
    assert isinstance(spec.export_outputs["serving_default"], export.RegressionOutput)

    z, logit = 3.0, 0.5
    stirling = z * math.log(z) - z + 0.5 * math.log(2 * math.pi * z)
    _, out = _spec_values(tfe.PoissonRegressionHead(), EVAL, np.array([[logit]], np.float32), np.array([[z]]))
    assert out["loss"] == pytest.approx(math.exp(logit) - z * logit + stirling, rel=1e-5)
    _, predictions = _spec_values(tfe.PoissonRegressionHead(), PREDICT, np.array([[logit]], np.float32))
    assert predictions["predictions"][0, 0] == pytest.approx(math.exp(logit))
    assert predictions["logits"][0, 0] == pytest.approx(logit)

    _, out = _spec_values(
        tfe.LogisticRegressionHead(), EVAL, np.array([[0.0]], np.float32), np.array([[0.25]])
    )
    assert out["loss"] == pytest.approx(math.log(2.0), rel=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError):
        _spec_values(tfe.LogisticRegressionHead(), EVAL, np.array([[0.0]], np.float32), np.array([[1.5]]))


def test_custom_loss_fn_is_used_and_its_shape_checked():
    def absolute(labels, logits, features):
        del features
        return tf.abs(labels - logits)

    head = tfe.RegressionHead(loss_fn=absolute)
    _, out = _spec_values(head, EVAL, np.array([[1.0], [5.0]], np.float32), np.array([[2.0], [2.0]]))
    assert out["loss"] == pytest.approx(2.0)

    def reduced(labels, logits):
        return tf.reduce_sum(labels - logits, keepdims=True)

    with pytest.raises(tf.errors.InvalidArgumentError, match="loss_fn must return"):
        _spec_values(tfe.RegressionHead(loss_fn=reduced), EVAL, np.ones([2, 1], np.float32), np.ones([2, 1]))
    with pytest.raises(ValueError, match="loss_fn"):
        tfe.BinaryClassHead(loss_fn=lambda labels, logits, weights: labels)


def test_label_shape_and_logits_dimension_mismatches_are_caught_while_building():
    with pytest.raises(ValueError, match="logits shape"):
        _spec_values(tfe.MultiClassHead(3), EVAL, np.zeros([2, 4], np.float32), np.array([[1], [1]]))
    with pytest.raises(ValueError, match="last dimension 2"):
        _spec_values(
            tfe.RegressionHead(label_dimension=2), EVAL, np.zeros([2, 2], np.float32), np.zeros([2, 3])
        )
    with pytest.raises(ValueError, match="labels must be given"):
        _spec_values(tfe.BinaryClassHead(), EVAL, LOGITS_2, None)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: tf_keras.optimizers.legacy.SGD(0.1),
        lambda: v1.train.GradientDescentOptimizer(0.1),
    ],
)
def test_train_mode_steps_the_optimizer_and_writes_the_loss_summary(make_optimizer):
    with tf.Graph().as_default():
        global_step = v1.train.get_or_create_global_step()
        w = v1.get_variable("w", initializer=[[1.0]])
        logits = tf.matmul(tf.constant([[1.0], [2.0]]), w)
        head = tfe.RegressionHead(name="r")
        spec = head.create_estimator_spec(
            features={},
            mode=TRAIN,
            logits=logits,
            labels=tf.constant([[2.0], [4.0]]),
            optimizer=make_optimizer(),
            trainable_variables=[w],
            regularization_losses=[tf.constant(0.5)],
        )
        with v1.Session() as session:
            _init(session)
            summary = v1.Summary.FromString(session.run(v1.summary.merge_all()))
            loss, _ = session.run([spec.loss, spec.train_op])
            # squared errors 1 and 4, mean 2.5, plus 0.5 regularization
            assert loss == pytest.approx(3.0)
            assert session.run(global_step) == 1
            assert session.run(w)[0, 0] > 1.0
    assert {v.tag: v.simple_value for v in summary.value} == pytest.approx(
        {"loss/r": 3.0, "regularization_loss/r": 0.5}
    )


def test_train_mode_needs_exactly_one_of_optimizer_and_train_op_fn():
    head = tfe.BinaryClassHead()
    with pytest.raises(ValueError, match="not both"):
        _spec_values(
            head,
            TRAIN,
            LOGITS_2,
            LABELS_2,
            optimizer=tf_keras.optimizers.legacy.SGD(),
            train_op_fn=lambda loss: tf.no_op(),
            trainable_variables=[],
        )
    with pytest.raises(ValueError, match="both are None"):
        _spec_values(head, TRAIN, LOGITS_2, LABELS_2)
    spec, out = _spec_values(
        head, TRAIN, LOGITS_2, LABELS_2, train_op_fn=lambda loss: v1.assign_add(v1.train.get_global_step(), 1)
    )
    assert out["global_step"] == 1
    assert out["summaries"] == pytest.approx({"loss": 20.5})


def test_multi_head_merges_losses_metrics_predictions_and_exports():
    head1 = tfe.MultiLabelHead(n_classes=2, name="head1")
    head2 = tfe.MultiLabelHead(n_classes=3, name="head2")
    multi = tfe.MultiHead([head1, head2], head_weights=[1.0, 2.0])
    assert multi.name == "head1_head2" and multi.logits_dimension == 5
    logits = np.array([[-10.0, 10.0, 20.0, -20.0, 20.0], [-15.0, 10.0, -30.0, 20.0, -20.0]], np.float32)
    labels = {"head1": np.array([[1, 0], [1, 1]]), "head2": np.array([[0, 1, 0], [1, 1, 0]])}
    with tf.Graph().as_default():
        v1.train.get_or_create_global_step()
        spec = multi.create_estimator_spec(features={}, mode=EVAL, logits=tf.constant(logits), labels=labels)
        with v1.Session() as session:
            _init(session)
            session.run([u for _, u in spec.eval_metric_ops.values()])
            loss, metrics = session.run([spec.loss, {k: v for k, (v, _) in spec.eval_metric_ops.items()}])
    assert loss == pytest.approx(8.75 + 2 * 15.0, abs=1e-3)
    assert metrics["loss/head1"] == pytest.approx(8.75, abs=1e-3)
    assert metrics["average_loss/head2"] == pytest.approx(15.0, abs=1e-3)
    assert {"auc/head1", "auc_precision_recall/head2"} <= set(metrics)
    with tf.Graph().as_default():
        spec = multi.create_estimator_spec(features={}, mode=PREDICT, logits=tf.constant(logits))
    assert set(spec.predictions) == {
        (h, k) for h in ("head1", "head2") for k in ("logits", "probabilities", "classes")
    }
    assert set(spec.export_outputs) == {
        "serving_default",
        "head1",
        "head1/classification",
        "head1/predict",
        "head2",
        "head2/classification",
        "head2/predict",
        "predict",
    }
    assert "head2/probabilities" in spec.export_outputs["predict"].outputs
    with pytest.raises(ValueError, match="name"):
        tfe.MultiHead([tfe.BinaryClassHead()])


def test_multi_head_trains_one_model_on_the_weighted_sum_of_losses():
    multi = tfe.MultiHead(
        [tfe.RegressionHead(name="a"), tfe.BinaryClassHead(name="b")], head_weights=[1.0, 0.5]
    )
    with tf.Graph().as_default():
        global_step = v1.train.get_or_create_global_step()
        w = v1.get_variable("w", initializer=[[0.0, 0.0]])
        logits = tf.matmul(tf.ones([2, 1]), w)  # split: column 0 for "a", column 1 for "b"
        labels = {"a": tf.constant([[1.0], [3.0]]), "b": tf.constant([[1], [0]])}
        spec = multi.create_estimator_spec(
            features={},
            mode=TRAIN,
            logits=logits,
            labels=labels,
            optimizer=tf_keras.optimizers.legacy.SGD(0.1),
            trainable_variables=[w],
        )
        with v1.Session() as session:
            _init(session)
            summary = v1.Summary.FromString(session.run(v1.summary.merge_all()))
            loss, _ = session.run([spec.loss, spec.train_op])
            assert session.run(global_step) == 1
    # "a": mean squared error (1 + 9) / 2 = 5; "b": cross entropy log 2 at logit 0, times 0.5
    assert loss == pytest.approx(5.0 + 0.5 * math.log(2.0), rel=1e-6)
    tags = {v.tag: v.simple_value for v in summary.value}
    assert tags == pytest.approx({"loss/a": 5.0, "loss/b": math.log(2.0), "loss": 5.0 + 0.5 * math.log(2.0)})


def test_head_interface_is_abstract():
    with pytest.raises(TypeError):
        tfe.Head()

    class Partial(tfe.Head):
        name = None
        logits_dimension = 1
        loss_reduction = "sum"

        def loss(self, labels, logits, features=None, mode=None, regularization_losses=None):
            return tf.reduce_sum(logits)

        def predictions(self, logits, keys=None):
            return {"logits": logits}

        def metrics(self, regularization_losses=None):
            return {}

        def update_metrics(
            self, eval_metrics, features, logits, labels, mode=None, regularization_losses=None
        ):
            return eval_metrics

    with pytest.raises(NotImplementedError):
        Partial().create_estimator_spec({}, PREDICT, tf.zeros([1, 1]))
    assert issubclass(tfe.BinaryClassHead, tfe.Head)


def test_metric_key_patterns():
    assert MetricKeys.ACCURACY_AT_THRESHOLD % 0.5 == "accuracy/positive_threshold_0.5"
    assert MetricKeys.AUC_AT_CLASS % 2 == "auc/class2"
    assert (MetricKeys.LOSS, MetricKeys.LOSS_MEAN) == ("loss", "average_loss")
