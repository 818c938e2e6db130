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
"""

from __future__ import annotations

import logging
import time

import tensorflow as tf

from .checkpoints import global_step_of, latest_checkpoint
from .run_config import TaskType

_v1 = tf.compat.v1
_LOG = logging.getLogger("estimator")
WORKER_DELAY_SECS = 2.0  # worker k waits k * this before starting (the chief initializes first)
MAX_WORKER_DELAY_SECS = 20.0
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


def start_server(config) -> tf.distribute.Server:
    """Starts this task's gRPC server."""
    _LOG.info(
        "starting server %s:%d of cluster %s", config.task_type, config.task_id, config.cluster_spec.as_dict()
    )
    return tf.distribute.Server(
        config.cluster_spec,
        job_name=config.task_type,
        task_index=config.task_id,
        config=session_config(config, config.session_config),
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
    return min(MAX_WORKER_DELAY_SECS, WORKER_DELAY_SECS * (config.task_id + 1))


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
            _LOG.info(
                "evaluator: the final checkpoint (step %d) is there; the chief exports it; exiting", step
            )
            return result
        if path and path != last_path and time.time() - last_time >= eval_spec.throttle_secs:
            last_path, last_time = path, time.time()
            try:
                result = evaluate(path, is_final=False)
            except tf.errors.NotFoundError as e:  # the chief deleted it meanwhile (keep_checkpoint_max)
                _LOG.info("evaluator: checkpoint %s went away: %s", path, e)
        time.sleep(POLL_SECS)
