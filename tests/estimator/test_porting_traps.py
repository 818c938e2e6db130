"""Porting traps outside the Estimator API, and their fixes (docs/estimator.md, "Porting traps").

- pandas >= 3 copy-on-write: a chained `df[c].replace(..., inplace=True)` changes a copy, not
  df, so a tutorial's label conversion silently does nothing and training gets string labels;
- a 2.15 export whose serving input is named `class` (a Python keyword): TensorFlow 2.21's
  tf.saved_model.load refuses it; the TF1 loader serves it as it is, and a re-export from the
  2.15 checkpoint with safe input names loads in TF 2 (the export is a real one that
  tf.estimator 2.15 wrote: tests/fixtures/tf215/keyword_inputs/, record_traps.py).
"""

import json
import pathlib
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import estimator as tfe
from tests.estimator.logs import tf_log
from tests.fixtures.tf215 import keyword_model

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf215" / "keyword_inputs"
NS = types.SimpleNamespace(tf=tf, E=tfe)


def _bank_data():
    return pd.DataFrame({"age": [25.0, 40.0, 61.0, 33.0], "y": ["no", "yes", "yes", "no"]})


def test_a_chained_inplace_replace_no_longer_changes_the_dataframe_and_the_fix_does():
    assert int(pd.__version__.split(".")[0]) >= 3  # the trap exists from pandas 3 on
    data = _bank_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns of the chained assignment (ChainedAssignmentError)
        data["y"].replace(["yes", "no"], [1, 0], inplace=True)  # the tutorial's line
    assert data["y"].tolist() == ["no", "yes", "yes", "no"]  # unchanged: it replaced in a copy

    columns = [tf.feature_column.numeric_column("age")]
    est = tfe.LinearClassifier(columns)
    trap = tfe.inputs.pandas_input_fn(data[["age"]], data["y"], shuffle=False)
    with pytest.raises(ValueError, match="labels are strings"):
        est.train(trap, steps=1)

    # The fix: assign the result (pandas 3 keeps replace()'s result an object column: map, or astype).
    data["y"] = data["y"].map({"yes": 1, "no": 0})
    assert data["y"].tolist() == [0, 1, 1, 0] and data["y"].dtype == np.int64
    est.train(tfe.inputs.pandas_input_fn(data[["age"]], data["y"], shuffle=False), steps=1)
    assert est.get_variable_value("global_step") == 1


def _export_dir() -> str:
    (export,) = (FIXTURE / "export").iterdir()
    return str(export)


def _expected():
    return np.array(json.loads((FIXTURE / "predictions.json").read_text())["probabilities"])


def test_tf_saved_model_load_refuses_a_2_15_export_with_a_keyword_input_name():
    with pytest.raises(ValueError, match="'class' is not a valid parameter name"):
        tf.saved_model.load(_export_dir())


def test_the_tf1_loader_serves_the_old_export_as_it_is():
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], _export_dir())
        signature = meta_graph.signature_def["serving_default"]
        feeds = {signature.inputs[name].name: value for name, value in keyword_model.FEATURES.items()}
        served = session.run(signature.outputs["probabilities"].name, feeds)
    np.testing.assert_allclose(served, _expected(), atol=1e-6)


def test_a_re_export_from_the_2_15_checkpoint_with_safe_input_names_loads_in_tf2(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for path in (FIXTURE / "model").iterdir():
        (model_dir / path.name).write_bytes(path.read_bytes())
    est = tfe.Estimator(keyword_model.model_fn_for(NS), str(model_dir))
    with tf_log() as messages:  # the export as 2.15 made it: this runtime warns of the keyword
        est.export_saved_model(str(tmp_path / "same"), keyword_model.receiver_fn_for(NS))
    assert any("signature inputs ['class'] are no Python identifiers" in m for m in messages)

    # The fix: the signature input "class_" feeds the feature "class"; the model_fn is unchanged.
    safe = keyword_model.receiver_fn_for(NS, key_of=lambda name: name + "_" if name == "class" else name)
    export_dir = est.export_saved_model(str(tmp_path / "safe"), safe).decode()
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    served = serve(
        class_=tf.constant(keyword_model.FEATURES["class"]), x=tf.constant(keyword_model.FEATURES["x"])
    )
    np.testing.assert_allclose(served["probabilities"].numpy(), _expected(), atol=1e-6)
