"""Differential tests: this runtime behaves as the real tf.estimator 2.15 across the public API.

tests/fixtures/tf215/behaviours.json holds what each probe of behaviour_probes.py observed
on tf.estimator 2.15 (record_behaviours.py, run in the TF 2.15 reference environment):
defaults, config fields, the session config a model_fn sees, export results, when
evaluations, exports and listeners happen, and the exceptions raised (their classes,
most specific first). Here the same probes run on this runtime. A probe 2.15 answered
with an exception must raise an exception of that class (or a subclass) here, whose
message names what 2.15's named; any other observation must be equal, unless
DIFFERENCES documents it (docs/estimator.md, "Behaviour parity with 2.15, and where it
differs on purpose") and says what this runtime observes instead.
"""

import json
import pathlib
import re
import types

import pytest
import tensorflow as tf

import estimator as tfe
from tests.fixtures.tf215 import behaviour_probes

RECORDED = json.loads(
    (pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf215" / "behaviours.json").read_text()
)["observations"]
NS = types.SimpleNamespace(tf=tf, E=tfe, E1=tfe.compat.v1)

# Documented differences (docs/estimator.md): probe -> (why, what this runtime observes).
DIFFERENCES = {
    "missing_checkpoint_state_file": (
        "a missing or unreadable `checkpoint` state file is rebuilt from the model.ckpt-N files: training "
        "resumes from step 3 (2.15 silently started again from step 0 beside the old checkpoints)",
        {"value": 5},
    ),
    "numpy_input_fn_zero_batch": (
        "batch_size < 1 is refused when the input_fn runs (2.15 built it, then trained on empty batches)",
        {"raises": ["ValueError", "Exception"], "message": "batch_size must be an integer >= 1, found 0"},
    ),
    "pandas_input_fn_not_a_dataframe": (
        "an x without DataFrame columns is refused when pandas_input_fn is called (2.15 failed only when the "
        "input_fn ran)",
        {"raises": ["TypeError", "Exception"], "message": "x must be a pandas DataFrame; got ndarray"},
    ),
}


def _same(ours: dict, theirs: dict) -> bool:
    """The same value; or the same exception class (or a subclass), whose message names what 2.15's
    named (one of its snake_case identifiers, such as an argument name, when it has any)."""
    if "raises" not in theirs:
        return ours == theirs
    if "raises" not in ours or theirs["raises"][0] not in ours["raises"]:
        return False
    names = set(re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", theirs["message"])) - {"dict_keys"}
    return not names or any(name in ours["message"] for name in names)


def test_every_probe_was_recorded():
    assert sorted(RECORDED) == sorted(behaviour_probes.PROBES)


@pytest.mark.parametrize("name", sorted(behaviour_probes.PROBES))
def test_behaves_as_tf_estimator_2_15(name, tmp_path):
    ours = behaviour_probes.observe(behaviour_probes.PROBES[name], NS, str(tmp_path))
    if name in DIFFERENCES:
        why, expected = DIFFERENCES[name]
        assert ours == expected, why
        assert not _same(ours, RECORDED[name]), f"{name} now behaves as 2.15: remove it from DIFFERENCES"
    else:
        assert _same(ours, RECORDED[name]), f"2.15: {RECORDED[name]}\nhere: {ours}"
