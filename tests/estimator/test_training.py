"""train_and_evaluate with exporters; a tf.estimator-style DNN classifier learns."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from estimator import distributed, export_dirs
from tests.estimator import models
from tests.estimator.logs import tf_log

v1 = tf.compat.v1


def _events(eval_dir):
    steps = []
    for name in sorted(os.listdir(eval_dir)):
        for event in v1.train.summary_iterator(os.path.join(eval_dir, name)):
            if event.HasField("summary") and any(v.tag == "loss" for v in event.summary.value):
                steps.append(event.step)
    return steps


def _specs(max_steps, exporters, throttle_secs=0):
    return (
        tfe.TrainSpec(models.train_input_fn, max_steps=max_steps),
        tfe.EvalSpec(models.eval_input_fn, steps=None, exporters=exporters, throttle_secs=throttle_secs),
    )


def test_evaluates_after_each_checkpoint_and_exports(tmp_path):
    est = tfe.Estimator(
        models.linear_model_fn, str(tmp_path), config=models.config(save_checkpoints_steps=10)
    )
    latest = tfe.LatestExporter("latest", models.raw_receiver_fn, exports_to_keep=2)
    final = tfe.FinalExporter("final", models.raw_receiver_fn)
    metrics, exports = tfe.train_and_evaluate(est, *_specs(30, [latest, final]))
    assert metrics["global_step"] == 30 and 0.0 <= metrics["accuracy"] <= 1.0
    assert _events(tmp_path / "eval") == [10, 20, 30]  # not the step-0 save; the final one once
    assert len(os.listdir(tmp_path / "export" / "latest")) == 2  # garbage-collected to exports_to_keep
    assert len(os.listdir(tmp_path / "export" / "final")) == 1
    assert sorted(os.path.dirname(e).decode() for e in exports) == [
        str(tmp_path / "export" / "final"),
        str(tmp_path / "export" / "latest"),
    ]


def test_best_exporter_exports_first_then_only_improvements_across_restarts(tmp_path):
    losses = iter([0.5, 0.7, 0.4, 0.6, 0.3])

    def compare(best_eval_result, current_eval_result):
        return current_eval_result["loss"] < best_eval_result["loss"]

    class Scripted(tfe.BestExporter):
        def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
            return super().export(
                estimator, export_path, checkpoint_path, {**eval_result, "loss": next(losses)}, False
            )

    est = tfe.Estimator(
        models.linear_model_fn, str(tmp_path), config=models.config(save_checkpoints_steps=10)
    )
    best = Scripted(
        serving_input_receiver_fn=models.raw_receiver_fn, compare_fn=compare, event_file_pattern=None
    )
    tfe.train_and_evaluate(est, *_specs(30, [best]))
    assert len(os.listdir(tmp_path / "export" / "best_exporter")) == 2  # 0.5 (first), then 0.4

    # A restarted job takes the evaluation of its newest complete export as the best, and beats it or not.
    base = str(tmp_path / "export" / "best_exporter")
    restarted = tfe.BestExporter(serving_input_receiver_fn=models.raw_receiver_fn)
    worse = restarted.export(est, base, est.latest_checkpoint(), {"loss": 1e9, "global_step": 99}, False)
    assert worse is None
    better = restarted.export(est, base, est.latest_checkpoint(), {"loss": -1.0, "global_step": 99}, False)
    assert better is not None


def test_an_export_a_crash_interrupted_is_not_a_best_and_is_cleaned_up(tmp_path):
    """kill -9 during the best exporter's only export: the rerun exports again (tf.estimator never did)."""
    est = tfe.Estimator(
        models.linear_model_fn, str(tmp_path), config=models.config(save_checkpoints_steps=10)
    )
    tfe.train_and_evaluate(est, *_specs(10, [tfe.BestExporter("best", models.raw_receiver_fn)]))
    base = tmp_path / "export" / "best"
    (export,) = os.listdir(base)
    os.rename(base / export, base / f"temp-{export}")  # what a kill during the export leaves
    assert export_dirs.newest_export(str(base)) is None
    est.train(models.train_input_fn, steps=10)
    metrics, exports = tfe.train_and_evaluate(
        est, *_specs(20, [tfe.BestExporter("best", models.raw_receiver_fn)])
    )
    assert len(exports) == 1 and export_dirs.newest_export(str(base)) == exports[0].decode()
    assert sorted(os.listdir(base)) == [os.path.basename(exports[0].decode())]  # the stale temp- dir is gone


@pytest.mark.parametrize("deleted", ["before the export", "while the export restores it"])
def test_a_distributed_evaluator_skips_a_checkpoint_the_chief_deleted(deleted, monkeypatch, tmp_path):
    # The chief's Saver (keep_checkpoint_max) may delete a checkpoint the evaluator is busy with;
    # the evaluator goes on to the next one instead of failing.
    est = tfe.Estimator(models.linear_model_fn, str(tmp_path), config=models.config())
    est.train(models.train_input_fn, max_steps=5)
    eval_spec = tfe.EvalSpec(models.eval_input_fn, steps=None, start_delay_secs=0, throttle_secs=0)
    evaluated = []

    def delete(path):
        for name in tf.io.gfile.glob(path + ".*"):
            tf.io.gfile.remove(name)

    def evaluate(path, is_final):
        evaluated.append(path)
        est.evaluate(models.eval_input_fn, checkpoint_path=path)
        est.train(models.train_input_fn, max_steps=10)  # the chief's next, final checkpoint
        if deleted == "before the export":
            delete(path)
        else:  # between listing the checkpoint's variables and restoring them
            list_variables = tf.train.list_variables
            monkeypatch.setattr(tf.train, "list_variables", lambda p: (list_variables(p), delete(p))[0])
        return est.export_saved_model(str(tmp_path / "export"), models.raw_receiver_fn, checkpoint_path=path)

    metrics, exports = distributed.run_evaluator(est, evaluate, eval_spec, max_steps=10)
    assert [os.path.basename(p) for p in evaluated] == ["model.ckpt-5"]
    assert (metrics, exports) == (None, [])  # the chief evaluates and exports the final checkpoint
    assert not os.listdir(tmp_path / "export")  # no export, no leftover temp-*


def test_a_distributed_evaluator_still_fails_on_a_checkpoint_that_exists(tmp_path):
    est = tfe.Estimator(models.linear_model_fn, str(tmp_path), config=models.config())
    est.train(models.train_input_fn, max_steps=5)

    def evaluate(path, is_final):
        raise ValueError("a bug in an exporter")

    eval_spec = tfe.EvalSpec(models.eval_input_fn, start_delay_secs=0, throttle_secs=0)
    with pytest.raises(ValueError, match="a bug in an exporter"):
        distributed.run_evaluator(est, evaluate, eval_spec, 10)


def test_needs_checkpoints():
    est = tfe.Estimator(models.linear_model_fn, config=tfe.RunConfig(save_checkpoints_secs=None))
    with pytest.raises(ValueError, match="There should be a CheckpointSaverHook to use saving_listeners"):
        tfe.train_and_evaluate(est, *_specs(5, []))


def _iris_like(n, seed):
    """Three Gaussian classes in 4 dimensions, like the Iris measurements."""
    rng = np.random.RandomState(seed)
    centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]], np.float32)
    y = rng.randint(0, 3, n)
    x = centers[y] + rng.normal(0, 0.35, (n, 4)).astype(np.float32)
    return {"SepalLength": x[:, 0], "SepalWidth": x[:, 1], "PetalLength": x[:, 2], "PetalWidth": x[:, 3]}, y


def dnn_model_fn(features, labels, mode, params):
    """A custom DNN classifier written as the tf.estimator Iris guide writes one."""
    net = tf.stack([features[k] for k in sorted(features)], axis=1)
    for units in params["hidden_units"]:
        net = v1.layers.dense(net, units, activation=tf.nn.relu)
    logits = v1.layers.dense(net, params["n_classes"])
    predicted = tf.argmax(logits, 1)
    if mode == tfe.ModeKeys.PREDICT:
        return tfe.EstimatorSpec(mode, predictions={"class_ids": predicted[:, tf.newaxis], "logits": logits})
    loss = v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    accuracy = v1.metrics.accuracy(labels=labels, predictions=predicted, name="acc_op")
    if mode == tfe.ModeKeys.EVAL:
        return tfe.EstimatorSpec(mode, loss=loss, eval_metric_ops={"accuracy": accuracy})
    train_op = v1.train.AdagradOptimizer(0.1).minimize(loss, global_step=v1.train.get_global_step())
    return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_iris_style_dnn_classifier_learns(tmp_path):
    classifier = tfe.Estimator(
        dnn_model_fn, str(tmp_path), params={"hidden_units": [10, 10], "n_classes": 3}, config=models.config()
    )
    train_x, train_y = _iris_like(600, 0)
    test_x, test_y = _iris_like(300, 1)
    classifier.train(
        lambda: (
            tf.data.Dataset.from_tensor_slices((train_x, train_y)).shuffle(600, seed=0).repeat().batch(32)
        ),
        steps=400,
    )
    result = classifier.evaluate(lambda: tf.data.Dataset.from_tensor_slices((test_x, test_y)).batch(100))
    assert result["accuracy"] >= 0.9


# ----------------------------------------------------------------- TrainSpec.saving_listeners and the log lines


class _Listener(tfe.CheckpointSaverListener):
    """Records the calls, and the evaluations already written when each save is done."""

    def __init__(self, eval_dir):
        self.eval_dir, self.calls, self.evaluated_at_save = eval_dir, [], {}

    def begin(self):
        self.calls.append("begin")

    def before_save(self, session, global_step_value):
        self.calls.append(("before_save", global_step_value))

    def after_save(self, session, global_step_value):
        self.calls.append(("after_save", global_step_value))
        self.evaluated_at_save[global_step_value] = (
            _events(self.eval_dir) if os.path.isdir(self.eval_dir) else []
        )

    def end(self, session, global_step_value):
        self.calls.append(("end", global_step_value))


def test_train_spec_saving_listeners_run_around_each_checkpoint_before_the_evaluation(tmp_path):
    est = tfe.Estimator(
        models.linear_model_fn, str(tmp_path), config=models.config(save_checkpoints_steps=10)
    )
    listener = _Listener(str(tmp_path / "eval"))
    train_spec = tfe.TrainSpec(models.train_input_fn, max_steps=20, saving_listeners=[listener])
    assert train_spec.saving_listeners == (listener,)
    eval_spec = tfe.EvalSpec(models.eval_input_fn, steps=None, throttle_secs=0)
    with tf_log() as messages:
        metrics, _ = tfe.train_and_evaluate(est, train_spec, eval_spec)
    assert metrics["global_step"] == 20
    saves = [(call, step) for step in (0, 10, 20) for call in ("before_save", "after_save")]
    assert listener.calls == ["begin", *saves, ("end", 20)]
    assert listener.evaluated_at_save == {0: [], 10: [], 20: [10]}  # the user's listener runs first
    assert "Not using Distribute Coordinator." in messages
    assert "Running training and evaluation locally (non-distributed)." in messages
    assert (
        "Start train and evaluate loop. The evaluate will happen after every checkpoint. Checkpoint frequency "
        "is determined based on RunConfig arguments: save_checkpoints_steps 10 or save_checkpoints_secs None."
    ) in messages


def test_throttle_secs_skips_checkpoints_and_says_so(tmp_path):
    est = tfe.Estimator(
        models.linear_model_fn, str(tmp_path), config=models.config(save_checkpoints_steps=10)
    )
    with tf_log() as messages:
        tfe.train_and_evaluate(est, *_specs(30, [], throttle_secs=600))
    assert _events(tmp_path / "eval") == [10, 30]  # the first after the step-0 save, then the final one
    assert messages.count("Skip the current checkpoint eval due to throttle secs (600 secs).") == 2


def test_the_chief_of_a_one_task_cluster_trains_in_process_with_its_listeners(monkeypatch, tmp_path):
    tf_config = {"cluster": {"chief": ["127.0.0.1:1"]}, "task": {"type": "chief", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    est = tfe.Estimator(models.linear_model_fn, str(tmp_path), config=models.config(save_checkpoints_steps=5))
    listener = _Listener(str(tmp_path / "eval"))
    with tf_log() as messages:
        metrics, _ = tfe.train_and_evaluate(
            est,
            tfe.TrainSpec(models.train_input_fn, max_steps=5, saving_listeners=[listener]),
            tfe.EvalSpec(models.eval_input_fn, steps=None),
        )
    assert metrics["global_step"] == 5 and ("after_save", 5) in listener.calls
    assert "Skip starting Tensorflow server as there is only one node in the cluster." in messages


def test_train_spec_validates_hooks_and_listeners():
    with pytest.raises(TypeError, match="saving_listeners must be CheckpointSaverListener instances"):
        tfe.TrainSpec(models.train_input_fn, saving_listeners=[object()])
    with pytest.raises(TypeError, match="TrainSpec hooks must be SessionRunHook instances"):
        tfe.TrainSpec(models.train_input_fn, hooks=[object()])
    with pytest.raises(TypeError, match="EvalSpec name must be a string"):
        tfe.EvalSpec(models.eval_input_fn, name=3)
    assert tfe.TrainSpec(models.train_input_fn).saving_listeners == ()
