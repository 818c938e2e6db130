"""python -m estimator.inspect: step 0 of a migration, on model dirs written by tf.estimator 2.15.

From files alone (nothing built, nothing written) it tells the kind of estimator, the
checkpoint format, the global step and the exports; with --estimator it builds the
training graph and lists what will and will not restore, exiting 1 on a dir that would
restore only in part.
"""

import io
import os
import shutil

import pytest
import tensorflow as tf

from estimator import inspect as inspect_lib
from tests.estimator.test_tf215_model_dirs import RT, copy_model_dir
from tests.fixtures.tf215 import kinds

FIXTURES = os.path.dirname(os.path.abspath(kinds.__file__))


def _fixture(name):
    return os.path.join(FIXTURES, name, "model_dir")


def _run(*argv):
    out = io.StringIO()
    status = inspect_lib.main(list(argv), out=out)
    return status, out.getvalue()


def dnn_factory(model_dir):
    """The dnn_classifier kind as its trainer makes it, with its training input_fn."""
    kind = kinds.KINDS["dnn_classifier"]
    return kind.build(RT, model_dir), kinds.input_fn(RT, kind, "train")


def grown_dnn_factory(model_dir):
    """The same DNN after a change of its network: a third hidden layer."""
    kind = kinds.KINDS["dnn_classifier"]
    est = RT.estimator.DNNClassifier(
        hidden_units=[8, 4, 2], feature_columns=kinds.dense_columns(RT), n_classes=3, model_dir=model_dir
    )
    return est, kinds.input_fn(RT, kind, "train")


@pytest.mark.parametrize(
    "name, format_, kind, optimizer",
    [
        ("dnn_classifier", "name-based", "tf.estimator.DNN{Classifier", "Adagrad"),
        ("v1_linear_classifier", "name-based", "tf.compat.v1.estimator.Linear{Classifier", "Ftrl"),
        ("dnn_linear_combined_classifier", "name-based", "tf.estimator.DNNLinearCombined{", "Adagrad, Ftrl"),
        ("rnn_classifier", "name-based", "tf.estimator.experimental.RNN{", "Adagrad"),
        (
            "keras_checkpoint",
            "object-based",
            "model_to_estimator, checkpoint_format='checkpoint'",
            "tf.keras",
        ),
        ("keras_saver", "name-based", "model_to_estimator, checkpoint_format='saver'", "Adam"),
        ("custom_v1_layers", "name-based", "a custom model_fn", "Adam"),
    ],
)
def test_files_alone_tell_the_kind_format_and_step(name, format_, kind, optimizer):
    report = inspect_lib.inspect_model_dir(_fixture(name))
    assert report["format"] == format_
    assert report["global_step"] == kinds.TRAIN_STEPS
    assert report["looks_like"].startswith(kind), report["looks_like"]
    assert report["optimizer"].startswith(optimizer), report["optimizer"]
    assert report["latest"] == os.path.join(_fixture(name), "model.ckpt-30")


def test_exports_and_a_state_file_of_another_place_are_reported(tmp_path):
    report = inspect_lib.inspect_model_dir(_fixture("dnn_classifier"))
    (export,) = report["exports"]
    assert export["exporter"] == "best" and export["complete"]
    assert export["meta_graphs"] == [
        {"tags": ["serve"], "signatures": ["classification", "predict", "serving_default"]}
    ]
    report = inspect_lib.inspect_model_dir(_fixture("keras_checkpoint"))
    assert any(
        "/mnt/old-machine/models/keras_checkpoint/model_dir/model.ckpt-30" in n for n in report["notes"]
    )


def test_it_writes_nothing(tmp_path):
    model_dir = copy_model_dir("keras_checkpoint", tmp_path)
    before = {p: os.stat(os.path.join(model_dir, p)).st_mtime_ns for p in os.listdir(model_dir)}
    status, text = _run("--model-dir", model_dir)
    assert status == 0 and "format: object-based" in text
    assert {p: os.stat(os.path.join(model_dir, p)).st_mtime_ns for p in os.listdir(model_dir)} == before


def test_with_the_estimator_a_dir_that_restores_whole_exits_0(tmp_path):
    model_dir = copy_model_dir("dnn_classifier", tmp_path)
    status, text = _run("--model-dir", model_dir, "--estimator", f"{__name__}:dnn_factory")
    assert status == 0, text
    assert "  restores: dnn/logits/kernel" in text and "MISSING" not in text
    assert "result: restores whole" in text


def test_with_the_estimator_a_dir_that_would_restore_in_part_exits_1(tmp_path):
    model_dir = copy_model_dir("dnn_classifier", tmp_path)
    status, text = _run("--model-dir", model_dir, "--estimator", f"{__name__}:grown_dnn_factory")
    assert status == 1
    assert "  MISSING: dnn/hiddenlayer_2/kernel" in text and "  MISSING: dnn/hiddenlayer_2/bias" in text
    assert "  MISMATCHED: dnn/logits/kernel [4, 3] in the checkpoint, [2, 3] in the graph" in text
    assert "  restores: dnn/hiddenlayer_1/kernel" in text
    assert "result: restores in part: this runtime refuses it" in text


def test_errors_are_one_line(tmp_path, capsys):
    assert _run("--model-dir", str(tmp_path / "nope"))[0] == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope'}: not a directory"
    model_dir = str(tmp_path / "empty")
    shutil.copytree(_fixture("dnn_classifier"), model_dir)
    assert _run("--model-dir", model_dir, "--estimator", "no_such_module:f")[0] == 1
    assert capsys.readouterr().err.startswith("error: --estimator no_such_module:f: cannot import")
    assert _run("--model-dir", model_dir, "--estimator", f"{__name__}:not_an_estimator")[0] == 1
    assert capsys.readouterr().err.strip() == "error: the factory returned dict, not an Estimator"
    assert _run("--model-dir", model_dir, "--estimator", f"{__name__}:no_such_factory")[0] == 1
    assert "has no 'no_such_factory'" in capsys.readouterr().err


def not_an_estimator():
    return {}


def test_an_empty_dir_has_no_checkpoint(tmp_path):
    report = inspect_lib.inspect_model_dir(str(tmp_path))
    assert report["latest"] is None and report["format"] is None
    assert tf.io.gfile.listdir(str(tmp_path)) == []
