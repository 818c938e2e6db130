"""The cluster roles of `train_and_evaluate`, driven by TF_CONFIG.

Between-graph replication on TensorFlow's own gRPC runtime, as tf.estimator ran
it on Cloud ML Engine / Vertex AI:

- chief and workers start a `tf.distribute.Server` and train the same model with
  `replica_device_setter` (variables on the ps tasks, one shared global_step);
  only the chief initializes, checkpoints and writes summaries; workers start
  after a short staggered delay. When a task's training ends it tells every ps.
- ps tasks serve variables until the chief says training is over, then give the
  workers WORKER_GRACE_SECS to finish and exit, so no process outlives the job
  (a worker that died does not keep them waiting longer).
- the evaluator runs outside the cluster: it evaluates each new checkpoint in
  model_dir (at most every throttle_secs), runs the exporters, and exits once it
  sees the final checkpoint, which the chief evaluates and exports itself (the
  evaluator evaluates it too, without exporting, if it had evaluated nothing yet).

A cluster of one task (a single chief, as Vertex AI describes a one-replica job)
trains in process, without a server. `training_device_fn` and
`training_session_config` give the Estimator's training graph its placement and
session config in and out of a cluster (RunConfig.device_fn, a single-device
train_distribute, the default session config); `evaluation_device_fn` gives a
single-device eval_distribute's device.
"""

from __future__ import annotations

import time

import tensorflow as tf

from . import strategies
from .checkpoints import global_step_of, latest_checkpoint
from .run_config import TaskType, get_default_session_config

_v1 = tf.compat.v1
_LOG = tf.get_logger()
WORKER_DELAY_SECS = 2.0  # worker k waits (k + 1) * this before starting (the chief initializes first)
MAX_WORKER_DELAY_SECS = 20.0  # unless RunConfig.experimental_max_worker_delay_secs says otherwise
WORKER_GRACE_SECS = 15.0
POLL_SECS = 1.0
_DONE_QUEUE = "train_and_evaluate_done_{}"


def session_config(config, base=None):
    """A ConfigProto whose device filters let a task talk only to the ps tasks and
    itself, so a worker that is slow to start or has died does not block the others."""
    proto = _v1.ConfigProto()
    if base is not None:
        proto.CopyFrom(base)
    if config.task_type in TaskType.CLUSTER and config.task_type != TaskType.PS:
        del proto.device_filters[:]
        proto.device_filters.extend(["/job:ps", f"/job:{config.task_type}/task:{config.task_id}"])
    return proto


def in_training_cluster(config) -> bool:
    """Whether this process trains as a chief or worker of a multi-task cluster (through its server)."""
    return bool(config.cluster_spec) and bool(config.master) and config.task_type in TaskType.TRAINERS


def training_device_fn(config):
    """The device function of the training graph, or None.

    RunConfig.device_fn when given; else in a cluster, variables on the ps tasks;
    else the device of a single-device train_distribute strategy.
    """
    if config.device_fn is not None:
        return config.device_fn
    if in_training_cluster(config):
        return device_setter(config)
    if config.train_distribute is not None:
        return strategies.single_device(config.train_distribute, "train_distribute")
    return None


def evaluation_device_fn(config):
    """The device of a single-device eval_distribute strategy, or None (default placement)."""
    if config.eval_distribute is None:
        return None
    return strategies.single_device(config.eval_distribute, "eval_distribute")


def training_session_config(config) -> _v1.ConfigProto:
    """The training session's config: RunConfig.session_config (default:
    `get_default_session_config()`), with device filters in a cluster."""
    if in_training_cluster(config):
        return session_config(config, config.session_config)
    return config.session_config or get_default_session_config()


def start_server(config) -> tf.distribute.Server:
    """Starts this task's server (RunConfig.protocol; grpc by default)."""
    _LOG.info("Start Tensorflow server.")
    _LOG.info(
        "starting server %s:%d of cluster %s", config.task_type, config.task_id, config.cluster_spec.as_dict()
    )
    base = None
    if config.session_config is not None:  # the server takes only the GPU options, as tf.estimator's did
        base = _v1.ConfigProto(gpu_options=config.session_config.gpu_options)
    return tf.distribute.Server(
        config.cluster_spec,
        job_name=config.task_type,
        task_index=config.task_id,
        config=session_config(config, base),
        protocol=config.protocol,
        start=True,
    )


def device_setter(config):
    """Variables on the ps tasks, everything else on this task."""
    return _v1.train.replica_device_setter(
        ps_tasks=config.num_ps_replicas,
        worker_device=f"/job:{config.task_type}/task:{config.task_id}",
        cluster=config.cluster_spec,
    )


def worker_delay(config) -> float:
    """Seconds worker k waits before training: (k + 1) * WORKER_DELAY_SECS, at most
    RunConfig.experimental_max_worker_delay_secs (default MAX_WORKER_DELAY_SECS)."""
    if config.task_type != TaskType.WORKER:
        return 0.0
    most = config.experimental_max_worker_delay_secs
    most = MAX_WORKER_DELAY_SECS if most is None else most
    return float(max(0, min(most, WORKER_DELAY_SECS * (config.task_id + 1))))


def _done_queue(ps_index: int, num_tokens: int):
    with tf.device(f"/job:ps/task:{ps_index}"):
        return _v1.FIFOQueue(num_tokens, [tf.int32], shapes=[[]], shared_name=_DONE_QUEUE.format(ps_index))


def signal_done(config, server) -> None:
    """Tells every ps task that this task's training is over (best effort)."""
    token = 0 if config.is_chief else 1 + config.task_id
    with tf.Graph().as_default():
        ops = [
            _done_queue(i, config.num_worker_replicas).enqueue(token) for i in range(config.num_ps_replicas)
        ]
        options = _v1.RunOptions(timeout_in_ms=10_000)
        try:
            with _v1.Session(server.target, config=session_config(config)) as session:
                session.run(ops, options=options)
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError) as e:
            _LOG.warning("could not tell the ps tasks that training is over: %s", e)


def serve_ps(config) -> None:
    """Runs a ps task until the chief's training is over, then exits."""
    server = start_server(config)
    with tf.Graph().as_default():
        queue = _done_queue(config.task_id, config.num_worker_replicas)
        token = queue.dequeue()
        with _v1.Session(server.target) as session:
            seen = set()
            while 0 not in seen:  # the chief's token: training is over
                seen.add(int(session.run(token)))
            deadline = time.time() + WORKER_GRACE_SECS
            workers = set(range(1, config.num_worker_replicas))
            while not workers <= seen and time.time() < deadline:
                try:
                    options = _v1.RunOptions(timeout_in_ms=int(1000 * max(0.1, deadline - time.time())))
                    seen.add(int(session.run(token, options=options)))
                except tf.errors.DeadlineExceededError:
                    break
            missing = sorted(workers - seen)
            if missing:
                _LOG.warning(
                    "ps %d: workers %s did not report the end of training; exiting", config.task_id, missing
                )
    _LOG.info("ps %d: training is over; exiting", config.task_id)


def run_evaluator(estimator, evaluate, eval_spec, max_steps) -> tuple[dict | None, list]:
    """Evaluates new checkpoints until the final one appears (the chief does that one)."""
    if max_steps is None:
        raise ValueError("a distributed evaluator needs TrainSpec.max_steps to know when training ends")
    if eval_spec.start_delay_secs:
        _LOG.info("Waiting %f secs before starting eval.", eval_spec.start_delay_secs)
        time.sleep(eval_spec.start_delay_secs)
    last_path, last_time, result = None, 0.0, (None, [])
    while True:
        path = latest_checkpoint(estimator.model_dir)
        step = global_step_of(path)
        if path and step >= max_steps:
            if last_path is None:  # training outran us: evaluate the final checkpoint, export nothing
                metrics = estimator.evaluate(
                    eval_spec.input_fn,
                    eval_spec.steps,
                    eval_spec.hooks,
                    checkpoint_path=path,
                    name=eval_spec.name,
                )
                result = (metrics, [])
            _LOG.info("Exiting evaluation, global_step=%s >= train max_steps=%s", step, max_steps)
            _LOG.info("evaluator: the chief evaluates and exports the final checkpoint")
            return result
        if path and path != last_path and time.time() - last_time >= eval_spec.throttle_secs:
            last_path, last_time = path, time.time()
            try:
                result = evaluate(path, is_final=False)
            except (tf.errors.NotFoundError, ValueError) as e:
                # The chief's Saver may delete it meanwhile (keep_checkpoint_max), during the
                # evaluation (NotFoundError) or before the export restores it (Saver: ValueError).
                if tf.io.gfile.exists(path + ".index"):
                    raise
                _LOG.info(
                    "evaluator: checkpoint %s went away before it was evaluated and exported: %s", path, e
                )
        time.sleep(POLL_SECS)
