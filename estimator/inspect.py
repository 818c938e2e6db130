r"""Step 0 of a migration: what a model dir holds, and whether this runtime will restore it whole.

    python -m estimator.inspect --model-dir gs://bucket/model
    python -m estimator.inspect --model-dir /models/census --estimator my_trainer.model:make_estimator
    python -m estimator.inspect --model-dir DIR --estimator pkg.mod:factory --input-fn pkg.mod:train_input_fn

Without --estimator it reads only files (the checkpoint's index, the state file, the
exports' saved_model.pb; no graph is built, nothing is written) and reports: the
checkpoints and their global steps, the checkpoint format (name-based: tf.compat.v1.train
Saver keys such as `dnn/logits/kernel`; object-based: tf.train.Checkpoint keys such as
`layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`, model_to_estimator's default),
the kind of estimator its variables look like (canned v1 or v2 class and optimizer,
model_to_estimator, RNN, custom), the exports and their signatures, and anything to know
(a state file naming another place, partitioned variables).

With --estimator MODULE:FACTORY (a function returning your Estimator, as your trainer
makes it; it is given model_dir=DIR when it takes that argument) it also builds the
training graph, as `train()` would, and lists the checkpoint keys that will restore and
the variables that will not (and shapes that differ). The graph needs features: the factory may return
(estimator, train_input_fn), or give --input-fn MODULE:FUNCTION. Exit status: 0 when
the dir would restore whole (or without --estimator), 1 when it would restore only in
part (this runtime then refuses to train, evaluate, predict or export it) or on an
`error:` line, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import inspect as _pyinspect
import json
import os
import re
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
from google.protobuf import descriptor_pool, message_factory  # noqa: E402

from . import restore  # noqa: E402

_v1 = tf.compat.v1
_CHECKPOINT_INDEX = re.compile(r"(.+)\.index")
_OPTIMIZERS = (
    "Adagrad",
    "Adam",
    "Ftrl",
    "RMSProp",
    "RMSprop",
    "Momentum",
    "SGD",
    "Adadelta",
    "Nadam",
    "Adamax",
)


class InspectError(Exception):
    """A model dir or argument the check cannot use (reported in one `error:` line)."""


def _saved_model_class():
    descriptor = descriptor_pool.Default().FindMessageTypeByName("tensorflow.SavedModel")
    return message_factory.GetMessageClass(descriptor)


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def checkpoints_in(model_dir: str) -> list[str]:
    """The checkpoint prefixes in model_dir (by their .index files), oldest step first."""
    prefixes = [m.group(1) for m in map(_CHECKPOINT_INDEX.fullmatch, tf.io.gfile.listdir(model_dir)) if m]
    return sorted((_join(model_dir, p) for p in prefixes), key=lambda p: (_step_of_name(p), p))


def _step_of_name(prefix: str) -> int:
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def _state(model_dir: str) -> dict:
    """What the `checkpoint` state file names, read only (nothing is rewritten)."""
    try:
        state = tf.train.get_checkpoint_state(model_dir)
    except (tf.errors.OpError, ValueError) as e:
        return {"error": str(e).splitlines()[0]}
    if state is None:
        return {}
    return {"latest": state.model_checkpoint_path, "all": list(state.all_model_checkpoint_paths)}


def looks_like(keys) -> tuple[str, str | None]:
    """(the kind of estimator checkpoint keys look like, the optimizer they hold, if known)."""
    keys = set(keys)
    if restore.is_object_based(keys):
        if any(k.startswith("layer_with_weights-") or k.startswith("layer-") for k in keys):
            return "model_to_estimator, checkpoint_format='checkpoint' (object-based)", _object_optimizer(
                keys
            )
        return "an object-based checkpoint (tf.train.Checkpoint)", None
    v2 = sorted({k.split("/")[1] for k in keys if k.startswith("training/") and k.count("/") >= 2})
    dnn = any(k.startswith("dnn/logits/") for k in keys)
    linear = any(k.startswith("linear/linear_model/") for k in keys)
    parts = [name for name, present in (("DNN", dnn), ("Linear", linear)) if present]
    if dnn and linear:
        canned = "DNNLinearCombined{Classifier,Regressor,Estimator}"
    elif parts:
        canned = f"{parts[0]}{{Classifier,Regressor,Estimator}}"
    elif any(k.startswith("baseline/") for k in keys):
        canned = "Baseline{Classifier,Regressor,Estimator}"
    elif any(k.startswith("rnn_model/") for k in keys):
        canned = "experimental.RNN{Classifier,Estimator}"
    else:
        canned = None
    slots = sorted({s for k in keys for s in _OPTIMIZERS if k.endswith("/" + s) or f"/{s}_" in k})
    if canned and v2:
        return f"tf.estimator.{canned} (v2 classes: tf.keras optimizer variables)", ", ".join(v2)
    if canned:
        return f"tf.compat.v1.estimator.{canned} (v1 classes: tf.compat.v1.train slots)", ", ".join(
            slots
        ) or None
    if v2:
        return (
            "model_to_estimator, checkpoint_format='saver', or a model_fn with tf.keras optimizers",
            ", ".join(v2),
        )
    return "a custom model_fn (tf.compat.v1 variables)", ", ".join(slots) or None


def _object_optimizer(keys) -> str | None:
    hyper = sorted({k.split("/")[1] for k in keys if k.startswith("optimizer/")})
    return f"tf.keras ({', '.join(hyper)})" if hyper else None


def exports_in(model_dir: str) -> list[dict]:
    """Every export under model_dir/export/<name>/<timestamp> (and temp- dirs): complete or not,
    its tags and signatures (read from saved_model.pb, no graph built)."""
    base = _join(model_dir, "export")
    found = []
    if not tf.io.gfile.isdir(base):
        return found
    for exporter in sorted(n.rstrip("/") for n in tf.io.gfile.listdir(base)):
        parent = _join(base, exporter)
        if not tf.io.gfile.isdir(parent):
            continue
        for stamp in sorted(n.rstrip("/") for n in tf.io.gfile.listdir(parent)):
            path = _join(parent, stamp)
            found.append({"path": path, "exporter": exporter, **_export_contents(path)})
    return found


def _export_contents(path: str) -> dict:
    pb = _join(path, "saved_model.pb")
    if not tf.io.gfile.exists(pb):
        return {"complete": False}
    with tf.io.gfile.GFile(pb, "rb") as f:
        saved_model = _saved_model_class().FromString(f.read())
    graphs = [
        {"tags": sorted(g.meta_info_def.tags), "signatures": sorted(g.signature_def)}
        for g in saved_model.meta_graphs
    ]
    return {"complete": True, "meta_graphs": graphs}


def inspect_model_dir(model_dir: str) -> dict:
    """The report of a model dir, from its files only.

    Returns:
      {"model_dir", "checkpoints": [{"path", "global_step"}], "latest", "format"
      ("name-based"/"object-based"/None), "global_step", "looks_like", "optimizer",
      "variables" (count), "exports": [...], "notes": [str]}.

    Raises:
      InspectError: model_dir is not a directory.
    """
    if not tf.io.gfile.isdir(model_dir):
        raise InspectError(f"{model_dir}: not a directory")
    report = {"model_dir": model_dir, "checkpoints": [], "latest": None, "format": None, "notes": []}
    state = _state(model_dir)
    prefixes = checkpoints_in(model_dir)
    for prefix in prefixes:
        report["checkpoints"].append({"path": prefix, "global_step": _global_step(prefix)})
    report["exports"] = exports_in(model_dir)
    report["latest"] = _latest(model_dir, state, prefixes, report["notes"])
    if report["latest"] is None:
        report["notes"].append("no checkpoint: training starts from scratch (or from warm_start_from)")
        return report
    keys = restore.checkpoint_keys(report["latest"])
    report["format"] = "object-based" if restore.is_object_based(keys) else "name-based"
    report["global_step"] = _global_step(report["latest"])
    report["looks_like"], report["optimizer"] = looks_like(keys)
    report["variables"] = len(keys)
    if tf.io.gfile.isdir(_join(model_dir, "keras")):
        report["notes"].append(
            "keras/ holds model_to_estimator's first checkpoint (the Keras model's weights)"
        )
    return report


def _global_step(prefix: str) -> int | None:
    try:
        key = restore.global_step_key(prefix)
        return int(tf.train.load_variable(prefix, key)) if key else None
    except (tf.errors.OpError, ValueError):
        return None


def _latest(model_dir: str, state: dict, prefixes: list[str], notes: list[str]) -> str | None:
    """The checkpoint this runtime resumes from, with notes on the state file."""
    if "error" in state:
        notes.append(
            f"the checkpoint state file is unreadable ({state['error']}): it is rebuilt from the files"
        )
    named = state.get("latest")
    if named:
        own = _join(model_dir, named.rstrip("/").rsplit("/", 1)[-1])
        if own in prefixes and os.path.normpath(own) != os.path.normpath(named):
            notes.append(f"the checkpoint state file names {named} (another place): this runtime uses {own}")
            return own
        if own in prefixes:
            return own
        notes.append(f"the checkpoint state file names {named}, which this dir does not hold")
    estimator_prefixes = [p for p in prefixes if re.search(r"/model\.ckpt-\d+$", p)]
    return estimator_prefixes[-1] if estimator_prefixes else None


# ----------------------------------------------------------------------------- with the Estimator
def _load(spec: str, flag: str):
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InspectError(f"{flag} must be MODULE:NAME, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise InspectError(f"{flag} {spec}: cannot import {module_name}: {e}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise InspectError(f"{flag} {spec}: {module_name} has no {attribute!r}") from None


def _make_estimator(factory, model_dir: str):
    try:
        takes_model_dir = "model_dir" in _pyinspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes_model_dir = False
    made = factory(model_dir=model_dir) if takes_model_dir else factory()
    estimator, input_fn = made if isinstance(made, tuple) else (made, None)
    if not hasattr(estimator, "model_fn") or not hasattr(estimator, "config"):
        raise InspectError(f"the factory returned {type(estimator).__name__}, not an Estimator")
    return estimator, input_fn


def restore_report(estimator, input_fn, checkpoint_path: str) -> dict:
    """Builds the estimator's training graph (as train() does) and works out what of
    checkpoint_path restores into it.

    Returns:
      {"variables": graph variables, "restored": [keys], "missing": [keys or names],
      "mismatched": [keys whose shapes differ], "unused": [checkpoint keys no variable
      reads], "object_based": bool}.
    """
    from .estimator import _model_fn_saver
    from .mode_keys import ModeKeys

    keys = restore.checkpoint_keys(checkpoint_path)
    with tf.Graph().as_default():
        _v1.train.get_or_create_global_step()
        features, labels, _ = estimator._input(input_fn, ModeKeys.TRAIN)
        spec = estimator._call_model_fn(features, labels, ModeKeys.TRAIN, estimator.config)
        variables = _v1.global_variables()
        plan = restore.plan(checkpoint_path, variables, _model_fn_saver(spec.scaffold))
        if plan.object_based:
            names = restore.object_names(checkpoint_path)
            by_key = {names[v.op.name]: v for v in variables if v.op.name in names}
        else:
            by_key = {
                restore.variable_key(v, keys): v for v in variables if restore.variable_key(v, keys) in keys
            }
        mismatched = sorted(
            f"{key} {keys[key]} in the checkpoint, {v.shape.as_list()} in the graph"
            for key, v in by_key.items()
            if not restore.is_partition(v) and list(keys[key]) != v.shape.as_list()
        )
    restored = sorted(by_key)
    return {
        "variables": len(variables),
        "restored": restored,
        "missing": plan.missing,
        "mismatched": mismatched,
        "unused": sorted(set(keys) - set(restored) - {restore.OBJECT_GRAPH_KEY}),
        "object_based": plan.object_based,
    }


# ----------------------------------------------------------------------------- command line
def _print(report: dict, graph: dict | None, out) -> None:
    print(f"model dir: {report['model_dir']}", file=out)
    steps = ", ".join(str(c["global_step"]) for c in report["checkpoints"]) or "none"
    print(f"checkpoints (global steps): {steps}", file=out)
    if report["latest"]:
        print(f"latest: {report['latest']} (global step {report['global_step']})", file=out)
        print(f"format: {report['format']}, {report['variables']} tensors", file=out)
        print(f"looks like: {report['looks_like']}", file=out)
        if report["optimizer"]:
            print(f"optimizer: {report['optimizer']}", file=out)
    for export in report["exports"]:
        if export["complete"]:
            signatures = "; ".join(
                f"{','.join(g['tags'])}: {', '.join(g['signatures'])}" for g in export["meta_graphs"]
            )
            print(f"export: {export['path']} ({signatures})", file=out)
        else:
            print(f"export: {export['path']} (incomplete: no saved_model.pb)", file=out)
    for note in report["notes"]:
        print(f"note: {note}", file=out)
    if graph is None:
        return
    print(
        f"graph: {graph['variables']} variables; {len(graph['restored'])} checkpoint keys restore", file=out
    )
    for key in graph["restored"]:
        print(f"  restores: {key}", file=out)
    for key in graph["missing"]:
        print(f"  MISSING: {key}", file=out)
    for key in graph["mismatched"]:
        print(f"  MISMATCHED: {key}", file=out)
    for key in graph["unused"]:
        print(f"  unused: {key}", file=out)
    if graph["missing"]:
        verdict = "restores in part: this runtime refuses it"
    elif graph["mismatched"]:
        verdict = "shapes differ: restoring fails"
    else:
        verdict = "restores whole"
    print(f"result: {verdict}", file=out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m estimator.inspect",
        description="What a tf.estimator model dir holds, and whether this runtime restores it whole.",
    )
    parser.add_argument("--model-dir", required=True, help="the model dir (local or gs://)")
    parser.add_argument("--estimator", help="MODULE:FACTORY, a function returning your Estimator")
    parser.add_argument(
        "--input-fn", help="MODULE:FUNCTION, your training input_fn (unless the factory returns it)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv=None, out=None) -> int:
    """The command line; returns the exit status (0 whole or files only, 1 partial or error, 2 usage)."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        report = inspect_model_dir(args.model_dir)
        graph = None
        if args.estimator:
            if report["latest"] is None:
                raise InspectError(f"{args.model_dir}: no checkpoint to check the Estimator against")
            estimator, input_fn = _make_estimator(_load(args.estimator, "--estimator"), args.model_dir)
            input_fn = _load(args.input_fn, "--input-fn") if args.input_fn else input_fn
            if input_fn is None:
                raise InspectError(
                    "the graph needs features: give --input-fn or return (estimator, input_fn)"
                )
            graph = restore_report(estimator, input_fn, report["latest"])
    except InspectError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**report, "graph": graph}, indent=1), file=out)
    else:
        _print(report, graph, out)
    return 1 if graph and (graph["missing"] or graph["mismatched"]) else 0


if __name__ == "__main__":
    sys.exit(main())
