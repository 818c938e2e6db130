"""Real tf.estimator programs, ported with the import rename only, run on this runtime.

Each test is one public program rewritten compactly on tiny synthetic data, with
the original's API surface and call patterns (arguments, keyword names, how the
results are read and printed, how the export is served):

- TensorFlow's "Premade Estimators" and "Creating Custom Estimators" Iris guides
  (models/samples/core/get_started/{premade,custom}_estimator.py);
- TensorFlow's official r1 MNIST (official/r1/mnist/mnist.py);
- TensorFlow's official r1 wide & deep census tutorial (official/r1/wide_deep/);
- Cloud ML Engine's census trainer packages (cloudml-samples census/customestimator
  and census/estimator: trainer/task.py + trainer/model.py, TF_CONFIG, hyperparameter
  tuning);
- the TensorFlow workshop's MNIST / Fashion-MNIST custom Estimators with Keras layers
  (amygdala/tensorflow-workshop mnist_cnn_custom_estimator), and the "MNIST with
  Experiments and Estimators" blog post (TFRecords, train_and_evaluate);
- model_to_estimator programs (a named Sequential fed through numpy_input_fn, a
  Dataset-fed binary classifier);
- the Coursera / training-data-analyst sequence models (an LSTM "from a research
  paper" with static_rnn, GRU and stacked GRU with dynamic_rnn, a tf_keras LSTM);
- a bank-marketing wide & deep program on pandas_input_fn with TF1 optimizers and
  add_metrics, early stopping with stop_if_no_decrease_hook, and TF1 programs that
  call tf.compat.v1.disable_v2_behavior() first.

Besides the rename (`tf.estimator` -> `tfe`, `tf.` -> `tf.compat.v1.` in TF1 code),
the ports change only what TensorFlow itself removed; each such change is marked
"port:" where it happens. The programs' own string formatting (%, str.format) is kept.
"""

# ruff: noqa: UP031, UP032

import functools
import glob
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe

tf1 = tf.compat.v1
IRIS_COLUMNS = ["SepalLength", "SepalWidth", "PetalLength", "PetalWidth"]


# ------------------------------------------------------------------------------ helpers
def _serve(export_dir, signature, feeds, tags=("serve",)):
    """Runs one signature of a SavedModel as TF Serving (or saved_model_cli run) does: TF1 loader."""
    with tf.Graph().as_default(), tf1.Session() as session:
        meta_graph = tf1.saved_model.loader.load(session, list(tags), export_dir)
        signature_def = meta_graph.signature_def[signature]
        fetches = {key: info.name for key, info in signature_def.outputs.items()}
        return session.run(fetches, {signature_def.inputs[key].name: value for key, value in feeds.items()})


def _signatures(export_dir, tags=("serve",)):
    """{signature name: (sorted input keys, sorted output keys, method name)} of a SavedModel."""
    with tf.Graph().as_default(), tf1.Session() as session:
        meta_graph = tf1.saved_model.loader.load(session, list(tags), export_dir)
        return {
            name: (sorted(sig.inputs), sorted(sig.outputs), sig.method_name)
            for name, sig in meta_graph.signature_def.items()
        }


def _scalars(directory):
    """{tag: {step: value}} of the scalar summaries in a directory's event files."""
    out = {}
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def _example(**features):
    """A serialized tf.Example: ints, floats and strings by their Python type."""
    feature = {}
    for key, value in features.items():
        if isinstance(value, (str, bytes)):
            value = value.encode() if isinstance(value, str) else value
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        elif isinstance(value, float):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        else:
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _iris(n, seed):
    """Iris-like data: three well separated classes over the guide's four columns."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    x = (centers[y] + 0.15 * rng.randn(n, 4)).astype(np.float32)
    return pd.DataFrame(x, columns=IRIS_COLUMNS), pd.Series(y, name="Species")


def _digits(n, seed=0, size=64):
    """MNIST-like data: 10 noisy prototypes of `size` pixels; (images float32 [n, size], labels int32)."""
    rng = np.random.RandomState(seed)
    prototypes = np.random.RandomState(99).rand(10, size).astype(np.float32)
    labels = rng.randint(0, 10, n).astype(np.int32)
    return (prototypes[labels] + 0.1 * rng.randn(n, size)).astype(np.float32), labels


PREDICT_X = {
    "SepalLength": [5.1, 5.9, 6.9],
    "SepalWidth": [3.3, 3.0, 3.1],
    "PetalLength": [1.7, 4.2, 5.4],
    "PetalWidth": [0.5, 1.5, 2.1],
}


# ------------------------------------------------------- the Iris guides (premade, custom)
def _iris_train_input_fn(features, labels, batch_size):
    dataset = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    return dataset.shuffle(1000).repeat().batch(batch_size)


def _iris_eval_input_fn(features, labels, batch_size):
    features = dict(features)
    inputs = features if labels is None else (features, labels)
    return tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)


def test_premade_estimator_guide_dnn_classifier_on_iris(tmp_path):
    (train_x, train_y), (test_x, test_y) = _iris(120, 0), _iris(30, 1)
    my_feature_columns = [tf.feature_column.numeric_column(key=key) for key in train_x.keys()]
    classifier = tfe.DNNClassifier(
        feature_columns=my_feature_columns,
        hidden_units=[10, 10],
        n_classes=3,
        # The guide keeps the default optimizer ("Adagrad" at its default learning rate, 0.001, as in
        # tf.estimator 2.15), which needs thousands of steps; a TF2 Keras optimizer instance is converted.
        optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1),
        model_dir=str(tmp_path),
        config=tfe.RunConfig(tf_random_seed=1),
    )
    classifier.train(input_fn=lambda: _iris_train_input_fn(train_x, train_y, 32), steps=200)
    eval_result = classifier.evaluate(input_fn=lambda: _iris_eval_input_fn(test_x, test_y, 32))

    assert sorted(eval_result) == ["accuracy", "average_loss", "global_step", "loss"]
    printed = "\nTest set accuracy: {accuracy:0.3f}\n".format(**eval_result)
    assert float(printed.split(": ")[1]) > 0.9
    predictions = classifier.predict(input_fn=lambda: _iris_eval_input_fn(PREDICT_X, None, 32))
    printed = []
    for pred_dict, expected in zip(predictions, [0, 1, 2], strict=True):
        class_id = pred_dict["class_ids"][0]
        probability = pred_dict["probabilities"][class_id]
        printed.append('Prediction is "{}" ({:.1f}%)'.format(class_id, 100 * probability))
        assert class_id == expected and probability > 0.5
    assert len(printed) == 3


def _custom_iris_model(features, labels, mode, params):
    net = tf1.feature_column.input_layer(features, params["feature_columns"])
    for units in params["hidden_units"]:
        net = tf1.layers.dense(net, units=units, activation=tf.nn.relu)
    logits = tf1.layers.dense(net, params["n_classes"], activation=None)
    predicted_classes = tf.argmax(logits, 1)
    if mode == tfe.ModeKeys.PREDICT:
        predictions = {
            "class_ids": predicted_classes[:, tf.newaxis],
            "probabilities": tf.nn.softmax(logits),
            "logits": logits,
        }
        return tfe.EstimatorSpec(mode, predictions=predictions)
    onehot_labels = tf.one_hot(labels, 3, 1, 0)
    loss = tf1.losses.softmax_cross_entropy(onehot_labels=onehot_labels, logits=logits)
    accuracy = tf1.metrics.accuracy(labels=labels, predictions=predicted_classes, name="acc_op")
    metrics = {"accuracy": accuracy}
    tf1.summary.scalar("accuracy", accuracy[1])
    if mode == tfe.ModeKeys.EVAL:
        return tfe.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)
    assert mode == tfe.ModeKeys.TRAIN
    optimizer = tf1.train.AdagradOptimizer(learning_rate=0.1)
    train_op = optimizer.minimize(loss, global_step=tf1.train.get_global_step())
    return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_custom_estimator_guide_on_iris_with_tensorboard_and_a_default_export(tmp_path):
    (train_x, train_y), (test_x, test_y) = _iris(120, 0), _iris(30, 1)

    def train_input_fn(features, labels, batch_size):
        dataset = tf.data.Dataset.from_tensor_slices((dict(features), labels))
        dataset = dataset.shuffle(1000).repeat().batch(batch_size)
        # port: Dataset.make_one_shot_iterator() is gone from TF 2; the v1 function remains.
        return tf1.data.make_one_shot_iterator(dataset).get_next()

    def eval_input_fn(features, labels=None, batch_size=None):
        inputs = dict(features) if labels is None else (dict(features), labels)
        dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)
        return tf1.data.make_one_shot_iterator(dataset).get_next()

    my_feature_columns = [tf1.feature_column.numeric_column(key=key) for key in train_x.keys()]
    classifier = tfe.Estimator(
        model_fn=_custom_iris_model,
        model_dir=str(tmp_path / "model"),
        params={"feature_columns": my_feature_columns, "hidden_units": [10, 10], "n_classes": 3},
    )
    classifier.train(input_fn=lambda: train_input_fn(train_x, train_y, 32), steps=200)
    eval_result = classifier.evaluate(input_fn=lambda: eval_input_fn(test_x, test_y, 32))
    assert set(eval_result) == {"accuracy", "loss", "global_step"}
    assert eval_result["accuracy"] > 0.9 and eval_result["global_step"] == 200

    predictions = list(classifier.predict(input_fn=lambda: eval_input_fn(PREDICT_X, batch_size=32)))
    assert [p["class_ids"].shape for p in predictions] == [(1,)] * 3
    assert [int(p["class_ids"][0]) for p in predictions] == [0, 1, 2]

    # TensorBoard: the training summaries (the model_fn's accuracy, the loss, the step rate) and the
    # evaluation's, in model_dir and model_dir/eval.
    assert {"accuracy", "loss", "global_step/sec"} <= set(_scalars(classifier.model_dir))
    assert {"accuracy", "loss"} <= set(_scalars(classifier.eval_dir()))

    # Without export_outputs the export serves every prediction under "serving_default".
    receiver = tfe.export.build_raw_serving_input_receiver_fn(
        {key: tf.zeros([1], tf.float32) for key in IRIS_COLUMNS}
    )
    export_dir = classifier.export_saved_model(str(tmp_path / "export"), receiver)
    served = _serve(export_dir, "serving_default", {k: np.float32(v) for k, v in PREDICT_X.items()})
    assert sorted(served) == ["class_ids", "logits", "probabilities"]
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in predictions], atol=1e-6)


# ----------------------------------------------------------------- official r1 MNIST
LEARNING_RATE = 1e-2


def _create_mnist_model(data_format):
    # The original's conv net on 28x28 images, shrunk to 8x8 for speed.
    layers = tf.keras.layers
    max_pool = layers.MaxPooling2D((2, 2), (2, 2), padding="same", data_format=data_format)
    return tf.keras.Sequential(
        [
            layers.Reshape(target_shape=[8, 8, 1], input_shape=(8 * 8,)),
            layers.Conv2D(4, 3, padding="same", data_format=data_format, activation=tf.nn.relu),
            max_pool,
            layers.Flatten(),
            layers.Dense(32, activation=tf.nn.relu),
            layers.Dropout(0.4),
            layers.Dense(10),
        ]
    )


def _mnist_model_fn(features, labels, mode, params, create_model):
    model = create_model(params["data_format"])
    image = features
    if isinstance(image, dict):
        image = features["image"]
    if mode == tfe.ModeKeys.PREDICT:
        logits = model(image, training=False)
        predictions = {"classes": tf.argmax(logits, axis=1), "probabilities": tf.nn.softmax(logits)}
        return tfe.EstimatorSpec(
            mode=tfe.ModeKeys.PREDICT,
            predictions=predictions,
            export_outputs={"classify": tfe.export.PredictOutput(predictions)},
        )
    if mode == tfe.ModeKeys.TRAIN:
        optimizer = tf1.train.AdamOptimizer(learning_rate=LEARNING_RATE)
        logits = model(image, training=True)
        loss = tf1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
        accuracy = tf1.metrics.accuracy(labels=labels, predictions=tf.argmax(logits, axis=1))
        # Name tensors to be logged with LoggingTensorHook.
        tf.identity(LEARNING_RATE, "learning_rate")
        tf.identity(loss, "cross_entropy")
        tf.identity(accuracy[1], name="train_accuracy")
        tf1.summary.scalar("train_accuracy", accuracy[1])
        return tfe.EstimatorSpec(
            mode=tfe.ModeKeys.TRAIN,
            loss=loss,
            train_op=optimizer.minimize(loss, tf1.train.get_or_create_global_step()),
        )
    logits = model(image, training=False)
    loss = tf1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    return tfe.EstimatorSpec(
        mode=tfe.ModeKeys.EVAL,
        loss=loss,
        eval_metric_ops={
            "accuracy": tf1.metrics.accuracy(labels=labels, predictions=tf.argmax(logits, axis=1))
        },
    )


@pytest.mark.parametrize(
    "make_strategy",
    [
        pytest.param(lambda: tf.distribute.OneDeviceStrategy("device:CPU:0"), id="one_device"),
        pytest.param(lambda: tf.distribute.MirroredStrategy(), id="mirrored", marks=pytest.mark.slow),
    ],
)
def test_official_r1_mnist_with_a_strategy_logging_hook_and_export_savedmodel(tmp_path, make_strategy):
    images, labels = _digits(600)
    session_config = tf1.ConfigProto(
        inter_op_parallelism_threads=0, intra_op_parallelism_threads=0, allow_soft_placement=True
    )
    # distribution_utils.get_distribution_strategy: OneDeviceStrategy without GPUs, else Mirrored.
    run_config = tfe.RunConfig(
        train_distribute=make_strategy(), session_config=session_config, tf_random_seed=3
    )
    mnist_classifier = tfe.Estimator(
        model_fn=functools.partial(_mnist_model_fn, create_model=_create_mnist_model),
        model_dir=str(tmp_path / "model"),
        config=run_config,
        params={"data_format": "channels_last"},
    )

    def train_input_fn():
        ds = tf.data.Dataset.from_tensor_slices((images[:500], labels[:500]))
        return ds.cache().shuffle(buffer_size=500).batch(50).repeat(2)

    def eval_input_fn():
        dataset = tf.data.Dataset.from_tensor_slices((images[500:], labels[500:])).batch(50)
        return tf1.data.make_one_shot_iterator(dataset).get_next()

    logged = []
    tensors_to_log = {"learning_rate": "learning_rate", "cross_entropy": "cross_entropy"}
    tensors_to_log["train_accuracy"] = "train_accuracy"
    train_hooks = [
        tf1.train.LoggingTensorHook(
            tensors=tensors_to_log, every_n_iter=10, formatter=lambda values: logged.append(values) or ""
        )
    ]
    for _ in range(2):  # train_epochs // epochs_between_evals
        mnist_classifier.train(input_fn=train_input_fn, hooks=train_hooks)
        eval_results = mnist_classifier.evaluate(input_fn=eval_input_fn)
        assert "Evaluation results:\n\t%s\n" % eval_results
    assert eval_results["global_step"] == 40 and eval_results["accuracy"] > 0.5
    assert len(logged) == 4 and set(logged[-1]) == set(tensors_to_log)
    assert logged[-1]["learning_rate"] == np.float32(LEARNING_RATE)

    # port: the placeholder needs a graph in TF 2 (or tf.compat.v1.disable_eager_execution()); its
    # shape must also match the Sequential's input_shape, which tf_keras checks.
    with tf.Graph().as_default():
        image = tf1.placeholder(tf.float32, [None, 64])
    input_fn = tfe.export.build_raw_serving_input_receiver_fn({"image": image})
    export_dir = mnist_classifier.export_savedmodel(
        str(tmp_path / "export"), input_fn, strip_default_attrs=True
    )
    assert sorted(_signatures(export_dir)) == ["classify", "serving_default"]
    served = _serve(export_dir, "classify", {"image": images[500:510]})
    predicted = list(
        mnist_classifier.predict(lambda: tf.data.Dataset.from_tensor_slices(images[500:510]).batch(5))
    )
    np.testing.assert_array_equal(served["classes"], [p["classes"] for p in predicted])
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in predicted], atol=1e-6)


# ------------------------------------------------------------- wide & deep census (official r1)
_CSV_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "gender", "capital_gain", "capital_loss", "hours_per_week",
    "native_country", "income_bracket",
]  # fmt: skip
_CSV_COLUMN_DEFAULTS = [[0], [""], [0], [""], [0], [""], [""], [""], [""], [""], [0], [0], [0], [""], [""]]
_EDUCATION = ["Bachelors", "HS-grad", "11th", "Masters", "9th", "Some-college", "Doctorate"]
_MARITAL = ["Married-civ-spouse", "Divorced", "Never-married"]
_RELATIONSHIP = ["Husband", "Not-in-family", "Wife", "Own-child"]
_WORKCLASS = ["Self-emp-not-inc", "Private", "State-gov", "?"]
_OCCUPATIONS = ["Tech-support", "Craft-repair", "Sales", "Exec-managerial", "Prof-specialty"]


def _census_rows(n, seed):
    """(rows as dicts, income labels): income depends on age, education, hours and occupation."""
    rng = np.random.RandomState(seed)
    rows = []
    for _ in range(n):
        age, education, hours = (
            int(rng.randint(18, 80)),
            int(rng.randint(len(_EDUCATION))),
            int(rng.randint(10, 70)),
        )
        occupation = _OCCUPATIONS[rng.randint(len(_OCCUPATIONS))]
        score = (
            (age - 40) / 10 + 2 * (education in (0, 3, 6)) + (hours - 40) / 10 + (occupation == "Sales") - 1
        )
        rows.append(
            dict(
                age=age, workclass=_WORKCLASS[rng.randint(4)], fnlwgt=int(rng.randint(10000, 300000)),
                education=_EDUCATION[education], education_num=education + 5,
                marital_status=_MARITAL[rng.randint(3)], occupation=occupation,
                relationship=_RELATIONSHIP[rng.randint(4)], race="White", gender="Male", capital_gain=0,
                capital_loss=0, hours_per_week=hours, native_country="United-States",
                income_bracket=">50K" if score > 0 else "<=50K",
            )
        )  # fmt: skip
    return rows


def _write_census_csv(path, rows):
    with open(path, "w") as f:
        f.writelines(",".join(str(row[c]) for c in _CSV_COLUMNS) + "\n" for row in rows)


def _census_model_columns():
    age = tf1.feature_column.numeric_column("age")
    education_num = tf1.feature_column.numeric_column("education_num")
    capital_gain = tf1.feature_column.numeric_column("capital_gain")
    capital_loss = tf1.feature_column.numeric_column("capital_loss")
    hours_per_week = tf1.feature_column.numeric_column("hours_per_week")
    education = tf1.feature_column.categorical_column_with_vocabulary_list("education", _EDUCATION)
    marital_status = tf1.feature_column.categorical_column_with_vocabulary_list("marital_status", _MARITAL)
    relationship = tf1.feature_column.categorical_column_with_vocabulary_list("relationship", _RELATIONSHIP)
    workclass = tf1.feature_column.categorical_column_with_vocabulary_list("workclass", _WORKCLASS)
    occupation = tf1.feature_column.categorical_column_with_hash_bucket("occupation", hash_bucket_size=1000)
    age_buckets = tf1.feature_column.bucketized_column(
        age, boundaries=[18, 25, 30, 35, 40, 45, 50, 55, 60, 65]
    )
    base_columns = [education, marital_status, relationship, workclass, occupation, age_buckets]
    crossed_columns = [
        tf1.feature_column.crossed_column(["education", "occupation"], hash_bucket_size=1000),
        tf1.feature_column.crossed_column([age_buckets, "education", "occupation"], hash_bucket_size=1000),
    ]
    wide_columns = base_columns + crossed_columns
    deep_columns = [
        age, education_num, capital_gain, capital_loss, hours_per_week,
        tf1.feature_column.indicator_column(workclass), tf1.feature_column.indicator_column(education),
        tf1.feature_column.indicator_column(marital_status),
        tf1.feature_column.indicator_column(relationship),
        tf1.feature_column.embedding_column(occupation, dimension=8),
    ]  # fmt: skip
    return wide_columns, deep_columns


def _census_input_fn(data_file, num_epochs, shuffle, batch_size):
    assert tf1.gfile.Exists(data_file)

    def parse_csv(value):
        columns = tf1.decode_csv(value, record_defaults=_CSV_COLUMN_DEFAULTS)
        features = dict(list(zip(_CSV_COLUMNS, columns, strict=True)))
        labels = features.pop("income_bracket")
        classes = tf1.equal(labels, ">50K")  # binary classification, bool labels
        return features, classes

    dataset = tf1.data.TextLineDataset(data_file)
    if shuffle:
        dataset = dataset.shuffle(buffer_size=1000)
    dataset = dataset.map(parse_csv, num_parallel_calls=5)
    dataset = dataset.repeat(num_epochs)
    return dataset.batch(batch_size)


def _build_census_estimator(model_dir, model_type, model_column_fn, inter_op, intra_op):
    wide_columns, deep_columns = model_column_fn()
    hidden_units = [100, 75, 50, 25]
    run_config = tfe.RunConfig().replace(
        session_config=tf1.ConfigProto(
            device_count={"GPU": 0},
            inter_op_parallelism_threads=inter_op,
            intra_op_parallelism_threads=intra_op,
        ),
        tf_random_seed=3,
    )
    if model_type == "wide":
        return tfe.LinearClassifier(model_dir=model_dir, feature_columns=wide_columns, config=run_config)
    elif model_type == "deep":
        return tfe.DNNClassifier(
            model_dir=model_dir, feature_columns=deep_columns, hidden_units=hidden_units, config=run_config
        )
    return tfe.DNNLinearCombinedClassifier(
        model_dir=model_dir,
        linear_feature_columns=wide_columns,
        dnn_feature_columns=deep_columns,
        dnn_hidden_units=hidden_units,
        config=run_config,
    )


@pytest.mark.parametrize(
    "model_type",
    ["wide_deep", pytest.param("wide", marks=pytest.mark.slow), pytest.param("deep", marks=pytest.mark.slow)],
)
def test_official_r1_wide_deep_census_and_its_tf_example_export(tmp_path, model_type):
    train_rows, test_rows = _census_rows(400, 0), _census_rows(200, 1)
    train_file, test_file = str(tmp_path / "adult.data"), str(tmp_path / "adult.test")
    _write_census_csv(train_file, train_rows)
    _write_census_csv(test_file, test_rows)
    model = _build_census_estimator(
        model_dir=str(tmp_path / "model"),
        model_type=model_type,
        model_column_fn=_census_model_columns,
        inter_op=0,
        intra_op=0,
    )
    # port: the original also logs '{loss_prefix}head/truediv' and '.../head/weighted_loss/Sum' with a
    # LoggingTensorHook: graph names of tf.compat.v1.estimator's heads, which this runtime's heads do not have.
    lines = []
    for n in range(2):
        model.train(input_fn=lambda: _census_input_fn(train_file, 2, True, 40))
        results = model.evaluate(input_fn=lambda: _census_input_fn(test_file, 1, False, 40))
        lines.append("Results at epoch %d / %d" % ((n + 1) * 2, 4))
        lines.extend("%s: %s" % (key, results[key]) for key in sorted(results))
    assert sorted(results) == [
        "accuracy", "accuracy_baseline", "auc", "auc_precision_recall", "average_loss", "global_step",
        "label/mean", "loss", "precision", "prediction/mean", "recall",
    ]  # fmt: skip
    assert results["global_step"] == 40 and results["auc"] > 0.7  # "deep" learns slowest (Adagrad at 0.001)

    wide_columns, deep_columns = _census_model_columns()
    columns = {"wide": wide_columns, "deep": deep_columns}.get(model_type, wide_columns + deep_columns)
    feature_spec = tf1.feature_column.make_parse_example_spec(columns)
    example_input_fn = tfe.export.build_parsing_serving_input_receiver_fn(feature_spec)
    export_dir = model.export_savedmodel(str(tmp_path / "export"), example_input_fn, strip_default_attrs=True)

    signatures = _signatures(export_dir)
    assert signatures["serving_default"] == (["inputs"], ["classes", "scores"], "tensorflow/serving/classify")
    assert signatures["predict"][0] == ["examples"]
    examples = [
        _example(**{k: float(v) if isinstance(v, int) else v for k, v in row.items() if k in feature_spec})
        for row in test_rows[:6]
    ]
    served = _serve(export_dir, "predict", {"examples": examples})
    classified = _serve(export_dir, "classification", {"inputs": examples})
    test_x = pd.DataFrame(test_rows[:6]).drop(columns=["income_bracket"])
    predicted = list(
        model.predict(
            lambda: tf.data.Dataset.from_tensor_slices(dict(test_x)).batch(6), yield_single_examples=True
        )
    )
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in predicted], atol=1e-5)
    np.testing.assert_array_equal(served["class_ids"][:, 0], [p["class_ids"][0] for p in predicted])
    np.testing.assert_allclose(classified["scores"], served["probabilities"], atol=1e-6)
    assert classified["classes"].tolist() == [[b"0", b"1"]] * 6


# --------------------------------------------- Cloud ML Engine census trainer (custom Estimator)
CMLE_CSV_COLUMNS = ["age", "workclass", "education", "occupation", "hours_per_week", "income_bracket"]
CMLE_CSV_COLUMN_DEFAULTS = [[0], [""], [""], [""], [0], [""]]
LABEL_COLUMN = "income_bracket"
LABELS = [" <=50K", " >50K"]
INPUT_COLUMNS = [
    tf1.feature_column.categorical_column_with_vocabulary_list("education", [" Bachelors", " HS-grad", " Masters", " 9th"]),
    tf1.feature_column.categorical_column_with_vocabulary_list("workclass", [" Private", " State-gov", " ?"]),
    tf1.feature_column.categorical_column_with_hash_bucket("occupation", hash_bucket_size=100, dtype=tf.string),
    tf1.feature_column.numeric_column("age"),
    tf1.feature_column.numeric_column("hours_per_week"),
]  # fmt: skip
UNUSED_COLUMNS = set(CMLE_CSV_COLUMNS) - {col.name for col in INPUT_COLUMNS} - {LABEL_COLUMN}


def _cmle_rows(n, seed):
    """CSV lines as the census files have them (a space after each comma)."""
    rng = np.random.RandomState(seed)
    lines = []
    for _ in range(n):
        age, education, hours = rng.randint(18, 80), rng.randint(4), rng.randint(10, 70)
        score = (age - 45) / 8 + (hours - 40) / 8 + (0.5 if education in (0, 2) else -0.5)
        workclass = ["Private", "State-gov", "?"][rng.randint(3)]
        label = ">50K" if score > 0 else "<=50K"
        lines.append(
            f"{age}, {workclass}, {['Bachelors', 'HS-grad', 'Masters', '9th'][education]}, "
            f"occ{rng.randint(5)}, {hours}, {label}"
        )
    return lines


def _generate_model_fn(embedding_size=8, hidden_units=(100, 70, 40, 20), learning_rate=0.1):
    def _model_fn(mode, features, labels):  # the sample's argument order: the Estimator passes by name
        (education, workclass, occupation, age, hours_per_week) = INPUT_COLUMNS
        transformed_columns = [
            tf1.feature_column.indicator_column(workclass),
            tf1.feature_column.indicator_column(education),
            tf1.feature_column.embedding_column(occupation, dimension=embedding_size),
            age,
            hours_per_week,
        ]
        inputs = tf1.feature_column.input_layer(features, transformed_columns)
        label_values = tf.constant(LABELS)
        curr_layer = inputs
        for layer_size in hidden_units:
            # port: tf.contrib.layers.variance_scaling_initializer -> tf.compat.v1's.
            curr_layer = tf1.layers.dense(
                curr_layer,
                layer_size,
                activation=tf.nn.relu,
                kernel_initializer=tf1.variance_scaling_initializer(),
            )
        logits = tf1.layers.dense(
            curr_layer, len(LABELS), activation=None, kernel_initializer=tf1.variance_scaling_initializer()
        )
        if mode in (tfe.ModeKeys.PREDICT, tfe.ModeKeys.EVAL):
            probabilities = tf.nn.softmax(logits)
            predicted_indices = tf.argmax(probabilities, 1)
        if mode in (tfe.ModeKeys.TRAIN, tfe.ModeKeys.EVAL):
            # port: tf.contrib.lookup.index_table_from_tensor -> a tf.lookup.StaticHashTable.
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(label_values, tf.range(len(LABELS), dtype=tf.int64)), -1
            )
            label_indices = table.lookup(labels)
            label_indices_vector = tf.squeeze(label_indices)
            global_step = tf1.train.get_or_create_global_step()
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=label_indices_vector)
            )
            tf1.summary.scalar("loss", loss)
        if mode == tfe.ModeKeys.PREDICT:
            predictions = {
                "classes": tf.gather(label_values, predicted_indices),
                "scores": tf.reduce_max(probabilities, axis=1),
            }
            export_outputs = {"prediction": tfe.export.PredictOutput(predictions)}
            return tfe.EstimatorSpec(mode, predictions=predictions, export_outputs=export_outputs)
        if mode == tfe.ModeKeys.TRAIN:
            train_op = tf1.train.FtrlOptimizer(
                learning_rate=learning_rate, l1_regularization_strength=3.0, l2_regularization_strength=10.0
            ).minimize(loss, global_step=global_step)
            return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)
        labels_one_hot = tf.one_hot(
            label_indices_vector, depth=label_values.shape[0], on_value=True, off_value=False, dtype=tf.bool
        )
        eval_metric_ops = {
            "accuracy": tf1.metrics.accuracy(label_indices, predicted_indices),
            "auroc": tf1.metrics.auc(labels_one_hot, probabilities),
        }
        return tfe.EstimatorSpec(mode, loss=loss, eval_metric_ops=eval_metric_ops)

    return _model_fn


def _parse_csv(rows_string_tensor):
    columns = tf1.decode_csv(rows_string_tensor, record_defaults=CMLE_CSV_COLUMN_DEFAULTS)
    features = dict(zip(CMLE_CSV_COLUMNS, columns, strict=True))
    for col in UNUSED_COLUMNS:
        features.pop(col)
    for key in features:
        features[key] = tf.expand_dims(features[key], -1)
    return features


def _csv_serving_input_fn():
    csv_row = tf1.placeholder(shape=[None], dtype=tf.string)
    features = _parse_csv(csv_row)
    features.pop(LABEL_COLUMN)
    return tfe.export.ServingInputReceiver(features, {"csv_row": csv_row})


def _example_serving_input_fn():
    example_bytestring = tf1.placeholder(shape=[None], dtype=tf.string)
    features = tf1.parse_example(
        example_bytestring, tf1.feature_column.make_parse_example_spec(INPUT_COLUMNS)
    )
    return tfe.export.ServingInputReceiver(features, {"example_proto": example_bytestring})


def _json_serving_input_fn():
    inputs = {}
    for feat in INPUT_COLUMNS:
        inputs[feat.name] = tf1.placeholder(shape=[None], dtype=feat.dtype)
    return tfe.export.ServingInputReceiver(inputs, inputs)


SERVING_FUNCTIONS = {
    "JSON": _json_serving_input_fn,
    "EXAMPLE": _example_serving_input_fn,
    "CSV": _csv_serving_input_fn,
}


def _cmle_input_fn(filenames, num_epochs=None, shuffle=True, skip_header_lines=0, batch_size=200):
    # port: the sample's queue readers (string_input_producer, TextLineReader, shuffle_batch) run on
    # this runtime too (see test_workshop_...); the later samples' tf.data pipeline is used here.
    dataset = tf.data.TextLineDataset(filenames).skip(skip_header_lines).map(_parse_csv)
    if shuffle:
        dataset = dataset.shuffle(buffer_size=batch_size * 10)
    features = tf1.data.make_one_shot_iterator(dataset.repeat(num_epochs).batch(batch_size)).get_next()
    return features, features.pop(LABEL_COLUMN)


def test_cloud_ml_engine_census_trainer_on_a_master_with_hyperparameter_tuning(tmp_path, monkeypatch):
    import argparse

    (tmp_path / "train.csv").write_text("\n".join(_cmle_rows(300, 0)) + "\n")
    (tmp_path / "eval.csv").write_text("\n".join(_cmle_rows(100, 1)) + "\n")
    # Cloud ML Engine's TF_CONFIG for a BASIC (single master) hyperparameter-tuning trial.
    tf_config = {
        "cluster": {"master": ["localhost:2222"]},
        "task": {"type": "master", "index": 0, "trial": "3"},
        "environment": "cloud",
        "job": {"job_name": "census", "args": []},
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))

    def run_experiment(hparams):
        train_input = lambda: _cmle_input_fn(  # noqa: E731
            hparams.train_files, num_epochs=hparams.num_epochs, batch_size=hparams.train_batch_size
        )
        eval_input = lambda: _cmle_input_fn(  # noqa: E731
            hparams.eval_files, batch_size=hparams.eval_batch_size, shuffle=False
        )
        train_spec = tfe.TrainSpec(train_input, max_steps=hparams.train_steps)
        exporter = tfe.FinalExporter("census", SERVING_FUNCTIONS[hparams.export_format])
        latest = tfe.LatestExporter("census-csv", SERVING_FUNCTIONS["CSV"], exports_to_keep=2)
        eval_spec = tfe.EvalSpec(
            eval_input,
            steps=hparams.eval_steps,
            exporters=[exporter, latest],
            name="census-eval",
            throttle_secs=0,
        )
        run_config = tfe.RunConfig(save_checkpoints_steps=50, tf_random_seed=7)
        # With hyperparameter tuning, the trial id is appended to the output path.
        trial = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("trial", "")
        run_config = run_config.replace(model_dir=os.path.join(hparams.job_dir, trial))
        estimator = tfe.Estimator(
            model_fn=_generate_model_fn(
                embedding_size=hparams.embedding_size,
                hidden_units=[
                    max(2, int(hparams.first_layer_size * hparams.scale_factor**i))
                    for i in range(hparams.num_layers)
                ],
                learning_rate=hparams.learning_rate,
            ),
            config=run_config,
        )
        return estimator, tfe.train_and_evaluate(estimator, train_spec, eval_spec)

    parser = argparse.ArgumentParser()
    parser.add_argument("--train-files", nargs="+", required=True)
    parser.add_argument("--eval-files", nargs="+", required=True)
    parser.add_argument("--job-dir", required=True)
    parser.add_argument("--num-epochs", type=int)
    parser.add_argument("--train-batch-size", type=int, default=40)
    parser.add_argument("--eval-batch-size", type=int, default=40)
    parser.add_argument("--embedding-size", type=int, default=8)
    parser.add_argument("--first-layer-size", type=int, default=20)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--scale-factor", type=float, default=0.7)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--eval-steps", type=int, default=100)
    parser.add_argument("--export-format", choices=["JSON", "CSV", "EXAMPLE"], default="JSON")
    args = parser.parse_args(
        ["--train-files", str(tmp_path / "train.csv"), "--eval-files", str(tmp_path / "eval.csv")]
        + ["--job-dir", str(tmp_path / "job"), "--train-steps", "100", "--learning-rate", "0.3"]
    )
    # port: tf.contrib.training.HParams(**args.__dict__) -> the argparse namespace itself.
    estimator, (metrics, exports) = run_experiment(args)

    assert estimator.model_dir == str(tmp_path / "job" / "3")
    assert estimator.config.task_type == "master" and estimator.config.is_chief
    assert set(metrics) == {"accuracy", "auroc", "loss", "global_step"} and metrics["global_step"] == 100
    assert metrics["auroc"] > 0.7
    # Hyperparameter tuning reads the metric from the evaluation summaries. A "master" evaluates
    # (and exports) each new checkpoint as it trains, as tf.estimator's master did.
    evaluated = _scalars(estimator.eval_dir("census-eval"))
    assert sorted(evaluated["auroc"]) == [50, 100]
    latest_exports = sorted(glob.glob(os.path.join(estimator.model_dir, "export", "census-csv", "*")))
    assert len(latest_exports) == 2 and exports[1].decode() == latest_exports[-1]
    assert exports[0].decode().startswith(os.path.join(estimator.model_dir, "export", "census", ""))

    # The JSON export serves rank-1 instances, as Cloud ML Engine's online prediction sends them.
    lines = _cmle_rows(4, 2)
    fields = [line.split(", ") for line in lines]
    instances = {
        "age": np.array([float(f[0]) for f in fields], np.float32),
        "workclass": np.array([" " + f[1] for f in fields]),
        "education": np.array([" " + f[2] for f in fields]),
        "occupation": np.array([" " + f[3] for f in fields]),
        "hours_per_week": np.array([float(f[4]) for f in fields], np.float32),
    }
    served_json = _serve(exports[0].decode(), "prediction", instances)
    served_csv = _serve(exports[1].decode(), "serving_default", {"csv_row": lines})
    np.testing.assert_allclose(served_json["scores"], served_csv["scores"], atol=1e-6)
    assert set(served_json["classes"].tolist()) <= {label.encode() for label in LABELS}
    eval_features = lambda: _cmle_input_fn([str(tmp_path / "eval.csv")], 1, shuffle=False, batch_size=10)[0]  # noqa: E731
    predicted = list(estimator.predict(eval_features))
    assert len(predicted) == 100 and set(predicted[0]) == {"classes", "scores"}

    # The EXAMPLE serving function, exported directly.
    export_dir = estimator.export_saved_model(str(tmp_path / "example"), SERVING_FUNCTIONS["EXAMPLE"])
    examples = [
        _example(age=float(f[0]), workclass=" " + f[1], education=" " + f[2], occupation=" " + f[3],
                 hours_per_week=float(f[4]))
        for f in fields
    ]  # fmt: skip
    served_example = _serve(export_dir, "prediction", {"example_proto": examples})
    np.testing.assert_allclose(served_example["scores"], served_json["scores"], atol=1e-6)


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
    served = _serve(exports[0].decode(), "serving_default", {input_name: x_train[:8]})
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
    features, species = _iris(120, 0)
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

    served = _serve(exports[0].decode(), "predictions", {TIMESERIES_COL: valid[:5, :N_INPUTS]})
    predicted = estimator.predict(
        tfe.inputs.numpy_input_fn({TIMESERIES_COL: valid[:5, :N_INPUTS]}, shuffle=False),
        predict_keys="predicted",
    )
    np.testing.assert_allclose(served["predicted"], [p["predicted"] for p in predicted], atol=1e-5)


# ------------------------------------- the workshop's Keras-layers CNN (MNIST / Fashion-MNIST)
def _workshop_cnn_model_fn(features, labels, mode):
    input_layer = tf.reshape(features["x"], [-1, 8, 8, 1])
    if mode == tfe.ModeKeys.TRAIN:
        tf1.keras.backend.set_learning_phase(1)
    else:
        tf1.keras.backend.set_learning_phase(0)
    conv1 = tf_keras.layers.Conv2D(8, (3, 3), activation="relu", input_shape=(8, 8, 1))(input_layer)
    pool1 = tf_keras.layers.MaxPooling2D(pool_size=(2, 2))(conv1)
    dense = tf_keras.layers.Dense(32, activation="relu")(tf_keras.layers.Flatten()(pool1))
    logits = tf_keras.layers.Dense(10, activation="linear")(tf_keras.layers.Dropout(0.4)(dense))
    predictions = {
        "classes": tf.argmax(input=logits, axis=1),
        "probabilities": tf.nn.softmax(logits, name="softmax_tensor"),
    }
    prediction_output = tfe.export.PredictOutput(
        {
            "classes": tf.argmax(input=logits, axis=1),
            "probabilities": tf.nn.softmax(logits, name="softmax_tensor"),
        }
    )
    if mode == tfe.ModeKeys.PREDICT:
        return tfe.EstimatorSpec(
            mode=mode,
            predictions=predictions,
            export_outputs={
                tf1.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY: prediction_output
            },
        )
    onehot_labels = tf.one_hot(indices=tf.cast(labels, tf.int32), depth=10)
    loss = tf1.losses.softmax_cross_entropy(onehot_labels=onehot_labels, logits=logits)
    tf1.summary.scalar("loss", loss)
    tf1.summary.histogram("conv1", conv1)
    tf1.summary.histogram("dense", dense)
    if mode == tfe.ModeKeys.TRAIN:
        optimizer = tf1.train.AdamOptimizer(learning_rate=1e-2)
        train_op = optimizer.minimize(loss=loss, global_step=tf1.train.get_global_step())
        return tfe.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)
    eval_metric_ops = {"accuracy": tf1.metrics.accuracy(labels=labels, predictions=predictions["classes"])}
    return tfe.EstimatorSpec(mode=mode, loss=loss, eval_metric_ops=eval_metric_ops)


def test_workshop_keras_layers_cnn_on_a_queue_input_with_a_logging_hook(tmp_path):
    images, labels = _digits(400)

    def generate_input_fn(images, labels, batch_size=50):
        def _input_fn():
            x, y = tf.constant(images), tf.constant(labels, dtype=tf.int32)
            image_batch, label_batch = tf1.train.shuffle_batch(
                [x, y], batch_size=batch_size, capacity=8 * batch_size, min_after_dequeue=4 * batch_size,
                enqueue_many=True,
            )  # fmt: skip
            return {"x": image_batch}, label_batch

        return _input_fn

    mnist_classifier = tfe.Estimator(
        model_fn=_workshop_cnn_model_fn, model_dir=str(tmp_path), config=tfe.RunConfig(tf_random_seed=3)
    )
    logged = []
    logging_hook = tf1.train.LoggingTensorHook(
        tensors={"probabilities": "softmax_tensor"},
        every_n_iter=50,
        formatter=lambda v: logged.append(v) or "",
    )
    mnist_classifier.train(
        input_fn=generate_input_fn(images[:300], labels[:300]), steps=150, hooks=[logging_hook]
    )
    assert len(logged) == 3 and logged[0]["probabilities"].shape == (50, 10)

    eval_input_fn = tfe.inputs.numpy_input_fn(
        x={"x": images[300:]}, y=labels[300:], num_epochs=1, shuffle=False
    )
    eval_results = mnist_classifier.evaluate(input_fn=eval_input_fn)
    assert eval_results["accuracy"] > 0.8 and eval_results["global_step"] == 150
    predict_input_fn = tfe.inputs.numpy_input_fn(
        x={"x": images[300:320]},
        y=labels[300:320],
        num_epochs=1,
        shuffle=False,  # y is ignored by predict
    )
    predicted = [p["classes"] for p in mnist_classifier.predict(input_fn=predict_input_fn)]
    assert len(predicted) == 20 and np.mean(np.equal(predicted, labels[300:320])) > 0.8

    def serving_input_receiver_fn():
        feature_tensor = tf1.placeholder(tf.float32, [None, 64])
        return tfe.export.ServingInputReceiver({"x": feature_tensor}, {"x": feature_tensor})

    export_dir = mnist_classifier.export_savedmodel(
        str(tmp_path), serving_input_receiver_fn
    )  # into model_dir
    served = _serve(export_dir, "serving_default", {"x": images[300:320]})
    np.testing.assert_array_equal(served["classes"], predicted)
    assert {"conv1", "loss"} <= {
        v.tag
        for f in glob.glob(str(tmp_path / "events.*"))
        for e in tf1.train.summary_iterator(f)
        for v in e.summary.value
    }


# ------------------------------------------- "MNIST with Experiments and Estimators" (TFRecords)
def _experiment_cnn_model_fn(features, labels, mode, params):
    is_training = mode == tfe.ModeKeys.TRAIN
    with tf.name_scope("Input"):
        input_layer = tf.reshape(features, [-1, 8, 8, 1], name="input_reshape")
        tf1.summary.image("input", input_layer)
    with tf.name_scope("Conv_1"):
        conv1 = tf1.layers.conv2d(
            input_layer, filters=8, kernel_size=(3, 3), padding="same", activation=tf.nn.relu
        )
        pool1 = tf1.layers.max_pooling2d(inputs=conv1, pool_size=(2, 2), strides=2, padding="same")
    with tf.name_scope("Dense_Dropout"):
        flat = tf1.layers.flatten(pool1)  # port: tf.contrib.layers.flatten
        dense = tf1.layers.dense(inputs=flat, units=32, activation=tf.nn.relu, trainable=is_training)
        dropout = tf1.layers.dropout(inputs=dense, rate=params["dropout_rate"], training=is_training)
    with tf.name_scope("Predictions"):
        logits = tf1.layers.dense(inputs=dropout, units=10, trainable=is_training)
    predicted_logit = tf.argmax(input=logits, axis=1, output_type=tf.int32)
    scores = tf.nn.softmax(logits, name="softmax_tensor")
    predictions = {"classes": predicted_logit, "probabilities": scores}
    if mode == tfe.ModeKeys.PREDICT:
        # port: tf.cast(int, tf.string) never worked; tf.as_string does.
        export_outputs = {
            "prediction": tfe.export.ClassificationOutput(
                scores=scores, classes=tf.as_string(predicted_logit)
            )
        }
        return tfe.EstimatorSpec(mode=mode, predictions=predictions, export_outputs=export_outputs)
    loss = tf1.losses.softmax_cross_entropy(onehot_labels=labels, logits=logits)
    accuracy = tf1.metrics.accuracy(tf.argmax(labels, axis=1), predicted_logit)
    train_op = None
    if mode == tfe.ModeKeys.TRAIN:
        tf1.summary.scalar("accuracy", accuracy[0])
        # port: tf.contrib.layers.optimize_loss(..., optimizer="Adam") -> the optimizer itself.
        train_op = tf1.train.AdamOptimizer(params["learning_rate"]).minimize(
            loss, tf1.train.get_global_step()
        )
    return tfe.EstimatorSpec(
        mode=mode,
        predictions=predictions,
        loss=loss,
        train_op=train_op,
        eval_metric_ops={"accuracy": accuracy},
    )


def test_mnist_experiment_on_tfrecords_with_train_and_evaluate_and_a_classify_export(tmp_path):
    images, labels = _digits(400)
    for name, rows in (("train-0.tfrecords", slice(0, 300)), ("validation.tfrecords", slice(300, 400))):
        with tf.io.TFRecordWriter(str(tmp_path / name)) as writer:
            for image, label in zip(images[rows], labels[rows], strict=True):
                writer.write(_example(label=int(label), image_raw=image.tobytes()))

    def data_input_fn(filenames, batch_size=1000, shuffle=False):
        def _parser(record):
            features = {
                "label": tf1.FixedLenFeature([], tf.int64),
                "image_raw": tf1.FixedLenFeature([], tf.string),
            }
            parsed_record = tf1.parse_single_example(record, features)
            image = tf1.decode_raw(parsed_record["image_raw"], tf.float32)
            label = tf.cast(parsed_record["label"], tf.int32)
            return image, tf.one_hot(label, 10)

        def _input_fn():
            dataset = tf.data.TFRecordDataset(filenames).map(_parser)
            if shuffle:
                dataset = dataset.shuffle(buffer_size=10_000)
            dataset = dataset.repeat(None).batch(batch_size)
            features, labels = tf1.data.make_one_shot_iterator(dataset).get_next()
            return features, labels

        return _input_fn

    run_config = tfe.RunConfig(
        model_dir=str(tmp_path / "mnisttraining"),
        save_checkpoints_steps=20,
        save_summary_steps=10,
        tf_random_seed=3,
    )
    hparams = {"learning_rate": 1e-2, "dropout_rate": 0.4, "data_directory": str(tmp_path)}
    mnist_classifier = tfe.Estimator(model_fn=_experiment_cnn_model_fn, config=run_config, params=hparams)
    train_input_fn = data_input_fn(
        glob.glob(os.path.join(hparams["data_directory"], "train-*.tfrecords")), batch_size=50, shuffle=True
    )
    eval_input_fn = data_input_fn(
        os.path.join(hparams["data_directory"], "validation.tfrecords"), batch_size=50
    )
    train_spec = tfe.TrainSpec(input_fn=train_input_fn, max_steps=40)
    eval_spec = tfe.EvalSpec(input_fn=eval_input_fn, steps=2, start_delay_secs=0, throttle_secs=0)
    metrics, exports = tfe.train_and_evaluate(mnist_classifier, train_spec, eval_spec)
    assert metrics["global_step"] == 40 and metrics["accuracy"] > 0.8 and exports == []
    assert sorted(_scalars(mnist_classifier.eval_dir())["accuracy"]) == [20, 40]
    tags = {v.tag for f in glob.glob(os.path.join(run_config.model_dir, "events.*")) for e in tf1.train.summary_iterator(f) for v in e.summary.value}  # fmt: skip
    assert {"Input/input/image/0", "loss"} <= tags

    # Served as TF Serving's Classify API calls it: serialized tf.Examples in, classes and scores out.
    def serving_input_receiver_fn():
        serialized = tf1.placeholder(tf.string, [None])
        parsed = tf1.parse_example(serialized, {"image": tf1.FixedLenFeature([64], tf.float32)})
        return tfe.export.TensorServingInputReceiver(parsed["image"], {"examples": serialized})

    export_dir = mnist_classifier.export_saved_model(str(tmp_path / "export"), serving_input_receiver_fn)
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={"image": tf.train.Feature(float_list=tf.train.FloatList(value=image))}
            )
        ).SerializeToString()
        for image in images[300:310]
    ]
    served = _serve(export_dir, "serving_default", {"inputs": examples})
    predicted = list(
        mnist_classifier.predict(lambda: tf.data.Dataset.from_tensor_slices(images[300:310]).batch(5))
    )
    assert served["classes"].tolist() == [str(p["classes"]).encode() for p in predicted]
    np.testing.assert_allclose(served["scores"], [p["probabilities"] for p in predicted], atol=1e-6)


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
