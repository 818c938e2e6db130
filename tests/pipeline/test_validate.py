"""pipeline.validate: clean new data accepted; bad labels, shifted intensities and copies refused."""

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2

from common import idx
from pipeline import validate
from schemas import features
from tests import commands, idx_fixtures

pytestmark = pytest.mark.slow


def _write(directory, images, labels, stem="t10k"):
    directory.mkdir(parents=True, exist_ok=True)
    idx.write_idx(str(directory / f"{stem}-images-idx3-ubyte"), images)
    idx.write_idx(str(directory / f"{stem}-labels-idx1-ubyte"), labels)
    return directory


def _fresh(n=200, seed=42):
    images = np.random.default_rng(seed).integers(0, 256, (n, 28, 28)).astype(np.uint8)
    return images, (np.arange(n) % features.NUM_CLASSES).astype(np.uint8)


def _validate(tmp_path, new_dir, against):
    anomalies = tmp_path / "anomalies.pbtxt"
    status = validate.run(["--input-dir", str(new_dir), "--against", against, "--anomalies", str(anomalies)])
    return status, text_format.Parse(anomalies.read_text(), anomalies_pb2.Anomalies())


def test_clean_data_is_accepted_with_a_summary(preprocessed, tmp_path):
    new_dir = _write(tmp_path / "new", *_fresh())
    done = commands.run_module(
        "pipeline.validate",
        "--input-dir",
        str(new_dir),
        "--against",
        preprocessed[1],
        "--anomalies",
        str(tmp_path / "a.pbtxt"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith("ok: test 200 images: no drift or duplicates")
    assert not text_format.Parse((tmp_path / "a.pbtxt").read_text(), anomalies_pb2.Anomalies()).anomaly_info


def test_labels_out_of_range_name_the_file_and_the_first_record(preprocessed, tmp_path):
    images, labels = _fresh()
    labels[[7, 90]] = [11, 12]
    done = commands.run_module(
        "pipeline.validate",
        "--input-dir",
        str(_write(tmp_path / "new", images, labels)),
        "--against",
        preprocessed[1],
        "--anomalies",
        str(tmp_path / "a.pbtxt"),
    )
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert lines == [
        f"{tmp_path}/new/t10k-labels-idx1-ubyte: record 7: label 11 outside the 10 classes 0..9 (2 labels out of range)"
    ]
    anomalies = text_format.Parse((tmp_path / "a.pbtxt").read_text(), anomalies_pb2.Anomalies())
    assert (
        anomalies.anomaly_info[features.LABEL_KEY].reason[0].type
        == anomalies_pb2.AnomalyInfo.INT_TYPE_BIG_INT
    )


def test_shifted_intensities_are_drift(preprocessed, tmp_path):
    images, labels = _fresh()
    brighter = np.clip(images.astype(int) + 40, 0, 255).astype(np.uint8)
    status, anomalies = _validate(tmp_path, _write(tmp_path / "new", brighter, labels), preprocessed[1])
    assert status == 1
    reasons = {r.type for r in anomalies.anomaly_info[features.IMAGE_RAW_KEY].reason}
    assert reasons == {anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH}


def test_copies_of_the_old_images_are_found_in_the_right_numbers(preprocessed, tmp_path, capsys):
    old = idx_fixtures.make_images(conftest_n_train(), file_id=0)  # the shared run's training file
    images, labels = _fresh()
    images[:3] = old[100:103]
    images[3:7] = np.clip(
        old[200:204].astype(int) + np.random.default_rng(1).integers(-1, 2, (4, 28, 28)), 0, 255
    )
    status, _ = _validate(tmp_path, _write(tmp_path / "new", images, labels), preprocessed[1])
    assert status == 1
    lines = capsys.readouterr().out.strip().splitlines()
    exact = sum(
        int(line.split(": ")[1].split()[0])
        for line in lines
        if line.startswith("exact duplicates test_in_old_")
    )
    near = sum(
        int(line.split(": ")[1].split()[0])
        for line in lines
        if line.startswith("near duplicates test_in_old_")
    )
    assert (exact, near) == (3, 4), lines


def conftest_n_train():
    from tests import conftest

    return conftest.N_TRAIN
