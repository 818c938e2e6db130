"""`Estimator`: train, evaluate, predict and export a model_fn, as tf.estimator did.

Each call builds a fresh `tf.Graph` in TF1 style (`tf.compat.v1`), calls the
input_fn and the model_fn in it, and runs it in a `MonitoredSession`, which
restores the latest checkpoint of `model_dir`. All of it is public TensorFlow 2.21
API; see docs/estimator.md for what matches tf.estimator and what differs.

It logs what tf.estimator logged, through TensorFlow's logger (`tf.get_logger()`,
named "tensorflow"): `tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)`
shows "Calling model_fn.", "loss = 0.69, step = 1", "global_step/sec: 215.3",
"Saving dict for global step N: ...", "SavedModel written to: ..." and the rest.
"""

from __future__ import annotations

import collections
import copy
import inspect
import os
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
from google.protobuf import message as _proto_message

from . import checkpoints, distributed, export_dirs, restore
from . import export as export_lib
from . import hooks as hooks_lib
from .checkpoints import GLOBAL_STEP_KEY, global_step_of, latest_checkpoint
from .mode_keys import ModeKeys
from .model_fn import LOSS_METRIC_KEY, EstimatorSpec
from .run_config import RunConfig, TaskType, get_default_session_config
from .util import all_instances, fn_args

_v1 = tf.compat.v1
_LOG = tf.get_logger()
_MODEL_FN_ARGS = ("features", "labels", "mode", "params", "config")
_TRAIN_OP_COLLECTION = "saved_model_train_op"  # where a SavedModel's training meta graph keeps its train_op
_CHECKPOINT_PATH_TAG = "checkpoint_path"

VocabInfo = _v1.train.VocabInfo  # tf.estimator.VocabInfo: a vocabulary change for warm-starting


class WarmStartSettings(
    collections.namedtuple(
        "WarmStartSettings",
        [
            "ckpt_to_initialize_from",
            "vars_to_warm_start",
            "var_name_to_vocab_info",
            "var_name_to_prev_var_name",
        ],
    )
):
    """What to warm-start from (tf.estimator.WarmStartSettings), applied by `tf.compat.v1.train.warm_start`.

    Warm-starting happens while model_dir has no checkpoint: at the start of
    training, and for evaluate, predict and export without a checkpoint.

    Args:
      ckpt_to_initialize_from: a checkpoint path, or a directory (its latest checkpoint).
      vars_to_warm_start: a regex over the TRAINABLE variables (default ".*": all
        of them); a list of regexes (or Variables) over all global variables, so
        optimizer slots and batch-norm statistics can be included; or None: only
        the variables of `var_name_to_vocab_info`.
      var_name_to_vocab_info: {variable name: `VocabInfo`} for variables whose
        vocabulary changed since the checkpoint.
      var_name_to_prev_var_name: {variable name: its name in the checkpoint}.

    Raises:
      ValueError: ckpt_to_initialize_from is empty.
    """

    def __new__(
        cls,
        ckpt_to_initialize_from,
        vars_to_warm_start=".*",
        var_name_to_vocab_info=None,
        var_name_to_prev_var_name=None,
    ):
        if not ckpt_to_initialize_from:
            raise ValueError("WarmStartSettings needs ckpt_to_initialize_from (a checkpoint or a directory)")
        if isinstance(ckpt_to_initialize_from, (bytes, os.PathLike)):
            ckpt_to_initialize_from = os.fsdecode(ckpt_to_initialize_from)
        return super().__new__(
            cls,
            ckpt_to_initialize_from,
            vars_to_warm_start,
            dict(var_name_to_vocab_info or {}),
            dict(var_name_to_prev_var_name or {}),
        )


def _warm_start_settings(warm_start_from) -> WarmStartSettings | None:
    """`warm_start_from` as WarmStartSettings: a path (a SavedModel directory means its
    variables) or WarmStartSettings.

    Raises:
      ValueError: any other type.
    """
    if warm_start_from is None or isinstance(warm_start_from, WarmStartSettings):
        return warm_start_from
    if not isinstance(warm_start_from, (str, bytes, os.PathLike)):
        raise ValueError(
            f"warm_start_from must be a path or a WarmStartSettings, found {type(warm_start_from).__name__}"
        )
    path = os.fsdecode(warm_start_from)
    variables = os.path.join(path, "variables", "variables")
    if tf.io.gfile.exists(variables + ".index"):
        _LOG.info("Warm-starting from a SavedModel")
        return WarmStartSettings(variables)
    return WarmStartSettings(path)


def _verify_model_fn_args(model_fn, params) -> tuple[str, ...]:
    """The argument names the Estimator may pass to model_fn (see `util.fn_args`).

    Raises:
      ValueError: model_fn is None, takes no `features`, takes other arguments
        without defaults, or params were given but it takes no `params`.
    """
    if model_fn is None:
        raise ValueError("model_fn must be given")
    names = fn_args(model_fn)
    if "features" not in names:
        raise ValueError(f"model_fn must take an argument named 'features'; it takes {names}")
    try:
        parameters = inspect.signature(model_fn).parameters
    except (TypeError, ValueError):
        parameters = {}
    unknown = [
        n
        for n in names
        if n not in _MODEL_FN_ARGS
        and (n not in parameters or parameters[n].default is inspect.Parameter.empty)
    ]
    if unknown:
        raise ValueError(
            f"model_fn has arguments {unknown} without defaults; it may only take {_MODEL_FN_ARGS}"
        )
    if params is not None and "params" not in names:
        raise ValueError("params were given but model_fn takes no 'params' argument")
    if params is None and "params" in names:
        _LOG.warning(
            "Estimator's model_fn (%s) includes params argument, but params are not passed to Estimator.",
            model_fn,
        )
    return names


def _check_hooks(hooks) -> list:
    return list(all_instances(hooks, _v1.train.SessionRunHook, "hooks must be SessionRunHooks"))


def _check_listeners(listeners) -> list:
    what = "saving_listeners must be CheckpointSaverListeners"
    return list(all_instances(listeners, _v1.train.CheckpointSaverListener, what))


class Estimator:
    """Trains, evaluates, predicts with and exports a model defined by a model_fn.

    Args:
      model_fn: `model_fn(features, labels, mode, params, config)` returning an
        `EstimatorSpec`; `features` is required, the others optional, by name.
        A `functools.partial` (or bound method, or callable object) works: the
        arguments it binds are not passed again.
      model_dir: checkpoints, summaries and exports; default config.model_dir, or a
        new temporary directory.
      config: a `RunConfig`.
      params: a dict handed to model_fn (deep-copied).
      warm_start_from: a checkpoint path, a model_dir, a SavedModel directory or
        `WarmStartSettings`: variables to initialize from while model_dir has no
        checkpoint.

    Raises:
      ValueError: a bad model_fn signature, model_dir disagreeing with config, or
        a bad warm_start_from.
    """

    def __init__(self, model_fn, model_dir=None, config=None, params=None, warm_start_from=None):
        self._model_fn_args = _verify_model_fn_args(model_fn, params)
        self._warm_start_settings = _warm_start_settings(warm_start_from)
        if config is None:
            config = RunConfig()
            _LOG.info("Using default config.")
        if not isinstance(config, RunConfig):
            raise ValueError(f"config must be an instance of `RunConfig`, but provided {config!r}.")
        if model_dir and config.model_dir and os.fspath(model_dir) != config.model_dir:
            raise ValueError(f"model_dir {model_dir!r} differs from config.model_dir {config.model_dir!r}")
        model_dir = os.fspath(model_dir) if model_dir else config.model_dir
        if not model_dir:
            model_dir = tempfile.mkdtemp(prefix="estimator-")
            _LOG.warning("Using temporary folder as model directory: %s", model_dir)
        self._model_fn = model_fn
        # As tf.estimator 2.15: without a session config, the Estimator's (and the model_fn's) is the default.
        self._config = config.replace(
            model_dir=model_dir, session_config=config.session_config or get_default_session_config()
        )
        _LOG.info(
            "Using config: %s", vars(self._config) if hasattr(self._config, "__dict__") else self._config
        )
        self._params = copy.deepcopy(params or {})

    model_dir = property(lambda self: self._config.model_dir)
    config = property(lambda self: self._config)

    @property
    def _session_config(self):
        """The session config of evaluate, predict and export: RunConfig's, or tf.estimator's default."""
        return self._config.session_config or get_default_session_config()

    params = property(lambda self: copy.deepcopy(self._params))

    @property
    def model_fn(self):
        """The model_fn bound to this Estimator's params: `fn(features, labels, mode, config)`."""

        def public_model_fn(features, labels, mode, config):
            return self._call_model_fn(features, labels, mode, config)

        return public_model_fn

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

        Logs "loss = <loss>, step = <global step after the step>" every
        log_step_count_steps steps (with the seconds since the last such line),
        "global_step/sec: <rate>" and "examples/sec: <rate>" at the same cadence
        on the chief, and "Loss for final step: <loss>." at the end.

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
          ValueError: both steps and max_steps, a non-positive one, or a ps or
            evaluator task.
          TypeError: hooks or listeners of the wrong type.
          NanLossError: the loss became NaN (naming the step).
        """
        if self._config.task_type in (TaskType.EVALUATOR, TaskType.PS):
            raise ValueError(
                f"train() cannot run in a {self._config.task_type} task; use train_and_evaluate, which "
                f"plays every role (config: {self._config!r})"
            )
        if steps is not None and max_steps is not None:
            raise ValueError("give steps or max_steps, not both")
        for name, value in (("steps", steps), ("max_steps", max_steps)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        hooks = _check_hooks(hooks)
        saving_listeners = _check_listeners(saving_listeners)
        if self._config.is_chief:
            checkpoints.adopt_moved_state(self.model_dir)  # a copied dir resumes from its own files
            checkpoints.newest_readable_checkpoint(self.model_dir)  # skips a checkpoint a crash truncated
        if max_steps is not None:
            start = global_step_of(self.latest_checkpoint())
            if start >= max_steps:
                _LOG.info("Skipping training since max_steps has already saved.")
                return self
        if steps is not None or max_steps is not None:
            hooks.append(_v1.train.StopAtStepHook(num_steps=steps, last_step=max_steps))
        loss = self._train_model(input_fn, hooks, saving_listeners)
        _LOG.info("Loss for final step: %s.", loss)
        return self

    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None) -> dict:
        """Evaluates a checkpoint until the input ends or for `steps` batches.

        Logs "Starting evaluation at <time>", "Evaluation [n/N]", "Inference Time
        : <s>s", "Finished evaluation at <time>", "Saving dict for global step N:
        <metric> = <value>, ..." and "Saving 'checkpoint_path' summary for global
        step N: <path>", and writes those summaries to `eval_dir(name)`.

        Args:
          input_fn: as for `train`, called with mode EVAL.
          steps: batches to evaluate; None: until the input raises OutOfRange.
          hooks: extra SessionRunHooks.
          checkpoint_path: default: the newest in model_dir (none: freshly
            initialized, or warm-started, variables).
          name: evaluation name; summaries go to model_dir/eval_<name> (or eval).

        Returns:
          {metric name: numpy value}: the model_fn's eval_metric_ops, "loss" (the
          mean of the batch losses; np.float32) and "global_step" (of the
          checkpoint; np.int64), as session.run returns them.

        Raises:
          ValueError: steps <= 0, or a metric named "loss" or "global_step".
        """
        hooks = _check_hooks(hooks)
        if steps is not None and steps <= 0:
            raise ValueError(f"steps must be > 0, got {steps}")
        checkpoint_path = self._checkpoint_to_read(checkpoint_path, "evaluate")
        with tf.Graph().as_default() as graph:
            self._seed(graph)
            global_step = _v1.train.get_or_create_global_step()
            features, labels, input_hooks = self._input(input_fn, ModeKeys.EVAL)
            spec = self._call_model_fn(features, labels, ModeKeys.EVAL, self.config)
            self._restore_or_warm_start(checkpoint_path, spec.scaffold)
            metrics = dict(spec.eval_metric_ops)
            for reserved, what in ((LOSS_METRIC_KEY, "the mean loss"), (GLOBAL_STEP_KEY, "the global step")):
                if reserved in metrics:
                    raise ValueError(
                        f'Metric with name "{reserved}" is not allowed: eval_metric_ops may not be named '
                        f'"{reserved}", the Estimator adds {what}'
                    )
            metrics[LOSS_METRIC_KEY] = _v1.metrics.mean(spec.loss)
            update_op = tf.group(*[metrics[key][1] for key in sorted(metrics)])
            values = {key: value for key, (value, _) in metrics.items()}
            values[GLOBAL_STEP_KEY] = global_step
            final = _v1.train.FinalOpsHook(values)
            all_hooks = [
                *input_hooks,
                *hooks,
                hooks_lib.StopAfterNEvalsHook(steps),
                *spec.evaluation_hooks,
                final,
            ]
            session_creator = _v1.train.ChiefSessionCreator(
                scaffold=self._eval_scaffold(spec.scaffold),
                checkpoint_filename_with_path=checkpoint_path,
                master=self._config.evaluation_master,
                config=self._session_config,
            )
            _LOG.info("Starting evaluation at %s", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime()))
            start = time.time()
            with _v1.train.MonitoredSession(session_creator=session_creator, hooks=all_hooks) as session:
                while not session.should_stop():
                    session.run(update_op)
            _LOG.info("Inference Time : %0.5fs", time.time() - start)
            _LOG.info("Finished evaluation at %s", time.strftime("%Y-%m-%d-%H:%M:%S", time.localtime()))
            results = final.final_ops_values
            self._write_eval_summaries(results, name, checkpoint_path)  # FileWriter needs a graph context
        return results

    def eval_dir(self, name: str | None = None) -> str:
        """Where evaluate(name=...) writes its summaries: model_dir/eval or model_dir/eval_<name>."""
        return os.path.join(self.model_dir, f"eval_{name}" if name else "eval")

    def predict(
        self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None, yield_single_examples=True
    ) -> Iterator:
        """Yields predictions for every example the input_fn gives.

        Without a checkpoint (none given, none in model_dir) the variables are
        freshly initialized (or warm-started), as tf.estimator did, and
        "Could not find trained model in model_dir: ..., running initialization
        to predict." is logged.

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
          ValueError: an unknown predict key, or predictions whose first
            dimensions differ when yielding single examples.
        """
        hooks = _check_hooks(hooks)
        checkpoint_path = self._checkpoint_to_read(checkpoint_path, "predict")
        with tf.Graph().as_default() as graph:
            self._seed(graph)
            _v1.train.get_or_create_global_step()
            features, _, input_hooks = self._input(input_fn, ModeKeys.PREDICT)
            if not _uses_dataset_or_queue(features):
                _LOG.warning(
                    "Input graph does not use tf.data.Dataset or contain a QueueRunner. That means predict "
                    "yields forever. This is probably a mistake."
                )
            spec = self._call_model_fn(features, None, ModeKeys.PREDICT, self.config)
            self._restore_or_warm_start(checkpoint_path, spec.scaffold)
            predictions = _select(spec.predictions, predict_keys)
            session_creator = _v1.train.ChiefSessionCreator(
                scaffold=self._scaffold(spec.scaffold),
                checkpoint_filename_with_path=checkpoint_path,
                master="",  # in this process (2.15 used config.master, which is "" outside a cluster)
                config=self._session_config,
            )
            all_hooks = [*input_hooks, *hooks, *spec.prediction_hooks]
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
        experimental_mode=ModeKeys.PREDICT,
    ) -> bytes:
        """Exports the model for serving as a SavedModel (tag "serve").

        The graph is the model_fn in PREDICT mode on the receiver's features, with
        the checkpoint's variables; one signature per export output, plus
        "<alternative receiver>:<output>" for each alternative receiver; assets
        (e.g. tf.Transform vocabularies) are included. Written to
        export_dir_base/temp-<timestamp>, then published as
        export_dir_base/<timestamp>. Logs the signatures included ("Signatures
        INCLUDED in export for Predict: [...]") and "SavedModel written to: ...".

        Args:
          export_dir_base: the parent of the timestamped export directory.
          serving_input_receiver_fn: returns a `ServingInputReceiver` or a
            `TensorServingInputReceiver` (for experimental_mode TRAIN or EVAL, a
            `SupervisedInputReceiver`).
          assets_extra: {destination path under assets.extra/: source file}.
          as_text: write the SavedModel proto as text (saved_model.pbtxt).
          checkpoint_path: default: the newest in model_dir (else the
            warm-start checkpoint).
          experimental_mode: the mode whose graph is exported (tags "serve",
            "train" or "eval").

        Returns:
          The export directory, as bytes (as tf.estimator returns it).

        Raises:
          ValueError: no receiver fn, or no checkpoint.
        """
        if not serving_input_receiver_fn:
            raise ValueError("serving_input_receiver_fn must be given")
        return self._export_all_saved_models(
            export_dir_base,
            {experimental_mode: serving_input_receiver_fn},
            assets_extra=assets_extra,
            as_text=as_text,
            checkpoint_path=checkpoint_path,
            strip_default_attrs=True,
        )

    def export_savedmodel(
        self,
        export_dir_base,
        serving_input_receiver_fn,
        assets_extra=None,
        as_text=False,
        checkpoint_path=None,
        strip_default_attrs=False,
    ) -> bytes:
        """The old name of `export_saved_model` (deprecated in tf.estimator, kept for its programs).

        Args:
          strip_default_attrs: remove default-valued attributes from the graph's
            NodeDefs (default False here, True in export_saved_model).
          The others: as `export_saved_model`.

        Returns:
          The export directory, as bytes.
        """
        _warn_export_savedmodel_once()
        if not serving_input_receiver_fn:
            raise ValueError("serving_input_receiver_fn must be given")
        return self._export_all_saved_models(
            export_dir_base,
            {ModeKeys.PREDICT: serving_input_receiver_fn},
            assets_extra=assets_extra,
            as_text=as_text,
            checkpoint_path=checkpoint_path,
            strip_default_attrs=strip_default_attrs,
        )

    def experimental_export_all_saved_models(
        self, export_dir_base, input_receiver_fn_map, assets_extra=None, as_text=False, checkpoint_path=None
    ) -> bytes:
        """Exports one SavedModel with a meta graph per mode of `input_receiver_fn_map`.

        TRAIN (tag "train", signature "train": loss, predictions, metrics, the
        train_op in the "saved_model_train_op" collection), EVAL (tag "eval",
        signature "eval") and PREDICT (tag "serve", the serving signatures). The
        variables are saved once, from the first of TRAIN, EVAL, PREDICT present.

        Args:
          export_dir_base: the parent of the timestamped export directory.
          input_receiver_fn_map: {ModeKeys mode: receiver fn}; TRAIN and EVAL
            take a `SupervisedInputReceiver` (see
            `export.build_raw_supervised_input_receiver_fn`), PREDICT a
            `ServingInputReceiver`.
          assets_extra, as_text, checkpoint_path: as `export_saved_model`.

        Returns:
          The export directory, as bytes.

        Raises:
          ValueError: no known mode in the map, or no checkpoint.
        """
        return self._export_all_saved_models(
            export_dir_base,
            input_receiver_fn_map,
            assets_extra=assets_extra,
            as_text=as_text,
            checkpoint_path=checkpoint_path,
            strip_default_attrs=True,
        )

    # ------------------------------------------------------------------- helpers
    def _require_checkpoint(self) -> str:
        path = self.latest_checkpoint()
        if not path:
            raise ValueError(f"Could not find trained model in model_dir: {self.model_dir}.")
        return path

    def _seed(self, graph):
        if self._config.tf_random_seed is not None:
            graph.seed = self._config.tf_random_seed

    def _input(self, input_fn, mode):
        """Calls input_fn; returns (features, labels, hooks)."""
        names = fn_args(input_fn)
        kwargs = {}
        for name, value in (("mode", mode), ("params", self.params), ("config", self.config)):
            if name in names:
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

    def _call_model_fn(self, features, labels, mode, config) -> EstimatorSpec:
        kwargs = {}
        if "labels" in self._model_fn_args:
            kwargs["labels"] = labels
        elif labels is not None:
            raise ValueError("input_fn gave labels but model_fn takes no 'labels' argument")
        if "mode" in self._model_fn_args:
            kwargs["mode"] = mode
        if "params" in self._model_fn_args:
            kwargs["params"] = self.params
        if "config" in self._model_fn_args:
            kwargs["config"] = config
        _LOG.info("Calling model_fn.")
        spec = self._model_fn(features=features, **kwargs)
        _LOG.info("Done calling model_fn.")
        if not isinstance(spec, EstimatorSpec):
            raise TypeError(f"model_fn must return an EstimatorSpec, found {type(spec).__name__}")
        if spec.mode != mode:
            raise ValueError(
                f"model_fn was called in mode {mode!r} but returned an EstimatorSpec for {spec.mode!r}"
            )
        return spec

    def _train_model(self, input_fn, hooks: list, saving_listeners: list):
        """Builds the training graph and runs it; returns the last loss (None if no step ran)."""
        config = self._config
        # RunConfig.device_fn, ps placement in a cluster, or a single-device strategy's device.
        devices = distributed.training_device_fn(config)
        session_config = distributed.training_session_config(config)
        with tf.Graph().as_default() as graph, _v1.device(devices):
            self._seed(graph)
            global_step = _v1.train.get_or_create_global_step()
            features, labels, input_hooks = self._input(input_fn, ModeKeys.TRAIN)
            spec = self._call_model_fn(features, labels, ModeKeys.TRAIN, self.config)
            # The chief restores; the others wait for it.
            self._restore_or_warm_start(self.latest_checkpoint(), spec.scaffold, check=config.is_chief)
            if not any(s.op.name == "loss" for s in _v1.get_collection(_v1.GraphKeys.SUMMARIES)):
                _v1.summary.scalar("loss", spec.loss)
            _v1.add_to_collection(_v1.GraphKeys.LOSSES, spec.loss)
            scaffold = self._scaffold(spec.scaffold)
            worker_hooks = [*input_hooks, *hooks, hooks_lib.NanLossGuardHook(spec.loss, global_step)]
            every = config.log_step_count_steps
            if every:
                step = _step_after(spec.train_op, global_step)
                worker_hooks.append(_v1.train.LoggingTensorHook({"loss": spec.loss, "step": step}, every))
            worker_hooks.extend(spec.training_hooks)
            chief_hooks = [
                *self._checkpoint_hooks(
                    scaffold, saving_listeners, [*worker_hooks, *spec.training_chief_hooks]
                ),
                *spec.training_chief_hooks,
                *self._summary_hooks(scaffold, features),
            ]
            loss, steps_done = None, 0
            with _v1.train.MonitoredTrainingSession(
                master=config.master,
                is_chief=config.is_chief,
                checkpoint_dir=self.model_dir,
                scaffold=scaffold,
                hooks=worker_hooks,
                chief_only_hooks=chief_hooks,
                save_checkpoint_secs=None,
                save_checkpoint_steps=None,
                save_summaries_steps=None,
                save_summaries_secs=None,
                log_step_count_steps=None,
                config=session_config,
                max_wait_secs=config.session_creation_timeout_secs,
            ) as session:
                while not session.should_stop():
                    _, loss = session.run([spec.train_op, spec.loss])
                    steps_done += 1
            if not steps_done:
                _LOG.warning("Training with estimator made no steps. Perhaps input is empty or misspecified.")
        return loss

    def _checkpoint_to_read(self, checkpoint_path: str | None, purpose: str) -> str | None:
        """checkpoint_path, else the newest in model_dir; None (as tf.estimator, logged:
        "Could not find trained model in model_dir: ..., running initialization to
        <purpose>.") when there is none, and the variables are initialized."""
        checkpoint_path = checkpoint_path or self.latest_checkpoint()
        if not checkpoint_path:
            _LOG.info(
                "Could not find trained model in model_dir: %s, running initialization to %s.",
                self.model_dir,
                purpose,
            )
        return checkpoint_path

    def _restore_or_warm_start(self, checkpoint_path: str | None, scaffold, check: bool = True) -> None:
        """Warm-starts the graph when there is no checkpoint; else (with `check`) makes
        sure the checkpoint restores it whole (see `_check_restorable`).

        Raises:
          NotFoundError: as `_check_restorable`.
        """
        self._maybe_warm_start(checkpoint_path)
        if checkpoint_path and check:
            self._check_restorable(checkpoint_path, scaffold)

    def _check_restorable(self, checkpoint_path: str, scaffold) -> None:
        """Raises NotFoundError unless checkpoint_path restores every variable of the graph (see
        restore.py); an object-based checkpoint gets a Saver of its keys (the SAVERS collection's,
        which the scaffold takes)."""
        options = {
            "max_to_keep": self._config.keep_checkpoint_max,
            "keep_checkpoint_every_n_hours": self._config.keep_checkpoint_every_n_hours,
        }
        object_saver = restore.check(checkpoint_path, _model_fn_saver(scaffold), options)
        if object_saver is not None:
            _v1.add_to_collection(_v1.GraphKeys.SAVERS, object_saver)

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

    def _eval_scaffold(self, scaffold):
        """As `_scaffold`; a model_fn's own local_init_op also initializes the metrics' variables."""
        scaffold = self._scaffold(scaffold)
        if scaffold.local_init_op is None:
            return scaffold
        local_init_op = tf.group(scaffold.local_init_op, _v1.train.Scaffold.default_local_init_op())
        return _v1.train.Scaffold(local_init_op=local_init_op, copy_from_scaffold=scaffold)

    def _checkpoint_hooks(self, scaffold, saving_listeners, hooks):
        """The Estimator's CheckpointSaverHook, unless `hooks` (the run's) hold one already.

        As tf.estimator 2.15: a CheckpointSaverHook of the user's (train(hooks=),
        TrainSpec.hooks, the model_fn's training hooks) replaces the Estimator's own,
        and the saving listeners (train_and_evaluate's evaluation among them) are
        called at its saves (the first such hook's).

        Raises:
          ValueError: saving listeners but no CheckpointSaverHook at all.
        """
        config = self._config
        saver_hooks = [h for h in hooks if isinstance(h, _v1.train.CheckpointSaverHook)]
        if not saver_hooks and (config.save_checkpoints_steps or config.save_checkpoints_secs):
            return [
                _v1.train.CheckpointSaverHook(
                    self.model_dir,
                    save_secs=config.save_checkpoints_secs,
                    save_steps=config.save_checkpoints_steps,
                    scaffold=scaffold,
                    listeners=saving_listeners,
                    save_graph_def=config.checkpoint_save_graph_def,
                )
            ]
        if saving_listeners and not saver_hooks:
            raise ValueError(
                "There should be a CheckpointSaverHook to use saving_listeners (train_and_evaluate's evaluation "
                "is one). Please set one of the RunConfig.save_checkpoints_steps or "
                "RunConfig.save_checkpoints_secs, or pass a CheckpointSaverHook in the hooks."
            )
        # TensorFlow's CheckpointSaverHook takes listeners only in its constructor; 2.15 added them so too.
        listeners = saver_hooks[0]._listeners if saver_hooks else []
        listeners.extend(listener for listener in saving_listeners if listener not in listeners)
        return []

    def _summary_hooks(self, scaffold, features):
        config = self._config
        chief = []
        if config.log_step_count_steps:
            chief.append(
                hooks_lib.StepAndExampleCounterHook(
                    _batch_size(features), config.log_step_count_steps, self.model_dir
                )
            )
        if config.save_summary_steps:
            chief.append(
                _v1.train.SummarySaverHook(
                    save_steps=config.save_summary_steps, output_dir=self.model_dir, scaffold=scaffold
                )
            )
        return chief

    def _maybe_warm_start(self, checkpoint_path):
        """Warm-starts the graph's variables when there is no checkpoint to restore."""
        settings = self._warm_start_settings
        if checkpoint_path or settings is None:
            return
        _LOG.info("Warm-starting with WarmStartSettings: %s", settings)
        source = settings.ckpt_to_initialize_from
        if tf.io.gfile.isdir(source):
            source = latest_checkpoint(source) or source
        _v1.train.warm_start(
            source,
            vars_to_warm_start=settings.vars_to_warm_start,
            var_name_to_vocab_info=settings.var_name_to_vocab_info,
            var_name_to_prev_var_name=settings.var_name_to_prev_var_name,
        )

    def _write_eval_summaries(self, results: dict, name: str | None, checkpoint_path: str | None) -> None:
        """Logs and writes the evaluation results (and the checkpoint's path) to eval_dir(name)."""
        step = int(results[GLOBAL_STEP_KEY])
        _LOG.info("Saving dict for global step %d: %s", step, _dict_to_str(results))
        writer = _v1.summary.FileWriterCache.get(self.eval_dir(name))
        summary = _v1.Summary()
        for key, value in results.items():
            if key == GLOBAL_STEP_KEY or value is None:
                continue
            if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
                summary.value.add(tag=key, simple_value=float(value))
            elif isinstance(value, bytes):
                try:
                    values = _v1.Summary.FromString(value).value
                except _proto_message.DecodeError:
                    _LOG.warning("Skipping summary for %s, cannot parse string to Summary.", key)
                    continue
                for i, parsed in enumerate(values):
                    parsed.tag = f"{key}/{i}"
                    summary.value.append(parsed)
            elif isinstance(value, np.ndarray):
                summary.value.add(tag=key, node_name=key, tensor=tf.make_tensor_proto(value))
            else:
                _LOG.warning(
                    "Skipping summary for %s, must be a float, an int, an np.ndarray or a serialized Summary.",
                    key,
                )
        writer.add_summary(summary, step)
        if checkpoint_path:
            _LOG.info(
                "Saving '%s' summary for global step %d: %s", _CHECKPOINT_PATH_TAG, step, checkpoint_path
            )
            path_summary = _v1.Summary()
            path_summary.value.add(
                tag=_CHECKPOINT_PATH_TAG, tensor=tf.make_tensor_proto(checkpoint_path, dtype=tf.string)
            )
            writer.add_summary(path_summary, step)
        writer.flush()

    def _export_all_saved_models(
        self,
        export_dir_base,
        input_receiver_fn_map,
        assets_extra,
        as_text,
        checkpoint_path,
        strip_default_attrs,
    ) -> bytes:
        """Writes one SavedModel with a meta graph per mode of the map (see
        `experimental_export_all_saved_models`); returns its directory as bytes."""
        checkpoint_path = checkpoint_path or self.latest_checkpoint()
        if not checkpoint_path:
            if self._warm_start_settings is None:
                raise ValueError(f"Couldn't find trained model at {self.model_dir}.")
            checkpoint_path = self._warm_start_settings.ckpt_to_initialize_from
            if tf.io.gfile.isdir(checkpoint_path):
                checkpoint_path = latest_checkpoint(checkpoint_path)
        # The first mode saves the variables: TRAIN's graph has them all (e.g. optimizer slots).
        modes = [m for m in (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT) if input_receiver_fn_map.get(m)]
        if not modes:
            raise ValueError(f"No valid modes for exporting found. Got {list(input_receiver_fn_map)}.")
        export_dir = export_dirs.get_timestamped_export_dir(os.fspath(export_dir_base))
        temp_dir = export_dirs.get_temp_export_dir(export_dir)
        try:
            builder = _v1.saved_model.Builder(temp_dir)
            for i, mode in enumerate(modes):
                self._add_meta_graph_for_mode(
                    builder, input_receiver_fn_map[mode], checkpoint_path, mode, i == 0, strip_default_attrs
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
        return export_dir.encode("utf-8")

    def _add_meta_graph_for_mode(
        self, builder, receiver_fn, checkpoint_path, mode, save_variables, strip_default_attrs
    ) -> None:
        """Builds the model_fn's graph in `mode` on the receiver, restores the checkpoint
        and adds the meta graph (with the variables when `save_variables`)."""
        with tf.Graph().as_default() as graph:
            self._seed(graph)
            _v1.train.get_or_create_global_step()
            before = len(_v1.global_variables())
            receiver = receiver_fn()
            receiver_variables = _v1.global_variables()[before:]  # e.g. a transform graph's
            receiver_types = (
                export_lib.ServingInputReceiver,
                export_lib.TensorServingInputReceiver,
                export_lib.SupervisedInputReceiver,
            )
            if not isinstance(receiver, receiver_types):
                raise TypeError(
                    f"the {mode} receiver fn must return a ServingInputReceiver, TensorServingInputReceiver "
                    f"or SupervisedInputReceiver, found {type(receiver).__name__}"
                )
            spec = self._call_model_fn(
                receiver.features, getattr(receiver, "labels", None), mode, self.config
            )
            export_outputs = export_lib.export_outputs_for_mode(
                mode, spec.export_outputs, spec.predictions, spec.loss, spec.eval_metric_ops
            )
            signatures = export_lib.build_all_signature_defs(
                receiver.receiver_tensors,
                export_outputs,
                getattr(receiver, "receiver_tensors_alternatives", None),
                serving_only=mode == ModeKeys.PREDICT,
            )
            scaffold = spec.scaffold
            local_init_op = scaffold.local_init_op
            if local_init_op is None:
                local_init_op = _v1.train.Scaffold.default_local_init_op()
            receiver_refs = {v.ref() for v in receiver_variables}
            model_variables = [v for v in _v1.global_variables() if v.ref() not in receiver_refs]
            # An object-based checkpoint's Saver (its keys) also writes the export's variables.
            object_saver = restore.check_export(
                checkpoint_path, mode, model_variables, _model_fn_saver(scaffold), receiver_variables
            )
            export_saver = scaffold.saver or object_saver
            with _v1.Session(config=self._session_config) as session:
                session.run(_v1.variables_initializer(receiver_variables))  # from their own assets
                try:
                    (export_saver or _v1.train.Saver(model_variables, sharded=True)).restore(
                        session, checkpoint_path
                    )
                except tf.errors.NotFoundError as e:
                    raise restore.export_restore_error(checkpoint_path, mode, e) from None
                if spec.train_op is not None:
                    _v1.add_to_collection(_TRAIN_OP_COLLECTION, spec.train_op)
                meta_graph = dict(
                    tags=export_lib.EXPORT_TAG_MAP[mode],
                    signature_def_map=signatures,
                    assets_collection=_v1.get_collection(_v1.GraphKeys.ASSET_FILEPATHS),
                    main_op=local_init_op,
                    saver=export_saver,
                    strip_default_attrs=strip_default_attrs,
                )
                if save_variables:
                    builder.add_meta_graph_and_variables(session, **meta_graph)
                else:
                    builder.add_meta_graph(**meta_graph)


_warned_export_savedmodel = []


def _warn_export_savedmodel_once() -> None:
    if not _warned_export_savedmodel:
        _warned_export_savedmodel.append(True)
        _LOG.warning(
            "Estimator.export_savedmodel is deprecated and will be removed in a future version.\n"
            "Instructions for updating:\nThis function has been renamed, use `export_saved_model` instead."
        )


def _step_after(train_op, global_step) -> tf.Tensor:
    """The global step read after train_op ran: the step a logged loss belongs to.

    Fetching the variable itself in the same run would race with train_op's
    increment (tf.estimator logged either value).
    """
    with tf.control_dependencies([train_op]):
        return tf.identity(global_step.read_value(), name="global_step_after_train_op")


def _uses_dataset_or_queue(features) -> bool:
    """Whether the features come from a tf.data iterator or a queue (predict then ends)."""
    tensors = [t for t in tf.nest.flatten(features) if isinstance(t, tf.Tensor)]
    if any(t.op.type in ("IteratorGetNext", "IteratorGetNextSync") for t in tensors):
        return True
    return bool(_v1.get_collection(_v1.GraphKeys.QUEUE_RUNNERS))


def _dict_to_str(results: dict) -> str:
    """`k = v, ...` sorted by key, as tf.estimator logged evaluation results."""
    return ", ".join(f"{k} = {v!s}" for k, v in sorted(results.items()) if not isinstance(v, bytes))


def _batch_size(features) -> tf.Tensor:
    """The examples in a batch: the first dimension of the first feature (1 if unknown)."""
    for tensor in tf.nest.flatten(features):
        if isinstance(tensor, tf.Tensor) and tensor.shape.rank:
            return tf.shape(tensor, out_type=tf.int64)[0]
    return tf.constant(1, tf.int64)


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


def _model_fn_saver(scaffold):
    """The Saver the model_fn brought (its scaffold's, or one it put in the SAVERS collection), if any."""
    if scaffold.saver is not None:
        return scaffold.saver
    savers = _v1.get_collection(_v1.GraphKeys.SAVERS)
    return savers[0] if len(savers) == 1 else None
