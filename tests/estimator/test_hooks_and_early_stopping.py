"""The SessionRunHook names tfe re-exports, each in a real train/evaluate/predict call; early stopping
in train_and_evaluate; InMemoryEvaluatorHook; make_stop_at_checkpoint_step_hook."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from estimator import early_stopping
from tests.estimator import models
from tests.estimator.logs import tf_log

v1 = tf.compat.v1
HOOK_NAMES = [
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "FeedFnHook",
    "FinalOpsHook",
    "GlobalStepWaiterHook",
    "LoggingTensorHook",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "ProfilerHook",
    "SecondOrStepTimer",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "StepCounterHook",
    "StopAtStepHook",
    "SummarySaverHook",
]
CLUSTER = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]}


def _step(est):
    return int(est.get_variable_value("global_step"))


def _event_steps(directory, tag):
    steps = []
    for path in sorted(tf.io.gfile.glob(os.path.join(str(directory), "events.out.tfevents.*"))):
        for event in v1.train.summary_iterator(path):
            if any(value.tag == tag for value in event.summary.value):
                steps.append(event.step)
    return steps


def _model_fn_with(make_hooks):
    """linear_model_fn plus hooks made in its graph: make_hooks(mode, loss, kernel) -> [hooks]."""

    def model_fn(features, labels, mode, params):
        spec = models.linear_model_fn(features, labels, mode, params)
        (kernel,) = [v for v in v1.global_variables() if v.op.name == "logits/kernel"]
        hooks = make_hooks(mode, spec.loss, kernel)
        key = {tfe.ModeKeys.TRAIN: "training_hooks", tfe.ModeKeys.EVAL: "evaluation_hooks"}.get(mode)
        if key is None:
            return spec
        return spec._replace(**{key: tuple(hooks)})

    return model_fn


def test_the_hook_names_are_tensorflows_own_classes():
    for name in HOOK_NAMES:
        assert getattr(tfe, name) is getattr(v1.train, name) and name in tfe.__all__
    assert issubclass(tfe.NanLossError, tfe.NanLossDuringTrainingError)


class _Recorder(tfe.SessionRunHook):
    """Checks the types a MonitoredSession hands a hook and records the calls."""

    def __init__(self):
        self.calls, self.steps = [], []

    def begin(self):
        self.calls.append("begin")
        self._global_step = v1.train.get_global_step()

    def after_create_session(self, session, coord):
        self.calls.append("after_create_session")

    def before_run(self, run_context):
        assert isinstance(run_context, tfe.SessionRunContext)
        return tfe.SessionRunArgs({"step": self._global_step})

    def after_run(self, run_context, run_values):
        assert isinstance(run_values, tfe.SessionRunValues)
        self.steps.append(int(run_values.results["step"]))

    def end(self, session):
        self.calls.append("end")


def test_session_run_hook_args_context_and_values_in_train_evaluate_and_predict(tmp_path):
    est = models.make_estimator(tmp_path)
    for call in (
        lambda hook: est.train(models.train_input_fn, steps=3, hooks=[hook]),
        lambda hook: est.evaluate(models.eval_input_fn, steps=2, hooks=[hook]),
        lambda hook: list(est.predict(models.predict_input_fn, hooks=[hook])),
    ):
        hook = _Recorder()
        call(hook)
        assert hook.calls == ["begin", "after_create_session", "end"]
        assert len(hook.steps) in (3, 2) and all(0 <= s <= 3 for s in hook.steps)
    assert hook.steps == [3, 3, 3]  # predict: 10 examples in batches of 4, the trained model's global step


def test_logging_tensor_hook_stop_at_step_hook_and_second_or_step_timer(tmp_path):
    logged = []

    class EveryThird(tfe.SessionRunHook):
        def begin(self):
            self.timer, self.triggered, self.iterations = tfe.SecondOrStepTimer(every_steps=3), [], 0

        def after_run(self, run_context, run_values):
            self.iterations += 1
            if self.timer.should_trigger_for_step(self.iterations):
                self.timer.update_last_triggered_step(self.iterations)
                self.triggered.append(self.iterations)

    every_third = EveryThird()
    hooks = [
        tfe.LoggingTensorHook(
            {"step": "global_step"}, every_n_iter=2, formatter=lambda v: logged.append(v) or ""
        ),
        tfe.StopAtStepHook(last_step=7),
        every_third,
    ]
    est = models.make_estimator(tmp_path)
    est.train(models.train_input_fn, hooks=hooks)  # the input repeats: the hook stops it
    assert _step(est) == 7
    assert len(logged) == 4 and all(set(v) == {"step"} for v in logged)  # iterations 1, 3, 5, 7
    assert every_third.triggered == [1, 4, 7]


def test_checkpoint_saver_hook_and_listener_as_training_hooks(tmp_path):
    class Listener(tfe.CheckpointSaverListener):
        saved = []

        def after_save(self, session, global_step_value):
            self.saved.append(global_step_value)

    est = models.make_estimator(
        tmp_path, save_checkpoints_steps=None, save_checkpoints_secs=None
    )  # no saver of its own
    hook = tfe.CheckpointSaverHook(str(tmp_path), save_steps=4, listeners=[Listener()])
    est.train(models.train_input_fn, steps=8, hooks=[hook])
    assert Listener.saved == [0, 4, 8] and _step(est) == 8
    assert est.latest_checkpoint().endswith("model.ckpt-8")


def test_step_counter_profiler_and_global_step_waiter_hooks(tmp_path):
    def profiler(mode, loss, kernel):  # a ProfilerHook opens its writer when made: in a graph, as in TF 2.15
        return [tfe.ProfilerHook(save_steps=3, output_dir=str(tmp_path / "profile"))]

    est = models.make_estimator(tmp_path / "m", model_fn=_model_fn_with(profiler))
    est.train(models.train_input_fn, steps=4)
    hooks = [
        tfe.StepCounterHook(every_n_steps=2, output_dir=str(tmp_path / "steps")),
        tfe.GlobalStepWaiterHook(wait_until_step=3),  # global step 4 already: no wait
    ]
    est.train(models.train_input_fn, steps=6, hooks=hooks)
    assert _step(est) == 10
    assert _event_steps(tmp_path / "steps", "global_step/sec")
    assert [name for name in os.listdir(tmp_path / "profile") if name.startswith("timeline-")]


def test_nan_tensor_hook_stops_or_fails(tmp_path):
    def nan_from_step_5(mode, loss, kernel):
        step = tf.cast(v1.train.get_global_step(), tf.float32)
        nan = tf.where(step >= 5.0, np.float32("nan"), 0.0)
        return [tfe.NanTensorHook(nan, fail_on_nan_loss=name == "fail")]

    for name in ("stop", "fail"):
        est = models.make_estimator(tmp_path / name, model_fn=_model_fn_with(nan_from_step_5))
        if name == "fail":
            with pytest.raises(tfe.NanLossDuringTrainingError):
                est.train(models.train_input_fn, steps=50)
        else:
            est.train(models.train_input_fn, steps=50)
            assert 5 <= _step(est) <= 7  # stopped at the first NaN, long before 50


def test_a_nan_loss_raises_nan_loss_during_training_error(tmp_path):
    def model_fn(features, labels, mode):
        w = v1.get_variable("w", initializer=1.0)
        loss = w * np.float32("nan")
        return tfe.EstimatorSpec(mode, loss=loss, train_op=v1.assign_add(v1.train.get_global_step(), 1))

    with pytest.raises(tfe.NanLossDuringTrainingError):
        tfe.Estimator(model_fn, str(tmp_path)).train(models.train_input_fn, steps=3)


def test_summary_saver_and_final_ops_hooks_from_the_model_fn(tmp_path):
    final = []

    def make_hooks(mode, loss, kernel):
        if mode == tfe.ModeKeys.TRAIN:
            summary = v1.summary.scalar("kernel_sum", tf.reduce_sum(kernel))
            return [tfe.SummarySaverHook(save_steps=2, output_dir=str(tmp_path / "s"), summary_op=summary)]
        final.append(tfe.FinalOpsHook({"kernel_sum": tf.reduce_sum(kernel)}))
        return final[-1:]

    est = models.make_estimator(tmp_path / "m", model_fn=_model_fn_with(make_hooks))
    est.train(models.train_input_fn, steps=5)
    written = _event_steps(tmp_path / "s", "kernel_sum")
    # Every 2nd of the 5 steps; the hook reads global_step in the same run as its increment (before or after).
    assert 2 <= len(written) <= 4 and written == sorted(written) and all(0 <= s <= 5 for s in written)
    est.evaluate(models.eval_input_fn)
    expected = est.get_variable_value("logits/kernel").sum()
    assert final[0].final_ops_values["kernel_sum"] == pytest.approx(expected)


def test_feed_fn_hook_feeds_placeholders_in_train_and_predict(tmp_path):
    x, y = models.linear_data(12)
    holders = {}

    def input_fn(mode):
        holders["x"] = v1.placeholder(tf.float32, [None, 4])
        holders["y"] = v1.placeholder(tf.int64, [None])
        return {"x": holders["x"]}, holders["y"]

    def feeder():
        batches = iter(range(0, 12, 4))

        def feed_fn():
            i = next(batches)  # StopIteration after 3 batches ends the run, as the end of an input does
            return {holders["x"]: x[i : i + 4], holders["y"]: y[i : i + 4]}

        return tfe.FeedFnHook(feed_fn)

    est = models.make_estimator(tmp_path)
    est.train(input_fn, hooks=[feeder()])
    assert _step(est) == 3
    predictions = list(est.predict(input_fn, hooks=[feeder()]))
    assert len(predictions) == 12 and predictions[0]["probabilities"].shape == (2,)


# ----------------------------------------------------------------- early stopping


def _train_and_evaluate(est, hook, max_steps=200, eval_steps=None):
    return tfe.train_and_evaluate(
        est,
        tfe.TrainSpec(models.train_input_fn, max_steps=max_steps, hooks=[hook]),
        tfe.EvalSpec(models.eval_input_fn, steps=eval_steps, throttle_secs=0),
    )


def test_stop_if_higher_stops_train_and_evaluate_once_the_toy_problem_is_learned(tmp_path):
    est = models.make_estimator(tmp_path, save_checkpoints_steps=10, tf_random_seed=0)
    hook = tfe.experimental.stop_if_higher_hook(est, "accuracy", 0.98, run_every_secs=None, run_every_steps=1)
    with tf_log() as messages:
        metrics, _ = _train_and_evaluate(est, hook)
    evaluated = early_stopping.read_eval_metrics(str(tmp_path / "eval"))
    first_good = min(step for step, m in evaluated.items() if m["accuracy"] > 0.98)
    assert first_good <= metrics["global_step"] <= first_good + 2 < 200  # stopped right after it
    assert any(
        'metric "accuracy" has value' in m and "greater than the configured threshold (0.98)" in m
        for m in messages
    )
    assert any(m.startswith("Requesting early stopping at global step") for m in messages)


def test_stop_if_no_decrease_counts_steps_since_the_best_evaluation(tmp_path):
    est = models.make_estimator(
        tmp_path, params={"learning_rate": 0.0}, save_checkpoints_steps=10
    )  # the loss never moves
    hook = tfe.experimental.stop_if_no_decrease_hook(est, "loss", 20, run_every_secs=None, run_every_steps=1)
    with tf_log() as messages:
        metrics, _ = _train_and_evaluate(est, hook)
    assert 30 <= metrics["global_step"] <= 32  # evaluations at 10, 20, 30: 20 steps without a decrease
    assert (
        'No decrease in metric "loss" for 20 steps, which is greater than or equal to max steps (20) '
        in " ".join(messages)
    )


def test_min_steps_ignores_earlier_evaluations(tmp_path):
    est = models.make_estimator(tmp_path, save_checkpoints_steps=10)
    hook = tfe.experimental.stop_if_lower_hook(
        est, "loss", 1e9, min_steps=20, run_every_secs=None, run_every_steps=1
    )
    metrics, _ = _train_and_evaluate(est, hook, eval_steps=1)
    assert 20 <= metrics["global_step"] <= 22


def test_a_worker_stops_once_the_chief_has_signalled(monkeypatch, tmp_path):
    chief = models.make_estimator(tmp_path)
    hook = tfe.experimental.make_early_stopping_hook(
        chief, lambda: True, run_every_secs=None, run_every_steps=5
    )
    chief.train(models.train_input_fn, steps=50, hooks=[hook])
    assert _step(chief) == 1  # the first check stops
    assert chief.get_variable_value("signal_early_stopping/STOP")  # the signal the other workers read
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 0}}))
    worker_hook = tfe.experimental.make_early_stopping_hook(
        models.make_estimator(tmp_path / "w"), lambda: False
    )
    monkeypatch.delenv("TF_CONFIG")
    chief.train(models.train_input_fn, steps=50, hooks=[worker_hook])  # restores STOP = True
    assert _step(chief) == 2


def test_early_stopping_arguments_are_checked(tmp_path):
    est = models.make_estimator(tmp_path)
    with pytest.raises(ValueError, match="Only one of `run_every_secs` and `run_every_steps`"):
        tfe.experimental.make_early_stopping_hook(est, lambda: True, run_every_secs=1, run_every_steps=1)
    with pytest.raises(TypeError, match="must be an Estimator"):
        tfe.experimental.stop_if_higher_hook(object(), "accuracy", 0.5)
    with pytest.raises(TypeError, match="should_stop_fn` must be callable"):
        tfe.experimental.make_early_stopping_hook(est, True)


def test_make_stop_at_checkpoint_step_hook(monkeypatch, tmp_path):
    chief = models.make_estimator(tmp_path / "chief")
    chief.train(models.train_input_fn, hooks=[tfe.experimental.make_stop_at_checkpoint_step_hook(chief, 10)])
    assert _step(chief) == 10
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 0}}))
    worker = tfe.Estimator(models.linear_model_fn, str(tmp_path / "chief"), params={})
    hook = tfe.experimental.make_stop_at_checkpoint_step_hook(worker, 8, wait_after_file_check_secs=0)
    monkeypatch.delenv("TF_CONFIG")
    other = models.make_estimator(tmp_path / "other")
    other.train(models.train_input_fn, steps=50, hooks=[hook])  # the chief's checkpoint is at step 10 >= 8
    assert 7 <= _step(other) <= 8


# ----------------------------------------------------------------- InMemoryEvaluatorHook


def test_in_memory_evaluator_writes_eval_results_during_training(tmp_path):
    est = models.make_estimator(tmp_path)  # checkpoints every 1000 steps: only the first and the last
    hook = tfe.experimental.InMemoryEvaluatorHook(est, models.eval_input_fn, every_n_iter=5, name="mem")
    est.train(models.train_input_fn, steps=20, hooks=[hook])
    assert _event_steps(tmp_path / "eval_mem", "loss") == [0, 5, 10, 15, 20, 20]  # start, every 5, end
    assert sorted(p.name for p in tmp_path.glob("model.ckpt-*.index")) == [
        "model.ckpt-0.index",
        "model.ckpt-20.index",
    ]
    results = early_stopping.read_eval_metrics(str(tmp_path / "eval_mem"))
    assert results[20]["loss"] < results[0]["loss"] and set(results[5]) == {"loss", "accuracy"}
    assert not tf.io.gfile.glob("ram://in_memory_evaluator/*")  # nothing left in memory


def test_in_memory_evaluator_arguments(monkeypatch, tmp_path):
    est = models.make_estimator(tmp_path)
    with pytest.raises(ValueError, match="invalid every_n_iter=0"):
        tfe.experimental.InMemoryEvaluatorHook(est, models.eval_input_fn, every_n_iter=0)
    with pytest.raises(TypeError, match="must be SessionRunHooks"):
        tfe.experimental.InMemoryEvaluatorHook(est, models.eval_input_fn, hooks=[object()])
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}))
    in_cluster = tfe.Estimator(models.linear_model_fn, str(tmp_path / "c"), params={})
    with pytest.raises(ValueError, match="supports only single machine"):
        tfe.experimental.InMemoryEvaluatorHook(in_cluster, models.eval_input_fn)
