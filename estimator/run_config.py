"""`RunConfig`: where and how an Estimator runs, including its place in a cluster.

The arguments, defaults, validation and properties are tf.estimator 2.15's. The
cluster comes from the `TF_CONFIG` environment variable, as Cloud ML Engine /
Vertex AI and tf.estimator define it:

    {"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"], "ps": ["host2:2222"]},
     "task": {"type": "worker", "index": 0}}

The "evaluator" task is not part of "cluster". A malformed TF_CONFIG is refused with
a `ValueError` naming the problem, before any server starts. Distribution
strategies: see strategies.py (one device is honoured, anything else refused).
"""

from __future__ import annotations

import copy
import inspect
import json
import numbers
import os

import tensorflow as tf

from . import strategies

TF_CONFIG_ENV = "TF_CONFIG"
_USE_DEFAULT = object()
DEFAULT_SAVE_CHECKPOINTS_SECS = 600
_GRPC_SCHEME = "grpc://"
_LOG = tf.get_logger()

# The settings RunConfig takes and replace() may change, in tf.estimator's order.
REPLACEABLE = (
    "model_dir",
    "tf_random_seed",
    "save_summary_steps",
    "save_checkpoints_steps",
    "save_checkpoints_secs",
    "session_config",
    "keep_checkpoint_max",
    "keep_checkpoint_every_n_hours",
    "log_step_count_steps",
    "train_distribute",
    "device_fn",
    "protocol",
    "eval_distribute",
    "experimental_distribute",
    "experimental_max_worker_delay_secs",
    "session_creation_timeout_secs",
    "checkpoint_save_graph_def",
)
PROTOCOLS = (None, "grpc", "grpc+verbs")


class TaskType:
    """Task types of a TF_CONFIG cluster."""

    CHIEF = "chief"
    MASTER = "master"  # the chief's older name
    WORKER = "worker"
    PS = "ps"
    EVALUATOR = "evaluator"

    CLUSTER = (CHIEF, MASTER, WORKER, PS)
    ALL = (CHIEF, MASTER, WORKER, PS, EVALUATOR)
    TRAINERS = (CHIEF, MASTER, WORKER)


def parse_tf_config(text: str | None) -> dict:
    """Parses and validates a TF_CONFIG value.

    Returns:
      {"cluster": {type: [addresses]}, "task": {"type": ..., "index": int}, ...};
      {} when text is empty or None.

    Raises:
      ValueError: malformed JSON, an unknown task type, not exactly one chief in
        a cluster, an index out of range, addresses that are not lists, a task
        other than worker 0 without a cluster, or a "service" that is not an object.
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
    service = config.get("service")
    if service is not None and not isinstance(service, dict):
        raise ValueError(f'{TF_CONFIG_ENV}: "service" must be a JSON object, found {type(service).__name__}')
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
        if task_type == TaskType.EVALUATOR:
            if index != 0:
                raise ValueError(
                    f"{TF_CONFIG_ENV}: there is one evaluator, its index must be 0, found {index}"
                )
        elif not cluster:
            if (task_type, index) != (TaskType.WORKER, 0):  # tf.estimator's local task
                raise ValueError(
                    f'{TF_CONFIG_ENV}: task "{task_type}:{index}" needs a "cluster" '
                    "(without one, the task may only be worker 0)"
                )
        else:
            size = len(cluster.get(task_type, []))
            if index >= size:
                raise ValueError(
                    f'{TF_CONFIG_ENV}: task {task_type}:{index} is out of range: the cluster has {size} "{task_type}" tasks'
                )
    return {**config, "cluster": cluster, "task": task}


def get_default_session_config() -> tf.compat.v1.ConfigProto:
    """tf.estimator's session config when none is given: soft placement, one Grappler pass."""
    proto = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    rewrite = proto.graph_options.rewrite_options
    rewrite.meta_optimizer_iterations = rewrite.ONE
    return proto


def _default_distributed_session_config(task_type: str, task_id: int):
    """tf.estimator's session config for a cluster task: the default plus device
    filters, so a chief or worker talks only to the ps tasks and itself."""
    filters = {
        TaskType.MASTER: ["/job:ps", "/job:master"],
        TaskType.CHIEF: ["/job:ps", "/job:chief"],
        TaskType.WORKER: ["/job:ps", f"/job:worker/task:{task_id}"],
        TaskType.PS: ["/job:ps", "/job:worker", "/job:chief", "/job:master"],
    }.get(task_type)
    if filters is None:
        return None
    proto = get_default_session_config()
    proto.device_filters.extend(filters)
    return proto


def _path_to_str(path):
    return os.fspath(path) if isinstance(path, os.PathLike) else path


def _model_dir(model_dir, tf_config: dict):
    """model_dir, or TF_CONFIG's "model_dir"; both given must agree."""
    if model_dir == "":
        raise ValueError("model_dir should be non-empty, found ''")
    from_env = tf_config.get("model_dir")
    if from_env == "":
        raise ValueError(f"model_dir in {TF_CONFIG_ENV} should be non-empty, found ''")
    if from_env:
        if model_dir and model_dir != from_env:
            raise ValueError(
                f"model_dir {model_dir!r} given to RunConfig differs from {TF_CONFIG_ENV}'s model_dir "
                f"{from_env!r}: if both are set they must be the same"
            )
        _LOG.info("Using model_dir in TF_CONFIG: %s", from_env)
    return model_dir or from_env


def _arg_names(fn) -> set[str] | None:
    """Names of fn's named parameters (functools.partial and bound methods
    understood), or None when fn has no inspectable signature."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# (setting, check, what it must be) for the values that are not None.
_CHECKS = (
    ("save_summary_steps", lambda v: v >= 0, ">= 0"),
    ("save_checkpoints_steps", lambda v: v >= 0, ">= 0"),
    ("save_checkpoints_secs", lambda v: v >= 0, ">= 0"),
    ("keep_checkpoint_max", lambda v: v >= 0, ">= 0"),
    ("keep_checkpoint_every_n_hours", lambda v: v > 0, "> 0"),
    ("log_step_count_steps", lambda v: v > 0, "> 0"),
    ("session_creation_timeout_secs", lambda v: v > 0, "> 0"),
)


class RunConfig:
    """How an Estimator runs: model_dir, checkpoints, summaries, session and cluster.

    The cluster facts (`cluster_spec`, `task_type`, `task_id`, `master`,
    `is_chief`, `num_ps_replicas`, `num_worker_replicas`, `global_id_in_cluster`,
    `evaluation_master`, `service`) come from TF_CONFIG. Without a cluster the
    task is worker 0, the chief of a one-process job.

    Args:
      model_dir: where checkpoints, summaries and exports go (str or PathLike).
        Also read from TF_CONFIG's "model_dir"; both given must agree.
      tf_random_seed: graph-level random seed (an integer), or None.
      save_summary_steps: write summaries every this many steps (0/None: never).
      save_checkpoints_steps: checkpoint every this many steps. Setting it
        clears save_checkpoints_secs; setting both is an error.
      save_checkpoints_secs: checkpoint every this many seconds (default 600 when
        neither is set; both None: no checkpoints).
      session_config: a `tf.compat.v1.ConfigProto`, or None (then the Estimator
        uses `get_default_session_config()`; a cluster task gets that plus
        device filters).
      keep_checkpoint_max: newest checkpoints to keep (0/None: all).
      keep_checkpoint_every_n_hours: also keep one checkpoint per this many hours.
      log_step_count_steps: log loss and global_step/sec every this many steps (None: never).
      train_distribute: a `tf.distribute.Strategy` over one device: training runs
        on that device (see strategies.py); other strategies are refused.
      device_fn: `fn(op) -> device string` for every op of the training graph;
        overrides the default (ps placement in a cluster).
      protocol: the servers' protocol: None (grpc), "grpc" or "grpc+verbs".
      eval_distribute: as train_distribute, for evaluation.
      experimental_distribute: an object with `train_distribute`,
        `eval_distribute` and `remote_cluster` attributes (tf.contrib's
        DistributeConfig); its strategies are used as the arguments above;
        remote_cluster is refused.
      experimental_max_worker_delay_secs: the most a worker waits before it
        starts training (an integer; default: distributed.MAX_WORKER_DELAY_SECS).
      session_creation_timeout_secs: how long a training session waits to be
        created (chief initialization, worker readiness).
      checkpoint_save_graph_def: also write graph.pbtxt and the .meta files
        with the checkpoints.

    Raises:
      ValueError: both checkpoint schedules set, a value out of range, a
        device_fn that does not take exactly `op`, an unknown protocol, a bad
        TF_CONFIG, or a strategy this runtime cannot honour (named).
      TypeError: a strategy that is not a tf.distribute.Strategy.
    """

    def __init__(
        self,
        model_dir=None,
        tf_random_seed=None,
        save_summary_steps=100,
        save_checkpoints_steps=_USE_DEFAULT,
        save_checkpoints_secs=_USE_DEFAULT,
        session_config=None,
        keep_checkpoint_max=5,
        keep_checkpoint_every_n_hours=10000,
        log_step_count_steps=100,
        train_distribute=None,
        device_fn=None,
        protocol=None,
        eval_distribute=None,
        experimental_distribute=None,
        experimental_max_worker_delay_secs=None,
        session_creation_timeout_secs=7200,
        checkpoint_save_graph_def=True,
    ):
        # tf.estimator's rule: neither set -> every 600 s; one set -> the other off.
        if save_checkpoints_steps is _USE_DEFAULT and save_checkpoints_secs is _USE_DEFAULT:
            save_checkpoints_steps, save_checkpoints_secs = None, DEFAULT_SAVE_CHECKPOINTS_SECS
        elif save_checkpoints_secs is _USE_DEFAULT:
            save_checkpoints_secs = None
        elif save_checkpoints_steps is _USE_DEFAULT:
            save_checkpoints_steps = None
        elif save_checkpoints_steps is not None and save_checkpoints_secs is not None:
            raise ValueError(_both_schedules(save_checkpoints_steps, save_checkpoints_secs))
        self._tf_config = parse_tf_config(os.environ.get(TF_CONFIG_ENV))
        if self._tf_config:
            _LOG.info("TF_CONFIG environment variable: %s", self._tf_config)
        settings = {
            "model_dir": _model_dir(_path_to_str(model_dir), self._tf_config),
            "tf_random_seed": tf_random_seed,
            "save_summary_steps": save_summary_steps,
            "save_checkpoints_steps": save_checkpoints_steps,
            "save_checkpoints_secs": save_checkpoints_secs,
            "session_config": session_config,
            "keep_checkpoint_max": keep_checkpoint_max,
            "keep_checkpoint_every_n_hours": keep_checkpoint_every_n_hours,
            "log_step_count_steps": log_step_count_steps,
            "train_distribute": train_distribute,
            "device_fn": device_fn,
            "protocol": protocol,
            "eval_distribute": eval_distribute,
            "experimental_distribute": experimental_distribute,
            "experimental_max_worker_delay_secs": experimental_max_worker_delay_secs,
            "session_creation_timeout_secs": session_creation_timeout_secs,
            "checkpoint_save_graph_def": checkpoint_save_graph_def,
        }
        for name, value in settings.items():
            setattr(self, "_" + name, value)
        self._validate()
        self._init_cluster()
        self._init_distribution(merge_experimental=True)
        if self._session_config is None and self._cluster_spec:
            self._session_config = _default_distributed_session_config(self._task_type, self._task_id)

    # ------------------------------------------------------------- validation
    def _validate(self) -> None:
        if self._model_dir == "":
            raise ValueError("model_dir should be non-empty, found ''")
        for name, check, expected in _CHECKS:
            value = getattr(self, "_" + name)
            if value is not None and not check(value):
                raise ValueError(f"{name} should be {expected}, found {value!r}")
        if self._session_config is not None and not isinstance(
            self._session_config, tf.compat.v1.ConfigProto
        ):
            raise ValueError(
                f"session_config must be instance of ConfigProto, found {type(self._session_config).__name__}"
            )
        if self._tf_random_seed is not None and not _is_int(self._tf_random_seed):
            raise ValueError(f"tf_random_seed must be integer, found {self._tf_random_seed!r}")
        delay = self._experimental_max_worker_delay_secs
        if delay is not None and not _is_int(delay):
            raise ValueError(f"experimental_max_worker_delay_secs must be an integer if set, found {delay!r}")
        if self._device_fn is not None and (
            not callable(self._device_fn) or _arg_names(self._device_fn) != {"op"}
        ):
            raise ValueError(
                f'device_fn must be callable with exactly one argument "op", found {self._device_fn!r} '
                f"taking {sorted(_arg_names(self._device_fn) or ())}"
            )
        if self._protocol not in PROTOCOLS:
            raise ValueError(f"protocol should be grpc or grpc+verbs (or None), found {self._protocol!r}")

    def _init_cluster(self) -> None:
        """The cluster facts, from TF_CONFIG, as tf.estimator derives them."""
        tf_config = self._tf_config
        cluster = tf_config.get("cluster", {})
        task = tf_config.get("task", {})
        self._service = tf_config.get("service")
        self._cluster_spec = tf.train.ClusterSpec(cluster)
        self._task_type = task.get("type", TaskType.WORKER)
        self._task_id = int(task.get("index", 0))
        if not cluster:  # one process, the chief of its own job
            self._master = tf_config.get("session_master", "")
            self._evaluation_master = tf_config.get("eval_session_master", "")
            self._is_chief = self._task_type != TaskType.EVALUATOR
            self._num_ps_replicas = 0
            self._num_worker_replicas = 0 if self._task_type == TaskType.EVALUATOR else 1
            self._global_id_in_cluster = -1 if self._task_type == TaskType.EVALUATOR else 0
            return
        chief_type = TaskType.MASTER if TaskType.MASTER in cluster else TaskType.CHIEF
        if self._task_type == TaskType.EVALUATOR:  # not part of the training cluster
            self._cluster_spec = tf.train.ClusterSpec({})
            self._master = ""
            self._evaluation_master = tf_config.get("eval_session_master", "")
            self._is_chief = False
            self._num_ps_replicas = 0
            self._num_worker_replicas = 0
            self._global_id_in_cluster = -1
            return
        self._evaluation_master = ""
        if "session_master" in tf_config:
            self._master = tf_config["session_master"]
        elif sum(len(addresses) for addresses in cluster.values()) == 1:
            self._master = ""  # a one-task cluster runs in process
        else:
            self._master = _GRPC_SCHEME + cluster[self._task_type][self._task_id]
        self._is_chief = self._task_type == chief_type
        self._num_ps_replicas = len(cluster.get(TaskType.PS, []))
        self._num_worker_replicas = len(cluster.get(TaskType.WORKER, [])) + len(cluster.get(chief_type, []))
        # The chief first, then the other jobs by name, then the ps tasks.
        order = [chief_type, *sorted(j for j in cluster if j not in (chief_type, TaskType.PS)), TaskType.PS]
        offset = 0
        for job in order:
            if job == self._task_type:
                self._global_id_in_cluster = offset + self._task_id
                break
            offset += len(cluster.get(job, []))

    def _init_distribution(self, merge_experimental: bool) -> None:
        """Takes experimental_distribute's strategies; checks each strategy can be honoured."""
        experimental = self._experimental_distribute
        if merge_experimental and experimental is not None:
            if getattr(experimental, "remote_cluster", None):
                raise ValueError(
                    "experimental_distribute.remote_cluster is not supported (no Distribute Coordinator): "
                    "use TF_CONFIG between-graph replication"
                )
            for name in ("train_distribute", "eval_distribute"):
                strategy = getattr(experimental, name, None)
                if strategy is not None:
                    if getattr(self, "_" + name) is not None:
                        raise ValueError(
                            f"Either `{name}` or `experimental_distribute.{name}` can be set, not both"
                        )
                    setattr(self, "_" + name, strategy)
        given = [(n, getattr(self, "_" + n)) for n in ("train_distribute", "eval_distribute")]
        given = [(n, s) for n, s in given if s is not None]
        if not given:
            return
        _LOG.info("Initializing RunConfig with distribution strategies.")
        tasks = sum(len(addresses) for addresses in self._cluster_spec.as_dict().values())
        for name, strategy in given:
            if tasks > 1:  # a one-task cluster (a single chief) trains in process: the strategy applies
                raise ValueError(
                    f"{name}={type(strategy).__name__} with a {TF_CONFIG_ENV} cluster of {tasks} tasks: "
                    "tf.estimator ran this "
                    "through the Distribute Coordinator, which this runtime does not have; use TF_CONFIG "
                    f"between-graph replication (chief, workers and ps tasks) and leave {name} unset"
                )
            activity = "training" if name == "train_distribute" else "evaluation"
            _LOG.info(strategies.describe(strategy, name, activity))

    # ------------------------------------------------------------- settings
    model_dir = property(lambda self: self._model_dir, doc="Checkpoints, summaries and exports.")
    tf_random_seed = property(lambda self: self._tf_random_seed, doc="The graph-level seed, or None.")
    save_summary_steps = property(lambda self: self._save_summary_steps)
    save_checkpoints_steps = property(lambda self: self._save_checkpoints_steps)
    save_checkpoints_secs = property(lambda self: self._save_checkpoints_secs)
    session_config = property(
        lambda self: self._session_config,
        doc="The ConfigProto given; for a cluster task without one, the default with device filters.",
    )
    keep_checkpoint_max = property(lambda self: self._keep_checkpoint_max)
    keep_checkpoint_every_n_hours = property(lambda self: self._keep_checkpoint_every_n_hours)
    log_step_count_steps = property(lambda self: self._log_step_count_steps)
    train_distribute = property(lambda self: self._train_distribute, doc="The training strategy, or None.")
    device_fn = property(lambda self: self._device_fn, doc="`fn(op) -> device` for training, or None.")
    protocol = property(lambda self: self._protocol, doc="The servers' protocol (None: grpc).")
    eval_distribute = property(lambda self: self._eval_distribute, doc="The evaluation strategy, or None.")
    experimental_max_worker_delay_secs = property(lambda self: self._experimental_max_worker_delay_secs)
    session_creation_timeout_secs = property(lambda self: self._session_creation_timeout_secs)
    checkpoint_save_graph_def = property(lambda self: self._checkpoint_save_graph_def)

    # ------------------------------------------------------------- the cluster, from TF_CONFIG
    cluster_spec = property(
        lambda self: self._cluster_spec, doc="The training cluster (empty locally and on the evaluator)."
    )
    task_type = property(
        lambda self: self._task_type, doc="'chief', 'worker', 'ps', 'evaluator'; 'worker' locally."
    )
    task_id = property(lambda self: self._task_id, doc="The task's index among its type.")
    is_chief = property(lambda self: self._is_chief, doc="True for the chief, and for a local process.")
    master = property(
        lambda self: self._master, doc="The gRPC target of this task's server, or '' in process."
    )
    evaluation_master = property(lambda self: self._evaluation_master)
    num_ps_replicas = property(lambda self: self._num_ps_replicas)
    num_worker_replicas = property(
        lambda self: self._num_worker_replicas, doc="Chief plus workers (1 locally, 0 on the evaluator)."
    )
    global_id_in_cluster = property(
        lambda self: self._global_id_in_cluster,
        doc="0 for the chief, then the other jobs by name, then ps; -1 on the evaluator.",
    )
    service = property(lambda self: self._service, doc='TF_CONFIG\'s "service" dict, or None.')

    def replace(self, **kwargs) -> RunConfig:
        """Returns a copy with some settings changed (the constructor's names).

        Setting save_checkpoints_steps (not None) clears save_checkpoints_secs and
        the other way round; setting both (not None) is an error.

        Raises:
          ValueError: a name that is not a setting, or an invalid value.
        """
        unknown = sorted(set(kwargs) - set(REPLACEABLE))
        if unknown:
            raise ValueError(
                f"Replacing {unknown} is not supported (unknown settings). Allowed properties are {list(REPLACEABLE)}."
            )
        new = copy.copy(self)
        for name, value in kwargs.items():
            setattr(new, "_" + name, _path_to_str(value) if name == "model_dir" else value)
        steps, secs = new._save_checkpoints_steps, new._save_checkpoints_secs
        if "save_checkpoints_steps" in kwargs and "save_checkpoints_secs" in kwargs:
            if steps is not None and secs is not None:
                raise ValueError(_both_schedules(steps, secs))
        elif "save_checkpoints_steps" in kwargs and steps is not None:
            new._save_checkpoints_secs = None
        elif "save_checkpoints_secs" in kwargs and secs is not None:
            new._save_checkpoints_steps = None
        new._validate()
        if {"train_distribute", "eval_distribute", "experimental_distribute"} & set(kwargs):
            new._init_distribution(merge_experimental="experimental_distribute" in kwargs)
        return new

    def __repr__(self) -> str:
        settings = ", ".join(
            f"{name}={getattr(self, '_' + name)!r}" for name in REPLACEABLE if name != "session_config"
        )
        return f"RunConfig({settings}, task_type={self.task_type!r}, task_id={self.task_id})"


def _both_schedules(steps, secs) -> str:
    return (
        f"`save_checkpoints_steps` and `save_checkpoints_secs` cannot be both set (found {steps} and {secs}): "
        "set one, not both"
    )
