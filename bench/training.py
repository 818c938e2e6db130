"""Training throughput: the Estimator runtime against tf_keras `Model.fit`, and its hooks' cost.

Same network (`trainer.networks.NETWORKS[model]`, the very layers of the model_fn),
same batch size, same data (the first Fashion-MNIST training images, scaled to
[0, 1], read from one saved tf.data dataset and cached in memory), same Adam at a
constant rate, same TensorFlow kernels (the oneDNN setting `trainer/__init__.py`
makes applies to both). Throughput is
measured after a warm-up from a hook or callback inside the training loop, so
graph building and the checkpoints at start and end don't count.

The cost of the default hooks and summaries (loss and step-rate logs, and the
model's summaries, every 100 steps) is measured inside each Estimator run, so
machine noise cannot hide it: the steps around each hundredth global step, where
the hooks fetch and write, against the median of the plain steps of the same run.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

import estimator as tfe
from bench import common
from schemas import features
from trainer import model, networks
from trainer.hparams import HParams

WARMUP_STEPS = 30
SUMMARY_EVERY = 100  # RunConfig's save_summary_steps and log_step_count_steps defaults
# Global steps (mod SUMMARY_EVERY) whose step may carry the hooks' work: the
# summary, step-rate and loss hooks each trigger on one of them.
_TRIGGER_WINDOW = (SUMMARY_EVERY - 1, 0, 1, 2, 3)


def _hparams(name: str) -> HParams:
    default = HParams()
    return HParams(
        model=name,
        batch_size=default.batch_size,
        learning_rate=default.learning_rate,
        constant_learning_rate=True,  # as Model.fit below
        augment=False,
    )


def estimator_run(data: str, steps: int, name: str, hooks=()) -> dict:
    """Trains `steps` steps after the warm-up (with `hooks` too); examples/s and the hooks' share of the time."""
    hparams = _hparams(name)

    def input_fn():
        return common.image_batches(data, hparams.batch_size, features.IMAGE_KEY)

    config = tfe.RunConfig(tf_random_seed=0, save_checkpoints_steps=10**9)
    params = hparams.model_params(
        common.TRAIN_IMAGES, [str(i) for i in range(features.NUM_CLASSES)], "fashion_mnist"
    )
    timer = common.StepTimer(WARMUP_STEPS)
    with tempfile.TemporaryDirectory() as model_dir:
        estimator = tfe.Estimator(model.model_fn, model_dir, config=config, params=params)
        estimator.train(input_fn, hooks=[timer, *hooks], steps=WARMUP_STEPS + steps)
    trigger, plain = [], []
    for i, seconds in enumerate(timer.durations):
        global_step = WARMUP_STEPS + i + 1
        (trigger if global_step % SUMMARY_EVERY in _TRIGGER_WINDOW else plain).append(seconds)
    extra = sum(trigger) - len(trigger) * statistics.median(plain)
    return {
        "examples_per_s": timer.examples_per_sec(hparams.batch_size),
        "hooks_cost": extra / sum(timer.durations),
    }


def keras_examples_per_sec(data: str, steps: int, name: str) -> float:
    hparams = _hparams(name)
    keras = tf.keras  # tf_keras: TF_USE_LEGACY_KERAS=1 is set by trainer/__init__.py
    net = keras.Sequential(
        [
            keras.layers.Reshape(
                (features.IMAGE_HEIGHT, features.IMAGE_WIDTH, 1), input_shape=(features.IMAGE_PIXELS,)
            )
        ]
        + networks.NETWORKS[name].layers()
    )
    net.compile(
        optimizer=keras.optimizers.Adam(hparams.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    class Timer(keras.callbacks.Callback):
        start = end = None

        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == WARMUP_STEPS:
                Timer.start = time.perf_counter()
            Timer.end = time.perf_counter()

    net.fit(
        common.image_batches(data, hparams.batch_size),
        steps_per_epoch=WARMUP_STEPS + steps,
        epochs=1,
        verbose=0,
        callbacks=[Timer()],
    )
    return steps * hparams.batch_size / (Timer.end - Timer.start)


def run(repeats: int = 3, steps: int = 600, name: str | None = None) -> dict:
    """Medians over `repeats` rounds, the two contenders alternating which goes first.

    Returns:
      examples/s of each, "ratio_vs_keras_fit" (target >= 1.0), "hooks_and_summaries_cost"
      (the median share of step time, target <= 0.05), the raw runs, the model and batch size.
    """
    name = name or HParams().model
    runs = {"keras_fit": [], "estimator": [], "hooks_cost": []}
    with tempfile.TemporaryDirectory() as work:
        data = common.save_images(os.path.join(work, "images"))
        for i in range(repeats):
            order = ("estimator", "keras_fit") if i % 2 == 0 else ("keras_fit", "estimator")
            for contender in order:
                if contender == "keras_fit":
                    runs["keras_fit"].append(keras_examples_per_sec(data, steps, name))
                else:
                    result = estimator_run(data, steps, name)
                    runs["estimator"].append(result["examples_per_s"])
                    runs["hooks_cost"].append(result["hooks_cost"])
    medians = {k: float(np.median(v)) for k, v in runs.items()}
    return {
        "estimator_examples_per_s": round(medians["estimator"], 1),
        "keras_fit_examples_per_s": round(medians["keras_fit"], 1),
        "ratio_vs_keras_fit": medians["estimator"] / medians["keras_fit"],
        "hooks_and_summaries_cost": medians["hooks_cost"],
        "runs": {k: [round(r, 4) for r in v] for k, v in runs.items()},
        "model": name,
        "steps": steps,
        "batch_size": HParams().batch_size,
    }


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"training ({r['model']}, batch {r['batch_size']}): Estimator {r['estimator_examples_per_s']:.0f} ex/s"
        f" vs Model.fit {r['keras_fit_examples_per_s']:.0f} ex/s -> ratio {r['ratio_vs_keras_fit']:.2f}"
        f" (target >= 1.0); hooks+summaries cost {100 * r['hooks_and_summaries_cost']:.1f}% (target <= 5%)"
    )
