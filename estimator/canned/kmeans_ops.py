"""The k-means graph of `KMeans`, from public TensorFlow ops (tf.math, tf.random, scatter updates).

tf.estimator 2.15 built it with TensorFlow's private clustering ops; this is
the same algorithm:

- Variables (the names of tf.estimator's checkpoints): "clusters" (the centers,
  [num_clusters, d]; empty until initialized, so of unknown static shape),
  "initialized" (bool), and for mini-batch training "Variable" (int64 counts of
  the points assigned to each center) and, with mini_batch_steps_per_iteration
  > 1, "clusters_updated" (the copy updated each step) and "update_in_steps".
- Initialization: `init_op` adds up to the missing number of centers from the
  current batch (random points, k-means++, a callable's choice, or given
  centers); it runs until "initialized" is true, one batch at a time.
- Full-batch training: every center moves to the mean of its points (a center
  without points goes to the origin, as in tf.estimator).
- Mini-batch training: a center with count n and k new points d_i moves by
  (sum(d_i) - k * center) / (n + k).
- Cosine distance works on l2-normalized points; centers are kept normalized
  in full-batch training and when mini_batch_steps_per_iteration > 1, and are
  normalized when read otherwise.
"""

from __future__ import annotations

import tensorflow as tf

_v1 = tf.compat.v1

SQUARED_EUCLIDEAN_DISTANCE = "squared_euclidean"
COSINE_DISTANCE = "cosine"
RANDOM_INIT = "random"
KMEANS_PLUS_PLUS_INIT = "kmeans_plus_plus"
CLUSTERS_VAR_NAME = "clusters"

DISTANCE_METRICS = (SQUARED_EUCLIDEAN_DISTANCE, COSINE_DISTANCE)
INIT_ALGORITHMS = (RANDOM_INIT, KMEANS_PLUS_PLUS_INIT)


def pairwise_distances(points, centers, distance_metric):
    """float [n, k]: the distance from each point to each center.

    Squared Euclidean: ||p||^2 - 2 p.c + ||c||^2, at least 0. Cosine: 1 - p.c
    (both l2-normalized already).
    """
    if distance_metric == COSINE_DISTANCE:
        return 1.0 - tf.matmul(points, centers, transpose_b=True)
    squared = (
        tf.reduce_sum(tf.square(points), axis=1, keepdims=True)
        - 2.0 * tf.matmul(points, centers, transpose_b=True)
        + tf.transpose(tf.reduce_sum(tf.square(centers), axis=1, keepdims=True))
    )
    return tf.maximum(squared, 0.0)


class KMeansGraph:
    """Builds the k-means variables and ops on one batch of points.

    Args:
      points: float [n, d] Tensor, a batch of input points.
      num_clusters: the number of centers (an int or int scalar Tensor); ignored
        when initial_clusters gives the centers.
      initial_clusters: RANDOM_INIT, KMEANS_PLUS_PLUS_INIT, centers (a Tensor or
        array [k, d]) or a callable `f(inputs, k)` returning up to k centers
        ([m, d], m <= k) from `inputs`, a list holding the batch Tensor (as
        tf.estimator passed it).
      distance_metric: SQUARED_EUCLIDEAN_DISTANCE or COSINE_DISTANCE.
      use_mini_batch: mini-batch updates (else one full-batch Lloyd step per run).
      mini_batch_steps_per_iteration: steps between copies of the updated
        centers into "clusters".
      seed: an int seed for the random choices, or None.
      kmeans_plus_plus_num_retries: extra candidates per k-means++ choice
        (negative: O(log k) of them).

    Raises:
      ValueError: an unknown initial_clusters name or distance_metric.
    """

    def __init__(
        self,
        points,
        num_clusters,
        initial_clusters=RANDOM_INIT,
        distance_metric=SQUARED_EUCLIDEAN_DISTANCE,
        use_mini_batch=False,
        mini_batch_steps_per_iteration=1,
        seed=None,
        kmeans_plus_plus_num_retries=2,
    ):
        if isinstance(initial_clusters, str) and initial_clusters not in INIT_ALGORITHMS:
            raise ValueError(f"initial_clusters must be one of {INIT_ALGORITHMS}, found {initial_clusters!r}")
        if distance_metric not in DISTANCE_METRICS:
            raise ValueError(f"distance_metric must be one of {DISTANCE_METRICS}, found {distance_metric!r}")
        self._points = points
        self._metric = distance_metric
        self._use_mini_batch = use_mini_batch
        self._steps_per_iteration = int(mini_batch_steps_per_iteration)
        self._seed = seed
        self._retries = kmeans_plus_plus_num_retries
        if isinstance(initial_clusters, str) or callable(initial_clusters):
            self._initial_clusters = initial_clusters
            self._num_clusters = tf.convert_to_tensor(num_clusters, dtype=tf.int32)
        else:
            self._initial_clusters = tf.cast(tf.convert_to_tensor(initial_clusters), points.dtype)
            self._num_clusters = tf.shape(self._initial_clusters)[0]
        self._create_variables()

    @property
    def _keeps_normalized_centers(self) -> bool:
        return self._metric == COSINE_DISTANCE and (not self._use_mini_batch or self._steps_per_iteration > 1)

    @property
    def _has_update_copy(self) -> bool:
        return self._use_mini_batch and self._steps_per_iteration > 1

    def _create_variables(self):
        dtype = self._points.dtype
        empty = _v1.placeholder_with_default(tf.zeros([0], dtype), shape=None)
        self.clusters = _v1.Variable(empty, name=CLUSTERS_VAR_NAME, validate_shape=False)
        self.initialized = _v1.Variable(False, dtype=tf.bool, name="initialized")
        self._counts = None
        self._update_in_steps = None
        self._clusters_updated = self.clusters
        if self._has_update_copy:
            self._clusters_updated = _v1.Variable(empty, name="clusters_updated", validate_shape=False)
            self._update_in_steps = _v1.Variable(
                self._steps_per_iteration, dtype=tf.int64, name="update_in_steps"
            )
            self._counts = _v1.Variable(
                tf.zeros(tf.reshape(self._num_clusters, [1]), tf.int64), name="Variable"
            )
        elif self._use_mini_batch:
            self._counts = _v1.Variable(
                tf.ones(tf.reshape(self._num_clusters, [1]), tf.int64), name="Variable"
            )

    def _normalized_points(self):
        if self._metric == COSINE_DISTANCE:
            return tf.math.l2_normalize(self._points, axis=1)
        return self._points

    def _centers_for_inference(self, centers):
        if self._metric == COSINE_DISTANCE and not self._keeps_normalized_centers:
            return tf.math.l2_normalize(centers, axis=1)
        return centers

    def inference(self):
        """(all_distances float [n, k], cluster_index int64 [n], distance to the
        nearest center float [n]) of the batch, with the current centers."""
        centers = self._centers_for_inference(self.clusters.read_value())
        return self._assign(self._normalized_points(), centers)

    def _assign(self, points, centers):
        distances = pairwise_distances(points, centers, self._metric)
        index = tf.argmin(distances, axis=1, output_type=tf.int64)
        nearest = tf.reduce_min(distances, axis=1)
        return distances, index, nearest

    # ----------------------------------------------------------- initialization
    def init_op(self):
        """An op adding centers from this batch until there are num_clusters of them;
        once there are, it checks that "initialized" is true."""
        num_selected = tf.shape(self.clusters)[0]
        remaining = self._num_clusters - num_selected
        return tf.cond(
            tf.equal(remaining, 0),
            lambda: tf.group(_v1.assert_equal(self.initialized, True)),
            lambda: self._add_centers(num_selected, remaining),
        )

    def _add_centers(self, num_selected, remaining):
        with tf.control_dependencies([_v1.assert_positive(remaining)]):
            new_centers = self._choose_centers(remaining)
        if self._metric == COSINE_DISTANCE:
            new_centers = tf.math.l2_normalize(new_centers, axis=1)
        all_centers = tf.cond(
            tf.equal(num_selected, 0),
            lambda: new_centers,
            lambda: tf.concat([self.clusters.read_value(), new_centers], 0),
        )
        assigned = _v1.assign(self.clusters, all_centers, validate_shape=False)
        if self._has_update_copy:
            assigned = _v1.assign(self._clusters_updated, assigned, validate_shape=False)
        now_remaining = self._num_clusters - tf.shape(assigned)[0]
        return tf.cond(
            tf.equal(now_remaining, 0),
            lambda: tf.group(_v1.assign(self.initialized, True)),
            tf.no_op,
        )

    def _choose_centers(self, remaining):
        initial = self._initial_clusters
        points = self._points
        num_points = tf.shape(points)[0]
        if isinstance(initial, str) and initial == RANDOM_INIT:
            # A batch no larger than the centers still missing is taken whole.
            return tf.cond(num_points <= remaining, lambda: points, lambda: self._random_points(remaining))
        if isinstance(initial, str):  # KMEANS_PLUS_PLUS_INIT: all from this batch
            check = _v1.assert_greater_equal(
                num_points,
                remaining,
                message="k-means++ initialization needs a batch of at least num_clusters points",
            )
            with tf.control_dependencies([check]):
                return self._kmeans_plus_plus(remaining)
        if callable(initial):
            return tf.cast(initial([points], remaining), points.dtype)
        check = _v1.assert_equal(
            remaining, tf.shape(initial)[0], message="initial_clusters must hold num_clusters centers"
        )
        with tf.control_dependencies([check]):
            return tf.identity(initial)

    def _random_points(self, count):
        """`count` distinct points of the batch, chosen uniformly."""
        order = tf.random.shuffle(tf.range(tf.shape(self._points)[0]), seed=self._seed)
        return tf.gather(self._points, order[:count])

    def _kmeans_plus_plus(self, count):
        points = self._normalized_points()
        if self._seed is not None:
            seed = tf.constant(self._seed, tf.int64)
        else:  # a seed drawn from the graph's random state (set by RunConfig.tf_random_seed)
            seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64)
        return tf.raw_ops.KmeansPlusPlusInitialization(
            points=points,
            num_to_sample=tf.cast(count, tf.int64),
            seed=seed,
            num_retries_per_sample=tf.constant(self._retries, tf.int64),
        )

    # ----------------------------------------------------------------- training
    def training_op(self):
        """(train op, cluster distances of the batch as `inference` returns them):
        one full-batch Lloyd step, or one mini-batch step."""
        sync = self._sync_op() if self._has_update_copy else tf.no_op()
        with tf.control_dependencies([sync]):
            centers = self._centers_for_inference(self.clusters.read_value())
        points = self._normalized_points()
        distances, index, nearest = self._assign(points, centers)
        if self._use_mini_batch:
            with tf.control_dependencies([sync]):
                train = self._mini_batch_update(points, index)
        else:
            train = self._full_batch_update(points, index)
        return train, (distances, index, nearest)

    def _full_batch_update(self, points, index):
        sums = tf.math.unsorted_segment_sum(points, index, self._num_clusters)
        ones = tf.ones([tf.shape(points)[0], 1], points.dtype)
        counts = tf.math.unsorted_segment_sum(ones, index, self._num_clusters)
        new_centers = sums / (counts + tf.constant(1e-6, points.dtype))
        if self._keeps_normalized_centers:
            new_centers = tf.math.l2_normalize(new_centers, axis=1)
        return _v1.assign(self.clusters, new_centers, validate_shape=False).op

    def _mini_batch_update(self, points, index):
        target = self._clusters_updated
        unique_ids, unique_index = tf.unique(index)
        num_unique = tf.size(unique_ids)
        old_counts = tf.gather(self._counts.read_value(), unique_ids)
        old_centers = tf.gather(target.read_value(), unique_ids)
        new_counts = tf.math.unsorted_segment_sum(
            tf.ones_like(unique_index, dtype=tf.int64), unique_index, num_unique
        )
        sums = tf.math.unsorted_segment_sum(points, unique_index, num_unique)
        k = tf.cast(tf.expand_dims(new_counts, 1), points.dtype)
        rate = tf.math.reciprocal(tf.cast(tf.expand_dims(old_counts + new_counts, 1), points.dtype))
        delta = (sums - k * old_centers) * rate
        return tf.group(
            _v1.scatter_add(self._counts, unique_ids, new_counts),
            _v1.scatter_add(target, unique_ids, delta),
        )

    def _sync_op(self):
        """Every mini_batch_steps_per_iteration steps: "clusters" := the updated
        copy (normalized for cosine) and the counts reset; else a countdown."""

        def sync():
            reset = _v1.assign(self._update_in_steps, self._steps_per_iteration - 1)
            with tf.control_dependencies([reset]):
                updated = self._clusters_updated.read_value()
                if self._metric == COSINE_DISTANCE:
                    updated = tf.math.l2_normalize(updated, axis=1)
                copied = _v1.assign(self.clusters, updated, validate_shape=False)
            with tf.control_dependencies([copied]):
                cleared = _v1.assign(self._counts, tf.zeros_like(self._counts))
            with tf.control_dependencies([cleared]):
                return tf.identity(self._update_in_steps.read_value())

        return tf.cond(
            self._update_in_steps <= 0,
            sync,
            lambda: tf.identity(_v1.assign_sub(self._update_in_steps, 1)),
        )
