"""`RunConfig`: where and how an Estimator runs, including its place in a cluster.

The cluster comes from the `TF_CONFIG` environment variable, as Cloud ML Engine /
Vertex AI and tf.estimator define it:

    {"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"], "ps": ["host2:2222"]},
     "task": {"type": "worker", "index": 0}}

The "evaluator" task is not part of "cluster". A malformed TF_CONFIG is refused with
a `ValueError` naming the problem, before any server starts.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

TF_CONFIG_ENV = "TF_CONFIG"
_USE_DEFAULT = object()
DEFAULT_SAVE_CHECKPOINTS_SECS = 600


class TaskType:
    """Task types of a TF_CONFIG cluster."""

    CHIEF = "chief"
    MASTER = "master"  # the chief's older name
    WORKER = "worker"
    PS = "ps"
    EVALUATOR = "evaluator"

    CLUSTER = (CHIEF, MASTER, WORKER, PS)
    ALL = (CHIEF, MASTER, WORKER, PS, EVALUATOR)


def parse_tf_config(text: str | None) -> dict:
    """Parses and validates a TF_CONFIG value.

    Returns:
      {"cluster": {type: [addresses]}, "task": {"type": ..., "index": int}, ...};
      {} when text is empty or None.

    Raises:
      ValueError: malformed JSON, an unknown task type, no chief in a cluster
        with workers, an index out of range, or addresses that are not lists.
    """
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{TF_CONFIG_ENV} is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise ValueError(f"{TF_CONFIG_ENV} must be a JSON object, found {type(config).__name__}")
    cluster = config.get("cluster") or {}
    task = config.get("task") or {}
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError(f'{TF_CONFIG_ENV}: "cluster" and "task" must be JSON objects')
    for job, addresses in cluster.items():
        if job not in TaskType.CLUSTER:
            raise ValueError(
                f'{TF_CONFIG_ENV}: unknown job "{job}" in cluster; expected one of {TaskType.CLUSTER}'
            )
        if not isinstance(addresses, list) or not all(isinstance(a, str) and a for a in addresses):
            raise ValueError(f'{TF_CONFIG_ENV}: cluster["{job}"] must be a list of "host:port" strings')
    if cluster:
        chiefs = len(cluster.get(TaskType.CHIEF, [])) + len(cluster.get(TaskType.MASTER, []))
        if chiefs != 1:
            raise ValueError(f'{TF_CONFIG_ENV}: the cluster needs exactly one "chief" task, found {chiefs}')
    if task:
        task_type = task.get("type")
        if task_type not in TaskType.ALL:
            raise ValueError(
                f'{TF_CONFIG_ENV}: unknown task type "{task_type}"; expected one of {TaskType.ALL}'
            )
        index = task.get("index", 0)
        if not isinstance(index, int) or index < 0:
            raise ValueError(f'{TF_CONFIG_ENV}: task index must be a non-negative integer, found "{index}"')
        if task_type != TaskType.EVALUATOR:
            if not cluster:
                raise ValueError(f'{TF_CONFIG_ENV}: task "{task_type}" needs a "cluster"')
            size = len(cluster.get(task_type, []))
            if index >= size:
                raise ValueError(
                    f'{TF_CONFIG_ENV}: task {task_type}:{index} is out of range: the cluster has {size} "{task_type}" tasks'
                )
        elif index != 0:
            raise ValueError(f"{TF_CONFIG_ENV}: there is one evaluator, its index must be 0, found {index}")
    return {**config, "cluster": cluster, "task": task}


class RunConfig:
    """How an Estimator runs: model_dir, checkpoints, summaries, session and cluster.

    Args:
      model_dir: where checkpoints, summaries and exports go. Also read from
        TF_CONFIG's "model_dir" when not given.
      tf_random_seed: graph-level random seed, or None.
      save_summary_steps: write summaries every this many steps (0/None: never).
      save_checkpoints_steps: checkpoint every this many steps. Setting it clears
        save_checkpoints_secs; setting both is an error.
      save_checkpoints_secs: checkpoint every this many seconds (default 600 when
        neither is set).
      session_config: a `tf.compat.v1.ConfigProto`, or None.
      keep_checkpoint_max: newest checkpoints to keep (0/None: all).
      keep_checkpoint_every_n_hours: also keep one checkpoint per this many hours.
      log_step_count_steps: log loss and global_step/sec every this many steps.

    Raises:
      ValueError: both checkpoint schedules set, negative values, or a bad TF_CONFIG.
    """

    def __init__(
        self,
        model_dir: str | None = None,
        tf_random_seed: int | None = None,
        save_summary_steps: int | None = 100,
        save_checkpoints_steps=_USE_DEFAULT,
        save_checkpoints_secs=_USE_DEFAULT,
        session_config=None,
        keep_checkpoint_max: int | None = 5,
        keep_checkpoint_every_n_hours: float = 10000,
        log_step_count_steps: int | None = 100,
    ):
        # tf.estimator's rule: neither set -> every 600 s; one set -> the other off.
        if save_checkpoints_steps is _USE_DEFAULT and save_checkpoints_secs is _USE_DEFAULT:
            save_checkpoints_steps, save_checkpoints_secs = None, DEFAULT_SAVE_CHECKPOINTS_SECS
        elif save_checkpoints_secs is _USE_DEFAULT:
            save_checkpoints_secs = None
        elif save_checkpoints_steps is _USE_DEFAULT:
            save_checkpoints_steps = None
        elif save_checkpoints_steps is not None and save_checkpoints_secs is not None:
            raise ValueError("set save_checkpoints_steps or save_checkpoints_secs, not both")
        for name, value in (
            ("save_summary_steps", save_summary_steps),
            ("save_checkpoints_steps", save_checkpoints_steps),
            ("save_checkpoints_secs", save_checkpoints_secs),
            ("keep_checkpoint_max", keep_checkpoint_max),
            ("log_step_count_steps", log_step_count_steps),
        ):
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self._tf_config = parse_tf_config(os.environ.get(TF_CONFIG_ENV))
        self._model_dir = model_dir or self._tf_config.get("model_dir")
        self._tf_random_seed = tf_random_seed
        self._save_summary_steps = save_summary_steps
        self._save_checkpoints_steps = save_checkpoints_steps
        self._save_checkpoints_secs = save_checkpoints_secs
        self._session_config = session_config
        self._keep_checkpoint_max = keep_checkpoint_max
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._log_step_count_steps = log_step_count_steps

    # Settings.
    model_dir = property(lambda self: self._model_dir)
    tf_random_seed = property(lambda self: self._tf_random_seed)
    save_summary_steps = property(lambda self: self._save_summary_steps)
    save_checkpoints_steps = property(lambda self: self._save_checkpoints_steps)
    save_checkpoints_secs = property(lambda self: self._save_checkpoints_secs)
    session_config = property(lambda self: self._session_config)
    keep_checkpoint_max = property(lambda self: self._keep_checkpoint_max)
    keep_checkpoint_every_n_hours = property(lambda self: self._keep_checkpoint_every_n_hours)
    log_step_count_steps = property(lambda self: self._log_step_count_steps)

    # The cluster, from TF_CONFIG.
    @property
    def cluster_spec(self) -> tf.train.ClusterSpec:
        return tf.train.ClusterSpec(self._tf_config.get("cluster", {}))

    @property
    def task_type(self) -> str | None:
        """'chief', 'worker', 'ps', 'evaluator', or None when not in a cluster."""
        task = self._tf_config.get("task")
        return task.get("type") if task else None

    @property
    def task_id(self) -> int:
        task = self._tf_config.get("task")
        return task.get("index", 0) if task else 0

    @property
    def is_chief(self) -> bool:
        """True for the chief, and for a process that is not part of a cluster."""
        return self.task_type in (None, TaskType.CHIEF, TaskType.MASTER)

    @property
    def master(self) -> str:
        """The gRPC target of this task's server, or '' when running locally."""
        if self.task_type in (None, TaskType.EVALUATOR):
            return ""
        return "grpc://" + self._tf_config["cluster"][self.task_type][self.task_id]

    @property
    def evaluation_master(self) -> str:
        return ""

    @property
    def num_ps_replicas(self) -> int:
        return len(self._tf_config.get("cluster", {}).get(TaskType.PS, []))

    @property
    def num_worker_replicas(self) -> int:
        """Chief plus workers (1 when not in a cluster)."""
        cluster = self._tf_config.get("cluster", {})
        n = sum(len(cluster.get(t, [])) for t in (TaskType.CHIEF, TaskType.MASTER, TaskType.WORKER))
        return n or 1

    @property
    def global_id_in_cluster(self) -> int:
        """0 for the chief, then the workers in order; -1 for ps and evaluator."""
        if self.task_type in (None, TaskType.CHIEF, TaskType.MASTER):
            return 0
        if self.task_type == TaskType.WORKER:
            return 1 + self.task_id
        return -1

    def replace(self, **kwargs) -> RunConfig:
        """Returns a copy with some settings changed (the same names as the constructor)."""
        allowed = {
            "model_dir",
            "tf_random_seed",
            "save_summary_steps",
            "save_checkpoints_steps",
            "save_checkpoints_secs",
            "session_config",
            "keep_checkpoint_max",
            "keep_checkpoint_every_n_hours",
            "log_step_count_steps",
        }
        unknown = set(kwargs) - allowed
        if unknown:
            raise ValueError(f"RunConfig.replace: unknown settings {sorted(unknown)}")
        current = {name: getattr(self, name) for name in allowed}
        if "save_checkpoints_steps" in kwargs or "save_checkpoints_secs" in kwargs:
            current["save_checkpoints_steps"] = kwargs.pop("save_checkpoints_steps", _USE_DEFAULT)
            current["save_checkpoints_secs"] = kwargs.pop("save_checkpoints_secs", _USE_DEFAULT)
        current.update(kwargs)
        new = RunConfig(**current)
        new._tf_config = self._tf_config
        new._model_dir = current["model_dir"] or self._tf_config.get("model_dir")
        return new

    def __repr__(self) -> str:
        return (
            f"RunConfig(model_dir={self.model_dir!r}, save_checkpoints_steps={self.save_checkpoints_steps}, "
            f"save_checkpoints_secs={self.save_checkpoints_secs}, task_type={self.task_type!r}, "
            f"task_id={self.task_id})"
        )
