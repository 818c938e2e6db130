"""bench.against_tf215: skipped without the TF 2.15 reference environment; its session baseline here."""

from bench import against_tf215


def test_without_the_reference_environment_the_benchmark_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(against_tf215, "TF215_PYTHON", str(tmp_path / "no-python"))
    result = against_tf215.run(repeats=3)
    assert set(result) == {"skipped"}
    line = against_tf215.summary(result)
    assert line.startswith("against_tf215: skipped: no TF 2.15 reference environment at ")
    assert "pip install tensorflow-cpu==2.15.1 tf_keras==2.15.1" in line


def test_the_bare_session_baseline_trains_on_this_tensorflow():
    from bench import estimator_worker

    result = estimator_worker.run("here", "session", steps=20, warmup=5)
    assert result["steps"] == 20 and result["steps_per_s"] > 0 and result["steps_per_cpu_s"] > 0
    assert result["tensorflow"].startswith("2.21")
