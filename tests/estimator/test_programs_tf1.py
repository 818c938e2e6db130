"""Public TF1-style tf.estimator programs, ported with the import rename only, run here.

Each test is one public program rewritten compactly on tiny synthetic data, with the
original's API surface and call patterns: a bank-marketing wide & deep program on
pandas_input_fn with TF1 optimizers and add_metrics, early stopping with
stop_if_no_decrease_hook, and TF1 programs that call tf.compat.v1.disable_v2_behavior()
first.

Besides the rename (`tf.estimator` -> `tfe`, `tf.` -> `tf.compat.v1.` in TF1 code),
the ports change only what TensorFlow itself removed; each such change is marked
"port:" where it happens. The programs' own string formatting (%, str.format) is kept.
"""

# ruff: noqa: UP031, UP032

import glob
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import estimator as tfe

tf1 = tf.compat.v1


# --------------------------------------- bank marketing wide & deep on pandas (TF1 optimizers)
def test_pandas_input_fn_wide_deep_with_tf1_optimizers_and_add_metrics(tmp_path):
    rng = np.random.RandomState(0)
    n = 300
    data = pd.DataFrame(
        {
            "age": rng.randint(18, 70, n).astype(np.float64),
            "job": rng.choice(["admin", "blue-collar", "technician"], n),
            "euribor3m": rng.rand(n) * 5,
            "poutcome": rng.choice(["success", "failure", "nonexistent"], n),
        }
    )
    data["y"] = ((data.euribor3m < 2.5) ^ (data.poutcome == "success")).astype(np.int64)
    train, test = data[:240], data[240:]
    features_list, label = ["age", "job", "euribor3m", "poutcome"], "y"

    age = tf1.feature_column.numeric_column("age")
    euribor3m = tf1.feature_column.numeric_column("euribor3m")
    job = tf1.feature_column.categorical_column_with_vocabulary_list(
        "job", ["admin", "blue-collar", "technician"]
    )
    poutcome = tf1.feature_column.categorical_column_with_vocabulary_list(
        "poutcome", ["success", "failure", "nonexistent"]
    )
    euribor_buckets = tf1.feature_column.bucketized_column(euribor3m, [1, 2, 2.5, 3, 4])
    wide_columns = [
        job, poutcome, euribor_buckets,
        tf1.feature_column.crossed_column([euribor_buckets, poutcome], hash_bucket_size=1000),
    ]  # fmt: skip
    deep_columns = [
        age, euribor3m, tf1.feature_column.indicator_column(job), tf1.feature_column.indicator_column(poutcome)
    ]  # fmt: skip

    def input_fn(data_set, num_epochs=1, shuffle=True):
        return tfe.inputs.pandas_input_fn(
            x=pd.DataFrame({k: data_set[k].values for k in features_list}),
            y=pd.Series(data_set[label].values),
            num_epochs=num_epochs,
            shuffle=shuffle,
        )

    def my_metrics(labels, predictions):
        pred_values = predictions["class_ids"]
        return {
            "precision": tf1.metrics.precision(labels, pred_values),
            "recall": tf1.metrics.recall(labels, pred_values),
            "mpcAccuracy": tf1.metrics.mean_per_class_accuracy(
                labels, tf.reshape(pred_values, [-1]), num_classes=2
            ),
        }

    run_config = tfe.RunConfig(save_checkpoints_secs=60, keep_checkpoint_max=3, tf_random_seed=1)
    run_config = run_config.replace(session_config=tf1.ConfigProto(device_count={"GPU": 0}))
    estimator = tfe.DNNLinearCombinedClassifier(
        model_dir=str(tmp_path),
        n_classes=2,
        linear_optimizer=tf1.train.FtrlOptimizer(
            learning_rate=0.1, learning_rate_power=-0.5, l1_regularization_strength=0.01,
            l2_regularization_strength=0.01, use_locking=False, l2_shrinkage_regularization_strength=0.0,
        ),
        dnn_optimizer=tf1.train.AdagradOptimizer(learning_rate=0.1),
        linear_feature_columns=wide_columns,
        dnn_feature_columns=deep_columns,
        dnn_activation_fn=tf.nn.relu,
        dnn_dropout=0.1,
        dnn_hidden_units=[16, 8],
        config=run_config,
    )  # fmt: skip
    estimator = tfe.add_metrics(estimator, my_metrics)
    for _ in range(2):  # train_epochs // epochs_per_eval
        estimator.train(input_fn=input_fn(train, num_epochs=6))
        results = estimator.evaluate(input_fn=input_fn(test, shuffle=False))
    assert {"precision", "recall", "mpcAccuracy", "auc", "accuracy"} <= set(results)
    assert results["global_step"] == 2 * 12  # 240 rows, 6 epochs, pandas_input_fn's batch of 128
    assert results["auc"] > 0.75 and results["mpcAccuracy"] > 0.6


# -------------------------------------------------------------------------- early stopping
def test_early_stopping_with_stop_if_no_decrease_hook_in_train_and_evaluate(tmp_path):
    def model_fn(features, labels, mode):
        logits = tf1.layers.dense(features["x"], 1)
        loss = tf1.losses.mean_squared_error(labels, logits)
        train_op = tf1.train.GradientDescentOptimizer(0.0).minimize(
            loss, tf1.train.get_global_step()
        )  # a plateau
        return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op, predictions={"y": logits})

    x = np.random.RandomState(0).randn(64, 2).astype(np.float32)
    y = x.sum(1, keepdims=True)
    estimator = tfe.Estimator(model_fn, str(tmp_path), config=tfe.RunConfig(save_checkpoints_steps=10))
    os.makedirs(estimator.eval_dir())  # TF 1.13's early stopping needed it; harmless here
    early_stopping = tfe.experimental.stop_if_no_decrease_hook(
        estimator,
        metric_name="loss",
        max_steps_without_decrease=20,
        min_steps=0,
        run_every_secs=None,
        run_every_steps=5,
    )
    train_spec = tfe.TrainSpec(
        tfe.inputs.numpy_input_fn({"x": x}, y, batch_size=16, num_epochs=None, shuffle=True),
        max_steps=1000,
        hooks=[early_stopping],
    )
    eval_spec = tfe.EvalSpec(tfe.inputs.numpy_input_fn({"x": x}, y, shuffle=False), throttle_secs=0)
    metrics, _ = tfe.train_and_evaluate(estimator, train_spec, eval_spec)
    assert 20 < metrics["global_step"] <= 40  # stopped 20 steps after the best (first) evaluation


# ------------------------------------------- TF1 programs that call disable_v2_behavior() first
_TF1_PROGRAM = """
import numpy as np
import tensorflow.compat.v1 as tf
import tf_keras

import estimator as tfe

tf.disable_v2_behavior()  # the TF1 -> TF2 migration's first line: graph mode, ref variables
rng = np.random.RandomState(0)
x = rng.randn(200, 4).astype(np.float32)
y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
train = tfe.inputs.numpy_input_fn({"x": x}, y, batch_size=20, num_epochs=None, shuffle=True)
test = tfe.inputs.numpy_input_fn({"x": x}, y, shuffle=False)

# A canned Estimator: its Keras optimizer needs resource variables, which it makes itself.
columns = [tf.feature_column.numeric_column("x", shape=[4])]
dnn = tfe.DNNClassifier([8], columns, model_dir=MODEL_DIR + "/dnn", optimizer=tf_keras.optimizers.legacy.Adagrad(0.1))
dnn.train(train, steps=100)
print("dnn", dnn.evaluate(test)["accuracy"])
linear = tfe.LinearClassifier(columns, model_dir=MODEL_DIR + "/linear")
linear.train(train, steps=100)
print("linear", linear.evaluate(test)["accuracy"])
baseline = tfe.BaselineClassifier(model_dir=MODEL_DIR + "/baseline", n_classes=2)
baseline.train(train, steps=20)
print("baseline", baseline.evaluate(test)["accuracy"])  # the prior: about 0.5

# A custom model_fn with ref variables and a TF1 optimizer, exported with a placeholder made at top level.
def model_fn(features, labels, mode):
    logits = tf.layers.dense(features["x"], 2)
    predictions = {"class_ids": tf.argmax(logits, 1)}
    if mode == tfe.ModeKeys.PREDICT:
        return tfe.EstimatorSpec(mode, predictions=predictions)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.train.AdamOptimizer(0.1).minimize(loss, tf.train.get_global_step())
    metrics = {"accuracy": tf.metrics.accuracy(labels, predictions["class_ids"])}
    return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=metrics)
custom = tfe.Estimator(model_fn, MODEL_DIR + "/custom")
custom.train(train, steps=100)
print("custom", custom.evaluate(test)["accuracy"])
placeholder = tf.placeholder(tf.float32, [None, 4])
custom.export_savedmodel(MODEL_DIR + "/export", tfe.export.build_raw_serving_input_receiver_fn({"x": placeholder}))

# model_to_estimator: tf_keras compiles with its graph (v1) engine.
model = tf_keras.Sequential([tf_keras.layers.Dense(2, activation="softmax", input_shape=(4,), name="out")])
model.compile(tf_keras.optimizers.legacy.SGD(lr=0.5, decay=1e-6), "sparse_categorical_crossentropy", ["accuracy"])
keras_est = tfe.model_to_estimator(keras_model=model, model_dir=MODEL_DIR + "/keras")
keras_est.train(tfe.inputs.numpy_input_fn({"out_input": x}, y, batch_size=20, num_epochs=None, shuffle=True), steps=100)
print("keras", keras_est.evaluate(tfe.inputs.numpy_input_fn({"out_input": x}, y, shuffle=False))["accuracy"])
"""


@pytest.mark.slow
def test_tf1_programs_run_after_disable_v2_behavior(tmp_path):
    program = f"MODEL_DIR = {str(tmp_path)!r}\n" + textwrap.dedent(_TF1_PROGRAM)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=root, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    names = ("dnn", "linear", "baseline", "custom", "keras")
    accuracies = {
        line.split()[0]: float(line.split()[1])
        for line in result.stdout.splitlines()
        if line.split()[0] in names
    }
    assert set(accuracies) == set(names)
    assert all(accuracies[name] > 0.8 for name in names if name != "baseline"), accuracies
    assert len(glob.glob(str(tmp_path / "export" / "*" / "saved_model.pb"))) == 1
