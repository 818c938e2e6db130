"""`KMeansClustering` (tf.compat.v1.estimator.experimental.KMeans of tf.estimator 2.15): k-means as an Estimator.

    kmeans = tfe.experimental.KMeans(num_clusters=3, use_mini_batch=False)
    for _ in range(10):
        kmeans.train(input_fn)          # one Lloyd iteration per batch (full-batch: the whole data)
    kmeans.cluster_centers()            # float [3, d]
    list(kmeans.predict_cluster_index(input_fn))

The input_fn gives points: a float Tensor [n, d], or a features dict (its
feature_columns through `tf.compat.v1.feature_column.input_layer`, or without
them every feature [n, d_i] concatenated in key order); no labels. Training
first chooses the initial centers (a hook runs the initialization op, one batch
at a time, before the first step; each such run counts as a global step), then
each step updates them (see `kmeans_ops`). The loss is the sum over the batch of the distance from each
point to its nearest center; evaluate() reports it as "score" (mean over
batches) and "loss". predict() gives "all_distances" (float [k] per point) and
"cluster_index" (int64); the export has signatures "serving_default" and
"cluster_index" (output "output": the index) and "all_distances". The export
holds the centers as a variable; `cluster_centers()` reads them from the
newest checkpoint ("clusters").
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from .. import export
from ..estimator import Estimator
from ..mode_keys import ModeKeys
from ..model_fn import EstimatorSpec
from . import kmeans_ops

_v1 = tf.compat.v1
_LOG = tf.get_logger()


class _LossRelativeChangeHook(_v1.train.SessionRunHook):
    """Stops training once |loss - previous loss| / (1 + |previous loss|) < tolerance."""

    def __init__(self, loss, tolerance):
        self._loss = loss
        self._tolerance = tolerance
        self._previous = None

    def before_run(self, run_context):
        return _v1.train.SessionRunArgs(self._loss)

    def after_run(self, run_context, run_values):
        loss = run_values.results
        if self._previous is not None:
            if abs(loss - self._previous) / (1 + abs(self._previous)) < self._tolerance:
                run_context.request_stop()
        self._previous = loss


class _InitializeClustersHook(_v1.train.SessionRunHook):
    """After the session starts: the chief runs the initialization op (one input
    batch per run) until the centers are initialized; other workers wait."""

    def __init__(self, init_op, initialized, is_chief):
        self._init_op = init_op
        self._initialized = initialized
        self._is_chief = is_chief

    def after_create_session(self, session, coord):
        while not session.run(self._initialized):
            if self._is_chief:
                session.run(self._init_op)
            else:
                time.sleep(1)


def _points(features, feature_columns):
    """The input points as one Tensor [n, d] (see the module docstring)."""
    if not isinstance(features, dict):
        return features
    if feature_columns:
        return _v1.feature_column.input_layer(features, list(feature_columns))
    if not features:
        raise ValueError("features is an empty dict: the input_fn gave no points")
    return tf.concat([features[key] for key in sorted(features)], axis=1)


class KMeansClustering(Estimator):
    """An Estimator for k-means clustering (tf.compat.v1.estimator.experimental.KMeans).

    With use_mini_batch=False each training step is a full Lloyd iteration on
    one batch, which should be the whole data set. With use_mini_batch=True
    each step moves the centers toward the points of its batch; every
    mini_batch_steps_per_iteration steps the updated centers replace those used
    to assign points (1: updated every step, the classic mini-batch k-means).

    Args:
      num_clusters: the number of centers (ignored when initial_clusters gives them).
      model_dir: checkpoints and summaries.
      initial_clusters: RANDOM_INIT (distinct random points of a batch; a batch
        smaller than the centers still missing is taken whole, and the rest
        come from the next batches), KMEANS_PLUS_PLUS_INIT (k-means++ on the
        first batch, which must hold num_clusters points), the centers (a
        Tensor or array [k, d]), or a callable `f(inputs, k)` returning up to k
        centers from `inputs`, a list of one batch Tensor [n, d] (called on
        successive batches until there are num_clusters).
      distance_metric: SQUARED_EUCLIDEAN_DISTANCE or COSINE_DISTANCE.
      seed: an int seed for choosing the initial centers.
      use_mini_batch: mini-batch k-means (default) or full-batch.
      mini_batch_steps_per_iteration: see above (mini-batch only).
      kmeans_plus_plus_num_retries: extra candidates drawn for each k-means++
        choice, the best kept (negative: O(log k)).
      relative_tolerance: stop training when the loss changes by less than
        this, relatively, from one step to the next (None: never).
      config: a `RunConfig`.
      feature_columns: columns turning a features dict into points; None: all
        features, concatenated in key order.

    Raises:
      ValueError: an unknown initial_clusters name or distance_metric.
    """

    SQUARED_EUCLIDEAN_DISTANCE = kmeans_ops.SQUARED_EUCLIDEAN_DISTANCE
    COSINE_DISTANCE = kmeans_ops.COSINE_DISTANCE
    RANDOM_INIT = kmeans_ops.RANDOM_INIT
    KMEANS_PLUS_PLUS_INIT = kmeans_ops.KMEANS_PLUS_PLUS_INIT
    SCORE = "score"  # evaluate(): the sum of the distances to the nearest centers
    CLUSTER_INDEX = "cluster_index"  # predict(): the nearest center's index
    ALL_DISTANCES = "all_distances"  # predict(): the distance to each center
    CLUSTER_CENTERS_VAR_NAME = kmeans_ops.CLUSTERS_VAR_NAME

    def __init__(
        self,
        num_clusters,
        model_dir=None,
        initial_clusters=RANDOM_INIT,
        distance_metric=SQUARED_EUCLIDEAN_DISTANCE,
        seed=None,
        use_mini_batch=True,
        mini_batch_steps_per_iteration=1,
        kmeans_plus_plus_num_retries=2,
        relative_tolerance=None,
        config=None,
        feature_columns=None,
    ):
        if isinstance(initial_clusters, str) and initial_clusters not in kmeans_ops.INIT_ALGORITHMS:
            raise ValueError(
                f"initial_clusters must be one of {kmeans_ops.INIT_ALGORITHMS}, centers or a callable; "
                f"found {initial_clusters!r}"
            )
        if distance_metric not in kmeans_ops.DISTANCE_METRICS:
            raise ValueError(
                f"distance_metric must be one of {kmeans_ops.DISTANCE_METRICS}, found {distance_metric!r}"
            )
        if isinstance(initial_clusters, tf.Tensor) and tf.executing_eagerly():
            initial_clusters = initial_clusters.numpy()  # an eager Tensor cannot enter the Estimator's graphs
        if isinstance(num_clusters, tf.Tensor) and tf.executing_eagerly():
            num_clusters = int(num_clusters.numpy())
        self._distance_metric = distance_metric
        settings = dict(
            num_clusters=num_clusters,
            initial_clusters=initial_clusters,
            distance_metric=distance_metric,
            use_mini_batch=use_mini_batch,
            mini_batch_steps_per_iteration=mini_batch_steps_per_iteration,
            seed=seed,
            kmeans_plus_plus_num_retries=kmeans_plus_plus_num_retries,
        )
        feature_columns = tuple(feature_columns) if feature_columns else None

        def _model_fn(features, mode, config):
            return _kmeans_model_fn(features, mode, config, settings, relative_tolerance, feature_columns)

        super().__init__(model_fn=_model_fn, model_dir=model_dir, config=config)

    def _predict_one_key(self, input_fn, key):
        for prediction in self.predict(input_fn=input_fn, predict_keys=[key]):
            yield prediction[key]

    def predict_cluster_index(self, input_fn):
        """Yields the index (int64) of the nearest center of each input point."""
        yield from self._predict_one_key(input_fn, self.CLUSTER_INDEX)

    def score(self, input_fn):
        """The sum of the distances from the points of the input's first batch to
        their nearest centers (a float; sklearn's score is its negative)."""
        return self.evaluate(input_fn=input_fn, steps=1)[self.SCORE]

    def transform(self, input_fn):
        """Yields each point's distances to all centers, float [k]: Euclidean (the
        square root of the squared distance) for SQUARED_EUCLIDEAN_DISTANCE, as
        tf.estimator did; cosine distances for COSINE_DISTANCE."""
        for distances in self._predict_one_key(input_fn, self.ALL_DISTANCES):
            if self._distance_metric == self.SQUARED_EUCLIDEAN_DISTANCE:
                yield np.sqrt(distances)
            else:
                yield distances

    def cluster_centers(self):
        """The centers, float [k, d], from the newest checkpoint.

        Raises:
          ValueError: there is no checkpoint yet.
        """
        return self.get_variable_value(self.CLUSTER_CENTERS_VAR_NAME)


def _kmeans_model_fn(features, mode, config, settings, relative_tolerance, feature_columns):
    """The KMeans model_fn: the k-means graph on the batch's points, the spec of `mode`."""
    points = tf.convert_to_tensor(_points(features, feature_columns))
    graph = kmeans_ops.KMeansGraph(points, **settings)
    training_hooks = []
    train_op = None
    if mode == ModeKeys.TRAIN:
        training, (distances, index, nearest) = graph.training_op()
        loss = tf.reduce_sum(nearest)
        # The step counts only once the update ran (not when the input ends mid-run).
        with tf.control_dependencies([training]):
            step = _v1.assign_add(_v1.train.get_global_step(), 1)
        with tf.control_dependencies([step]):
            train_op = tf.identity(loss)
        # Each initialization run takes a batch and counts as a step, so that a train() call whose
        # input ends after initializing still saves the initial centers in its final checkpoint.
        with tf.control_dependencies([graph.init_op()]):
            init_op = _v1.assign_add(_v1.train.get_global_step(), 1)
        training_hooks.append(_InitializeClustersHook(init_op, graph.initialized, config.is_chief))
        if relative_tolerance is not None:
            training_hooks.append(_LossRelativeChangeHook(loss, relative_tolerance))
    else:
        distances, index, nearest = graph.inference()
        loss = tf.reduce_sum(nearest)
    _v1.summary.scalar("loss/raw", loss)
    predictions = {KMeansClustering.ALL_DISTANCES: distances, KMeansClustering.CLUSTER_INDEX: index}
    return EstimatorSpec(
        mode=mode,
        predictions=predictions,
        loss=loss,
        train_op=train_op,
        eval_metric_ops={KMeansClustering.SCORE: _v1.metrics.mean(loss)} if mode == ModeKeys.EVAL else None,
        training_hooks=training_hooks,
        export_outputs={
            KMeansClustering.ALL_DISTANCES: export.PredictOutput(distances),
            KMeansClustering.CLUSTER_INDEX: export.PredictOutput(index),
            tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: export.PredictOutput(index),
        },
    )
