"""tfe.experimental.KMeans on well-separated blobs: recovering the centers (full-batch and
mini-batch), one Lloyd step checked against numpy, the initializations, cosine distance,
relative_tolerance, tf.estimator 2.15's keys, and the export."""

import numpy as np
import pytest
import tensorflow as tf

import estimator as tfe
from tests.estimator import models

KMeans = tfe.experimental.KMeans
CENTERS = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0], [10.0, -10.0]], np.float32)


def _blobs(n=400, seed=0):
    rng = np.random.RandomState(seed)
    members = rng.randint(0, len(CENTERS), n)
    return (CENTERS[members] + rng.randn(n, 2)).astype(np.float32), members


POINTS, MEMBERS = _blobs()


def _whole(points=POINTS):
    """One batch of all the points, as a features dict (one epoch)."""
    return lambda: tf.data.Dataset.from_tensors({"x": points})


def _mini_batches(batch_size=50):
    return lambda: tf.data.Dataset.from_tensor_slices(POINTS).shuffle(400, seed=0).repeat().batch(batch_size)


BLOB_MEANS = np.stack([POINTS[MEMBERS == k].mean(0) for k in range(len(CENTERS))])


def _distance_to_truth(found):
    """The largest distance from a blob's mean (the optimal center) to the nearest found center."""
    return float(np.sqrt(((found[:, None, :] - BLOB_MEANS[None]) ** 2).sum(-1)).min(0).max())


@pytest.fixture(scope="module")
def full_batch(tmp_path_factory):
    km = KMeans(
        num_clusters=4,
        model_dir=str(tmp_path_factory.mktemp("kmeans")),
        initial_clusters=KMeans.KMEANS_PLUS_PLUS_INIT,
        use_mini_batch=False,
        seed=3,
        config=models.seeded_config(),
    )
    for _ in range(5):
        km.train(_whole())
    return km


def test_full_batch_recovers_the_centers_with_tf_estimator_keys(full_batch):
    centers = full_batch.cluster_centers()
    assert centers.shape == (4, 2)
    assert _distance_to_truth(centers) < 1e-3
    metrics = full_batch.evaluate(_whole(), steps=1)
    assert set(metrics) == {"score", "loss", "global_step"}
    # The first call's one batch went to choosing the centers (a step), the other four to Lloyd steps.
    assert metrics["global_step"] == 5
    # The score: the sum of squared distances to the nearest center, ~ n * d * variance.
    nearest = ((POINTS[:, None, :] - centers[None]) ** 2).sum(-1).min(1)
    assert metrics["score"] == pytest.approx(float(nearest.sum()), rel=1e-4)
    assert full_batch.score(_whole()) == pytest.approx(metrics["score"], rel=1e-6)
    assert 600 < metrics["score"] < 1000
    predictions = list(full_batch.predict(_whole(POINTS[:20])))
    assert set(predictions[0]) == {"all_distances", "cluster_index"}
    assert predictions[0]["all_distances"].shape == (4,)
    indices = np.array(list(full_batch.predict_cluster_index(_whole(POINTS[:20]))))
    assert indices.dtype == np.int64
    # The found cluster of each point is the one nearest its true center.
    true_to_found = np.sqrt(((CENTERS[:, None, :] - centers[None]) ** 2).sum(-1)).argmin(1)
    assert indices.tolist() == true_to_found[MEMBERS[:20]].tolist()
    # transform(): Euclidean distances (the square root of all_distances).
    transformed = np.stack(list(full_batch.transform(_whole(POINTS[:20]))))
    expected = np.sqrt(((POINTS[:20, None, :] - centers[None]) ** 2).sum(-1))
    np.testing.assert_allclose(transformed, expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(transformed**2, np.stack([p["all_distances"] for p in predictions]), rtol=1e-4)


def test_export_serves_cluster_indices(full_batch, tmp_path):
    receiver = tfe.export.build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 2])})
    path = full_batch.export_saved_model(str(tmp_path), receiver)
    loaded = tf.saved_model.load(path.decode())
    assert set(loaded.signatures) == {"serving_default", "cluster_index", "all_distances"}
    expected = np.array(list(full_batch.predict_cluster_index(_whole(POINTS[:20]))))
    served = loaded.signatures["serving_default"](x=tf.constant(POINTS[:20]))
    assert served["output"].numpy().tolist() == expected.tolist()
    distances = loaded.signatures["all_distances"](x=tf.constant(POINTS[:20]))["output"].numpy()
    assert distances.shape == (20, 4)
    assert distances.argmin(1).tolist() == expected.tolist()


@pytest.mark.parametrize("steps_per_iteration", [1, 4])
def test_mini_batch_recovers_the_centers(tmp_path, steps_per_iteration):
    km = KMeans(
        4,
        model_dir=str(tmp_path),
        initial_clusters=KMeans.KMEANS_PLUS_PLUS_INIT,
        mini_batch_steps_per_iteration=steps_per_iteration,
        seed=3,
        config=models.seeded_config(),
    )
    km.train(_mini_batches(), steps=60)
    assert _distance_to_truth(km.cluster_centers()) < 0.5
    names = set(km.get_variable_names())
    assert {"clusters", "initialized", "Variable", "global_step"} <= names  # tf.estimator's names
    assert ("clusters_updated" in names) == (steps_per_iteration > 1)


def test_one_lloyd_step_from_given_centers_matches_numpy(tmp_path):
    points = np.random.RandomState(1).randn(60, 3).astype(np.float32)
    start = points[:3].copy()
    km = KMeans(
        3,
        model_dir=str(tmp_path),
        initial_clusters=start,
        use_mini_batch=False,
        config=models.seeded_config(),
    )
    km.train(lambda: tf.data.Dataset.from_tensors(points))
    members = ((points[:, None, :] - start[None]) ** 2).sum(-1).argmin(1)
    expected = np.stack([points[members == k].mean(0) for k in range(3)])
    np.testing.assert_allclose(km.cluster_centers(), expected, rtol=1e-4, atol=1e-5)


def test_mini_batch_step_matches_numpy(tmp_path):
    """With counts starting at 1: center += (sum of its k points - k * center) / (1 + k)."""
    points = np.random.RandomState(2).randn(40, 2).astype(np.float32)
    start = np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32)
    km = KMeans(2, model_dir=str(tmp_path), initial_clusters=start, config=models.seeded_config())
    km.train(lambda: tf.data.Dataset.from_tensors(points), steps=1)
    members = ((points[:, None, :] - start[None]) ** 2).sum(-1).argmin(1)
    expected = np.stack(
        [
            start[k]
            + (points[members == k].sum(0) - (members == k).sum() * start[k]) / (1 + (members == k).sum())
            for k in range(2)
        ]
    )
    np.testing.assert_allclose(km.cluster_centers(), expected, rtol=1e-4, atol=1e-5)


def test_random_and_callable_initialization_take_input_points(tmp_path):
    # Batches of 2 points and 3 centers: random initialization takes two batches.
    km = KMeans(3, model_dir=str(tmp_path / "random"), seed=5, config=models.seeded_config())
    km.train(lambda: tf.data.Dataset.from_tensor_slices(POINTS[:6]).batch(2), steps=1)
    assert km.get_variable_value("initialized")
    centers = km.get_variable_value("clusters")
    assert centers.shape == (3, 2)

    def first_points(inputs, k):  # tf.estimator passed a list of the batch Tensor
        return inputs[0][:k]

    km = KMeans(
        2,
        model_dir=str(tmp_path / "callable"),
        initial_clusters=first_points,
        use_mini_batch=False,
        config=models.seeded_config(),
    )
    km.train(lambda: tf.data.Dataset.from_tensors(POINTS[:2]))
    np.testing.assert_allclose(km.cluster_centers(), POINTS[:2], rtol=1e-5)  # one point each: they stay


def test_cosine_distance_clusters_directions(tmp_path):
    rng = np.random.RandomState(3)
    angles = np.concatenate([rng.normal(0.0, 0.05, 50), rng.normal(np.pi / 2, 0.05, 50)])
    radii = rng.uniform(1, 20, 100)
    points = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32) * radii[:, None].astype(
        np.float32
    )
    km = KMeans(
        2,
        model_dir=str(tmp_path),
        initial_clusters=KMeans.KMEANS_PLUS_PLUS_INIT,
        distance_metric=KMeans.COSINE_DISTANCE,
        use_mini_batch=False,
        seed=1,
        config=models.seeded_config(),
    )
    for _ in range(3):
        km.train(lambda: tf.data.Dataset.from_tensors(points))
    centers = km.cluster_centers()
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 1.0, rtol=1e-5)  # kept normalized
    directions = sorted(np.round(np.arctan2(centers[:, 1], centers[:, 0]), 1).tolist())
    assert directions == pytest.approx([0.0, np.pi / 2], abs=0.1)
    distances = next(km.transform(lambda: tf.data.Dataset.from_tensors(points[:1])))
    unit = points[0] / np.linalg.norm(points[0])
    np.testing.assert_allclose(distances, 1 - centers @ unit, atol=1e-5)  # cosine: no square root


def test_relative_tolerance_stops_training(tmp_path):
    km = KMeans(
        4,
        model_dir=str(tmp_path),
        initial_clusters=KMeans.KMEANS_PLUS_PLUS_INIT,
        use_mini_batch=False,
        relative_tolerance=1e-3,
        seed=3,
        config=models.seeded_config(),
    )
    km.train(lambda: tf.data.Dataset.from_tensors(POINTS).repeat(), steps=50)
    assert 2 <= km.get_variable_value("global_step") < 50


def test_argument_checks():
    with pytest.raises(ValueError, match="initial_clusters"):
        KMeans(2, initial_clusters="kmc2")
    with pytest.raises(ValueError, match="distance_metric"):
        KMeans(2, distance_metric="manhattan")
    assert (KMeans.SCORE, KMeans.CLUSTER_INDEX, KMeans.ALL_DISTANCES) == (
        "score",
        "cluster_index",
        "all_distances",
    )
    assert (KMeans.RANDOM_INIT, KMeans.KMEANS_PLUS_PLUS_INIT) == ("random", "kmeans_plus_plus")
    assert (KMeans.SQUARED_EUCLIDEAN_DISTANCE, KMeans.COSINE_DISTANCE) == ("squared_euclidean", "cosine")
    assert KMeans.CLUSTER_CENTERS_VAR_NAME == "clusters"
