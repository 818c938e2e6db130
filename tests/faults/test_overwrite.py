"""--overwrite replaces only an earlier output of the pipeline, and an interrupted commit loses nothing."""

import os

import pytest

from pipeline import outputs, preprocess
from schemas import layout
from schemas.manifest import Manifest
from tests import commands, idx_fixtures

pytestmark = pytest.mark.slow


def _run(input_dir, output_dir, *flags):
    return preprocess.run(["--input-dir", str(input_dir), "--output-dir", str(output_dir), *flags])


def test_an_output_dir_that_holds_the_inputs_is_refused_and_nothing_is_deleted(tmp_path):
    project = tmp_path / "P"
    input_dir = idx_fixtures.write_dataset(project / "raw", 40, 20)
    (project / "notes.txt").write_text("mine")
    before = sorted(p.name for p in input_dir.iterdir())
    done = commands.run_module(
        "pipeline.preprocess", "--input-dir", str(input_dir), "--output-dir", str(project), "--overwrite"
    )
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1 and "holds the input directory" in errors[0], done.stderr
    assert (
        sorted(p.name for p in input_dir.iterdir()) == before
        and (project / "notes.txt").read_text() == "mine"
    )
    with pytest.raises(outputs.OutputExistsError, match="is the input directory"):
        _run(input_dir, input_dir, "--overwrite")
    assert sorted(p.name for p in input_dir.iterdir()) == before


def test_a_directory_that_is_not_an_earlier_output_is_never_replaced(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    with pytest.raises(outputs.OutputExistsError, match="not an output of this pipeline"):
        _run(input_dir, theirs, "--overwrite")
    assert os.listdir(theirs) == ["thesis.tex"]
    (theirs / "manifest.json").write_text('{"producer": "someone else"}')
    with pytest.raises(outputs.OutputExistsError, match="not an output of this pipeline"):
        _run(input_dir, theirs, "--overwrite")


def test_overwrite_replaces_an_earlier_output_and_leaves_nothing_beside_it(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    output_dir = tmp_path / "out"
    first = _run(input_dir, output_dir)
    second = _run(input_dir, output_dir, "--overwrite", "--eval-fraction", "0.25")
    assert Manifest.read(str(output_dir)) == second and second.identity != first.identity
    assert second.splits[layout.EVAL].examples == 10
    assert sorted(os.listdir(tmp_path)) == ["idx", "out"]


def test_a_commit_interrupted_between_its_renames_keeps_the_old_output_and_the_next_run_restores_it(
    tmp_path, monkeypatch
):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    output_dir = str(tmp_path / "out")
    old = _run(input_dir, output_dir)
    real_rename = os.rename
    renames = []

    def killed_after_the_first_rename(src, dst):
        if renames:
            raise KeyboardInterrupt  # stands for kill -9 between the two renames
        renames.append((src, dst))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", killed_after_the_first_rename)
    with pytest.raises(KeyboardInterrupt):
        _run(input_dir, output_dir, "--overwrite", "--eval-fraction", "0.25")
    monkeypatch.undo()
    (replaced,) = [name for name in os.listdir(tmp_path) if layout.REPLACED_INFIX in name]
    assert not os.path.exists(output_dir)  # what a kill at that moment leaves ...
    assert Manifest.read(str(tmp_path / replaced)) == old  # ... with the old output whole beside it
    with pytest.raises(FileNotFoundError, match=f"{replaced} holds the output an interrupted --overwrite"):
        Manifest.read(output_dir)  # a reader says what happened and how to recover

    outputs.recover(output_dir)  # what the next run does first
    assert Manifest.read(output_dir) == old
    assert not [name for name in os.listdir(tmp_path) if layout.REPLACED_INFIX in name]
    new = _run(input_dir, output_dir, "--overwrite", "--eval-fraction", "0.25")
    assert Manifest.read(output_dir) == new


def test_a_finished_commit_whose_cleanup_was_interrupted_is_tidied(tmp_path, monkeypatch):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    output_dir = tmp_path / "out"
    _run(input_dir, output_dir)
    real_delete = outputs._delete_tree

    def killed_before_deleting_the_old_copy(path):
        if layout.REPLACED_INFIX in path:
            raise KeyboardInterrupt  # kill -9 after the new output is in place
        real_delete(path)

    monkeypatch.setattr(outputs, "_delete_tree", killed_before_deleting_the_old_copy)
    with pytest.raises(KeyboardInterrupt):
        _run(input_dir, output_dir, "--overwrite")
    monkeypatch.undo()
    assert len(os.listdir(tmp_path)) == 3  # idx, out and the old copy
    new = _run(input_dir, output_dir, "--overwrite")
    assert Manifest.read(str(output_dir)) == new and sorted(os.listdir(tmp_path)) == ["idx", "out"]
