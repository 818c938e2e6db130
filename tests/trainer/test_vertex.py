"""Vertex AI's environment: the job dir from AIP_CHECKPOINT_DIR, the model and event files copied out."""

from trainer import vertex


def test_the_job_dir_comes_from_aip_checkpoint_dir(monkeypatch):
    monkeypatch.delenv(vertex.ENV_CHECKPOINT_DIR, raising=False)
    assert vertex.job_dir("flag") == "flag"
    monkeypatch.setenv(vertex.ENV_CHECKPOINT_DIR, "gs://bucket/checkpoints")
    assert vertex.job_dir("flag") == "gs://bucket/checkpoints"


def test_the_best_export_and_the_event_files_are_copied_where_vertex_looks(tmp_path, monkeypatch):
    job_dir = tmp_path / "job"
    export = job_dir / "export" / "best" / "1700000000"
    (export / "variables").mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"graph")
    (export / "variables" / "variables.index").write_bytes(b"index")
    (job_dir / "eval").mkdir()
    (job_dir / "events.out.tfevents.1.host").write_bytes(b"train events")
    (job_dir / "eval" / "events.out.tfevents.2.host").write_bytes(b"eval events")
    (job_dir / "model.ckpt-1.index").write_bytes(b"not an event file")
    monkeypatch.setenv(vertex.ENV_MODEL_DIR, str(tmp_path / "model"))
    monkeypatch.setenv(vertex.ENV_TENSORBOARD_DIR, str(tmp_path / "tb"))
    vertex.copy_outputs(str(job_dir), str(export))
    assert (tmp_path / "model" / "saved_model.pb").read_bytes() == b"graph"
    assert (tmp_path / "model" / "variables" / "variables.index").read_bytes() == b"index"
    copied = sorted(str(p.relative_to(tmp_path / "tb")) for p in (tmp_path / "tb").rglob("*") if p.is_file())
    assert copied == ["eval/events.out.tfevents.2.host", "events.out.tfevents.1.host"]


def test_nothing_is_copied_outside_vertex(tmp_path, monkeypatch):
    for name in (vertex.ENV_MODEL_DIR, vertex.ENV_TENSORBOARD_DIR):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "job").mkdir()
    vertex.copy_outputs(str(tmp_path / "job"), str(tmp_path / "job"))
    assert [p.name for p in tmp_path.iterdir()] == ["job"]
