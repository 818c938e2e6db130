"""docs/operations.md's artifacts, checked offline: the Dockerfile installs what setup.py declares,
and the Vertex AI job spec is a valid CustomJob whose args the trainer accepts (nothing is submitted:
there is no Docker engine or Google Cloud here)."""

import ast
import json
import pathlib
import re

import pytest
import yaml
from google.cloud.aiplatform_v1.types import custom_job
from google.protobuf import json_format
from packaging.specifiers import SpecifierSet

from trainer import task

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _setup_keywords() -> dict:
    """setup.py's setup(...) keywords and module constants, read without running it."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, (ast.Tuple, ast.Constant))
    }  # fmt: skip
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    keywords = {k.arg: k.value for k in call.keywords}
    return {
        "packages": constants["PACKAGES"],
        "python_requires": ast.literal_eval(keywords["python_requires"]),
        "version": ast.literal_eval(keywords["version"]),
        "reads": [c for c in constants.values() if isinstance(c, str)],
    }


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, its arguments) per line of the Dockerfile (no continuation lines in it)."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_the_dockerfile_installs_what_setup_py_declares():
    setup, instructions = _setup_keywords(), _dockerfile()
    (base,) = [rest for op, rest in instructions if op == "FROM"]
    python = re.match(r"python:(\d+\.\d+)", base).group(1)
    assert python in SpecifierSet(setup["python_requires"])
    copied = {source.rstrip("/") for op, rest in instructions if op == "COPY" for source in rest.split()[:-1]}
    assert set(setup["packages"]) <= copied  # every package, with its package data (schemas/*.pbtxt)
    assert {"setup.py", "constraints.txt", "README.md"} <= copied  # setup.py reads README.md
    (install,) = [rest for op, rest in instructions if op == "RUN" and "pip install" in rest]
    assert "-c constraints.txt ." in install  # the pinned stack, as `make install` has it
    (entrypoint,) = [json.loads(rest) for op, rest in instructions if op == "ENTRYPOINT"]
    assert entrypoint == ["python", "-m", "trainer.task"]


def test_the_vertex_job_spec_is_a_custom_job_the_trainer_accepts():
    spec = yaml.safe_load((ROOT / "docs" / "vertex_job.yaml").read_text())
    job = custom_job.CustomJob(display_name="fashion-mnist")
    json_format.ParseDict(spec, custom_job.CustomJobSpec.pb(job.job_spec))  # unknown fields fail here
    (pool,) = job.job_spec.worker_pool_specs
    assert pool.replica_count == 1 and pool.machine_spec.machine_type
    assert pool.container_spec.image_uri.endswith(f"/idx-tfrecords:{_setup_keywords()['version']}")
    args, hparams = task.parse_args(list(pool.container_spec.args))  # what the container's ENTRYPOINT gets
    assert args.data_dir.startswith("gs://") and args.job_dir.startswith("gs://")
    assert job.job_spec.base_output_directory.output_uri_prefix.startswith("gs://")


@pytest.mark.parametrize("name", ["docs/operations.md", "README.md", "CHANGELOG.md"])
def test_the_docs_link_files_that_exist(name):
    document = ROOT / name
    for path in re.findall(r"\]\(([\w./-]+\.(?:md|yaml|png)|[\w./-]*Dockerfile)\)", document.read_text()):
        assert (document.parent / path).exists(), path
