"""RunConfig: tf.estimator's defaults and checkpoint rule, and TF_CONFIG."""

import json

import pytest

import estimator as tfe


def test_defaults():
    config = tfe.RunConfig()
    assert config.save_checkpoints_secs == 600 and config.save_checkpoints_steps is None
    assert (config.save_summary_steps, config.keep_checkpoint_max, config.log_step_count_steps) == (
        100,
        5,
        100,
    )
    assert (
        config.task_type is None
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
