"""tfe.experimental.call_logit_fn, dnn_logit_fn_builder and linear_logit_fn_builder: in a custom
model_fn with a head, learning a small problem, under tf.estimator's variable names and summaries."""

import os

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from tests.estimator import models

v1 = tf.compat.v1
fc = v1.feature_column
COLORS = ["red", "green", "blue"]


def _data(n, seed):
    rng = np.random.RandomState(seed)
    x = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    color = rng.choice(COLORS, (n, 1))
    score = 2 * x[:, 0] - x[:, 1] + 1.5 * (color[:, 0] == "red") - 0.5
    return {"x": x, "color": color}, np.digitize(score, [-0.8, 0.8]).astype(np.int64)


TRAIN, TRAIN_Y = _data(512, 0)
EVAL, EVAL_Y = _data(256, 1)
COLOR = fc.categorical_column_with_vocabulary_list("color", COLORS)


def _train_input():
    return tf.data.Dataset.from_tensor_slices((TRAIN, TRAIN_Y)).shuffle(512, seed=0).repeat().batch(32)


def _eval_input():
    return tf.data.Dataset.from_tensor_slices((EVAL, EVAL_Y)).batch(128)


def _summary_tags(model_dir):
    tags = set()
    for path in tf.io.gfile.glob(os.path.join(model_dir, "events.out.tfevents.*")):
        for event in v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_call_logit_fn_passes_the_arguments_the_logit_fn_names():
    seen = {}

    def logit_fn(features, mode, config):
        seen.update(mode=mode, config=config)
        return features["x"]

    features = {"x": tf.constant([[1.0]])}
    assert tfe.experimental.call_logit_fn(logit_fn, features, "train", {"p": 1}, "cfg") is features["x"]
    assert seen == {"mode": "train", "config": "cfg"}
    params_only = tfe.experimental.call_logit_fn(
        lambda features, params: {"a": features["x"] * params["p"]}, features, "eval", {"p": 2.0}, None
    )
    assert set(params_only) == {"a"}
    with pytest.raises(ValueError, match="logit_fn should return a Tensor"):
        tfe.experimental.call_logit_fn(lambda features: [features["x"]], features, "train", None, None)
    with pytest.raises(ValueError, match="logit_fn should return a Tensor"):
        tfe.experimental.call_logit_fn(lambda features: {1: features["x"]}, features, "train", None, None)


def _dnn_model_fn(features, labels, mode, params, config):
    head = tfe.MultiClassHead(3)
    with v1.variable_scope("dnn"):
        logit_fn = tfe.experimental.dnn_logit_fn_builder(
            units=head.logits_dimension,
            hidden_units=[16, 8],
            feature_columns=[fc.numeric_column("x", shape=(2,)), fc.embedding_column(COLOR, 2)],
            activation_fn=tf.nn.relu,
            dropout=0.1,
            input_layer_partitioner=None,
            batch_norm=params["batch_norm"],
        )
        logits = tfe.experimental.call_logit_fn(logit_fn, features, mode, params, config)
    return head.create_estimator_spec(
        features=features,
        mode=mode,
        labels=labels,
        logits=logits,
        optimizer=tf.keras.optimizers.legacy.Adagrad(params["learning_rate"]),
        trainable_variables=v1.trainable_variables(),
        update_ops=v1.get_collection(v1.GraphKeys.UPDATE_OPS),
    )


def test_dnn_logit_fn_in_a_model_fn(tmp_path):
    params = {"learning_rate": 0.3, "batch_norm": False}
    est = tfe.Estimator(_dnn_model_fn, str(tmp_path), config=models.seeded_config(), params=params)
    est.train(_train_input, steps=200)
    metrics = est.evaluate(_eval_input)
    assert set(metrics) == {"accuracy", "average_loss", "loss", "global_step"}
    assert metrics["accuracy"] >= 0.85
    names = set(est.get_variable_names())
    assert {
        "dnn/hiddenlayer_0/kernel",
        "dnn/hiddenlayer_1/bias",
        "dnn/logits/kernel",
        "dnn/input_from_feature_columns/input_layer/color_embedding/embedding_weights",
    } <= names
    tags = _summary_tags(est.model_dir)
    assert {"dnn/hiddenlayer_1/fraction_of_zero_values", "dnn/logits/activation"} <= tags
    with pytest.raises(ValueError, match="units must be an int"):
        tfe.experimental.dnn_logit_fn_builder(2.0, [4], [], tf.nn.relu, None, None, False)


def test_dnn_logit_fn_batch_norm_updates_reach_the_update_ops_collection(tmp_path):
    params = {"learning_rate": 0.3, "batch_norm": True}
    est = tfe.Estimator(_dnn_model_fn, str(tmp_path), config=models.seeded_config(), params=params)
    est.train(_train_input, steps=5)
    moving_mean = est.get_variable_value("dnn/hiddenlayer_0/batchnorm_0/moving_mean")
    assert moving_mean.shape == (16,)
    assert np.any(moving_mean != 0)  # the moving averages moved


def _linear_model_fn(features, labels, mode):
    head = tfe.MultiClassHead(3)
    with v1.variable_scope("linear"):
        logit_fn = tfe.experimental.linear_logit_fn_builder(
            head.logits_dimension, [fc.numeric_column("x", shape=(2,)), COLOR], sparse_combiner="sqrtn"
        )
        logits = tfe.experimental.call_logit_fn(logit_fn, features, mode, None, None)
    return head.create_estimator_spec(
        features=features,
        mode=mode,
        labels=labels,
        logits=logits,
        optimizer=v1.train.FtrlOptimizer(0.3),
        trainable_variables=v1.trainable_variables(),
    )


def test_linear_logit_fn_in_a_model_fn(tmp_path):
    est = tfe.Estimator(_linear_model_fn, str(tmp_path), config=models.seeded_config())
    est.train(_train_input, steps=200)
    metrics = est.evaluate(_eval_input)
    assert metrics["accuracy"] >= 0.85
    names = set(est.get_variable_names())
    assert {
        "linear/linear_model/bias_weights",
        "linear/linear_model/x/weights",
        "linear/linear_model/color/weights",
    } <= names
    # In the caller's name scope, as tf.estimator's logit_fn wrote them.
    assert {"linear/bias", "linear/fraction_of_zero_weights"} <= _summary_tags(est.model_dir)
    with pytest.raises(ValueError, match="sparse_combiner"):
        tfe.experimental.linear_logit_fn_builder(1, [COLOR], sparse_combiner="max")
