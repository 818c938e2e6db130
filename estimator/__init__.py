"""The tf.estimator contract on TensorFlow 2.21, built on public `tf.compat.v1` APIs.

    import estimator as tfe

    est = tfe.Estimator(model_fn, model_dir, config=tfe.RunConfig(save_checkpoints_steps=100))
    est.train(input_fn, max_steps=1000)
    est.evaluate(eval_input_fn)
    tfe.train_and_evaluate(est, tfe.TrainSpec(...), tfe.EvalSpec(..., exporters=[tfe.LatestExporter(...)]))

Generic: it knows nothing of any dataset. `docs/estimator.md` says what matches
tf.estimator, what differs, and how to port a model.
"""

import os

# tf.compat.v1.layers and tf.Transform need Keras 2 (tf_keras) as tf.keras; this must
# be set before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from . import export  # noqa: E402
from .estimator import Estimator, WarmStartSettings  # noqa: E402
from .exporter import BestExporter, Exporter, FinalExporter, LatestExporter  # noqa: E402
from .hooks import NanLossError  # noqa: E402
from .mode_keys import ModeKeys  # noqa: E402
from .model_fn import EstimatorSpec  # noqa: E402
from .run_config import RunConfig, TaskType  # noqa: E402
from .training import EvalSpec, TrainSpec, train_and_evaluate  # noqa: E402

__all__ = [
    "BestExporter",
    "Estimator",
    "EstimatorSpec",
    "EvalSpec",
    "Exporter",
    "FinalExporter",
    "LatestExporter",
    "ModeKeys",
    "NanLossError",
    "RunConfig",
    "TaskType",
    "TrainSpec",
    "WarmStartSettings",
    "export",
    "train_and_evaluate",
]
