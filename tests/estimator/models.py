"""Tiny model_fns, inputs and configs for the Estimator runtime's tests."""

import numpy as np
import tensorflow as tf

import estimator as tfe

v1 = tf.compat.v1


def linear_data(n=256, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 4).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32) > 0).astype(np.int64)
    return x, y


def train_input_fn(batch_size=32):
    x, y = linear_data()
    return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).repeat().batch(batch_size)


def eval_input_fn(batches=4, batch_size=32):
    x, y = linear_data(seed=1)
    return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(batch_size).take(batches)


def predict_input_fn(n=10):
    x, _ = linear_data(n, seed=2)
    return tf.data.Dataset.from_tensor_slices({"x": x}).batch(4)


def linear_model_fn(features, labels, mode, params):
    logits = v1.layers.dense(features["x"], 2, name="logits")
    classes = tf.argmax(logits, 1)
    predictions = {"classes": classes, "probabilities": tf.nn.softmax(logits), "logits": logits}
    if mode == tfe.ModeKeys.PREDICT:
        return tfe.EstimatorSpec(
            mode,
            predictions=predictions,
            export_outputs={
                "serving_default": tfe.export.PredictOutput(predictions),
            },
        )
    loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == tfe.ModeKeys.EVAL:
        return tfe.EstimatorSpec(
            mode, loss=loss, eval_metric_ops={"accuracy": v1.metrics.accuracy(labels, classes)}
        )
    optimizer = v1.train.AdamOptimizer(params.get("learning_rate", 0.05))
    return tfe.EstimatorSpec(
        mode, loss=loss, train_op=optimizer.minimize(loss, global_step=v1.train.get_global_step())
    )


def raw_receiver_fn():
    return tfe.export.build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 4])})()


def config(**kwargs):
    kwargs.setdefault("save_checkpoints_steps", 1000)
    kwargs.setdefault("log_step_count_steps", 50)
    return tfe.RunConfig(**kwargs)


def seeded_config(**kwargs):
    """A RunConfig with seed 1 that logs no steps and saves a checkpoint only when training ends."""
    return tfe.RunConfig(tf_random_seed=1, save_checkpoints_steps=10_000, log_step_count_steps=None, **kwargs)


def make_estimator(model_dir, model_fn=linear_model_fn, params=None, **settings):
    """An Estimator of model_fn (default: the linear model) in model_dir, configured by `config(**settings)`."""
    return tfe.Estimator(model_fn, str(model_dir), config=config(**settings), params=params or {})


def stack_predictions(predictions):
    """The dicts predict() yields, one per example, as one dict of stacked numpy arrays."""
    return {key: np.stack([p[key] for p in predictions]) for key in predictions[0]}
