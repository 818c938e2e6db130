"""Nothing of the user's is lost: no command deletes, replaces or writes into what it did not write."""

import hashlib
import logging
import os
import shutil

import pytest

from common import idx
from common.errors import ConfigError, OutputError
from pipeline import download, outputs, preprocess
from schemas import jobdir, layout
from schemas.manifest import Manifest
from tests import commands, idx_fixtures
from trainer import job, predict
from trainer.hparams import HParams

QUICK = HParams(train_steps=4, batch_size=16, save_checkpoints_steps=4, throttle_secs=0)


def _tree(root) -> dict[str, str]:
    """{relative path: sha256} of every file under root: to show nothing changed."""
    return {
        os.path.relpath(os.path.join(parent, name), root): hashlib.sha256(
            open(os.path.join(parent, name), "rb").read()
        ).hexdigest()
        for parent, _, names in os.walk(root)
        for name in names
    }


def _users_dir(path, text="years of work"):
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text(text)
    return path


# --- pipeline.outputs recovery ------------------------------------------------------------------


@pytest.mark.slow
def test_recovery_leaves_unmarked_replaced_dirs_and_a_users_output_dir_alone(preprocessed, tmp_path, caplog):
    """A user's data/ (no manifest) beside data.replaced-old/ (a copy of an earlier output) and
    data.replaced-backup/: a run without --overwrite (and with a missing input dir) touches none."""
    data = _users_dir(tmp_path / "data")
    shutil.copytree(preprocessed[1], tmp_path / "data.replaced-old")
    _users_dir(tmp_path / "data.replaced-backup", "my backup")
    before = _tree(tmp_path)
    with caplog.at_level(logging.WARNING), pytest.raises(outputs.OutputExistsError, match="pass --overwrite"):
        preprocess.run(["--input-dir", str(tmp_path / "no-such-dir"), "--output-dir", str(data)])
    assert _tree(tmp_path) == before
    reports = [r.getMessage() for r in caplog.records if "left alone" in r.getMessage()]
    assert len(reports) == 1 and "data.replaced-old" in reports[0] and "data.replaced-backup" in reports[0]


def _interrupted_overwrite(preprocessed, output_dir, monkeypatch):
    """Commits a copy of `preprocessed` over an earlier output at output_dir and kills the commit
    between its two renames (the real commit code: what kill -9 there leaves)."""
    shutil.copytree(preprocessed[1], output_dir)
    staging = outputs.create_staging_dir(str(output_dir))
    shutil.rmtree(staging)
    shutil.copytree(preprocessed[1], staging)
    os.remove(os.path.join(staging, layout.MANIFEST_FILE))
    real_rename, renames = os.rename, []

    def killed_after_the_first_rename(src, dst):
        if renames:
            raise KeyboardInterrupt
        renames.append(dst)
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", killed_after_the_first_rename)
    with pytest.raises(KeyboardInterrupt):
        outputs.commit(staging, str(output_dir), Manifest.read(preprocessed[1]), overwrite=True)
    monkeypatch.undo()
    return renames[0]


@pytest.mark.slow
def test_a_set_aside_output_is_restored_only_where_nothing_of_the_users_is(
    preprocessed, tmp_path, monkeypatch
):
    output_dir = tmp_path / "data"
    replaced = _interrupted_overwrite(preprocessed, output_dir, monkeypatch)
    assert outputs.set_aside_state(replaced, str(output_dir)) == outputs.SET_ASIDE
    _users_dir(output_dir)  # the user made a directory of their own there meanwhile
    outputs.recover(str(output_dir))
    assert os.listdir(output_dir) == ["thesis.tex"] and os.path.isdir(replaced)
    shutil.rmtree(output_dir)
    outputs.recover(str(output_dir))  # now nothing is in the way: the earlier output comes back whole
    assert Manifest.read(str(output_dir)) == Manifest.read(preprocessed[1]) and not os.path.exists(replaced)
    assert _tree(output_dir) == _tree(preprocessed[1])  # without the marker


@pytest.mark.slow
def test_a_set_aside_dir_of_another_output_or_run_is_not_restored(preprocessed, tmp_path, monkeypatch):
    replaced = _interrupted_overwrite(preprocessed, tmp_path / "a" / "data", monkeypatch)
    elsewhere = tmp_path / "b"
    elsewhere.mkdir()
    shutil.copytree(replaced, elsewhere / os.path.basename(replaced))  # names another output
    renamed = tmp_path / "a" / "data.replaced-0123456789ab"
    os.rename(replaced, renamed)  # names another run
    for output_dir in (elsewhere / "data", tmp_path / "a" / "data"):
        outputs.recover(str(output_dir))
        assert not output_dir.exists()
    assert renamed.is_dir() and (elsewhere / os.path.basename(replaced)).is_dir()


# --- trainer.predict ----------------------------------------------------------------------------


@pytest.fixture
def export(trained, tmp_path):
    """A copy of the `trained` fixture's best export and its raw test inputs: (export dir, idx dir)."""
    input_dir, _, result, _ = trained
    target = tmp_path / "model"
    shutil.copytree(result.export, target)
    idx = tmp_path / "idx"
    shutil.copytree(input_dir, idx)
    return target, idx


def _predict(export_dir, images, output, *flags):
    return predict.main(
        ["--saved-model", str(export_dir), "--idx-images", str(images), "--output", str(output), *flags]
    )


@pytest.mark.slow
def test_predict_never_writes_over_its_inputs_or_into_the_savedmodel(export, tmp_path):
    export_dir, idx = export
    images, labels = idx / "t10k-images-idx3-ubyte", idx / "t10k-labels-idx1-ubyte"
    before = _tree(tmp_path)
    cases = [
        ((images,), "--output .*t10k-images-idx3-ubyte is the input"),
        ((labels, "--idx-labels", str(labels)), "--output .*t10k-labels-idx1-ubyte is the input"),
        ((export_dir / "saved_model.pb",), "--output .*saved_model.pb lies inside the SavedModel"),
        ((export_dir / "variables" / "p.csv",), "lies inside the SavedModel"),
        ((tmp_path / "p.csv", "--report-dir", str(export_dir)), "--report-dir .* lies inside the SavedModel"),
        ((tmp_path / "report.md", "--idx-labels", str(labels)), "which is --output"),
    ]
    for (output, *flags), expected in cases:
        with pytest.raises(OutputError, match=expected):
            _predict(export_dir, images, output, *flags)
    assert _tree(tmp_path) == before


@pytest.mark.slow
def test_predict_leaves_a_users_files_with_its_temporary_names_alone(export, tmp_path):
    export_dir, idx = export
    (tmp_path / "p.csv.incomplete").write_text("mine")
    (tmp_path / ".p.csv.write-test").write_text("mine too")
    with pytest.raises(OutputError, match=r"p.csv.incomplete: exists, and predictions are written under"):
        _predict(export_dir, idx / "t10k-images-idx3-ubyte", tmp_path / "p.csv")
    (tmp_path / "p.csv.incomplete").rename(tmp_path / "kept")
    assert predict.main(["--saved-model", str(export_dir), "--idx-images", str(idx / "t10k-images-idx3-ubyte"),
                         "--output", str(tmp_path / "p.csv")]) == 0  # fmt: skip
    assert (tmp_path / "kept").read_text() == "mine" and (
        tmp_path / ".p.csv.write-test"
    ).read_text() == "mine too"


# --- pipeline.download --------------------------------------------------------------------------


def _source_with_a_mirror(tmp_path) -> download.DatasetSource:
    """A dataset of one file (test labels) that a file:// mirror serves."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    idx.write_idx(str(mirror / download.TEST_LABELS), idx_fixtures.make_labels(100), compress=True)
    return download.DatasetSource(
        mirrors=(f"file://{mirror}/",),
        md5={download.TEST_LABELS: download.md5sum(str(mirror / download.TEST_LABELS))},
        content_md5={download.TEST_LABELS: "0" * 32},
    )


def test_download_never_replaces_a_file_that_fails_its_checks(tmp_path):
    source = _source_with_a_mirror(tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    theirs = dest / download.TEST_LABELS
    theirs.write_bytes(b"another dataset's labels")  # e.g. digit MNIST in a Fashion-MNIST --dest
    with pytest.raises(download.DownloadError, match=f"{theirs}: already in --dest and neither"):
        download.fetch("x", str(dest), {"x": source})
    assert theirs.read_bytes() == b"another dataset's labels" and os.listdir(dest) == [download.TEST_LABELS]
    theirs.unlink()
    assert download.fetch("x", str(dest), {"x": source})[download.TEST_LABELS][1] == download.GZIP_MD5


def test_download_to_a_dest_that_is_a_file_is_one_line(tmp_path):
    dest = tmp_path / "notes.txt"
    dest.write_text("mine")
    done = commands.run_module("pipeline.download", "--dest", str(dest))
    errors = commands.error_lines(done)
    assert done.returncode == 1 and errors == [f"error: --dest {dest}: a file, not a directory; choose a"
                                               " directory for the four .gz files"], done.stderr  # fmt: skip
    assert "Traceback" not in done.stderr and dest.read_text() == "mine"


# --- job dirs and data dirs ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_dir_in_or_around_a_data_dir_is_refused(preprocessed, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    before = _tree(tmp_path)
    for job_dir, expected in [
        (data_dir, "is the data dir"),
        (data_dir / "job", "is inside the data dir"),
        (data_dir / "train" / "job", "is inside the data dir"),
        (tmp_path, "holds the data dir"),
    ]:
        with pytest.raises(ConfigError, match=f"--job-dir {job_dir} {expected}"):
            job.train(str(data_dir), str(job_dir), QUICK)
    other = tmp_path / "other"
    shutil.copytree(preprocessed[1], other)  # inside a data dir other than --data-dir
    with pytest.raises(ConfigError, match=f"is inside the data dir {other}"):
        job.train(str(data_dir), str(other / "job"), QUICK)
    shutil.rmtree(other)
    assert _tree(tmp_path) == before


@pytest.mark.slow
def test_preprocessing_over_an_output_that_holds_a_job_dir_is_refused(preprocessed, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    job_dir = data_dir / "job"  # as an earlier version let a trainer put it
    job_dir.mkdir()
    (job_dir / jobdir.CHECKPOINT_STATE_FILE).write_text('model_checkpoint_path: "model.ckpt-100"\n')
    before = _tree(tmp_path)
    with pytest.raises(outputs.OutputExistsError, match=f"{data_dir}: holds the training job dir {job_dir}"):
        preprocess.run(["--input-dir", str(preprocessed[0]), "--output-dir", str(data_dir), "--overwrite"])
    assert _tree(tmp_path) == before
