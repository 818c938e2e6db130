"""Public census-income tf.estimator programs, ported with the import rename only, run here.

Each test is one public program rewritten compactly on tiny synthetic data, with the
original's API surface and call patterns:

- TensorFlow's official r1 wide & deep census tutorial (official/r1/wide_deep/);
- Cloud ML Engine's census trainer packages (cloudml-samples census/customestimator
  and census/estimator: trainer/task.py + trainer/model.py, TF_CONFIG, hyperparameter
  tuning).

Besides the rename (`tf.estimator` -> `tfe`, `tf.` -> `tf.compat.v1.` in TF1 code),
the ports change only what TensorFlow itself removed; each such change is marked
"port:" where it happens. The programs' own string formatting (%, str.format) is kept.
"""

# ruff: noqa: UP031, UP032

import glob
import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import estimator as tfe
from tests.estimator import programs

tf1 = tf.compat.v1


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
    [pytest.param(model_type, marks=pytest.mark.slow) for model_type in ("wide_deep", "wide", "deep")],
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

    signatures = programs.signatures(export_dir)
    assert signatures["serving_default"] == (["inputs"], ["classes", "scores"], "tensorflow/serving/classify")
    assert signatures["predict"][0] == ["examples"]
    examples = [
        programs.example(
            **{k: float(v) if isinstance(v, int) else v for k, v in row.items() if k in feature_spec}
        )
        for row in test_rows[:6]
    ]
    served = programs.serve(export_dir, "predict", {"examples": examples})
    classified = programs.serve(export_dir, "classification", {"inputs": examples})
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
    # this runtime too (the workshop test in test_programs_iris_mnist.py); the later samples' tf.data pipeline is used here.
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
    evaluated = programs.scalars(estimator.eval_dir("census-eval"))
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
    served_json = programs.serve(exports[0].decode(), "prediction", instances)
    served_csv = programs.serve(exports[1].decode(), "serving_default", {"csv_row": lines})
    np.testing.assert_allclose(served_json["scores"], served_csv["scores"], atol=1e-6)
    assert set(served_json["classes"].tolist()) <= {label.encode() for label in LABELS}
    eval_features = lambda: _cmle_input_fn([str(tmp_path / "eval.csv")], 1, shuffle=False, batch_size=10)[0]  # noqa: E731
    predicted = list(estimator.predict(eval_features))
    assert len(predicted) == 100 and set(predicted[0]) == {"classes", "scores"}

    # The EXAMPLE serving function, exported directly.
    export_dir = estimator.export_saved_model(str(tmp_path / "example"), SERVING_FUNCTIONS["EXAMPLE"])
    examples = [
        programs.example(age=float(f[0]), workclass=" " + f[1], education=" " + f[2], occupation=" " + f[3],
                 hours_per_week=float(f[4]))
        for f in fields
    ]  # fmt: skip
    served_example = programs.serve(export_dir, "prediction", {"example_proto": examples})
    np.testing.assert_allclose(served_example["scores"], served_json["scores"], atol=1e-6)
