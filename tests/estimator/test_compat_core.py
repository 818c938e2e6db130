"""tf.estimator 2.15 behaviours of the Estimator core that programs rely on.

functools.partial model_fns and input_fns, predict without a checkpoint, tf_keras
Metrics as eval_metric_ops, the log lines (through TensorFlow's "tensorflow"
logger), numpy evaluation results, the export API (old name, all modes, tensor and
supervised receivers, train/eval outputs) and warm-starting (VocabInfo, renames).
"""

import functools
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import estimator as tfe
from estimator.util import fn_args
from tests.estimator import logs, models, programs

v1 = tf.compat.v1
REPO = Path(__file__).resolve().parents[2]
BATCH = 32  # models.train_input_fn's batch size


@pytest.fixture
def tf_info(caplog):
    """caplog, collecting what the "tensorflow" logger logs at INFO."""
    caplog.set_level(logging.INFO, logger="tensorflow")
    return caplog


def _tf_messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "tensorflow"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A linear model trained 5 steps (logging every 2), and what that training logged."""
    model_dir = tmp_path_factory.mktemp("trained")
    est = tfe.Estimator(
        models.linear_model_fn,
        str(model_dir),
        config=models.config(log_step_count_steps=2, save_summary_steps=2),
        params={},
    )
    with logs.tf_log() as messages:
        est.train(models.train_input_fn, steps=5)
    return est, messages


# ---------------------------------------------------------------- fn_args, partials
def test_fn_args_leaves_out_what_partials_bind_and_self():
    def model_fn(features, labels, mode, params, config):
        pass

    assert fn_args(model_fn) == ("features", "labels", "mode", "params", "config")
    assert fn_args(functools.partial(model_fn, params={})) == ("features", "labels", "mode", "config")
    assert fn_args(functools.partial(model_fn, 1, 2)) == ("mode", "params", "config")
    nested = functools.partial(functools.partial(model_fn, params={}), config=None)
    assert fn_args(nested) == ("features", "labels", "mode")

    class Model:
        def model_fn(self, features, labels):
            pass

        def __call__(self, features, mode):
            pass

        @classmethod
        def build(cls, features, params):
            pass

    assert fn_args(Model().model_fn) == ("features", "labels")
    assert fn_args(Model()) == ("features", "mode")
    assert fn_args(Model.build) == ("features", "params")
    assert fn_args(functools.partial(Model().model_fn, labels=None)) == ("features",)

    def keyword_only(features, *args, mode=None, **kwargs):
        pass

    assert fn_args(keyword_only) == ("features",)  # as tf.estimator: keyword-only arguments are not passed


def test_partial_model_fn_and_input_fn_get_only_what_they_do_not_bind(tmp_path):
    seen = {"params": []}

    def model_fn(features, labels, mode, params, scale):
        seen["params"].append(params)
        seen["scale"] = scale
        return models.linear_model_fn(features, labels, mode, params)

    def input_fn(batch_size, params, mode):
        seen["input"] = (batch_size, params, mode)
        return models.train_input_fn(batch_size)

    bound = functools.partial(functools.partial(model_fn, scale=2), params={"learning_rate": 0.1})
    est = tfe.Estimator(bound, str(tmp_path / "partial"), config=models.config())
    est.train(functools.partial(input_fn, 8), steps=1)
    assert seen["params"] == [{"learning_rate": 0.1}] and seen["scale"] == 2  # the partial's, not {}
    assert seen["input"] == (8, {}, tfe.ModeKeys.TRAIN)
    with pytest.raises(ValueError, match="no 'params' argument"):
        tfe.Estimator(bound, str(tmp_path / "partial"), params={"learning_rate": 1.0})

    class Model:
        calls = 0

        def model_fn(self, features, labels, mode, params):
            Model.calls += 1
            return models.linear_model_fn(features, labels, mode, params)

    method = tfe.Estimator(Model().model_fn, str(tmp_path / "method"), config=models.config(), params={})
    method.train(models.train_input_fn, steps=1)
    assert Model.calls == 1 and method.get_variable_value("global_step") == 1


# ---------------------------------------------------------------- no checkpoint
def test_predict_and_evaluate_without_a_checkpoint_initialize_export_refuses(tmp_path, tf_info):
    est = tfe.Estimator(models.linear_model_fn, str(tmp_path), config=models.config(), params={})
    predictions = list(est.predict(models.predict_input_fn))
    assert len(predictions) == 10 and set(predictions[0]) == {"classes", "probabilities", "logits"}
    assert (
        f"Could not find trained model in model_dir: {tmp_path}, running initialization to predict."
        in _tf_messages(tf_info)
    )
    assert est.evaluate(models.eval_input_fn, steps=1)["global_step"] == 0
    assert (
        f"Could not find trained model in model_dir: {tmp_path}, running initialization to evaluate."
        in _tf_messages(tf_info)
    )
    with pytest.raises(ValueError, match="Couldn't find trained model at"):
        est.export_saved_model(str(tmp_path / "export"), models.raw_receiver_fn)
    assert not (tmp_path / "export").exists()


# ---------------------------------------------------------------- tf_keras metrics
def _keras_metrics_model_fn(features, labels, mode):
    logits = v1.layers.dense(features["x"], 2, name="logits")
    classes = tf.argmax(logits, 1)
    loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == tfe.ModeKeys.TRAIN:
        train_op = v1.train.AdamOptimizer(0.05).minimize(loss, global_step=v1.train.get_global_step())
        return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)
    accuracy = tf_keras.metrics.Accuracy(name="keras_accuracy")
    accuracy.update_state(labels, classes)
    mean_loss = tf_keras.metrics.Mean(name="keras_mean_loss")
    mean_loss.update_state(loss)
    metrics = {
        "keras_accuracy": accuracy,
        "keras_mean_loss": mean_loss,
        "v1_accuracy": v1.metrics.accuracy(labels, classes),
    }
    return tfe.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)


def test_tf_keras_metrics_beside_v1_metric_pairs(tmp_path):
    est = tfe.Estimator(_keras_metrics_model_fn, str(tmp_path), config=models.config())
    est.train(models.train_input_fn, steps=5)
    first = est.evaluate(models.eval_input_fn)
    assert first["keras_accuracy"] == pytest.approx(first["v1_accuracy"])
    assert first["keras_mean_loss"] == pytest.approx(first["loss"], rel=1e-5)  # 4 equal batches
    assert est.evaluate(models.eval_input_fn) == first  # the metric variables start from zero each time
    assert not any("keras" in name or name in ("total", "count") for name in est.get_variable_names())

    with tf.Graph().as_default():
        loss = tf.constant(1.0)
        with pytest.raises(ValueError, match="never updated; call update_state"):
            tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=loss, eval_metric_ops={"m": tf_keras.metrics.Mean()})
        with pytest.raises(
            TypeError, match=r"eval_metric_ops\['m'\] must be a \(value, update_op\) tuple or"
        ):
            tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=loss, eval_metric_ops={"m": [loss, loss]})
        metric = tf_keras.metrics.Mean()
        metric.update_state(loss)
        spec = tfe.EstimatorSpec(tfe.ModeKeys.EVAL, loss=loss, eval_metric_ops={"m": metric})
        value, update = spec.eval_metric_ops["m"]
        assert isinstance(value, tf.Tensor) and update is metric.updates[0]
        assert set(metric.variables) <= set(v1.get_collection(v1.GraphKeys.LOCAL_VARIABLES))
        assert set(metric.variables) <= set(v1.get_collection(v1.GraphKeys.METRIC_VARIABLES))


# ---------------------------------------------------------------- log lines
def test_train_logs_tf_estimator_lines_and_step_rates(trained):
    est, messages = trained
    for line in ("Calling model_fn.", "Done calling model_fn.", "Create CheckpointSaverHook."):
        assert line in messages
    loss_lines = [m for m in messages if m.startswith("loss = ")]
    assert re.fullmatch(r"loss = [-+0-9.e]+, step = 1", loss_lines[0]), loss_lines
    for line, step in zip(loss_lines[1:], (3, 5), strict=True):  # every 2 steps; the step after training it
        assert re.fullmatch(rf"loss = [-+0-9.e]+, step = {step} \(\d+\.\d{{3}} sec\)", line), loss_lines
    assert len([m for m in messages if re.fullmatch(r"global_step/sec: [-+0-9.e]+", m)]) == 2
    assert len([m for m in messages if re.fullmatch(r"examples/sec: [-+0-9.e]+", m)]) == 2
    assert re.fullmatch(r"Loss for final step: [-+0-9.e]+\.", messages[-1]), messages[-1]
    # TensorFlow's StepCounterHook writes global_step/sec; examples/sec is the batch size times it.
    events = programs.scalars(est.model_dir)
    assert sorted(events["global_step/sec"]) == sorted(events["examples/sec"]) == [3, 5]
    for step, rate in events["global_step/sec"].items():
        assert events["examples/sec"][step] == pytest.approx(BATCH * rate, rel=1e-4)


def test_evaluate_logs_and_returns_numpy_values(trained, tf_info):
    est, _ = trained
    results = est.evaluate(models.eval_input_fn, steps=2)
    assert set(results) == {"accuracy", "loss", "global_step"}
    assert type(results["accuracy"]) is np.float32 and type(results["loss"]) is np.float32
    assert type(results["global_step"]) is np.int64 and results["global_step"] == 5
    messages = _tf_messages(tf_info)
    start = messages.index("Done calling model_fn.") + 1
    assert re.fullmatch(r"Starting evaluation at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", messages[start])
    assert ["Evaluation [1/2]", "Evaluation [2/2]"] == [m for m in messages if m.startswith("Evaluation [")]
    checkpoint = est.latest_checkpoint()
    assert messages[-4:-2] == [
        m for m in messages if re.fullmatch(r"Inference Time : \d+\.\d{5}s|Finished evaluation at [-:\d]+", m)
    ]
    assert messages[-2:] == [
        f"Saving dict for global step 5: accuracy = {results['accuracy']!s}, global_step = 5, "
        f"loss = {results['loss']!s}",
        f"Saving 'checkpoint_path' summary for global step 5: {checkpoint}",
    ]
    assert re.fullmatch(
        r"loss = \d\.\d+", messages[-2].split(", ")[-1]
    )  # str(np.float32), as 2.15 printed it
    assert est.eval_dir() == os.path.join(est.model_dir, "eval")
    assert est.eval_dir("test") == os.path.join(est.model_dir, "eval_test")
    assert programs.scalars(est.eval_dir())["accuracy"] == {5: pytest.approx(float(results["accuracy"]))}


def test_set_verbosity_info_shows_the_lines_in_a_plain_script(tmp_path):
    """As in a notebook or a script: nothing at INFO by default; after set_verbosity(INFO), the lines."""
    script = textwrap.dedent(
        f"""
        import sys
        import estimator as tfe
        import tensorflow as tf
        from tests.estimator import models

        est = tfe.Estimator(
            models.linear_model_fn, {str(tmp_path)!r}, config=models.config(log_step_count_steps=1), params={{}}
        )
        est.train(models.train_input_fn, steps=1)
        print("--- set_verbosity(INFO) ---", file=sys.stderr, flush=True)
        tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)
        est.train(models.train_input_fn, steps=2)
        est.evaluate(models.eval_input_fn, steps=1)
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    before, after = done.stderr.split("--- set_verbosity(INFO) ---")
    assert "INFO:tensorflow:" not in before
    for line in (
        "INFO:tensorflow:Calling model_fn.",
        "INFO:tensorflow:loss = ",
        ", step = 2\n",
        "INFO:tensorflow:Loss for final step: ",
        "INFO:tensorflow:Saving dict for global step 3: accuracy = ",
    ):
        assert line in after, after[-3000:]


# ---------------------------------------------------------------- export API
def test_export_logs_signatures_and_the_old_name_still_exports(trained, tmp_path, tf_info):
    est, _ = trained
    base = tmp_path / "export"
    path = est.export_savedmodel(str(base), models.raw_receiver_fn, strip_default_attrs=True)
    assert isinstance(path, bytes) and os.path.basename(path).isdigit()
    assert set(tf.saved_model.load(path.decode()).signatures) == {"serving_default"}
    messages = _tf_messages(tf_info)
    assert any("export_savedmodel is deprecated" in m for m in messages)
    for method, names in (
        ("Classify", "None"),
        ("Regress", "None"),
        ("Predict", "['serving_default']"),
        ("Train", "None"),
        ("Eval", "None"),
    ):
        assert f"Signatures INCLUDED in export for {method}: {names}" in messages
    stamp = os.path.basename(path.decode())
    assert f"SavedModel written to: {base}/temp-{stamp}/saved_model.pb" in messages
    assert (
        est.export_savedmodel(str(base), models.raw_receiver_fn) != path
    )  # default: strip_default_attrs=False


def test_signatures_that_cannot_be_served_are_excluded_with_the_reason(trained, tmp_path, tf_info):
    est, _ = trained

    def model_fn(features, labels, mode, params):
        spec = models.linear_model_fn(features, labels, mode, params)
        if mode != tfe.ModeKeys.PREDICT:
            return spec
        outputs = {
            "serving_default": tfe.export.PredictOutput(spec.predictions),
            "classify": tfe.export.ClassificationOutput(scores=spec.predictions["probabilities"]),
        }
        return spec._replace(export_outputs=outputs)

    def receiver_fn():
        receiver = models.raw_receiver_fn()
        unrelated = v1.placeholder(tf.float32, [None, 4], name="unrelated")
        return tfe.export.ServingInputReceiver(
            receiver.features, receiver.receiver_tensors, {"other": unrelated}
        )

    other = tfe.Estimator(model_fn, est.model_dir, config=est.config, params={})
    path = other.export_saved_model(str(tmp_path / "export"), receiver_fn).decode()
    assert set(tf.saved_model.load(path).signatures) == {"serving_default"}
    messages = _tf_messages(tf_info)
    start = messages.index(
        "Signatures EXCLUDED from export because they cannot be be served via TensorFlow Serving APIs:"
    )
    excluded = dict(m.split(" : ", 1) for m in messages[start + 1 : start + 4])
    assert set(excluded) == {"'classify'", "'other:serving_default'", "'other:classify'"}
    assert "single string Tensor" in excluded["'classify'"]
    assert "placeholder 'x'" in excluded["'other:serving_default'"]


def test_export_all_saved_models_writes_train_eval_and_serve_meta_graphs(trained, tmp_path):
    est, _ = trained
    supervised = tfe.export.build_raw_supervised_input_receiver_fn(
        {"x": tf.zeros([1, 4])}, tf.zeros([1], tf.int64)
    )
    path = est.experimental_export_all_saved_models(
        str(tmp_path / "export"),
        {
            tfe.ModeKeys.TRAIN: supervised,
            tfe.ModeKeys.EVAL: supervised,
            tfe.ModeKeys.PREDICT: models.raw_receiver_fn,
        },
    ).decode()
    x, y = models.linear_data(8, seed=3)
    with tf.Graph().as_default(), v1.Session() as session:
        meta_graph = v1.saved_model.loader.load(session, ["eval"], path)
        signature = meta_graph.signature_def["eval"]
        assert signature.method_name == "tensorflow/supervised/eval"
        assert set(signature.inputs) == {"x", "label"}
        assert set(signature.outputs) == {"loss", "metrics/accuracy/value", "metrics/accuracy/update_op"}
        feed = {signature.inputs["x"].name: x, signature.inputs["label"].name: y}
        session.run(signature.outputs["metrics/accuracy/update_op"].name, feed)
        served_loss, accuracy = session.run(
            [signature.outputs["loss"].name, signature.outputs["metrics/accuracy/value"].name], feed
        )
    dataset = lambda: tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(8)  # noqa: E731
    evaluated = est.evaluate(dataset, name="feed")
    assert served_loss == pytest.approx(evaluated["loss"], rel=1e-5)
    assert accuracy == pytest.approx(evaluated["accuracy"])
    with tf.Graph().as_default() as graph, v1.Session() as session:
        meta_graph = v1.saved_model.loader.load(session, ["train"], path)
        assert meta_graph.signature_def["train"].method_name == "tensorflow/supervised/training"
        assert len(graph.get_collection("saved_model_train_op")) == 1
    with tf.Graph().as_default(), v1.Session() as session:
        meta_graph = v1.saved_model.loader.load(session, ["serve"], path)
        assert set(meta_graph.signature_def) == {"serving_default"}
    with pytest.raises(ValueError, match="distinct keys"):
        tfe.export.build_raw_supervised_input_receiver_fn({"label": tf.zeros([1])}, tf.zeros([1]))
    with pytest.raises(ValueError, match="No valid modes"):
        est.experimental_export_all_saved_models(str(tmp_path / "none"), {"bogus": supervised})


def test_tensor_serving_input_receiver_passes_a_single_tensor(tmp_path):
    def model_fn(features, labels, mode):
        assert isinstance(features, tf.Tensor)  # not a dict
        logits = v1.layers.dense(features, 2, name="logits")
        if mode == tfe.ModeKeys.PREDICT:
            return tfe.EstimatorSpec(mode, predictions={"logits": logits})
        loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
        return tfe.EstimatorSpec(mode, loss=loss, train_op=v1.assign_add(v1.train.get_global_step(), 1))

    x, y = models.linear_data(16)
    est = tfe.Estimator(model_fn, str(tmp_path), config=models.config())
    est.train(lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8), steps=1)

    def receiver_fn():
        raw = v1.placeholder(tf.float32, [None, 4], name="raw")
        return tfe.export.TensorServingInputReceiver(raw, {"raw": raw})

    path = est.export_saved_model(str(tmp_path / "export"), receiver_fn).decode()
    served = tf.saved_model.load(path).signatures["serving_default"](raw=tf.constant(x[:3]))
    expected = list(est.predict(lambda: tf.data.Dataset.from_tensor_slices(x[:3]).batch(3)))
    np.testing.assert_allclose(served["logits"].numpy(), [p["logits"] for p in expected], atol=1e-6)
    with tf.Graph().as_default():
        t = tf.zeros([1, 4])
        assert tfe.export.ServingInputReceiver(t, t).features == {"feature": t}
        assert tfe.export.ServingInputReceiver(t, t).receiver_tensors == {"input": t}
        with pytest.raises(ValueError, match="must be a single Tensor"):
            tfe.export.TensorServingInputReceiver({"a": t}, t)


def test_train_and_eval_outputs_name_their_signature_outputs():
    with tf.Graph().as_default():
        inputs = {"x": v1.placeholder(tf.float32, [None, 2])}
        loss = tf.reduce_sum(inputs["x"])
        metric = v1.metrics.mean(loss)
        output = tfe.export.EvalOutput(loss=loss, predictions={"p": inputs["x"] * 2}, metrics={"m": metric})
        signature = output.as_signature_def(inputs)
        assert set(signature.outputs) == {"loss", "predictions/p", "metrics/m/value", "metrics/m/update_op"}
        train = tfe.export.TrainOutput(loss={"total": loss}, metrics={"m": (metric[0], tf.no_op())})
        signature = train.as_signature_def(inputs)
        assert set(signature.outputs) == {"loss/total", "metrics/m/value", "metrics/m/update_op"}
        assert signature.method_name == "tensorflow/supervised/training"


# ---------------------------------------------------------------- warm start
def _write_checkpoint(directory, **values):
    with tf.Graph().as_default():
        for name, value in values.items():
            v1.get_variable(name, initializer=np.asarray(value, np.float32), trainable=name != "w_slot")
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            return v1.train.Saver().save(session, os.path.join(directory, "model.ckpt"))


def _embedding_model_fn(features, labels, mode):
    emb = v1.get_variable("emb", [3, 2], initializer=v1.zeros_initializer())
    w = v1.get_variable("w", [1], initializer=v1.zeros_initializer())
    w_slot = v1.get_variable("w_slot", [1], initializer=v1.zeros_initializer(), trainable=False)
    loss = tf.reduce_sum(features["x"]) * 0 + tf.reduce_sum(emb) + tf.reduce_sum(w) + tf.reduce_sum(w_slot)
    return tfe.EstimatorSpec(mode, loss=loss, train_op=v1.assign_add(v1.train.get_global_step(), 1))


def test_warm_start_with_vocab_info_renames_and_a_list_of_scopes(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    _write_checkpoint(str(source), old_emb=[[1, 1], [2, 2], [3, 3]], w=[5], w_slot=[7])
    (tmp_path / "old.txt").write_text("a\nb\nc\n")
    (tmp_path / "new.txt").write_text("c\na\nd\n")
    vocab = tfe.VocabInfo(
        new_vocab=str(tmp_path / "new.txt"),
        new_vocab_size=3,
        num_oov_buckets=0,
        old_vocab=str(tmp_path / "old.txt"),
        backup_initializer=v1.zeros_initializer(),
    )
    settings = tfe.WarmStartSettings(
        str(source),  # a directory: its latest checkpoint
        vars_to_warm_start=["emb", "w"],  # a list: scopes over all global variables (w_slot too)
        var_name_to_vocab_info={"emb": vocab},
        var_name_to_prev_var_name={"emb": "old_emb"},
    )
    est = tfe.Estimator(
        _embedding_model_fn, str(tmp_path / "a"), config=models.config(), warm_start_from=settings
    )
    est.train(models.train_input_fn, steps=1)
    np.testing.assert_array_equal(est.get_variable_value("emb"), [[3, 3], [1, 1], [0, 0]])  # c, a, new d
    assert est.get_variable_value("w") == 5 and est.get_variable_value("w_slot") == 7

    # The default ".*": trainable variables only.
    default = tfe.WarmStartSettings(str(source), var_name_to_prev_var_name={"emb": "old_emb"})
    assert default.vars_to_warm_start == ".*" and default.var_name_to_vocab_info == {}
    est = tfe.Estimator(
        _embedding_model_fn, str(tmp_path / "b"), config=models.config(), warm_start_from=default
    )
    est.train(models.train_input_fn, steps=1)
    np.testing.assert_array_equal(est.get_variable_value("emb"), [[1, 1], [2, 2], [3, 3]])
    assert est.get_variable_value("w") == 5 and est.get_variable_value("w_slot") == 0

    with pytest.raises(ValueError, match="ckpt_to_initialize_from"):
        tfe.WarmStartSettings("")
    with pytest.raises(ValueError, match="warm_start_from must be a path or a WarmStartSettings"):
        tfe.Estimator(_embedding_model_fn, warm_start_from=3)


def test_predict_without_a_checkpoint_warm_starts_from_a_saved_model(trained, tmp_path, tf_info):
    est, _ = trained
    export_dir = est.export_saved_model(str(tmp_path / "export"), models.raw_receiver_fn)
    warm = tfe.Estimator(
        models.linear_model_fn,
        str(tmp_path / "warm"),
        config=models.config(),
        params={},
        warm_start_from=export_dir,
    )
    expected = [p["logits"] for p in est.predict(models.predict_input_fn)]
    np.testing.assert_allclose(
        [p["logits"] for p in warm.predict(models.predict_input_fn)], expected, atol=1e-6
    )
    messages = _tf_messages(tf_info)
    assert "Warm-starting from a SavedModel" in messages
    assert any(m.startswith("Warm-starting with WarmStartSettings: WarmStartSettings(") for m in messages)
