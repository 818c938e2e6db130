"""Restoring a checkpoint whole, or not at all; name-based and object-based checkpoints.

Every mode that restores a model dir (train, evaluate, predict, the exports, the
exporters, the evaluator task) first checks that the checkpoint holds every variable
the model_fn created, and stops before a session is made when it does not: a model
restored in part (a layer added since the checkpoint, a renamed scope) would train on,
evaluate or, worst, serve freshly initialized weights. As tf.estimator 2.15 failed,
train, evaluate and predict raise `tf.errors.NotFoundError` and the exports
`ValueError("Could not load all requested variables from checkpoint ...")`; here every
missing key is named, with the checkpoint's path, and the message keeps the Saver's
"Key <name> not found in checkpoint" for the tools that parse it. Loading part of a
checkpoint is what `warm_start_from` / `WarmStartSettings` are for.

Object-based checkpoints (tf.estimator 2.15's `model_to_estimator` default,
`checkpoint_format="checkpoint"`) key each tensor by its object path
(`layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`) and record, in their object
graph (the `_CHECKPOINTABLE_OBJECT_GRAPH` tensor), the graph name each variable had
when saved. A graph whose variables carry those names is restored by a
`tf.compat.v1.train.Saver` keyed by the object paths, built before the graph is
finalized; the same Saver writes the next checkpoints with the same keys and object
graph, so the dir stays readable by 2.15 and by Keras `load_weights`.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import tensorflow as tf
from google.protobuf import descriptor_pool, message_factory

_v1 = tf.compat.v1
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"  # the object graph of an object-based checkpoint
VARIABLE_VALUE = "VARIABLE_VALUE"  # the attribute of a variable's node in an object graph
_PART = re.compile(r"/part_\d+$")  # a partition of a PartitionedVariable: <full name>/part_<k>
_PART_SLOT = re.compile(r"/part_\d+/")  # e.g. an optimizer slot of a partition
_SHOWN = 20  # missing keys named in a message, at most


@functools.lru_cache(maxsize=1)
def object_graph_class():
    """The `tensorflow.TrackableObjectGraph` message class (the object graph's proto), found
    through protobuf's registry of the messages TensorFlow loaded."""
    descriptor = descriptor_pool.Default().FindMessageTypeByName("tensorflow.TrackableObjectGraph")
    return message_factory.GetMessageClass(descriptor)


def checkpoint_keys(checkpoint_path: str) -> dict[str, list[int]]:
    """{key: shape} of the tensors a checkpoint holds (read from its index, no graph)."""
    try:
        return dict(tf.train.list_variables(checkpoint_path))
    except ValueError:  # a prefix its file system also calls a directory (ram://): read it as a prefix
        return _v1.train.NewCheckpointReader(checkpoint_path).get_variable_to_shape_map()


def _readable(checkpoint_path: str) -> bool:
    try:
        checkpoint_keys(checkpoint_path)
        return True
    except (tf.errors.OpError, ValueError):
        return False


def _tensor(checkpoint_path: str, key: str):
    try:
        return tf.train.load_variable(checkpoint_path, key)
    except ValueError:  # as in checkpoint_keys
        return _v1.train.NewCheckpointReader(checkpoint_path).get_tensor(key)


def is_object_based(keys) -> bool:
    """Whether checkpoint keys are object-based (tf.train.Checkpoint, Keras save_weights,
    model_to_estimator's default checkpoint_format) rather than variable names."""
    return OBJECT_GRAPH_KEY in keys


def object_names(checkpoint_path: str) -> dict[str, str]:
    """{graph name a variable had when saved: its key} of an object-based checkpoint ({} for
    a name-based one)."""
    if not is_object_based(checkpoint_keys(checkpoint_path)):
        return {}
    graph = object_graph_class().FromString(_tensor(checkpoint_path, OBJECT_GRAPH_KEY))
    return {
        attribute.full_name: attribute.checkpoint_key
        for node in graph.nodes
        for attribute in node.attributes
        if attribute.name == VARIABLE_VALUE and attribute.full_name
    }


def variable_key(variable, keys) -> str | None:
    """The checkpoint key a graph variable restores from: its name, or for a partition
    (`<name>/part_<k>`, any partitioning) the whole variable's name; None for a variable
    inside a partition's scope (an optimizer slot of one: its key, made by the Saver from
    the partition's private slice information, cannot be told from names, so the Saver's
    own restore checks it)."""
    name = variable.op.name
    if name in keys:
        return name
    if _PART.search(name):
        return _PART.sub("", name)
    if _PART_SLOT.search(name):
        return None
    return name


def is_partition(variable) -> bool:
    """Whether a graph variable is a part of a partitioned variable (or lives in one's scope)."""
    name = variable.op.name
    return bool(_PART.search(name) or _PART_SLOT.search(name))


def saver_keys(saver) -> set[str] | None:
    """The keys a built `tf.compat.v1.train.Saver` restores (read from its RestoreV2 ops), or
    None when it is not built yet (a deferred Saver builds when the Scaffold is finalized)."""
    saver_def = saver.saver_def
    if saver_def is None or not saver_def.restore_op_name:
        return None
    scope = saver_def.restore_op_name.rsplit("/", 1)[0] + "/"
    keys = set()
    for op in _v1.get_default_graph().get_operations():
        if op.type == "RestoreV2" and op.name.startswith(scope):
            keys.update(name.decode() for name in tf.get_static_value(op.inputs[1]))
    return keys


@dataclasses.dataclass
class Plan:
    """How a checkpoint restores into the current graph.

    Attributes:
      saver: the Saver to restore and save with when the default one would not do (an
        object-based checkpoint's), else None.
      missing: what the checkpoint lacks: keys, or for an object-based checkpoint the
        names of graph variables its object graph does not have.
      needed: how many variables or keys the restore needs.
      object_based: whether the checkpoint is object-based.
    """

    saver: object
    missing: list
    needed: int
    object_based: bool


def plan(checkpoint_path: str, variables=None, saver=None, saver_options=None, unchecked=()) -> Plan:
    """Works out how `checkpoint_path` restores into the default graph.

    Args:
      checkpoint_path: the checkpoint to restore.
      variables: the graph variables to restore (default: all global variables).
      saver: the model_fn's own Saver, when it brought one: its keys are what restores (one
        not built yet is left to check itself when it restores).
      saver_options: keyword arguments of the Saver made for an object-based checkpoint
        (max_to_keep, keep_checkpoint_every_n_hours, ...).
      unchecked: variables that Saver also saves, by name, but does not need in the
        checkpoint (e.g. a serving input receiver's, initialized on their own).
    """
    keys = checkpoint_keys(checkpoint_path)
    if variables is None:
        variables = _v1.global_variables()
    if saver is not None:
        needed = saver_keys(saver)
        if needed is None:  # not built yet (defer_build): its own restore checks it
            return Plan(None, [], 0, is_object_based(keys))
        return Plan(None, sorted(k for k in needed if k not in keys), len(needed), is_object_based(keys))
    if is_object_based(keys):
        return _object_plan(checkpoint_path, variables, saver_options or {}, unchecked)
    needed = {variable_key(v, keys) for v in variables} - {None}
    return Plan(None, sorted(k for k in needed if k not in keys), len(needed), False)


def _object_plan(checkpoint_path: str, variables, saver_options: dict, unchecked) -> Plan:
    names = object_names(checkpoint_path)
    missing = sorted(v.op.name for v in variables if v.op.name not in names)
    if missing:
        return Plan(None, missing, len(variables), True)
    var_list = {v.op.name: v for v in unchecked}
    var_list.update({names[v.op.name]: v for v in variables})
    var_list[OBJECT_GRAPH_KEY] = object_graph_variable(_tensor(checkpoint_path, OBJECT_GRAPH_KEY))
    options = {"sharded": True, "save_relative_paths": True, **saver_options}
    return Plan(_v1.train.Saver(var_list, **options), [], len(variables), True)


def object_graph_variable(serialized: bytes):
    """A local string variable holding a serialized object graph, saved under OBJECT_GRAPH_KEY
    with the variables it describes (initialized with it, so a new checkpoint has it too)."""
    with _v1.get_default_graph().name_scope(None):
        return _v1.Variable(
            tf.constant(serialized, tf.string),
            trainable=False,
            collections=[_v1.GraphKeys.LOCAL_VARIABLES],
            name="checkpointable_object_graph",
        )


def describe(checkpoint_path: str, result: Plan) -> str:
    """What is missing, for the messages: the Saver's "Key ... not found in checkpoint" line
    (which tools parse), the path, and every missing key (the first _SHOWN)."""
    missing = result.missing
    shown = ", ".join(missing[:_SHOWN]) + (
        f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
    )
    what = (
        "object-based: no object of its object graph had these variables' names"
        if result.object_based
        else "these keys"
    )
    return (
        f"Key {missing[0]} not found in checkpoint {checkpoint_path}: it lacks {len(missing)} of the "
        f"{result.needed} variables the model_fn created ({what}: {shown}), so it would restore only "
        "in part. Was the model_fn changed since it was written? To start from the variables it has, "
        "use a new model_dir with warm_start_from=WarmStartSettings(...)."
    )


def check(checkpoint_path: str, saver=None, saver_options=None):
    """Checks that the checkpoint restores every global variable; returns the Saver to restore
    and save with when the default would not do (an object-based checkpoint's), else None.

    Raises:
      tf.errors.NotFoundError: naming every missing key and the checkpoint.
    """
    if not _readable(checkpoint_path):
        return None  # the Saver says it as 2.15 did: "The passed save_path is not a valid checkpoint"
    result = plan(checkpoint_path, saver=saver, saver_options=saver_options)
    if result.missing:
        raise tf.errors.NotFoundError(
            None, None, "Restoring from checkpoint failed. " + describe(checkpoint_path, result)
        )
    return result.saver


def check_export(checkpoint_path: str, mode: str, variables, saver=None, unchecked=()):
    """As `check`, for an export of `variables` (and `unchecked`, saved by the Saver returned
    but not restored); raises ValueError as tf.estimator 2.15's exports did.

    Raises:
      ValueError: "Could not load all requested variables from checkpoint", naming the
        mode, the checkpoint and every missing key.
    """
    if not _readable(checkpoint_path):
        return None  # as in check
    result = plan(checkpoint_path, variables, saver, {"max_to_keep": None}, unchecked)
    if result.missing:
        raise ValueError(
            f"Could not load all requested variables from checkpoint. Exporting mode `{mode}` from "
            f"`{checkpoint_path}` stopped; nothing was exported. {describe(checkpoint_path, result)}"
        )
    return result.saver


def export_restore_error(checkpoint_path: str, mode: str, error: tf.errors.NotFoundError) -> ValueError:
    """The ValueError of an export whose Saver found a key missing that `check_export` could
    not see (a slot of a partitioned variable), as tf.estimator 2.15 raised it."""
    return ValueError(
        f"Could not load all requested variables from checkpoint. Exporting mode `{mode}` from "
        f"`{checkpoint_path}` stopped; nothing was exported. The Saver said: {error.message}"
    )


def global_step_key(checkpoint_path: str) -> str | None:
    """The key of the global step in a checkpoint: "global_step", or in an object-based one the
    key of the variable that was named global_step (None if it has none)."""
    keys = checkpoint_keys(checkpoint_path)
    if "global_step" in keys:
        return "global_step"
    return object_names(checkpoint_path).get("global_step") if is_object_based(keys) else None
