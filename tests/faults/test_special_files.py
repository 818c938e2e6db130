"""FIFOs, devices and sockets where files are expected: refused in one line before they are opened.

Each of these used to hang (a FIFO blocks its reader until a writer comes) or read for ever
(/dev/zero). Commands run with a timeout, so a regression fails instead of hanging the suite.
"""

import os
import shutil

import pytest

from common.errors import InputNotFoundError
from schemas import jobdir, layout
from schemas import manifest as manifest_lib
from tests import commands, idx_fixtures
from trainer import prediction


@pytest.mark.slow
def test_a_fifo_as_an_idx_input_is_one_line(tmp_path):
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 20, 10)
    fifo = input_dir / "train-labels-idx1-ubyte.gz"
    fifo.unlink()
    os.mkfifo(fifo)
    done = commands.run_module(
        "pipeline.preprocess",
        "--input-dir",
        str(input_dir),
        "--output-dir",
        str(tmp_path / "out"),
        timeout=120,
    )
    errors = commands.error_lines(done)
    assert done.returncode == 1 and errors == [
        f"error: {fifo}: a FIFO, not a regular file; refusing to read it"
    ]
    assert not (tmp_path / "out").exists()


def test_predict_refuses_fifos_and_devices_as_inputs(tmp_path):
    os.mkfifo(tmp_path / "images")
    with pytest.raises(InputNotFoundError, match="images: a FIFO"):
        prediction.idx_batches(str(tmp_path / "images"), None, 8, 10)
    (tmp_path / "records.tfrecord").symlink_to("/dev/zero")
    with pytest.raises(
        InputNotFoundError, match=r"records.tfrecord: a character device \(a link to /dev/zero\)"
    ):
        prediction.tfrecord_files(str(tmp_path / "*.tfrecord"))


def test_job_dir_files_that_are_fifos_are_refused(tmp_path):
    os.mkfifo(tmp_path / jobdir.HPARAMS_FILE)
    with pytest.raises(InputNotFoundError, match=f"{jobdir.HPARAMS_FILE}: a FIFO"):
        jobdir.read_hparams(str(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize(
    "where",
    [layout.MANIFEST_FILE, "shard", f"{layout.TRANSFORM_FN_DIR}/saved_model.pb"],
)
def test_a_data_dir_file_linked_to_a_device_or_fifo_is_refused(preprocessed, tmp_path, where):
    data_dir = tmp_path / "data"
    shutil.copytree(preprocessed[1], data_dir)
    path = data_dir / (preprocessed[2].shards(layout.TRAIN)[0].path if where == "shard" else where)
    path.unlink()
    if where == layout.MANIFEST_FILE:
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(InputNotFoundError, match=f"{path}: a (FIFO|character device)"):
        manifest_lib.check_data_dir(str(data_dir), deep=True)
