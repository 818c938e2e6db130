"""`Estimator`: train, evaluate, predict and export a model_fn, as tf.estimator did.

Each call builds a fresh `tf.Graph` in TF1 style (`tf.compat.v1`), calls the
input_fn and the model_fn in it, and runs it in a `MonitoredSession`, which
restores the latest checkpoint of `model_dir`. All of it is public TensorFlow 2.21
API; see docs/estimator.md for what matches tf.estimator and what differs.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
import tempfile
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from . import checkpoints, distributed, export_dirs
from . import export as export_lib
from . import hooks as hooks_lib
from .checkpoints import GLOBAL_STEP_KEY, global_step_of, latest_checkpoint
from .mode_keys import ModeKeys
from .model_fn import LOSS_METRIC_KEY, EstimatorSpec
from .run_config import RunConfig, TaskType

_v1 = tf.compat.v1
_LOG = logging.getLogger("estimator")
_MODEL_FN_ARGS = ("features", "labels", "mode", "params", "config")


class WarmStartSettings:
    """Where to warm-start variables from (tf.estimator.WarmStartSettings).

    Args:
      ckpt_to_initialize_from: a checkpoint path or a model_dir (its latest checkpoint).
      vars_to_warm_start: a regex of variable names (default: all trainable ones).
    """

    def __init__(self, ckpt_to_initialize_from: str, vars_to_warm_start: str | list = ".*"):
        self.ckpt_to_initialize_from = ckpt_to_initialize_from
        self.vars_to_warm_start = vars_to_warm_start


def _model_fn_args(model_fn) -> tuple[str, ...]:
    """The model_fn's argument names; raises ValueError for a signature it can't take."""
    fn = model_fn.func if hasattr(model_fn, "func") else model_fn
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_fn {model_fn!r} is not a function with an inspectable signature") from e
    names = tuple(params)
    if "features" not in names:
        raise ValueError(f"model_fn must take an argument named 'features'; it takes {names}")
    unknown = [
        n
        for n, p in params.items()
        if n not in _MODEL_FN_ARGS
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if unknown:
        raise ValueError(
            f"model_fn has arguments {unknown} without defaults; it may only take {_MODEL_FN_ARGS}"
        )
    return names


class Estimator:
    """Trains, evaluates, predicts with and exports a model defined by a model_fn.

    Args:
      model_fn: `model_fn(features, labels, mode, params, config)` returning an
        `EstimatorSpec`; `features` is required, the others optional, by name.
      model_dir: checkpoints, summaries and exports; default config.model_dir, or a
        new temporary directory.
      config: a `RunConfig`.
      params: a dict handed to model_fn (deep-copied).
      warm_start_from: a checkpoint path, a model_dir or `WarmStartSettings`:
        variables to initialize from when model_dir has no checkpoint yet.

    Raises:
      ValueError: a bad model_fn signature, or model_dir disagreeing with config.
    """

    def __init__(self, model_fn, model_dir=None, config=None, params=None, warm_start_from=None):
        self._model_fn_args = _model_fn_args(model_fn)
        if params is not None and "params" not in self._model_fn_args:
            raise ValueError("params were given but model_fn takes no 'params' argument")
        config = config or RunConfig()
        if not isinstance(config, RunConfig):
            raise TypeError(f"config must be a RunConfig, found {type(config).__name__}")
        if model_dir and config.model_dir and os.fspath(model_dir) != config.model_dir:
            raise ValueError(f"model_dir {model_dir!r} differs from config.model_dir {config.model_dir!r}")
        model_dir = os.fspath(model_dir) if model_dir else config.model_dir
        if not model_dir:
            model_dir = tempfile.mkdtemp(prefix="estimator-")
            _LOG.warning("no model_dir given: using the temporary directory %s", model_dir)
        self._model_fn = model_fn
        self._config = config.replace(model_dir=model_dir)
        self._params = copy.deepcopy(params or {})
        if isinstance(warm_start_from, (str, os.PathLike)):
            warm_start_from = WarmStartSettings(os.fspath(warm_start_from))
        self._warm_start = warm_start_from

    model_dir = property(lambda self: self._config.model_dir)
    config = property(lambda self: self._config)
    params = property(lambda self: copy.deepcopy(self._params))
    model_fn = property(lambda self: self._model_fn)

    # ----------------------------------------------------------------- public API
    def latest_checkpoint(self) -> str | None:
        """The path of the newest checkpoint in model_dir, or None."""
        return latest_checkpoint(self.model_dir)

    def get_variable_names(self) -> list[str]:
        """Names of the variables in the newest checkpoint.

        Raises:
          ValueError: there is no checkpoint yet.
        """
        return [name for name, _ in tf.train.list_variables(self._require_checkpoint())]

    def get_variable_value(self, name: str) -> np.ndarray:
        """The value of variable `name` in the newest checkpoint."""
        return tf.train.load_variable(self._require_checkpoint(), name)

    def train(self, input_fn, hooks=None, steps=None, max_steps=None, saving_listeners=None):
        """Trains until the input ends, `steps` more steps, or global_step reaches `max_steps`.

        Args:
          input_fn: returns a `tf.data.Dataset` of (features, labels), or a
            (features, labels) tuple of Tensors; may take `mode`, `params`, `config`.
          hooks: extra SessionRunHooks.
          steps: steps to add to the current global_step (> 0).
          max_steps: the global_step to stop at (> 0); a no-op once reached.
          saving_listeners: `CheckpointSaverListener`s called around each checkpoint.

        Returns:
          self.

        Raises:
          ValueError: both steps and max_steps, or a non-positive one.
          NanLossError: the loss became NaN or infinite (naming the step).
        """
        if steps is not None and max_steps is not None:
            raise ValueError("give steps or max_steps, not both")
        for name, value in (("steps", steps), ("max_steps", max_steps)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self._config.is_chief:
            checkpoints.newest_readable_checkpoint(self.model_dir)  # skips a checkpoint a crash truncated
        if max_steps is not None:
            start = global_step_of(self.latest_checkpoint())
            if start >= max_steps:
                _LOG.info("global_step %d already reached max_steps %d: not training", start, max_steps)
                return self
        in_cluster = self._config.task_type in (TaskType.CHIEF, TaskType.MASTER, TaskType.WORKER)
        devices = distributed.device_setter(self._config) if in_cluster else None
        session_config = (
            distributed.session_config(self._config, self._config.session_config) if in_cluster else None
        )
        with tf.Graph().as_default() as graph, _v1.device(devices):
            self._seed(graph)
            global_step = _v1.train.get_or_create_global_step()
            features, labels, input_hooks = self._input(input_fn, ModeKeys.TRAIN)
            spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
            _v1.summary.scalar("loss", spec.loss)
            self._maybe_warm_start()
            scaffold = self._scaffold(spec.scaffold)
            all_hooks = [
                *input_hooks,
                *(hooks or ()),
                *spec.training_hooks,
                hooks_lib.NanLossGuardHook(spec.loss, global_step),
            ]
            if steps is not None or max_steps is not None:
                all_hooks.append(_v1.train.StopAtStepHook(num_steps=steps, last_step=max_steps))
            if self._config.log_step_count_steps:
                every = self._config.log_step_count_steps
                all_hooks.append(hooks_lib.LoggingHook(spec.loss, global_step, _batch_size(features), every))
            chief_hooks = [*spec.training_chief_hooks, *self._chief_hooks(scaffold, saving_listeners)]
            loss = None
            with _v1.train.MonitoredTrainingSession(
                master=self._config.master,
                is_chief=self._config.is_chief,
                checkpoint_dir=self.model_dir,
                scaffold=scaffold,
                hooks=all_hooks,
                chief_only_hooks=chief_hooks,
                save_checkpoint_secs=None,
                save_checkpoint_steps=None,
                save_summaries_steps=None,
                save_summaries_secs=None,
                log_step_count_steps=None,
                config=session_config or self._config.session_config,
            ) as session:
                while not session.should_stop():
                    _, loss = session.run([spec.train_op, spec.loss])
            _LOG.info("training done; last loss %s; checkpoints in %s", loss, self.model_dir)
        return self

    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None) -> dict:
        """Evaluates a checkpoint until the input ends or for `steps` batches.

        Args:
          input_fn: as for `train`, called with mode EVAL.
          steps: batches to evaluate; None: until the input raises OutOfRange.
          hooks: extra SessionRunHooks.
          checkpoint_path: default: the newest in model_dir (none: freshly
            initialized variables, with a warning).
          name: evaluation name; summaries go to model_dir/eval_<name> (or eval).

        Returns:
          {metric name: value} with the model_fn's eval_metric_ops, "loss" (the
          mean of the batch losses) and "global_step" (of the checkpoint).
        """
        if steps is not None and steps <= 0:
            raise ValueError(f"steps must be > 0, got {steps}")
        checkpoint_path = checkpoint_path or self.latest_checkpoint()
        if not checkpoint_path:
            _LOG.warning("no checkpoint in %s: evaluating freshly initialized variables", self.model_dir)
        with tf.Graph().as_default() as graph:
            self._seed(graph)
            global_step = _v1.train.get_or_create_global_step()
            features, labels, input_hooks = self._input(input_fn, ModeKeys.EVAL)
            spec = self._call_model_fn(features, labels, ModeKeys.EVAL)
            metrics = dict(spec.eval_metric_ops)
            metrics[LOSS_METRIC_KEY] = _v1.metrics.mean(spec.loss)
            update_op = tf.group(*[update for _, update in metrics.values()])
            values = {key: value for key, (value, _) in metrics.items()}
            values[GLOBAL_STEP_KEY] = global_step
            final = _v1.train.FinalOpsHook(values)
            counter = hooks_lib.StopAfterNEvalsHook(steps)
            session_creator = _v1.train.ChiefSessionCreator(
                scaffold=self._scaffold(spec.scaffold),
                checkpoint_filename_with_path=checkpoint_path,
                master=self._config.evaluation_master,
                config=self._config.session_config,
            )
            all_hooks = [*input_hooks, *(hooks or ()), *spec.evaluation_hooks, counter, final]
            with _v1.train.MonitoredSession(session_creator=session_creator, hooks=all_hooks) as session:
                while not session.should_stop():
                    session.run(update_op)
            results = {key: _to_python(value) for key, value in final.final_ops_values.items()}
            self._write_eval_summaries(results, name)  # FileWriter needs a graph context
        _LOG.info(
            "evaluation%s at step %s over %d batches: %s",
            f" {name}" if name else "",
            results[GLOBAL_STEP_KEY],
            counter.evals_done,
            ", ".join(f"{k} = {v:.4g}" for k, v in sorted(results.items()) if isinstance(v, float)),
        )
        return results

    def eval_dir(self, name: str | None = None) -> str:
        """Where evaluate(name=...) writes its summaries."""
        return os.path.join(self.model_dir, f"eval_{name}" if name else "eval")

    def predict(
        self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None, yield_single_examples=True
    ) -> Iterator:
        """Yields predictions for every example the input_fn gives.

        Args:
          input_fn: returns features (a Dataset of features or of (features,
            labels), or Tensors); called with mode PREDICT.
          predict_keys: the prediction keys to return (default all).
          hooks: extra SessionRunHooks.
          checkpoint_path: default: the newest in model_dir.
          yield_single_examples: yield one dict per example (True) or per batch.

        Yields:
          {key: numpy value} (or the value itself if predictions is one Tensor).

        Raises:
          ValueError: no checkpoint, an unknown predict key, or predictions whose
            first dimensions differ when yielding single examples.
        """
        checkpoint_path = checkpoint_path or self._require_checkpoint()
        with tf.Graph().as_default() as graph:
            self._seed(graph)
            _v1.train.get_or_create_global_step()
            features, _, input_hooks = self._input(input_fn, ModeKeys.PREDICT)
            spec = self._call_model_fn(features, None, ModeKeys.PREDICT)
            predictions = _select(spec.predictions, predict_keys)
            session_creator = _v1.train.ChiefSessionCreator(
                scaffold=self._scaffold(spec.scaffold),
                checkpoint_filename_with_path=checkpoint_path,
                master=self._config.master if self._config.task_type is None else "",
                config=self._config.session_config,
            )
            all_hooks = [*input_hooks, *(hooks or ()), *spec.prediction_hooks]
            with _v1.train.MonitoredSession(session_creator=session_creator, hooks=all_hooks) as session:
                while not session.should_stop():
                    batch = session.run(predictions)
                    if not yield_single_examples:
                        yield batch
                    elif isinstance(batch, dict):
                        yield from _unbatch(batch)
                    else:
                        yield from batch

    def export_saved_model(
        self,
        export_dir_base,
        serving_input_receiver_fn,
        assets_extra=None,
        as_text=False,
        checkpoint_path=None,
    ) -> bytes:
        """Exports the model for serving as a SavedModel (tag "serve").

        The graph is the model_fn in PREDICT mode on the receiver's features, with
        the checkpoint's variables; one signature per export output, plus
        "<alternative receiver>:<output>" for each alternative receiver; assets
        (e.g. tf.Transform vocabularies) are included. Written to a temporary
        directory, then renamed to export_dir_base/<timestamp>.

        Args:
          export_dir_base: the parent of the timestamped export directory.
          serving_input_receiver_fn: returns a `ServingInputReceiver`.
          assets_extra: {destination path under assets.extra/: source file}.
          as_text: also write the graph as text (saved_model.pbtxt).
          checkpoint_path: default: the newest in model_dir.

        Returns:
          The export directory, as bytes (as tf.estimator returns it).

        Raises:
          ValueError: no checkpoint, or no serving_default signature.
        """
        checkpoint_path = checkpoint_path or self._require_checkpoint()
        export_dir_base = os.fspath(export_dir_base)
        with tf.Graph().as_default() as graph:
            self._seed(graph)
            _v1.train.get_or_create_global_step()
            receiver = serving_input_receiver_fn()
            if not isinstance(receiver, export_lib.ServingInputReceiver):
                raise TypeError(
                    f"serving_input_receiver_fn must return a ServingInputReceiver, found {type(receiver).__name__}"
                )
            spec = self._call_model_fn(receiver.features, None, ModeKeys.PREDICT)
            signatures = export_lib.build_all_signature_defs(
                receiver.receiver_tensors, spec.export_outputs, receiver.receiver_tensors_alternatives
            )
            export_dir = export_dirs.get_timestamped_export_dir(export_dir_base)
            temp_dir = export_dirs.get_temp_export_dir(export_dir)
            try:
                with _v1.Session(config=self._config.session_config) as session:
                    _restore(session, checkpoint_path)
                    builder = _v1.saved_model.Builder(temp_dir)
                    builder.add_meta_graph_and_variables(
                        session,
                        [_v1.saved_model.tag_constants.SERVING],
                        signature_def_map=signatures,
                        assets_collection=_v1.get_collection(_v1.GraphKeys.ASSET_FILEPATHS),
                        main_op=_v1.train.Scaffold.default_local_init_op(),
                        strip_default_attrs=True,
                    )
                    builder.save(as_text=as_text)
                for destination, source in (assets_extra or {}).items():
                    target = os.path.join(temp_dir, "assets.extra", destination)
                    tf.io.gfile.makedirs(os.path.dirname(target))
                    tf.io.gfile.copy(source, target, overwrite=True)
                export_dirs.publish(temp_dir, export_dir)
            except BaseException:
                if tf.io.gfile.exists(temp_dir):
                    tf.io.gfile.rmtree(temp_dir)
                raise
        _LOG.info("exported %s with signatures %s", export_dir, sorted(signatures))
        return export_dir.encode("utf-8")

    # ------------------------------------------------------------------- helpers
    def _require_checkpoint(self) -> str:
        path = self.latest_checkpoint()
        if not path:
            raise ValueError(f"could not find a trained model in model_dir {self.model_dir}")
        return path

    def _seed(self, graph):
        if self._config.tf_random_seed is not None:
            graph.seed = self._config.tf_random_seed

    def _input(self, input_fn, mode):
        """Calls input_fn; returns (features, labels, hooks)."""
        kwargs = {}
        accepted = inspect.signature(input_fn).parameters
        for name, value in (("mode", mode), ("params", self.params), ("config", self._config)):
            if name in accepted:
                kwargs[name] = value
        with tf.device("/cpu:0"):
            result = input_fn(**kwargs)
        hooks = []
        if isinstance(result, tf.data.Dataset):
            iterator = _v1.data.make_initializable_iterator(result)
            hooks.append(hooks_lib.DatasetInitializerHook(iterator.initializer))
            result = iterator.get_next()
        if isinstance(result, (tuple, list)):
            if len(result) != 2:
                raise ValueError(
                    f"input_fn must give features or (features, labels); got {len(result)} items"
                )
            features, labels = result
        else:
            features, labels = result, None
        if mode == ModeKeys.PREDICT:
            labels = None
        return features, labels, hooks

    def _call_model_fn(self, features, labels, mode) -> EstimatorSpec:
        kwargs = {}
        if "labels" in self._model_fn_args:
            kwargs["labels"] = labels
        elif labels is not None and mode != ModeKeys.PREDICT:
            raise ValueError("input_fn gave labels but model_fn takes no 'labels' argument")
        if "mode" in self._model_fn_args:
            kwargs["mode"] = mode
        if "params" in self._model_fn_args:
            kwargs["params"] = self.params
        if "config" in self._model_fn_args:
            kwargs["config"] = self._config
        spec = self._model_fn(features=features, **kwargs)
        if not isinstance(spec, EstimatorSpec):
            raise TypeError(f"model_fn must return an EstimatorSpec, found {type(spec).__name__}")
        if spec.mode != mode:
            raise ValueError(
                f"model_fn was called in mode {mode!r} but returned an EstimatorSpec for {spec.mode!r}"
            )
        return spec

    def _scaffold(self, scaffold):
        """The model_fn's scaffold; unless it brings a saver, the default saver keeps
        checkpoint paths relative (a moved model_dir still resumes) and honours
        keep_checkpoint_max. Scaffold.finalize() takes it from the SAVERS collection."""
        if scaffold.saver is None and not _v1.get_collection(_v1.GraphKeys.SAVERS):
            saver = _v1.train.Saver(
                sharded=True,
                max_to_keep=self._config.keep_checkpoint_max,
                keep_checkpoint_every_n_hours=self._config.keep_checkpoint_every_n_hours,
                defer_build=True,
                save_relative_paths=True,
            )
            _v1.add_to_collection(_v1.GraphKeys.SAVERS, saver)
        return scaffold

    def _chief_hooks(self, scaffold, saving_listeners):
        config = self._config
        chief = []
        if config.save_checkpoints_steps or config.save_checkpoints_secs:
            chief.append(
                _v1.train.CheckpointSaverHook(
                    self.model_dir,
                    save_secs=config.save_checkpoints_secs,
                    save_steps=config.save_checkpoints_steps,
                    scaffold=scaffold,
                    listeners=list(saving_listeners or ()),
                )
            )
        elif saving_listeners:
            raise ValueError("saving_listeners need checkpoints: set save_checkpoints_steps or _secs")
        if config.log_step_count_steps:
            chief.append(
                _v1.train.StepCounterHook(
                    every_n_steps=config.log_step_count_steps, output_dir=self.model_dir
                )
            )
        if config.save_summary_steps:
            chief.append(
                _v1.train.SummarySaverHook(
                    save_steps=config.save_summary_steps, output_dir=self.model_dir, scaffold=scaffold
                )
            )
        return chief

    def _maybe_warm_start(self):
        if self._warm_start is None or self.latest_checkpoint():
            return
        source = self._warm_start.ckpt_to_initialize_from
        if tf.io.gfile.isdir(source):
            source = latest_checkpoint(source) or source
        _LOG.info("warm-starting variables matching %r from %s", self._warm_start.vars_to_warm_start, source)
        _v1.train.warm_start(source, vars_to_warm_start=self._warm_start.vars_to_warm_start)

    def _write_eval_summaries(self, results: dict, name: str | None) -> None:
        writer = _v1.summary.FileWriterCache.get(self.eval_dir(name))
        summary = _v1.Summary()
        for key, value in results.items():
            if key != GLOBAL_STEP_KEY and isinstance(value, (int, float)):
                summary.value.add(tag=key, simple_value=float(value))
        writer.add_summary(summary, results[GLOBAL_STEP_KEY])
        writer.flush()


def _batch_size(features) -> tf.Tensor:
    """The examples in a batch: the first dimension of the first feature (1 if unknown)."""
    for tensor in tf.nest.flatten(features):
        if isinstance(tensor, tf.Tensor) and tensor.shape.rank:
            return tf.shape(tensor, out_type=tf.int64)[0]
    return tf.constant(1, tf.int64)


def _to_python(value):
    value = np.asarray(value)
    if value.shape == ():
        return value.item()
    return value


def _select(predictions, keys):
    if keys is None:
        return predictions
    if not isinstance(predictions, dict):
        raise ValueError("predict_keys given but the model_fn's predictions are a single Tensor")
    keys = [keys] if isinstance(keys, str) else list(keys)
    missing = [k for k in keys if k not in predictions]
    if missing:
        raise ValueError(f"predict_keys {missing} are not among the predictions {sorted(predictions)}")
    return {k: predictions[k] for k in keys}


def _unbatch(batch: dict):
    sizes = {k: v.shape[0] if np.ndim(v) else None for k, v in batch.items()}
    lengths = set(sizes.values())
    if len(lengths) != 1 or None in lengths:
        raise ValueError(
            f"predictions must all have the same batch dimension to yield single examples: {sizes}"
        )
    for i in range(lengths.pop()):
        yield {k: v[i] for k, v in batch.items()}


def _restore(session, checkpoint_path: str) -> None:
    """Restores the checkpoint's variables; initializes any others (e.g. a transform's)."""
    in_checkpoint = {name for name, _ in tf.train.list_variables(checkpoint_path)}
    variables = _v1.global_variables()
    restored = [v for v in variables if v.op.name in in_checkpoint]
    others = [v for v in variables if v.op.name not in in_checkpoint]
    if others:
        _LOG.info(
            "initializing %d variables not in the checkpoint: %s", len(others), [v.op.name for v in others]
        )
        session.run(_v1.variables_initializer(others))
    if restored:
        _v1.train.Saver(restored, sharded=True).restore(session, checkpoint_path)
