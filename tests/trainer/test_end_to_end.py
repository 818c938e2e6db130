"""The main job on a small fixture: preprocess -> train -> export -> serve raw examples.

The exported model must be self-contained: the test deletes transform_fn/ before
loading it, as tf.Transform's own tests do.
"""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import estimator as tfe
from common import idx
from common.errors import ConfigError
from estimator import export_dirs
from schemas import features, jobdir, layout
from schemas.manifest import Manifest
from tests import shards
from trainer import hparams as hparams_lib
from trainer import inputs, job, model, predict, prediction, serving

pytestmark = pytest.mark.slow


def test_training_evaluates_and_exports(trained):
    _, _, result, _ = trained
    job_dir = result.job_dir
    assert result.eval["global_step"] == 30 and result.test["global_step"] == 30
    assert os.path.exists(jobdir.hparams_path(job_dir))
    latest = export_dirs.complete_exports(jobdir.export_base(job_dir, jobdir.LATEST_EXPORTER))
    assert [export_dirs.export_global_step(e) for e in latest] == [10, 20, 30]
    best = export_dirs.complete_exports(jobdir.export_base(job_dir, jobdir.BEST_EXPORTER))
    assert best == [result.export]  # exports_to_keep=1
    assert os.listdir(os.path.join(job_dir, "eval_test"))


def test_exported_model_serves_raw_examples_exactly_as_the_estimator_predicts(trained):
    input_dir, data_dir, result, hparams = trained
    transform = tft.TFTransformOutput(data_dir)
    manifest = Manifest.read(data_dir)
    estimator = tfe.Estimator(
        model.model_fn,
        result.job_dir,
        params=hparams.model_params(1000, ["c"] * 10, manifest.dataset),
    )
    test_files = manifest.shard_paths(data_dir, layout.TEST)
    expected = list(
        estimator.predict(lambda: inputs.input_fn(test_files, transform, 16, tfe.ModeKeys.PREDICT))
    )
    # Which raw record each prediction belongs to: pixels 0 and 1 hold its index (tests/idx_fixtures.py).
    stored = np.concatenate(
        [b[features.IMAGE_KEY].numpy() for b in inputs.input_fn(test_files, transform, 16, "infer")]
    )
    index = np.rint(stored[:, 0] * 255).astype(int) + 256 * np.rint(stored[:, 1] * 255).astype(int)

    latest = export_dirs.newest_export(
        jobdir.export_base(result.job_dir, jobdir.LATEST_EXPORTER)
    )  # step 30's
    transform_fn = os.path.join(data_dir, layout.TRANSFORM_FN_DIR)
    os.rename(transform_fn, transform_fn + ".away")  # serving must not need it
    try:
        loaded = tf.saved_model.load(latest)
    finally:
        os.rename(transform_fn + ".away", transform_fn)
    raw = idx.read_idx(str(next(input_dir.glob("t10k-images*"))), idx.IMAGES_NDIM)
    examples = shards.raw_examples(raw)
    served = loaded.signatures["serving_default"](examples=examples)
    np.testing.assert_array_equal(served["classes"].numpy()[index], [p["classes"] for p in expected])
    np.testing.assert_allclose(
        served["probabilities"].numpy()[index], [p["probabilities"] for p in expected], atol=1e-5
    )
    by_bytes = loaded.signatures[prediction.RAW_BYTES_SIGNATURE](
        image_raw=tf.constant([r.tobytes() for r in raw])
    )
    np.testing.assert_allclose(by_bytes["probabilities"], served["probabilities"], atol=1e-6)
    names = loaded.signatures[model.CLASSIFICATION_SIGNATURE](inputs=examples[:2])["classes"].numpy()
    assert names.shape == (2, 10) and names[0, 9] == b"Ankle boot"


def test_bad_serving_input_names_the_feature_and_the_model_keeps_serving(trained):
    input_dir, _, result, _ = trained
    loaded = tf.saved_model.load(result.export)
    serve = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature image_raw must be 784 bytes"):
        serve(examples=tf.constant([serving.raw_example(b"\0" * 783)]))
    empty = tf.train.Example().SerializeToString()
    with pytest.raises(tf.errors.InvalidArgumentError, match="image_raw"):
        serve(examples=tf.constant([empty]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="an input is not a serialized tf.Example"):
        serve(examples=tf.constant([b"these bytes are not a tf.Example"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch"):
        serve(examples=tf.constant([], tf.string))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch"):
        loaded.signatures[prediction.RAW_BYTES_SIGNATURE](image_raw=tf.constant([], tf.string))
    good = serve(examples=tf.constant([serving.raw_example(b"\0" * 784)]))
    assert good["probabilities"].shape == (1, 10)


def test_predict_command_writes_predictions_and_a_report(trained, tmp_path):
    input_dir, _, result, _ = trained
    images = str(next(input_dir.glob("t10k-images*")))
    labels = str(next(input_dir.glob("t10k-labels*")))
    output = tmp_path / "predictions.csv"
    assert (
        predict.main(
            [
                "--saved-model",
                os.path.dirname(result.export),  # the exporter's directory: the newest complete export
                "--idx-images",
                images,
                "--idx-labels",
                labels,
                "--output",
                str(output),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 60
    for row in rows:  # the three most probable classes, most probable first
        top = [float(row[f"{p}probability"]) for p in ("", "top2_", "top3_")]
        assert top == sorted(top, reverse=True) and sum(top) <= 1 + 1e-5
        assert len({row["class"], row["top2_class"], row["top3_class"]}) == 3
        assert row["top2_class_name"] == features.CLASS_NAMES["fashion_mnist"][int(row["top2_class"])]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    low, high = metrics["accuracy_ci95"]
    assert metrics["examples"] == 60 and low <= metrics["accuracy"] <= high
    assert metrics["accuracy"] == pytest.approx(np.mean([r["class"] == r["label"] for r in rows]))
    assert set(metrics["per_class"]) == set(features.CLASS_NAMES["fashion_mnist"])
    assert set(metrics["per_class"]["Ankle boot"]) == {"precision", "recall", "f1", "support"}
    assert sum(c["support"] for c in metrics["per_class"].values()) == 60
    assert {"macro_avg", "weighted_avg", "log_loss", "expected_calibration_error"} <= set(metrics)
    for name in jobdir.REPORT_FILES:
        if name.endswith(".png"):
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / jobdir.REPORT_MARKDOWN_FILE).read_text()
    assert "| 9 | Ankle boot |" in markdown and "](mistakes.png)" in markdown


def test_job_dir_of_another_model_is_refused(trained, preprocessed):
    _, _, result, _ = trained
    with pytest.raises(ConfigError, match="holds checkpoints of model 'fast', not 'vgg'"):
        job.train(preprocessed[1], result.job_dir, hparams_lib.HParams(model="vgg", train_steps=1))
