"""Training throughput: the Estimator runtime against tf_keras `Model.fit`.

Same network (the Deep MNIST CNN of trainer/model.py), same batch size, same
in-memory data (the first Fashion-MNIST training images, scaled to [0, 1]), same
Adam. Throughput is measured after a warm-up, from a hook or callback inside the
training loop, so graph building and checkpoint writing at start and end don't
count. The runtime is measured twice: with its default hooks and summaries
(loss/step logs, global_step/sec and summaries every 100 steps) and bare
(no summaries, no logging), to price them.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import tensorflow as tf

import estimator as tfe
from bench import common
from common import idx
from schemas import features
from trainer import model
from trainer.hparams import CNN, HParams

BATCH_SIZE = 100
WARMUP_STEPS = 30
LEARNING_RATE = 1e-3


def load_images(n: int, input_dir: str = common.FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """The first n training images as float32 [n, 784] in [0, 1], and their labels."""
    images = idx.read_idx(os.path.join(input_dir, "train-images-idx3-ubyte.gz"), idx.IMAGES_NDIM)[:n]
    labels = idx.read_idx(os.path.join(input_dir, "train-labels-idx1-ubyte.gz"), idx.LABELS_NDIM)[:n]
    return images.reshape(n, -1).astype(np.float32) / 255.0, labels.astype(np.int64)


class _StepTimer(tf.compat.v1.train.SessionRunHook):
    def __init__(self, warmup: int):
        self._warmup = warmup
        self._steps = 0
        self.started = self.stopped = None  # (not start/end: SessionRunHook.end is a method)
        self.timed_steps = 0

    def after_run(self, run_context, run_values):
        self._steps += 1
        if self._steps == self._warmup:
            self.started = time.perf_counter()
        elif self._steps > self._warmup:
            self.stopped = time.perf_counter()
            self.timed_steps = self._steps - self._warmup


def estimator_examples_per_sec(x, y, steps: int, bare: bool) -> float:
    def input_fn():
        data = tf.data.Dataset.from_tensor_slices(({features.IMAGE_KEY: x}, y))
        return data.shuffle(len(x), seed=0).repeat().batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)

    hooks_off = {"save_summary_steps": None, "log_step_count_steps": None} if bare else {}
    config = tfe.RunConfig(tf_random_seed=0, save_checkpoints_steps=10**9, **hooks_off)
    # As Model.fit below: constant learning rate, no augmentation.
    hparams = HParams(model=CNN, learning_rate=LEARNING_RATE, constant_learning_rate=True, augment=False)
    params = hparams.model_params(steps, "fashion_mnist", [str(i) for i in range(10)])
    timer = _StepTimer(WARMUP_STEPS)
    with tempfile.TemporaryDirectory() as model_dir:
        estimator = tfe.Estimator(model.model_fn, model_dir, config=config, params=params)
        estimator.train(input_fn, hooks=[timer], steps=WARMUP_STEPS + steps)
    return timer.timed_steps * BATCH_SIZE / (timer.stopped - timer.started)


def keras_examples_per_sec(x, y, steps: int) -> float:
    keras = tf.keras  # tf_keras: TF_USE_LEGACY_KERAS=1 is set by trainer/__init__.py
    layers = keras.layers
    net = keras.Sequential(
        [
            layers.Reshape((28, 28, 1), input_shape=(features.IMAGE_PIXELS,)),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2, 2),
            layers.Conv2D(64, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2, 2),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(features.NUM_CLASSES),
        ]
    )
    net.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).repeat().batch(BATCH_SIZE)

    class Timer(keras.callbacks.Callback):
        start = end = None

        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == WARMUP_STEPS:
                Timer.start = time.perf_counter()
            Timer.end = time.perf_counter()

    net.fit(
        data.prefetch(tf.data.AUTOTUNE),
        steps_per_epoch=WARMUP_STEPS + steps,
        epochs=1,
        verbose=0,
        callbacks=[Timer()],
    )
    return steps * BATCH_SIZE / (Timer.end - Timer.start)


def run(repeats: int = 5, steps: int = 300) -> dict:
    """Medians over `repeats` rounds; the ratios runtime / Model.fit and bare / default.

    Each round runs the three once, in an order rotated round by round, so no
    contender always runs first (or last) on a machine whose speed drifts.
    """
    x, y = load_images(12_800)
    contenders = {
        "keras_fit": lambda: keras_examples_per_sec(x, y, steps),
        "estimator": lambda: estimator_examples_per_sec(x, y, steps, bare=False),
        "estimator_bare": lambda: estimator_examples_per_sec(x, y, steps, bare=True),
    }
    runs = {name: [] for name in contenders}
    names = list(contenders)
    for i in range(repeats):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            runs[name].append(contenders[name]())
    medians = {k: float(np.median(v)) for k, v in runs.items()}
    return {
        **{f"{k}_examples_per_s": round(v, 1) for k, v in medians.items()},
        "ratio_vs_keras_fit": medians["estimator"] / medians["keras_fit"],
        "hooks_and_summaries_cost": 1.0 - medians["estimator"] / medians["estimator_bare"],
        "runs": {k: [round(r, 1) for r in v] for k, v in runs.items()},
        "steps": steps,
        "batch_size": BATCH_SIZE,
    }
