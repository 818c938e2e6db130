"""The architecture as tests: which package may import what, and how large its pieces may grow.

Dependencies point one way (docs/architecture.md): schemas and common <- pipeline;
schemas, common and estimator <- trainer. The trainer never loads Beam, the Estimator
runtime never loads anything of this project, entry points parse their flags
before TensorFlow loads, and nothing imports TensorFlow's private modules. A
function fits on one screen and a test file stays readable (the budgets below).
"""

import ast
import json
import pathlib
import re
import subprocess
import sys

import pytest

from tests import commands

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


@pytest.mark.parametrize("module", commands.ENTRY_POINTS)
def test_entry_points_parse_flags_before_tensorflow_loads(module):
    assert "tensorflow" not in _modules_after(f"import {module}")


# Functions of the project's own packages fit on one screen (estimator/ follows
# upstream tf.estimator's shapes and is exempt); test files stay under 800 lines.
FUNCTION_BUDGET_PACKAGES = ("pipeline", "trainer", "schemas", "common", "bench")
MAX_FUNCTION_LINES = 60
MAX_TEST_FILE_LINES = 800


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines, its docstring not counted."""
    lines = function.end_lineno - function.lineno + 1
    first = function.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def test_no_function_is_longer_than_one_screen():
    too_long = {
        f"{path.relative_to(ROOT)}:{node.name}": _code_lines(node)
        for package in FUNCTION_BUDGET_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and _code_lines(node) > MAX_FUNCTION_LINES
    }
    assert too_long == {}


def test_no_test_file_is_longer_than_800_lines():
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "tests").rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_TEST_FILE_LINES
    }
    assert too_long == {}


def test_the_architecture_page_names_every_module():
    """docs/architecture.md, the page a new maintainer reads first, stays true to the tree."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    unnamed = [
        f"{package}/{path.name}"
        for package in ("schemas", "common", "pipeline", "trainer")
        for path in (ROOT / package).glob("*.py")
        if path.name != "__init__.py" and f"`{path.name}`" not in page
    ]
    assert unnamed == []
