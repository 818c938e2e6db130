"""`tf.distribute` strategies in a RunConfig: which ones this runtime can honour.

tf.estimator 2.15 ran the model_fn under `RunConfig.train_distribute` /
`eval_distribute`. This runtime builds one graph per process on one device (plus
TF_CONFIG between-graph replication across machines), so:

- a strategy over a single device (`OneDeviceStrategy`, or a `MirroredStrategy`
  that found one device, as TensorFlow's official r1 models pass on a CPU machine)
  is honoured as plain single-device training on that device;
- any other strategy (several devices, several workers, TPU, parameter servers)
  is refused with a `ValueError` naming it and saying what to use instead.
"""

from __future__ import annotations

_INSTEAD = (
    "this runtime trains on one device per process; to train on several machines, use TF_CONFIG "
    "between-graph replication (chief, workers and ps tasks) and leave {argument} unset"
)


def _name(strategy) -> str:
    return type(strategy).__name__


def _devices(strategy) -> tuple[str, ...]:
    """The devices the strategy replicates over (one per replica)."""
    try:
        return tuple(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError):  # the default strategy has no device list
        return ()


def _workers(strategy) -> int:
    """The workers of a multi-worker strategy's cluster (1 when it has none)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return max(1, sum(len(jobs.get(job, [])) for job in ("chief", "master", "worker")))


def single_device(strategy, argument: str) -> str:
    """The one device of a strategy this runtime can honour.

    Args:
      strategy: a `tf.distribute.Strategy` (v1 or v2).
      argument: the RunConfig argument it was passed as ("train_distribute",
        "eval_distribute"), for the messages.

    Returns:
      The full name of its device, e.g. "/job:localhost/replica:0/task:0/device:CPU:0".

    Raises:
      TypeError: strategy is not a tf.distribute strategy.
      ValueError: a TPU or parameter-server strategy, a strategy over several
        workers, or over several devices (or none).
    """
    name = _name(strategy)
    if not (hasattr(strategy, "extended") and hasattr(strategy, "num_replicas_in_sync")):
        raise TypeError(f"{argument} must be a tf.distribute.Strategy, found {name}")
    instead = _INSTEAD.format(argument=argument)
    if name.startswith("TPUStrategy"):
        raise ValueError(f"{argument}={name}: TPUs are not supported: {instead}")
    if "ParameterServerStrategy" in name:
        raise ValueError(f"{argument}={name}: parameter-server strategies are not supported: {instead}")
    workers = _workers(strategy)
    if workers > 1:
        raise ValueError(
            f"{argument}={name} spans {workers} workers: multi-worker strategies are not supported: {instead}"
        )
    devices = _devices(strategy)
    if len(devices) != 1 or strategy.num_replicas_in_sync != 1:
        raise ValueError(
            f"{argument}={name} replicates over {len(devices)} devices {list(devices)}, expected one: {instead}; "
            f"on one machine, use tf.distribute.OneDeviceStrategy or leave {argument} unset"
        )
    return devices[0]


def describe(strategy, argument: str, activity: str) -> str:
    """A log line saying how a single-device strategy is honoured (activity: "training", ...)."""
    return (
        f"{argument}={_name(strategy)} has one device ({single_device(strategy, argument)}): "
        f"running {activity} as plain single-device {activity} on it"
    )
