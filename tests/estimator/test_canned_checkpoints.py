"""Checkpoints a rollback can read: the canned Estimators write tf.estimator 2.15's variable names and shapes.

tests/fixtures/tf215/variable_lists.json holds, for each case of canned_cases.py, the
variables of the checkpoint the real tf.estimator 2.15 wrote after one training step
(v2 classes: tf_keras optimizers' `training/<Optimizer>/...` slots and hyperparameters;
v1 classes: slots named after their variable, `part_0`/`t_0` partitions, Adam's
`beta1_power` in the head's scope; the experimental RNN classes' Keras cells; KMeans). A checkpoint written here must hold exactly those,
so that TF 2.15 restores it (a rollback) and this runtime restores 2.15's.
"""

import json
import pathlib

import pytest
import tensorflow as tf

import estimator as tfe
from tests.fixtures.tf215 import canned_cases

LISTS = json.loads(
    (pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf215" / "variable_lists.json").read_text()
)
NAMESPACES = {"v1": tfe.compat.v1, "v2": tfe}
# The v1 model dirs of canned_cases.V1_DIRS are checked after their continuation (test_compat_v1.py).
CASES = sorted(
    case for case in canned_cases.VARIABLE_LISTS if case.removeprefix("v1_") not in canned_cases.V1_DIRS
)
QUICK = {
    "v1_combined_dnn_only_adam",
    "v2_dnn_adam",
    "v2_combined_adagrad_adagrad",
    "v2_linear_classifier",
    "v2_rnn_lstm",
}


def test_the_recorded_cases_are_the_cases_here():
    assert sorted(LISTS) == sorted(canned_cases.VARIABLE_LISTS)


@pytest.mark.parametrize(
    "case", [c if c in QUICK else pytest.param(c, marks=pytest.mark.slow) for c in CASES]
)
def test_a_checkpoint_written_here_has_2_15s_variable_names_and_shapes(tmp_path, case):
    est, label = canned_cases.build(case, tf, NAMESPACES, str(tmp_path))
    est.train(canned_cases.input_fn(tf, label, constant=case in canned_cases.CONSTANT_INPUT), steps=1)
    assert [[name, shape] for name, shape in tf.train.list_variables(str(tmp_path))] == LISTS[case]
