"""No module of the project imports TensorFlow's private `tensorflow.python` packages."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PRIVATE = re.compile(r"^\s*(from|import)\s+tensorflow\.python\b|tensorflow\.python\.", re.MULTILINE)


def test_no_private_tensorflow_imports():
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("pipeline", "trainer", "schemas", "bench")
        for path in (ROOT / package).rglob("*.py")
        if PRIVATE.search(path.read_text())
    ]
    assert offenders == []
