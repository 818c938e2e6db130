"""One timed training run of the CNN model_fn or a DNNClassifier, on this runtime or on tf.estimator 2.15.

Run by bench/against_tf215.py in a fresh process, with this project's virtualenv
(TensorFlow 2.21, `estimator`) or with the TF 2.15 reference environment (real
tf.estimator 2.15); it prints one JSON line: {"steps_per_s": ..., "steps_per_cpu_s": ...,
"tensorflow": ...}.

    python -m bench.estimator_worker --runtime here --model cnn --steps 200
    /tmp/tf215/bin/python -m bench.estimator_worker --runtime tf215 --model dnn --steps 200

Both train the same model_fn (trainer/model.py, imported unchanged: on 2.15 its
`estimator` import is tf.estimator itself) or the same v2 DNNClassifier, with the
trainer's default hyperparameters at a constant rate, on the same synthetic
MNIST-sized data, under RunConfig's defaults (summaries and step-rate logs every 100
steps). Steps are timed inside the training loop after a warm-up, so graph building
and the checkpoints at start and end do not count. This module imports nothing that
TF 2.15's environment lacks (no Beam, no tf.Transform).

`--model session` is the baseline of TensorFlow itself: the DNNClassifier's network
(the same layers, Adagrad and batches) as a plain `tf.compat.v1` graph stepped by a
bare `Session.run` loop, no Estimator, no hooks; on each TensorFlow version it shows
what that version's session costs a step, whichever Estimator runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

N_EXAMPLES = 6_400
IMAGE_PIXELS = 784
N_CLASSES = 10
DNN_BATCH_SIZE = 100
DNN_HIDDEN_UNITS = (256, 128)


def _runtime(name: str):
    """(tf, the Estimator namespace): `estimator` here, tf.estimator in the TF 2.15 environment."""
    import tensorflow as tf

    if name == "tf215":
        sys.modules["estimator"] = tf.estimator  # trainer/model.py's `from estimator import ...`
        sys.modules["estimator.export"] = tf.estimator.export
        return tf, tf.estimator
    import estimator

    return tf, estimator


class _StepTimer:
    """A SessionRunHook (made for the runtime's tf) timing each step after the first `warmup`:
    wall seconds, and the CPU seconds of all the process's threads (which another job on the
    machine disturbs less)."""

    @staticmethod
    def make(tf, warmup: int):
        class Timer(tf.compat.v1.train.SessionRunHook):
            def __init__(self):
                self.count, self.last, self.durations, self.cpu_seconds = 0, None, [], 0.0

            def after_run(self, run_context, run_values):
                now, cpu = time.perf_counter(), time.process_time()
                self.count += 1
                if self.count > warmup:
                    self.durations.append(now - self.last[0])
                    self.cpu_seconds += cpu - self.last[1]
                self.last = (now, cpu)

        return Timer()


def _data(tf, path: str):
    """Saves N_EXAMPLES synthetic images (10 noisy prototypes, float32 [784] in [0, 1]) and labels."""
    rng = np.random.RandomState(0)
    prototypes = rng.rand(N_CLASSES, IMAGE_PIXELS).astype(np.float32)
    labels = rng.randint(0, N_CLASSES, N_EXAMPLES).astype(np.int64)
    images = np.clip(prototypes[labels] + 0.2 * rng.randn(N_EXAMPLES, IMAGE_PIXELS), 0, 1).astype(np.float32)
    tf.data.Dataset.from_tensor_slices((images, labels)).save(path)
    return path


def _input_fn(tf, path: str, batch_size: int, key: str):
    def input_fn():
        data = tf.data.Dataset.load(path).cache()
        data = data.shuffle(N_EXAMPLES, seed=0).repeat().batch(batch_size, drop_remainder=True)
        return data.map(lambda x, y: ({key: x}, y)).prefetch(tf.data.AUTOTUNE)

    return input_fn


def _cnn(tf, E, model_dir):
    """The trainer's model_fn with its default hyperparameters (constant rate); (Estimator, batch size)."""
    from schemas import features
    from trainer import model
    from trainer.hparams import HParams

    hparams = HParams(constant_learning_rate=True, augment=False)
    params = hparams.model_params(N_EXAMPLES, [str(i) for i in range(N_CLASSES)], "fashion_mnist")
    config = E.RunConfig(tf_random_seed=0)
    return (
        E.Estimator(model.model_fn, model_dir, config=config, params=params),
        hparams.batch_size,
        features.IMAGE_KEY,
    )


def _dnn(tf, E, model_dir):
    """A v2 DNNClassifier (its default Adagrad) over the 784 pixels; (Estimator, batch size)."""
    column = tf.feature_column.numeric_column("image", shape=(IMAGE_PIXELS,))
    config = E.RunConfig(tf_random_seed=0)
    est = E.DNNClassifier(DNN_HIDDEN_UNITS, [column], model_dir=model_dir, n_classes=N_CLASSES, config=config)
    return est, DNN_BATCH_SIZE, "image"


def _session_loop(tf, input_fn, steps: int, timer) -> None:
    """The DNNClassifier's layers and learning rate (Adagrad at 0.05, its default; here
    tf.compat.v1's AdagradOptimizer, on both versions) as a plain graph, stepped `steps`
    times by Session.run, each step passed to the timer."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        v1.set_random_seed(0)
        features, labels = v1.data.make_one_shot_iterator(input_fn()).get_next()
        net = features["image"]
        for units in (*DNN_HIDDEN_UNITS, N_CLASSES):
            kernel = v1.get_variable(
                f"kernel{units}", (net.shape[-1], units), initializer=v1.glorot_uniform_initializer()
            )
            bias = v1.get_variable(f"bias{units}", (units,), initializer=v1.zeros_initializer())
            net = tf.matmul(net, kernel) + bias
            net = tf.nn.relu(net) if units != N_CLASSES else net
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=net))
        train_op = v1.train.AdagradOptimizer(0.05).minimize(loss, v1.train.get_or_create_global_step())
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            for _ in range(steps):
                session.run([train_op, loss])
                timer.after_run(None, None)


def run(runtime: str, model_name: str, steps: int, warmup: int) -> dict:
    tf, E = _runtime(runtime)
    tf.get_logger().setLevel("ERROR")
    timer = _StepTimer.make(tf, warmup)
    with tempfile.TemporaryDirectory() as work:
        data = _data(tf, os.path.join(work, "data"))
        if model_name == "session":
            batch_size = DNN_BATCH_SIZE
            _session_loop(tf, _input_fn(tf, data, batch_size, "image"), warmup + steps, timer)
        else:
            est, batch_size, key = {"cnn": _cnn, "dnn": _dnn}[model_name](tf, E, os.path.join(work, "model"))
            est.train(_input_fn(tf, data, batch_size, key), hooks=[timer], steps=warmup + steps)
    seconds = sum(timer.durations)
    return {
        "steps_per_s": len(timer.durations) / seconds,
        "steps_per_cpu_s": len(timer.durations) / timer.cpu_seconds,
        "batch_size": batch_size,
        "steps": len(timer.durations),
        "tensorflow": tf.__version__,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.estimator_worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runtime", choices=("here", "tf215"), required=True)
    parser.add_argument("--model", choices=("cnn", "dnn", "session"), required=True)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.runtime, args.model, args.steps, args.warmup)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
