"""The architecture as tests: which package may import what.

Dependencies point one way (DESIGN.md): schemas and common <- pipeline; schemas,
common and estimator <- trainer. The trainer never loads Beam, the Estimator
runtime never loads anything of this project, entry points parse their flags
before TensorFlow loads, and nothing imports TensorFlow's private modules.
"""

import json
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "trainer", "estimator", "common", "schemas", "bench")
PRIVATE = re.compile(r"^\s*(from|import)\s+tensorflow\.python\b|tensorflow\.python\.", re.MULTILINE)


def _modules_after(statement: str) -> set[str]:
    """The top-level modules a fresh interpreter holds after running `statement`."""
    probe = (
        f"import json, sys; {statement}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_no_private_tensorflow_imports():
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if PRIVATE.search(path.read_text())
    ]
    assert offenders == []


def test_the_trainer_never_loads_beam():
    loaded = _modules_after(
        "import trainer.task, trainer.predict, trainer.job, trainer.prediction, trainer.report"
    )
    assert "tensorflow" in loaded and "apache_beam" not in loaded


def test_the_estimator_runtime_knows_nothing_of_this_project():
    loaded = _modules_after("import estimator")
    assert not loaded & {"trainer", "pipeline", "schemas", "common", "apache_beam", "tensorflow_transform"}


@pytest.mark.parametrize(
    "module",
    ["pipeline.preprocess", "pipeline.download", "trainer.task", "trainer.predict", "trainer.local_cluster"],
)
def test_entry_points_parse_flags_before_tensorflow_loads(module):
    assert "tensorflow" not in _modules_after(f"import {module}")
