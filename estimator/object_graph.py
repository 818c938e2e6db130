"""Writing object-based checkpoints as tf.estimator 2.15's `model_to_estimator` did.

With `checkpoint_format="checkpoint"` (2.15's default) each variable is saved under its
object path from the Keras model: `layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`,
the optimizer's hyperparameters under `optimizer/...`, its slots under
`<variable path>/.OPTIMIZER_SLOT/optimizer/<slot>/...`, the global step under
`estimator_global_step/...`, with the object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`) that
Keras `load_weights` and 2.15's Saver read. The paths come from a breadth-first walk of
the objects (`tf.train.TrackableView`), first path found, as TensorFlow names them.
"""

from __future__ import annotations

import collections

import tensorflow as tf

from . import restore

_v1 = tf.compat.v1
_VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"
_SLOT = "/.OPTIMIZER_SLOT/"
GLOBAL_STEP_NAME = "estimator_global_step"  # 2.15 tracked the global step on the model under this name
OPTIMIZER_NAME = "optimizer"


def _walk(model, optimizer, global_step):
    """(objects in breadth-first order, {id: path}, {id: [(child id, name)]}), the model the root."""
    extra = {}
    if optimizer is not None:
        extra[OPTIMIZER_NAME] = optimizer
    extra[GLOBAL_STEP_NAME] = global_step
    view = tf.train.TrackableView(model)
    order, paths, edges = [model], {id(model): ()}, {}
    queue = collections.deque([model])
    while queue:
        obj = queue.popleft()
        children = dict(view.children(obj))
        if obj is model:
            children.update({k: v for k, v in extra.items() if k not in children})
        edges[id(obj)] = []
        for name, child in children.items():
            if id(child) not in paths:
                paths[id(child)] = (*paths[id(obj)], name)
                order.append(child)
                queue.append(child)
            edges[id(obj)].append((id(child), name))
    return order, paths, edges


def keras_saver(model, optimizer, global_step, **saver_options):
    """A Saver of the graph's Keras model, optimizer and global step under 2.15's object keys,
    with their object graph.

    Args:
      model: the Keras model cloned into the Estimator's graph.
      optimizer: its optimizer (a tf_keras legacy optimizer), or None outside training.
      global_step: the global step variable.
      saver_options: keyword arguments of the `tf.compat.v1.train.Saver` (max_to_keep ...).

    Raises:
      ValueError: a global variable of the graph is not reachable from them (it would not be
        saved).
    """
    order, paths, edges = _walk(model, optimizer, global_step)
    var_list, graph = {}, restore.object_graph_class()()
    ids = {id(obj): i for i, obj in enumerate(order)}
    for obj in order:
        node = graph.nodes.add()
        for child, name in edges.get(id(obj), ()):
            node.children.add(node_id=ids[child], local_name=name)
        if isinstance(obj, tf.Variable):
            key = "/".join(paths[id(obj)]) + _VALUE
            var_list[key] = obj
            node.attributes.add(name=restore.VARIABLE_VALUE, full_name=obj.op.name, checkpoint_key=key)
    if optimizer is not None:
        _add_slots(graph, var_list, optimizer, paths, ids)
    known = {v.ref() for v in var_list.values()}
    unsaved = [v.op.name for v in _v1.global_variables() if v.ref() not in known]
    if unsaved:
        raise ValueError(
            f"variables outside the Keras model and its optimizer cannot be saved object-based: {unsaved}"
        )
    var_list[restore.OBJECT_GRAPH_KEY] = restore.object_graph_variable(graph.SerializeToString())
    return _v1.train.Saver(var_list, **{"sharded": True, "save_relative_paths": True, **saver_options})


def _add_slots(graph, var_list: dict, optimizer, paths: dict, ids: dict) -> None:
    optimizer_node = graph.nodes[ids[id(optimizer)]]
    optimizer_path = "/".join(paths[id(optimizer)])
    for slot_name in optimizer.get_slot_names():
        for variable in [v for v in var_list.values() if id(v) in ids]:
            try:
                slot = optimizer.get_slot(variable, slot_name)
            except KeyError:
                continue
            key = f"{'/'.join(paths[id(variable)])}{_SLOT}{optimizer_path}/{slot_name}{_VALUE}"
            var_list[key] = slot
            slot_node = graph.nodes.add()
            slot_node.attributes.add(name=restore.VARIABLE_VALUE, full_name=slot.op.name, checkpoint_key=key)
            optimizer_node.slot_variables.add(
                original_variable_node_id=ids[id(variable)],
                slot_name=slot_name,
                slot_variable_node_id=len(graph.nodes) - 1,
            )
