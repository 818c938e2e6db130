r"""Converts a canned Estimator checkpoint between the v1 and the v2 classes, both ways.

tf.estimator 2.15 shipped `tools/checkpoint_converter.py` (`estimator_ckpt_converter`) to
move a checkpoint of a `tf.compat.v1.estimator` DNN, linear or wide-and-deep model
(`tf.compat.v1.train` optimizers) to the `tf.estimator` class (tf.keras optimizers).
This is the same command, with the same arguments, and the way back:

    # v1 -> v2 (2.15's command line): the graph gives the optimizers' hyperparameters
    python -m estimator.tools.checkpoint_converter dnn \
        /old/model.ckpt-100 /old/graph.pbtxt /new/model.ckpt-100
    # v2 -> v1: no graph needed (v1 checkpoints hold no hyperparameters)
    python -m estimator.tools.checkpoint_converter --to v1 combined /v2/model.ckpt-100 /v1/model.ckpt-100

(`estimator_ckpt_converter` is the same command.) SOURCE_CHECKPOINT may also be a model
dir (its newest checkpoint). The target is written with its `checkpoint` state file, so
its directory is a model dir that the other class resumes.

What changes (the model's own variables and global_step keep their names):
- optimizer slots: v1 `<variable>/t_0/<Slot>` (DNN), `<variable>/part_0/<Slot>` (linear),
  `<variable>/<Slot>` (wide-and-deep) <-> v2 `training/<Optimizer>/<variable>/<slot>`
  (Adagrad accumulator; Adam m, v; Ftrl accumulator, linear; RMSProp rms, momentum);
- Adam's `beta1_power`/`beta2_power` (v1, in the head's scope) <-> `beta_1`/`beta_2`
  (v2): v1 holds beta1^(t+1) after t steps;
- v2's hyperparameter variables (`learning_rate`, `decay`, ...) are read from the v1
  graph.pbtxt's optimizer constants (a value the graph does not hold as a constant, such
  as a decayed learning rate, gets tf.keras's default, with a warning); the v2 -> v1
  direction drops them and logs them, to be given to the v1 optimizer.
- wide-and-deep: the linear part's v2 optimizer counts its own steps (`iter`, set to
  global_step); the DNN part's uses global_step.

Optimizers: Adagrad, Adam, Ftrl, RMSProp (v2 RMSprop) and SGD (v1 GradientDescent, v2 SGD
without momentum); others (Momentum, ...) are refused. Both parts of a wide-and-deep
model may use the same optimizer (2.15's converter refused that). A v1 variable
partitioned in several parts (`part_1`, ...) is refused. The update rules of the two
optimizer families differ slightly (v1 RMSProp starts rms at 1 and puts epsilon inside
the square root, v1 Adagrad adds no epsilon), so training continues close to, not
exactly as, it would have.

Expected failures (a file that is not a checkpoint, a checkpoint of another kind) print
one `error:` line and exit with status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from google.protobuf import text_format  # noqa: E402

_v1 = tf.compat.v1
_LOG = logging.getLogger("estimator.tools.checkpoint_converter")

ESTIMATOR_TYPES = ("dnn", "linear", "combined")
GLOBAL_STEP = "global_step"
# v1 optimizer -> (its v2 twin, [(v1 slot suffix, v2 slot name)]).
OPTIMIZERS = {
    "Adagrad": ("Adagrad", [("Adagrad", "accumulator")]),
    "Adam": ("Adam", [("Adam", "m"), ("Adam_1", "v")]),
    "Ftrl": ("Ftrl", [("Ftrl", "accumulator"), ("Ftrl_1", "linear")]),
    "RMSProp": ("RMSprop", [("RMSProp", "rms"), ("RMSProp_1", "momentum")]),
    "SGD": ("SGD", []),
}
_V2_CLASSES = {
    "Adagrad": tf_keras.optimizers.legacy.Adagrad,
    "Adam": tf_keras.optimizers.legacy.Adam,
    "Ftrl": tf_keras.optimizers.legacy.Ftrl,
    "RMSprop": tf_keras.optimizers.legacy.RMSprop,
    "SGD": tf_keras.optimizers.legacy.SGD,
}
# The hyperparameter variables each v2 optimizer saves.
V2_HYPERPARAMETERS = {
    "Adagrad": ("decay", "learning_rate"),
    "Adam": ("beta_1", "beta_2", "decay", "learning_rate"),
    "Ftrl": ("beta", "decay", "l1_regularization_strength", "l2_regularization_strength", "learning_rate",
             "learning_rate_power"),
    "RMSprop": ("decay", "learning_rate", "momentum", "rho"),
    "SGD": ("decay", "learning_rate", "momentum"),
}  # fmt: skip
# A v1 optimizer's graph constant -> its v2 hyperparameter ("add/x": Ftrl's l2, before beta's adjustment).
_GRAPH_CONSTANTS = {
    "learning_rate": "learning_rate",
    "beta1": "beta_1",
    "beta2": "beta_2",
    "decay": "rho",
    "momentum": "momentum",
    "beta": "beta",
    "l1_regularization_strength": "l1_regularization_strength",
    "add/x": "l2_regularization_strength",
    "learning_rate_power": "learning_rate_power",
}
_V1_GRAPH_NAMES = {
    "Adagrad": "Adagrad",
    "Adam": "Adam",
    "Ftrl": "Ftrl",
    "RMSProp": "RMSProp",
    "SGD": "GradientDescent",
}
_V1_SLOT_SUFFIXES = {suffix: name for name, (_, slots) in OPTIMIZERS.items() for suffix, _ in slots}
_PARTITION_DIR = {"dnn": "t_0", "linear": "part_0", "combined": None}
_HEAD_SCOPE = {"dnn": "dnn/head/", "linear": "linear/head/", "combined": "head/"}


class ConversionError(ValueError):
    """A checkpoint this converter cannot convert; the message says why."""


# ------------------------------------------------------------------------------ reading
def read_checkpoint(path: str) -> dict[str, np.ndarray]:
    """{key: value} of a checkpoint prefix, or of the newest checkpoint of a model dir.

    Raises:
      ConversionError: no checkpoint there, or a key saved in several partitions.
    """
    prefix = tf.train.latest_checkpoint(path) if tf.io.gfile.isdir(path) else path
    if not prefix or not tf.io.gfile.exists(prefix + ".index"):
        raise ConversionError(f"{path}: not a checkpoint (no {path}.index) nor a model dir with one")
    reader = tf.train.load_checkpoint(prefix)
    values = {}
    for name in sorted(reader.get_variable_to_shape_map()):
        try:
            values[name] = reader.get_tensor(name)
        except ValueError as e:
            raise ConversionError(
                f"{prefix}: {name} is saved in several partitions (part_1, ...): restore the model with its "
                "v1 class and a single partition first"
            ) from e
    return values


def graph_hyperparameters(graph_path: str) -> list[tuple[str, dict[str, float]]]:
    """[(v1 optimizer graph name, {v2 hyperparameter: value})] in the order the training graph built them.

    Raises:
      ConversionError: the file is not a text GraphDef.
    """
    graph_def = _v1.GraphDef()
    try:
        with tf.io.gfile.GFile(graph_path) as f:
            text_format.Parse(f.read(), graph_def)
    except (text_format.ParseError, tf.errors.OpError, UnicodeDecodeError) as e:
        raise ConversionError(
            f"{graph_path}: not a graph.pbtxt (text GraphDef): {str(e).splitlines()[0]}"
        ) from e
    names = "|".join(_V1_GRAPH_NAMES.values())
    constants = "|".join(re.escape(c) for c in _GRAPH_CONSTANTS)
    pattern = re.compile(rf"(?:^|.*/)((?:{names})(?:_\d+)?)/({constants})$")
    found: dict[str, dict[str, float]] = {}
    for node in graph_def.node:
        match = pattern.fullmatch(node.name)
        if match and node.op == "Const" and node.attr["value"].tensor.float_val:
            optimizer, constant = match.groups()
            found.setdefault(optimizer, {})[_GRAPH_CONSTANTS[constant]] = node.attr["value"].tensor.float_val[
                0
            ]
    return list(found.items())


# ------------------------------------------------------------------------------ v1 -> v2
def _part_of(name: str, estimator_type: str) -> str:
    if estimator_type != "combined":
        return estimator_type
    return "dnn" if name.startswith("dnn/") else "linear"


def _split_v1(values: dict, estimator_type: str):
    """(model variables, {part: {v1 suffix: {variable: key}}}, {part: {"beta1_power"|...: key}})."""
    partition = _PARTITION_DIR[estimator_type]
    slots: dict[str, dict[str, dict[str, str]]] = {}
    for name in values:
        head, _, suffix = name.rpartition("/")
        if suffix in _V1_SLOT_SUFFIXES:
            if partition and head.endswith("/" + partition):
                head = head[: -len(partition) - 1]
            if head not in values:
                continue  # not a slot of this layout: _check_model_variables names it
            slots.setdefault(_part_of(head, estimator_type), {}).setdefault(suffix, {})[head] = name
    non_slots = [n for n in values if re.fullmatch(r".*beta[12]_power(_\d+)?", n)]
    slot_keys = {k for part in slots.values() for keys in part.values() for k in keys.values()}
    model = [n for n in values if n not in slot_keys and n not in non_slots]
    return model, slots, non_slots


def _v1_optimizer(part: str, suffixes) -> str:
    names = {_V1_SLOT_SUFFIXES[s] for s in suffixes}
    if len(names) > 1:
        raise ConversionError(f"the {part} part has the slots of several optimizers: {sorted(names)}")
    return names.pop() if names else "SGD"


def _check_model_variables(model, estimator_type):
    prefixes = {"dnn": ("dnn/",), "linear": ("linear/",), "combined": ("dnn/", "linear/")}[estimator_type]
    for name in model:
        if name != GLOBAL_STEP and not name.startswith(prefixes):
            raise ConversionError(
                f"{name}: not a variable of a canned {estimator_type} Estimator's v1 checkpoint "
                f"(expected {' or '.join(p + '...' for p in prefixes)}, global_step and optimizer slots)"
            )


def _v2_optimizer_names(parts: list[tuple[str, str]]) -> dict[str, str]:
    """{part: v2 optimizer scope name}: tf.keras numbers a second optimizer of one class ("Adam_1")."""
    used: dict[str, int] = {}
    names = {}
    for part, v2_class in parts:
        count = used.get(v2_class, 0)
        names[part] = v2_class if count == 0 else f"{v2_class}_{count}"
        used[v2_class] = count + 1
    return names


# The v2 hyperparameters a v1 optimizer has (the others are v1's fixed values: tf.keras's defaults, 0).
_V1_HAS = {
    "Adagrad": {"learning_rate"},
    "Adam": {"learning_rate", "beta_1", "beta_2"},
    "Ftrl": {
        "learning_rate",
        "learning_rate_power",
        "l1_regularization_strength",
        "l2_regularization_strength",
        "beta",
    },
    "RMSProp": {"learning_rate", "rho", "momentum"},
    "SGD": {"learning_rate"},
}


def _hyperparameters(v1_name, graph_found, beta_powers, global_step) -> dict:
    """{v2 hyperparameter: value}: the graph's constants, Adam's betas from its powers, else
    tf.keras's defaults."""
    v2_class = OPTIMIZERS[v1_name][0]
    defaults = _V2_CLASSES[v2_class]().get_config()
    values = {}
    for name in V2_HYPERPARAMETERS[v2_class]:
        if name in graph_found:
            values[name] = graph_found[name]
        elif name in beta_powers:  # beta1_power = beta_1 ** (t + 1) after t steps
            values[name] = float(beta_powers[name]) ** (1.0 / (global_step + 1))
        else:
            if name in _V1_HAS[v1_name]:
                _LOG.warning(
                    "%s %s: not a constant of the graph; tf.keras's default %s", v1_name, name, defaults[name]
                )
            values[name] = defaults[name]
    return values


def v1_to_v2(values: dict, estimator_type: str, graph_found: list) -> dict[str, np.ndarray]:
    """The v2 checkpoint {key: value} of a v1 canned Estimator checkpoint.

    Args:
      values: the v1 checkpoint, {key: value}.
      estimator_type: "dnn", "linear" or "combined".
      graph_found: `graph_hyperparameters` of the v1 training graph.

    Raises:
      ConversionError: keys of another kind of model, or an unsupported optimizer.
    """
    model, slots, non_slots = _split_v1(values, estimator_type)
    _check_model_variables(model, estimator_type)
    order = [p for p in ("dnn", "linear") if any(n.startswith(p + "/") for n in model)]
    v1_names = {part: _v1_optimizer(part, slots.get(part, {})) for part in order}
    v2_names = _v2_optimizer_names([(part, OPTIMIZERS[v1_names[part]][0]) for part in order])
    graph_by_part = _graph_by_part(graph_found, order, v1_names)
    adam_parts = [part for part in order if v1_names[part] == "Adam"]
    global_step = int(values[GLOBAL_STEP])
    out = {name: values[name] for name in model}
    for index, part in enumerate(order):
        scope = f"training/{v2_names[part]}/"
        powers = (
            _adam_powers(values, non_slots, estimator_type, adam_parts.index(part))
            if part in adam_parts
            else {}
        )
        hyperparameters = _hyperparameters(v1_names[part], graph_by_part.get(part, {}), powers, global_step)
        out.update({scope + name: np.float32(value) for name, value in hyperparameters.items()})
        for suffix, v2_slot in OPTIMIZERS[v1_names[part]][1]:
            if v2_slot == "momentum" and hyperparameters.get("momentum") == 0:
                continue  # tf.keras's RMSprop keeps a momentum slot only with momentum
            for variable, key in slots.get(part, {}).get(suffix, {}).items():
                out[f"{scope}{variable}/{v2_slot}"] = values[key]
        if index > 0:  # the first part's optimizer counts global_step; the other its own steps
            out[scope + "iter"] = np.int64(global_step)
    return out


def _graph_by_part(graph_found, order, v1_names) -> dict:
    """{part: {v2 hyperparameter: value}}: the graph's optimizers in order, the DNN's first."""
    remaining = list(graph_found)
    by_part = {}
    for part in order:
        wanted = _V1_GRAPH_NAMES[v1_names[part]]
        for entry in remaining:
            if re.fullmatch(rf"{wanted}(_\d+)?", entry[0]):
                by_part[part] = entry[1]
                remaining.remove(entry)
                break
    return by_part


def _adam_powers(values, non_slots, estimator_type, adam_index) -> dict:
    """{"beta_1": beta1_power, "beta_2": beta2_power} of the adam_index-th Adam optimizer."""
    suffix = "" if adam_index == 0 else f"_{adam_index}"
    scope = _HEAD_SCOPE[estimator_type]
    powers = {}
    for v1_name, v2_name in (("beta1_power", "beta_1"), ("beta2_power", "beta_2")):
        candidates = [n for n in non_slots if n.endswith(v1_name + suffix)]
        exact = [n for n in candidates if n == scope + v1_name + suffix] or candidates
        if exact:
            powers[v2_name] = values[exact[0]]
    return powers


# ------------------------------------------------------------------------------ v2 -> v1
def v2_to_v1(values: dict, estimator_type: str) -> dict[str, np.ndarray]:
    """The v1 checkpoint {key: value} of a v2 canned Estimator checkpoint.

    Raises:
      ConversionError: keys of another kind of model, or an unsupported optimizer
        (SGD with momentum, AMSGrad Adam, ...).
    """
    model = [n for n in values if not n.startswith("training/")]
    _check_model_variables(model, estimator_type)
    scopes = sorted({n.split("/")[1] for n in values if n.startswith("training/")})
    by_v2 = {v2: v1 for v1, (v2, _) in OPTIMIZERS.items()}
    partition = _PARTITION_DIR[estimator_type]
    global_step = int(values[GLOBAL_STEP])
    out = {name: values[name] for name in model}
    adam_count = 0
    for scope in sorted(scopes, key=lambda s: _scope_part_order(values, s)):
        v2_class = re.sub(r"_\d+$", "", scope)
        if v2_class not in by_v2:
            raise ConversionError(
                f"training/{scope}: an optimizer this converter does not know ({sorted(by_v2)})"
            )
        v1_name = by_v2[v2_class]
        prefix = f"training/{scope}/"
        steps = int(values.get(prefix + "iter", global_step))
        _refuse_v2_only_state(values, prefix, v2_class)
        _log_hyperparameters(values, prefix, v1_name)
        variables = {
            n[len(prefix) :].rpartition("/")[0] for n in values if n.startswith(prefix) and n.count("/") > 2
        }
        for variable in sorted(variables):
            for suffix, v2_slot in OPTIMIZERS[v1_name][1]:
                key = f"{variable}/{partition}/{suffix}" if partition else f"{variable}/{suffix}"
                source = values.get(f"{prefix}{variable}/{v2_slot}")
                out[key] = source if source is not None else np.zeros_like(values[variable])
        if v1_name == "Adam":
            head = _HEAD_SCOPE[estimator_type]
            tail = "" if adam_count == 0 else f"_{adam_count}"
            for v1_power, v2_beta in (("beta1_power", "beta_1"), ("beta2_power", "beta_2")):
                out[f"{head}{v1_power}{tail}"] = np.float32(float(values[prefix + v2_beta]) ** (steps + 1))
            adam_count += 1
    return out


def _scope_part_order(values, scope) -> int:
    """0 for the DNN part's optimizer scope, 1 for the linear part's (v1 builds the DNN's first)."""
    prefix = f"training/{scope}/"
    return 0 if any(n.startswith(prefix + "dnn/") for n in values) else 1


def _refuse_v2_only_state(values, prefix, v2_class) -> None:
    if v2_class == "SGD" and float(values.get(prefix + "momentum", 0.0)) != 0:
        raise ConversionError(
            f"{prefix}momentum is {float(values[prefix + 'momentum'])}: SGD with momentum has no twin among "
            "the v1 canned classes' optimizer names"
        )
    if any(n.startswith(prefix) and n.endswith("/vhat") for n in values):
        raise ConversionError(f"{prefix}: AMSGrad's vhat slots have no v1 twin")


def _log_hyperparameters(values, prefix, v1_name) -> None:
    found = {n[len(prefix) :]: float(values[n]) for n in values if n.startswith(prefix) and n.count("/") == 2}
    found.pop("iter", None)
    if found:
        settings = ", ".join(f"{k}={v:g}" for k, v in sorted(found.items()))
        _LOG.info(
            "%s: %s; give them to the v1 class's optimizer (tf.compat.v1.train.%s)", prefix, settings, v1_name
        )


# ------------------------------------------------------------------------------ writing
def write_checkpoint(values: dict, target_checkpoint: str) -> str:
    """Saves {key: value} at the target prefix (and its directory's `checkpoint` state file)."""
    with tf.Graph().as_default():
        variables = {name: _v1.Variable(value, name=name.replace(":", "_")) for name, value in values.items()}
        saver = _v1.train.Saver(var_list=variables, save_relative_paths=True)
        with _v1.Session() as session:
            session.run(_v1.global_variables_initializer())
            return saver.save(session, target_checkpoint, write_meta_graph=False)


def convert_checkpoint(estimator_type, source_checkpoint, source_graph, target_checkpoint, to="v2") -> str:
    """Converts a canned Estimator checkpoint (2.15's `convert_checkpoint`, plus `to="v1"`).

    Args:
      estimator_type: "dnn", "linear" or "combined".
      source_checkpoint: a checkpoint prefix or a model dir.
      source_graph: the v1 training graph.pbtxt (v1 -> v2; None: tf.keras's defaults
        for the hyperparameters); unused for v2 -> v1.
      target_checkpoint: the prefix to write, e.g. /new/model.ckpt-100.
      to: "v2" (from a v1 checkpoint) or "v1" (from a v2 checkpoint).

    Returns:
      The written checkpoint prefix.

    Raises:
      ConversionError: an unknown estimator_type or direction, a source that is not
        a checkpoint of that kind, or the target is the source.
    """
    if estimator_type not in ESTIMATOR_TYPES:
        raise ConversionError(f"estimator_type must be one of {ESTIMATOR_TYPES}, found {estimator_type!r}")
    if to not in ("v1", "v2"):
        raise ConversionError(f"to must be 'v1' or 'v2', found {to!r}")
    values = read_checkpoint(source_checkpoint)
    if GLOBAL_STEP not in values:
        raise ConversionError(f"{source_checkpoint}: no global_step: not an Estimator's checkpoint")
    if to == "v2":
        if any(n.startswith("training/") for n in values):
            raise ConversionError(f"{source_checkpoint}: a v2 checkpoint (training/... slots); use --to v1")
        graph_found = graph_hyperparameters(source_graph) if source_graph else []
        converted = v1_to_v2(values, estimator_type, graph_found)
    else:
        if not any(n.startswith("training/") for n in values) and len(values) > 1:
            raise ConversionError(
                f"{source_checkpoint}: not a v2 checkpoint (no training/... variables); use --to v2"
            )
        converted = v2_to_v1(values, estimator_type)
    if os.path.abspath(target_checkpoint) == os.path.abspath(source_checkpoint):
        raise ConversionError(f"{target_checkpoint}: the target must not be the source")
    tf.io.gfile.makedirs(os.path.dirname(os.path.abspath(target_checkpoint)))
    for name in sorted(converted):
        _LOG.info("  %s %s", name, list(np.shape(converted[name])))
    return write_checkpoint(converted, target_checkpoint)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="estimator_ckpt_converter",
        usage="%(prog)s [-h] [--to {v2,v1}] {dnn,linear,combined} SOURCE_CHECKPOINT [SOURCE_GRAPH] "
        "TARGET_CHECKPOINT",
        description="Converts a canned Estimator checkpoint between the v1 (tf.compat.v1.estimator) and "
        "v2 (tf.estimator) classes.",
    )
    parser.add_argument("--to", choices=("v2", "v1"), default="v2", help="the target classes (default v2)")
    parser.add_argument("estimator_type", choices=ESTIMATOR_TYPES, help="dnn, linear or combined")
    parser.add_argument("source_checkpoint", help="the checkpoint prefix (or model dir) to read")
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="[SOURCE_GRAPH] TARGET_CHECKPOINT",
        help="the v1 graph.pbtxt (required for --to v2, as in 2.15), then the checkpoint prefix to write",
    )
    return parser


def main(argv=None) -> int:
    """The command line; returns the exit status (0, 1 for an `error:` line, 2 for bad usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if len(args.paths) > 2 or (args.to == "v2" and len(args.paths) != 2):
        parser.error("give SOURCE_GRAPH TARGET_CHECKPOINT for --to v2, TARGET_CHECKPOINT for --to v1")
    source_graph, target = args.paths if len(args.paths) == 2 else (None, args.paths[0])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = convert_checkpoint(
            args.estimator_type, args.source_checkpoint, source_graph, target, to=args.to
        )
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


def entry() -> None:
    """The console script `estimator_ckpt_converter`."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
