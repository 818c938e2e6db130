"""Public tf.estimator programs on Iris and MNIST, ported with the import rename only, run here.

Each test is one public program rewritten compactly on tiny synthetic data, with the
original's API surface and call patterns (arguments, keyword names, how the results are
read and printed, how the export is served):

- TensorFlow's "Premade Estimators" and "Creating Custom Estimators" Iris guides
  (models/samples/core/get_started/{premade,custom}_estimator.py);
- TensorFlow's official r1 MNIST (official/r1/mnist/mnist.py);
- the TensorFlow workshop's MNIST / Fashion-MNIST custom Estimators with Keras layers
  (amygdala/tensorflow-workshop mnist_cnn_custom_estimator), and the "MNIST with
  Experiments and Estimators" blog post (TFRecords, train_and_evaluate).

Besides the rename (`tf.estimator` -> `tfe`, `tf.` -> `tf.compat.v1.` in TF1 code),
the ports change only what TensorFlow itself removed; each such change is marked
"port:" where it happens. The programs' own string formatting (%, str.format) is kept.
"""

# ruff: noqa: UP031, UP032

import functools
import glob
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe
from tests.estimator import programs
from tests.estimator.programs import IRIS_COLUMNS, PREDICT_X

tf1 = tf.compat.v1


# ------------------------------------------------------- the Iris guides (premade, custom)
def _iris_train_input_fn(features, labels, batch_size):
    dataset = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    return dataset.shuffle(1000).repeat().batch(batch_size)


def _iris_eval_input_fn(features, labels, batch_size):
    features = dict(features)
    inputs = features if labels is None else (features, labels)
    return tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)


def test_premade_estimator_guide_dnn_classifier_on_iris(tmp_path):
    (train_x, train_y), (test_x, test_y) = programs.iris(120, 0), programs.iris(30, 1)
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
    (train_x, train_y), (test_x, test_y) = programs.iris(120, 0), programs.iris(30, 1)

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
    assert {"accuracy", "loss", "global_step/sec"} <= set(programs.scalars(classifier.model_dir))
    assert {"accuracy", "loss"} <= set(programs.scalars(classifier.eval_dir()))

    # Without export_outputs the export serves every prediction under "serving_default".
    receiver = tfe.export.build_raw_serving_input_receiver_fn(
        {key: tf.zeros([1], tf.float32) for key in IRIS_COLUMNS}
    )
    export_dir = classifier.export_saved_model(str(tmp_path / "export"), receiver)
    served = programs.serve(export_dir, "serving_default", {k: np.float32(v) for k, v in PREDICT_X.items()})
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
    images, labels = programs.digits(600)
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
    assert sorted(programs.signatures(export_dir)) == ["classify", "serving_default"]
    served = programs.serve(export_dir, "classify", {"image": images[500:510]})
    predicted = list(
        mnist_classifier.predict(lambda: tf.data.Dataset.from_tensor_slices(images[500:510]).batch(5))
    )
    np.testing.assert_array_equal(served["classes"], [p["classes"] for p in predicted])
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in predicted], atol=1e-6)


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
    images, labels = programs.digits(400)

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
    served = programs.serve(export_dir, "serving_default", {"x": images[300:320]})
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
    images, labels = programs.digits(400)
    for name, rows in (("train-0.tfrecords", slice(0, 300)), ("validation.tfrecords", slice(300, 400))):
        with tf.io.TFRecordWriter(str(tmp_path / name)) as writer:
            for image, label in zip(images[rows], labels[rows], strict=True):
                writer.write(programs.example(label=int(label), image_raw=image.tobytes()))

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
    assert sorted(programs.scalars(mnist_classifier.eval_dir())["accuracy"]) == [20, 40]
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
    served = programs.serve(export_dir, "serving_default", {"inputs": examples})
    predicted = list(
        mnist_classifier.predict(lambda: tf.data.Dataset.from_tensor_slices(images[300:310]).batch(5))
    )
    assert served["classes"].tolist() == [str(p["classes"]).encode() for p in predicted]
    np.testing.assert_allclose(served["scores"], [p["probabilities"] for p in predicted], atol=1e-6)
