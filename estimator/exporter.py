"""Exporters: when `train_and_evaluate` writes a SavedModel, and which to keep.

Each exporter writes under MODEL_DIR/export/<name>/<timestamp>/ (export_dirs.py
names and finds them). A crash during an export leaves a temp-<timestamp>
directory that is never taken for an export; the next export removes it.
"""

from __future__ import annotations

import abc
import os

import tensorflow as tf

from . import export_dirs
from .util import fn_args

_LOG = tf.get_logger()


def gc_exports(export_dir_base: str, keep: int | None) -> None:
    """Deletes all but the newest `keep` complete exports, and temp-* dirs crashes left."""
    export_dirs.remove_stale_temp_dirs(export_dir_base)
    if not keep:
        return
    for path in export_dirs.complete_exports(export_dir_base)[:-keep]:
        tf.io.gfile.rmtree(path)


class Exporter(abc.ABC):
    """Decides whether to export after an evaluation, and does it."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The exporter's name: its directory under MODEL_DIR/export/."""

    @abc.abstractmethod
    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        """Exports (or not) the checkpoint just evaluated.

        Args:
          estimator: the Estimator.
          export_path: MODEL_DIR/export/<name>.
          checkpoint_path: the checkpoint that was evaluated.
          eval_result: its evaluation results.
          is_the_final_export: whether training has ended.

        Returns:
          The export directory (bytes), or None when nothing was exported.
        """


class _SavedModelExporter(Exporter):
    def __init__(self, name, serving_input_receiver_fn, assets_extra=None, as_text=False, exports_to_keep=5):
        if exports_to_keep is not None and exports_to_keep <= 0:
            raise ValueError(f"exports_to_keep must be > 0 or None, got {exports_to_keep}")
        self._name = name
        self._serving_input_receiver_fn = serving_input_receiver_fn
        self._assets_extra = assets_extra
        self._as_text = as_text
        self._exports_to_keep = exports_to_keep

    @property
    def name(self):
        return self._name

    def _export(self, estimator, export_path, checkpoint_path):
        export_dir = estimator.export_saved_model(
            export_path,
            self._serving_input_receiver_fn,
            assets_extra=self._assets_extra,
            as_text=self._as_text,
            checkpoint_path=checkpoint_path,
        )
        gc_exports(export_path, self._exports_to_keep)
        return export_dir


class LatestExporter(_SavedModelExporter):
    """Exports after every evaluation; keeps the newest `exports_to_keep`."""

    def __init__(self, name, serving_input_receiver_fn, assets_extra=None, as_text=False, exports_to_keep=5):
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        return self._export(estimator, export_path, checkpoint_path)


class FinalExporter(_SavedModelExporter):
    """Exports once, after the final evaluation."""

    def __init__(self, name, serving_input_receiver_fn, assets_extra=None, as_text=False):
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep=None)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        if not is_the_final_export:
            return None
        return self._export(estimator, export_path, checkpoint_path)


def _loss_smaller(best_eval_result, current_eval_result):
    """The default compare_fn: the current result is better when its loss is smaller."""
    for result in (best_eval_result, current_eval_result):
        if "loss" not in result:
            raise ValueError("compare_fn needs a 'loss' in the eval results")
    return current_eval_result["loss"] < best_eval_result["loss"]


def _check_compare_fn(compare_fn) -> None:
    """compare_fn takes exactly best_eval_result and current_eval_result, as tf.estimator 2.15 required.

    Raises:
      ValueError: None, or other arguments.
      TypeError: not callable.
    """
    if compare_fn is None:
        raise ValueError("`compare_fn` must not be None.")
    if not callable(compare_fn):
        raise TypeError(f"compare_fn must be callable, found {compare_fn!r}")
    args = set(fn_args(compare_fn))
    for required in ("best_eval_result", "current_eval_result"):
        if required not in args:
            raise ValueError(f"compare_fn ({compare_fn}) must include {required} argument.")
    others = sorted(args - {"best_eval_result", "current_eval_result"})
    if others:
        raise ValueError(f"compare_fn ({compare_fn}) has following not expected args: {others}")


class BestExporter(_SavedModelExporter):
    """Exports when an evaluation beats the best one so far.

    Args:
      name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep:
        as LatestExporter.
      event_file_pattern: eval event files, relative to model_dir, from which the
        best result of earlier runs is read, so a restarted job keeps its best.
      compare_fn: compare_fn(best_eval_result, current_eval_result) -> True when
        current is better. Default: smaller "loss".
    """

    def __init__(
        self,
        name="best_exporter",
        serving_input_receiver_fn=None,
        event_file_pattern="eval/*.tfevents.*",
        compare_fn=_loss_smaller,
        assets_extra=None,
        as_text=False,
        exports_to_keep=5,
    ):
        if serving_input_receiver_fn is None:
            raise ValueError("BestExporter needs a serving_input_receiver_fn")
        _check_compare_fn(compare_fn)
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep)
        self._event_file_pattern = event_file_pattern
        self._compare_fn = compare_fn
        self._best = None
        self._loaded_from = None

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        if self._loaded_from != estimator.model_dir:
            self._loaded_from = estimator.model_dir
            self._best = self._best_exported(estimator.model_dir, export_path, eval_result.get("global_step"))
        if self._best is None or self._compare_fn(
            best_eval_result=self._best, current_eval_result=eval_result
        ):
            _LOG.info(
                "%s: new best eval result at step %s: exporting", self.name, eval_result.get("global_step")
            )
            self._best = dict(eval_result)
            return self._export(estimator, export_path, checkpoint_path)
        return None

    def _best_exported(self, model_dir, export_path, current_step):
        """The best earlier result that has a complete export.

        tf.estimator took the best of the eval event files; an export a crash
        interrupted then counted as done, and no export might ever follow. Here
        the best is the evaluation of the step of the newest complete export
        (the best exporter's newest is its best), or None when there is none.
        """
        newest = export_dirs.newest_export(export_path)
        if newest is None:
            return None
        step = export_dirs.export_global_step(newest)
        for result in self._event_results(model_dir, current_step):
            if result["global_step"] == step:
                return result
        return None

    def _event_results(self, model_dir, current_step):
        """The evaluations recorded in the eval event files (not the current step's)."""
        if not self._event_file_pattern:
            return
        for path in tf.io.gfile.glob(os.path.join(model_dir, self._event_file_pattern)):
            for event in tf.compat.v1.train.summary_iterator(path):
                if not event.HasField("summary") or event.step == current_step:
                    continue
                result = {v.tag: v.simple_value for v in event.summary.value if v.HasField("simple_value")}
                if not result:  # e.g. the checkpoint_path text summary of the same evaluation
                    continue
                result["global_step"] = event.step
                yield result
