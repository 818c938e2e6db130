"""A hand-edited or hostile data dir: the trainer never reads outside it, never trains on the wrong data,
and never writes outside --job-dir (tests/schemas/test_manifest.py has every field's refusal)."""

import json
import logging
import os
import shutil

import pytest

from common.errors import ConfigError, DataError, InputNotFoundError
from schemas import jobdir, layout
from schemas import manifest as manifest_lib
from tests import commands
from trainer import data, job, vertex
from trainer.hparams import HParams

QUICK = HParams(train_steps=4, batch_size=16, save_checkpoints_steps=4, throttle_secs=0)


@pytest.fixture
def data_dir(preprocessed, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(preprocessed[1], target)
    return target


def _edit_manifest(data_dir, edit) -> None:
    path = data_dir / layout.MANIFEST_FILE
    payload = json.loads(path.read_text())
    edit(payload)
    path.write_text(json.dumps(payload))


@pytest.mark.slow
def test_a_shard_path_leaving_the_data_dir_is_refused_in_one_line(data_dir, tmp_path):
    outside = tmp_path / "x.tfrecord.gz"
    shard = (
        data_dir
        / json.loads((data_dir / layout.MANIFEST_FILE).read_text())["splits"]["test"]["shards"][0]["path"]
    )
    shutil.copy(shard, outside)
    _edit_manifest(data_dir, lambda p: p["splits"]["test"]["shards"][0].update(path="../x.tfrecord.gz"))
    done = commands.run_module(
        "trainer.task", "--data-dir", str(data_dir), "--job-dir", str(tmp_path / "job")
    )
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "splits.test.shards[0].path: '../x.tfrecord.gz' is not a normalized path under test/" in errors[0]
    assert not (tmp_path / "job").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda p: p["splits"]["train"]["shards"][0].update(examples=10**12), "examples cannot fit in"),
        (
            lambda p: p.update(class_names=["T-shirt", "Trouser", "Pullover"]),
            "class_names: expected 10 names",
        ),
        (lambda p: p["splits"]["test"]["shards"][0].update(sha256=None), "sha256: expected a sha256"),
    ],
)
def test_manifest_entries_that_cannot_be_true_are_refused_before_training(data_dir, tmp_path, edit, expected):
    _edit_manifest(data_dir, edit)
    with pytest.raises(DataError, match=expected):
        job.train(str(data_dir), str(tmp_path / "job"), QUICK, verify_data=True)
    assert not (tmp_path / "job").exists()


@pytest.mark.slow
def test_metadata_is_part_of_what_the_trainer_checks_and_pins(data_dir, tmp_path):
    metadata = data_dir / layout.RAW_METADATA_DIR
    schema = metadata / "schema.pbtxt"
    original = schema.read_text()
    schema.write_text(
        original + 'feature {\n  name: "extra"\n  type: BYTES\n  presence {\n    min_fraction: 1.0\n  }\n}\n'
    )
    with pytest.raises(
        DataError, match=rf"{metadata}: the raw schema is not the one this version serves with"
    ):
        job.train(str(data_dir), str(tmp_path / "job"), QUICK)
    schema.write_text(original)
    manifest = data.open_data_dir(str(data_dir))
    pinned = data.identity(str(data_dir), manifest)
    schema.write_text(original.replace("max: 9", "max: 9 "))  # same schema, other bytes: other data
    assert data.identity(str(data_dir), manifest) != pinned != manifest.identity
    with pytest.raises(DataError, match=f"{metadata} changed while training"):
        data.check_unchanged(str(data_dir), manifest, pinned)
    shutil.rmtree(metadata)
    with pytest.raises(InputNotFoundError, match=f"{data_dir}: no metadata/"):
        job.train(str(data_dir), str(tmp_path / "job"), QUICK)
    metadata.mkdir()
    (metadata / "schema.pbtxt").symlink_to("/dev/zero")
    with pytest.raises(InputNotFoundError, match="schema.pbtxt: a character device"):
        data.identity(str(data_dir), manifest)


@pytest.mark.slow
def test_a_job_dir_pinned_the_old_way_resumes_and_its_pin_is_rewritten(trained, tmp_path, caplog):
    _, data_dir, result, hparams = trained
    job_dir = tmp_path / "job"
    shutil.copytree(result.job_dir, job_dir)
    manifest = manifest_lib.Manifest.read(data_dir)
    # What version 1 wrote: the manifest's identity alone, and no format_version field.
    (job_dir / jobdir.DATA_PIN_FILE).write_text(
        json.dumps({"data_dir": data_dir, "identity": manifest.identity})
    )
    caplog.set_level(logging.WARNING)
    more = HParams(**{**hparams.__dict__, "train_steps": hparams.train_steps + 4})
    assert job.train(data_dir, str(job_dir), more).test["global_step"] == more.train_steps
    assert any(
        "data pin of format version 1 checked against the manifest" in r.getMessage() for r in caplog.records
    )
    pin = jobdir.read_data_pin(str(job_dir))
    assert (pin.format_version, pin.identity) == (jobdir.DATA_PIN_VERSION, data.identity(data_dir, manifest))
    (job_dir / jobdir.DATA_PIN_FILE).write_text(
        json.dumps({"data_dir": "d", "identity": "0" * 64})
    )  # other data
    with pytest.raises(DataError, match=f"{job_dir} was trained on d"):
        job.train(data_dir, str(job_dir), more)


@pytest.mark.parametrize("trial", ["../escaped", "a/b", "..", ".hidden", "x" * 200])
def test_a_trial_id_never_leads_outside_the_job_dir(tmp_path, monkeypatch, trial):
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", trial)
    done = commands.run_module(
        "trainer.task", "--data-dir", str(tmp_path / "d"), "--job-dir", str(tmp_path / "job")
    )
    errors = commands.error_lines(done)
    assert done.returncode == 1 and len(errors) == 1 and "CLOUD_ML_TRIAL_ID" in errors[0], done.stderr[-2000:]
    assert os.listdir(tmp_path) == []
    monkeypatch.delenv("CLOUD_ML_TRIAL_ID")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "chief", "index": 0, "trial": trial}}))
    with pytest.raises(ConfigError, match="TF_CONFIG task.trial"):
        vertex.job_dir(str(tmp_path / "job"))
