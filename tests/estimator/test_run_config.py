"""RunConfig: tf.estimator 2.15's arguments, defaults, validation and replace(); TF_CONFIG; strategies.

The settings' effects are tested on real training runs at the end.
"""

import functools
import json
import time
import types

import pytest
import tensorflow as tf

import estimator as tfe
from common.net import free_ports
from estimator import distributed
from tests.estimator import models
from tests.estimator.logs import tf_log

v1 = tf.compat.v1


def test_defaults():
    config = tfe.RunConfig()
    assert config.save_checkpoints_secs == 600 and config.save_checkpoints_steps is None
    assert (config.save_summary_steps, config.keep_checkpoint_max, config.log_step_count_steps) == (
        100,
        5,
        100,
    )
    assert (
        config.task_type == "worker"  # tf.estimator: a process outside a cluster is worker 0, the chief
        and config.task_id == 0
        and config.is_chief
        and config.master == ""
        and config.num_worker_replicas == 1
    )


def test_setting_one_checkpoint_schedule_clears_the_other():
    assert tfe.RunConfig(save_checkpoints_steps=10).save_checkpoints_secs is None
    assert tfe.RunConfig(save_checkpoints_secs=5).save_checkpoints_steps is None
    with pytest.raises(ValueError, match="not both"):
        tfe.RunConfig(save_checkpoints_steps=10, save_checkpoints_secs=5)
    replaced = tfe.RunConfig(save_checkpoints_steps=10).replace(save_checkpoints_secs=30, model_dir="/m")
    assert (replaced.save_checkpoints_secs, replaced.save_checkpoints_steps, replaced.model_dir) == (
        30,
        None,
        "/m",
    )


def test_replace_keeps_other_settings_and_refuses_unknown_ones():
    config = tfe.RunConfig(tf_random_seed=3, keep_checkpoint_max=2).replace(model_dir="/m")
    assert (config.tf_random_seed, config.keep_checkpoint_max) == (3, 2)
    with pytest.raises(ValueError, match="unknown settings"):
        config.replace(batch_size=3)


CLUSTER = {
    "chief": ["localhost:1000"],
    "worker": ["localhost:1001", "localhost:1002"],
    "ps": ["localhost:1003"],
}


def test_cluster_facts(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}))
    config = tfe.RunConfig()
    assert (config.task_type, config.task_id, config.is_chief) == ("worker", 1, False)
    assert config.master == "grpc://localhost:1002"
    assert (config.num_ps_replicas, config.num_worker_replicas, config.global_id_in_cluster) == (1, 3, 2)


@pytest.mark.parametrize(
    "tf_config,message",
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}),
            'exactly one "chief"',
        ),
        (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}), "out of range"),
        (json.dumps({"cluster": CLUSTER, "task": {"type": "boss", "index": 0}}), 'unknown task type "boss"'),
        (json.dumps({"cluster": {**CLUSTER, "gpu": ["a:1"]}, "task": {"type": "ps"}}), 'unknown job "gpu"'),
        (json.dumps({"cluster": {"chief": "a:1"}, "task": {"type": "chief"}}), "must be a list"),
    ],
)
def test_bad_tf_config_is_refused_clearly(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        tfe.RunConfig()


# ----------------------------------------------------------------- tf.estimator 2.15's full argument list

NEW_DEFAULTS = {
    "train_distribute": None,
    "device_fn": None,
    "protocol": None,
    "eval_distribute": None,
    "experimental_max_worker_delay_secs": None,
    "session_creation_timeout_secs": 7200,
    "checkpoint_save_graph_def": True,
    "session_config": None,
    "model_dir": None,
    "tf_random_seed": None,
    "keep_checkpoint_every_n_hours": 10000,
}


def test_defaults_of_every_argument_and_local_cluster_facts():
    config = tfe.RunConfig()
    assert {name: getattr(config, name) for name in NEW_DEFAULTS} == NEW_DEFAULTS
    assert not config.cluster_spec and config.cluster_spec.as_dict() == {}
    assert (config.evaluation_master, config.num_ps_replicas, config.global_id_in_cluster) == ("", 0, 0)
    assert config.service is None


def _device_fn(op):
    return "/cpu:0"


def test_replace_changes_every_setting():
    session_config = v1.ConfigProto(allow_soft_placement=False)
    values = {
        "model_dir": "/m",
        "tf_random_seed": 11,
        "save_summary_steps": 12,
        "save_checkpoints_secs": 14,
        "session_config": session_config,
        "keep_checkpoint_max": 16,
        "keep_checkpoint_every_n_hours": 17,
        "log_step_count_steps": 18,
        "train_distribute": None,
        "device_fn": _device_fn,
        "protocol": "grpc",
        "eval_distribute": None,
        "experimental_distribute": None,
        "experimental_max_worker_delay_secs": 3,
        "session_creation_timeout_secs": 19,
        "checkpoint_save_graph_def": False,
    }
    config = tfe.RunConfig(save_checkpoints_steps=5).replace(**values)
    assert {name: getattr(config, name) for name in values if name != "experimental_distribute"} == {
        k: v for k, v in values.items() if k != "experimental_distribute"
    }
    assert config.save_checkpoints_steps is None  # setting secs cleared steps
    assert config.replace(save_checkpoints_steps=None).save_checkpoints_secs == 14  # None clears nothing
    with pytest.raises(ValueError, match="Replacing .*master.* is not supported"):
        config.replace(master="grpc://x:1")
    with pytest.raises(ValueError, match="cannot be both set"):
        config.replace(save_checkpoints_steps=1, save_checkpoints_secs=1)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"model_dir": ""}, "model_dir should be non-empty"),
        ({"save_summary_steps": -1}, "save_summary_steps should be >= 0, found -1"),
        ({"save_checkpoints_steps": -1}, "save_checkpoints_steps should be >= 0"),
        ({"save_checkpoints_secs": -1}, "save_checkpoints_secs should be >= 0"),
        ({"session_config": {}}, "session_config must be instance of ConfigProto, found dict"),
        ({"keep_checkpoint_max": -1}, "keep_checkpoint_max should be >= 0"),
        ({"keep_checkpoint_every_n_hours": 0}, "keep_checkpoint_every_n_hours should be > 0"),
        ({"log_step_count_steps": 0}, "log_step_count_steps should be > 0"),
        ({"tf_random_seed": 1.5}, "tf_random_seed must be integer"),
        (
            {"experimental_max_worker_delay_secs": 1.5},
            "experimental_max_worker_delay_secs must be an integer",
        ),
        ({"session_creation_timeout_secs": 0}, "session_creation_timeout_secs should be > 0"),
        ({"device_fn": lambda op, other: ""}, 'device_fn must be callable with exactly one argument "op"'),
        ({"device_fn": "/cpu:0"}, 'device_fn must be callable with exactly one argument "op"'),
        ({"protocol": "http"}, "protocol should be grpc or grpc\\+verbs"),
    ],
)
def test_invalid_values_are_refused_in_the_constructor_and_in_replace(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfe.RunConfig(**kwargs)
    with pytest.raises(ValueError, match=message):
        tfe.RunConfig().replace(**kwargs)


def test_device_fn_may_be_a_partial_or_a_bound_method():
    class Placer:
        def place(self, op):
            return "/cpu:0"

    assert tfe.RunConfig(device_fn=Placer().place).device_fn is not None
    assert tfe.RunConfig(device_fn=functools.partial(lambda prefix, op: prefix, "/cpu:0")).device_fn


def test_model_dir_pathlike_and_from_tf_config(monkeypatch, tmp_path):
    assert tfe.RunConfig(model_dir=tmp_path).model_dir == str(tmp_path)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"model_dir": "/from/env"}))
    assert tfe.RunConfig().model_dir == "/from/env"
    assert tfe.RunConfig(model_dir="/from/env").model_dir == "/from/env"
    with pytest.raises(ValueError, match="differs from TF_CONFIG's model_dir"):
        tfe.RunConfig(model_dir="/elsewhere")


def test_chief_gets_the_default_distributed_session_config(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}))
    config = tfe.RunConfig()
    assert (config.task_type, config.is_chief, config.global_id_in_cluster) == ("chief", True, 0)
    proto = config.session_config
    assert list(proto.device_filters) == ["/job:ps", "/job:chief"] and proto.allow_soft_placement
    assert proto.graph_options.rewrite_options.meta_optimizer_iterations == 1  # RewriterConfig.ONE
    given = v1.ConfigProto(log_device_placement=True)
    assert tfe.RunConfig(session_config=given).session_config is given


def test_ps_global_ids_come_after_the_workers(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "ps", "index": 0}}))
    config = tfe.RunConfig()
    assert (config.global_id_in_cluster, config.is_chief) == (3, False)
    assert list(config.session_config.device_filters) == [
        "/job:ps",
        "/job:worker",
        "/job:chief",
        "/job:master",
    ]


def test_evaluator_is_outside_the_training_cluster(monkeypatch):
    tf_config = {
        "cluster": CLUSTER,
        "task": {"type": "evaluator", "index": 0},
        "eval_session_master": "grpc://e:1",
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    config = tfe.RunConfig()
    assert (config.task_type, config.is_chief, config.master, config.evaluation_master) == (
        "evaluator",
        False,
        "",
        "grpc://e:1",
    )
    assert not config.cluster_spec and (config.num_ps_replicas, config.num_worker_replicas) == (0, 0)
    assert config.session_config is None


def test_single_node_cluster_and_session_masters(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"chief": ["h:1"]}, "task": {"type": "chief", "index": 0}})
    )
    assert tfe.RunConfig().master == ""  # one task: in process, no server
    local = {"task": {"type": "worker", "index": 0}, "session_master": "grpc://m:1", "service": {"name": "x"}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(local))
    config = tfe.RunConfig()
    assert (config.master, config.is_chief, config.service, bool(config.cluster_spec)) == (
        "grpc://m:1",
        True,
        {"name": "x"},
        False,
    )
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "chief", "index": 0}}))
    with pytest.raises(ValueError, match='needs a "cluster"'):
        tfe.RunConfig()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"service": "x"}))
    with pytest.raises(ValueError, match='"service" must be a JSON object'):
        tfe.RunConfig()


def test_worker_start_delay_honours_experimental_max_worker_delay_secs(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}))
    assert distributed.worker_delay(tfe.RunConfig()) == 2 * distributed.WORKER_DELAY_SECS
    assert distributed.worker_delay(tfe.RunConfig(experimental_max_worker_delay_secs=1)) == 1
    assert distributed.worker_delay(tfe.RunConfig(experimental_max_worker_delay_secs=0)) == 0


# ----------------------------------------------------------------- distribution strategies


def test_one_device_strategies_are_accepted():
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    config = tfe.RunConfig(train_distribute=one, eval_distribute=one)
    assert config.train_distribute is one and config.eval_distribute is one
    assert distributed.training_device_fn(config).endswith("device:CPU:0")
    assert tfe.RunConfig(device_fn=_device_fn, train_distribute=one).device_fn is _device_fn  # device_fn wins
    assert (
        distributed.training_device_fn(tfe.RunConfig(device_fn=_device_fn, train_distribute=one))
        is _device_fn
    )


# Built at import: a suspended predict() generator of another test keeps its graph as the default,
# and MirroredStrategy then checks its devices in graph mode, where CPU:1 does not exist.
TWO_DEVICES = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def test_strategies_that_cannot_be_honoured_are_refused_by_name(monkeypatch):
    two = TWO_DEVICES
    with pytest.raises(
        ValueError, match=r"train_distribute=MirroredStrategy replicates over 2 devices.*TF_CONFIG"
    ):
        tfe.RunConfig(train_distribute=two)
    with pytest.raises(ValueError, match="eval_distribute=MirroredStrategy replicates over 2 devices"):
        tfe.RunConfig().replace(eval_distribute=two)
    with pytest.raises(
        ValueError, match="ParameterServerStrategyV1: parameter-server strategies are not supported"
    ):
        tfe.RunConfig(train_distribute=tf.compat.v1.distribute.experimental.ParameterServerStrategy())
    with pytest.raises(TypeError, match="must be a tf.distribute.Strategy, found str"):
        tfe.RunConfig(train_distribute="mirrored")
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}))
    with pytest.raises(
        ValueError, match="OneDeviceStrategy with a TF_CONFIG cluster of 4 tasks.*between-graph"
    ):
        tfe.RunConfig(train_distribute=one)
    single = {"cluster": {"chief": ["h:1"]}, "task": {"type": "chief", "index": 0}}  # Vertex AI's one replica
    monkeypatch.setenv("TF_CONFIG", json.dumps(single))
    assert distributed.training_device_fn(tfe.RunConfig(train_distribute=one)).endswith("device:CPU:0")


def test_experimental_distribute_supplies_the_strategies():
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    distribute = types.SimpleNamespace(train_distribute=one, eval_distribute=None, remote_cluster=None)
    config = tfe.RunConfig(experimental_distribute=distribute)
    assert config.train_distribute is one and config.eval_distribute is None
    with pytest.raises(
        ValueError, match="Either `train_distribute` or `experimental_distribute.train_distribute`"
    ):
        tfe.RunConfig(train_distribute=one, experimental_distribute=distribute)
    remote = types.SimpleNamespace(
        train_distribute=one, eval_distribute=None, remote_cluster={"worker": ["a:1"]}
    )
    with pytest.raises(ValueError, match="remote_cluster is not supported"):
        tfe.RunConfig(experimental_distribute=remote)


# ----------------------------------------------------------------- the settings' effects on real training runs


def _train(tmp_path, steps=2, hooks=(), **config):
    est = tfe.Estimator(models.linear_model_fn, str(tmp_path), config=models.config(**config), params={})
    return est.train(models.train_input_fn, steps=steps, hooks=list(hooks))


class _DevicesOf(tfe.SessionRunHook):
    """Records the device of each named op of the training graph."""

    def __init__(self, *names):
        self.names, self.devices = names, {}

    def begin(self):
        graph = v1.get_default_graph()
        self.devices = {name: graph.get_operation_by_name(name).device for name in self.names}


def test_device_fn_places_every_op_of_the_training_graph(tmp_path):
    placed = []

    def device_fn(op):
        placed.append(op.name)
        return "/device:CPU:0"

    devices = _DevicesOf("logits/kernel", "global_step")
    _train(tmp_path, hooks=[devices], device_fn=device_fn)
    assert {"logits/kernel", "logits/MatMul", "global_step"} <= set(placed)
    assert set(devices.devices.values()) == {"/device:CPU:0"}


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="needs a machine without a GPU")
def test_the_default_session_config_soft_places_ops_on_missing_devices(tmp_path):
    gpu = {"device_fn": lambda op: "/device:GPU:0"}
    assert _train(tmp_path / "soft", **gpu).get_variable_value("global_step") == 2  # default: soft placement
    with pytest.raises(tf.errors.InvalidArgumentError):
        _train(tmp_path / "hard", session_config=v1.ConfigProto(allow_soft_placement=False), **gpu)


def test_a_one_device_strategy_trains_on_its_device(tmp_path):
    devices = _DevicesOf("logits/kernel")
    with tf_log() as messages:
        est = _train(
            tmp_path, steps=3, hooks=[devices], train_distribute=tf.distribute.OneDeviceStrategy("/cpu:0")
        )
    assert est.get_variable_value("global_step") == 3
    assert devices.devices["logits/kernel"] == "/job:localhost/replica:0/task:0/device:CPU:0"
    assert any(
        "OneDeviceStrategy has one device" in m and "plain single-device training" in m for m in messages
    )


def test_a_mirrored_strategy_over_the_machines_one_device_trains(tmp_path):
    strategy = tf.distribute.MirroredStrategy()  # what TensorFlow's official r1 models pass on a CPU machine
    if strategy.num_replicas_in_sync != 1:
        pytest.skip("this machine has several devices: such a strategy is refused")
    config = {"train_distribute": strategy, "eval_distribute": strategy}
    est = _train(tmp_path, steps=3, **config)
    assert est.get_variable_value("global_step") == 3
    assert est.evaluate(models.eval_input_fn)["global_step"] == 3


def test_checkpoint_save_graph_def(tmp_path):
    _train(tmp_path / "with", checkpoint_save_graph_def=True)
    _train(tmp_path / "without", checkpoint_save_graph_def=False)
    assert (tmp_path / "with" / "graph.pbtxt").exists() and list((tmp_path / "with").glob("*.meta"))
    assert not (tmp_path / "without" / "graph.pbtxt").exists() and not list(
        (tmp_path / "without").glob("*.meta")
    )
    assert tfe.Estimator(models.linear_model_fn, str(tmp_path / "without")).latest_checkpoint()


def test_a_worker_gives_up_after_session_creation_timeout_secs(monkeypatch, tmp_path):
    """The chief never comes: the worker's session waits session_creation_timeout_secs, not 2 hours."""
    cluster = {name: [f"127.0.0.1:{free_ports()[0]}"] for name in ("chief", "worker", "ps")}
    servers = []
    for job in ("ps", "worker"):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": job, "index": 0}}))
        servers.append(distributed.start_server(tfe.RunConfig(protocol="grpc")))
    assert servers[1].target == "grpc://" + cluster["worker"][0]
    config = models.config(session_creation_timeout_secs=1)
    est = tfe.Estimator(models.linear_model_fn, str(tmp_path), config=config, params={})
    start = time.time()
    with pytest.raises(tf.errors.DeadlineExceededError, match="not ready after waiting 1 secs"):
        est.train(models.train_input_fn, steps=1)
    assert time.time() - start < 20
