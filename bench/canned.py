"""Canned Estimator overhead: `DNNClassifier` against the same network as a custom model_fn.

Same network (784 -> 256 -> 128 -> 10, relu), same input (a dense numeric
feature column of the 784 pixels through `input_layer`), same optimizer (a
`tf.compat.v1.train.AdamOptimizer`), learning rate, batch size and data
(the first Fashion-MNIST training images, scaled to [0, 1]), same RunConfig
(default hooks and summaries). What differs is the canned layer: the head's
label and shape checks, its loss, the hidden-layer summaries. A third contender,
the DNNClassifier with a tf_keras legacy Adam (the usual canned optimizer), is
reported beside them. Throughput is measured after a warm-up, from a hook inside
the training loop.

    python -c "from bench import canned; print(canned.run(repeats=3, steps=300))"
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import tensorflow as tf
import tf_keras

import estimator as tfe
from bench import common

BATCH_SIZE = 100
WARMUP_STEPS = 30
LEARNING_RATE = 1e-3
HIDDEN_UNITS = (256, 128)
N_CLASSES = 10
IMAGE_KEY = "image"
IMAGE_PIXELS = 784
_v1 = tf.compat.v1


def _columns():
    return [_v1.feature_column.numeric_column(IMAGE_KEY, shape=(IMAGE_PIXELS,))]


def custom_model_fn(features, labels, mode):
    """The DNNClassifier's network, loss and train op, written by hand."""
    net = _v1.feature_column.input_layer(features, _columns())
    for i, units in enumerate(HIDDEN_UNITS):
        net = _v1.layers.dense(net, units, activation=tf.nn.relu, name=f"hiddenlayer_{i}")
    logits = _v1.layers.dense(net, N_CLASSES, name="logits")
    loss = _v1.losses.sparse_softmax_cross_entropy(labels, logits)
    optimizer = _v1.train.AdamOptimizer(LEARNING_RATE)
    train_op = optimizer.minimize(loss, global_step=_v1.train.get_global_step())
    return tfe.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _examples_per_sec(make_estimator, data: str, steps: int) -> float:
    def input_fn():
        return common.image_batches(data, BATCH_SIZE, IMAGE_KEY)

    timer = common.StepTimer(WARMUP_STEPS)
    with tempfile.TemporaryDirectory() as model_dir:
        config = tfe.RunConfig(model_dir=model_dir, tf_random_seed=0, save_checkpoints_steps=10**9)
        make_estimator(config).train(input_fn, hooks=[timer], steps=WARMUP_STEPS + steps)
    return timer.examples_per_sec(BATCH_SIZE)


def _contenders() -> dict:
    return {
        "model_fn": lambda config: tfe.Estimator(custom_model_fn, config=config),
        "canned": lambda config: tfe.DNNClassifier(
            HIDDEN_UNITS,
            _columns(),
            n_classes=N_CLASSES,
            optimizer=lambda: _v1.train.AdamOptimizer(LEARNING_RATE),
            config=config,
        ),
        "canned_keras_optimizer": lambda config: tfe.DNNClassifier(
            HIDDEN_UNITS,
            _columns(),
            n_classes=N_CLASSES,
            optimizer=lambda: tf_keras.optimizers.legacy.Adam(LEARNING_RATE),
            config=config,
        ),
    }


def run(repeats: int = 3, steps: int = 300) -> dict:
    """Medians over `repeats` rounds, each contender once per round in a rotated order.

    Returns:
      examples/s of each contender, "ratio" = canned / model_fn (target >= 0.9),
      "ratio_keras_optimizer" = canned_keras_optimizer / model_fn, and the raw runs.
    """
    contenders = _contenders()
    runs = {name: [] for name in contenders}
    names = list(contenders)
    with tempfile.TemporaryDirectory() as work:
        data = common.save_images(os.path.join(work, "images"))
        for i in range(repeats):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                runs[name].append(_examples_per_sec(contenders[name], data, steps))
    medians = {k: float(np.median(v)) for k, v in runs.items()}
    return {
        **{f"{k}_examples_per_s": round(v, 1) for k, v in medians.items()},
        "ratio": medians["canned"] / medians["model_fn"],
        "ratio_keras_optimizer": medians["canned_keras_optimizer"] / medians["model_fn"],
        "runs": {k: [round(r, 1) for r in v] for k, v in runs.items()},
        "steps": steps,
        "batch_size": BATCH_SIZE,
        "hidden_units": list(HIDDEN_UNITS),
    }


def summary(r: dict) -> str:
    """run()'s result as a line of the benchmark table."""
    return (
        f"canned: DNNClassifier {r['canned_examples_per_s']:.0f} ex/s vs the same network as a model_fn"
        f" {r['model_fn_examples_per_s']:.0f} ex/s -> ratio {r['ratio']:.2f} (target >= 0.9)"
    )
