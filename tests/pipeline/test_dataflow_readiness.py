"""What Dataflow needs, proved offline: worker packaging, DoFns in other processes, the job graph."""

import os
import subprocess
import sys
import sysconfig
import tarfile

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import job, preprocess
from pipeline.config import PreprocessConfig
from schemas import features, layout
from tests import idx_fixtures, shards

pytestmark = pytest.mark.slow
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_setup_file_sdist_holds_what_workers_import_and_installs_into_a_fresh_virtualenv(tmp_path):
    # What --setup_file makes Beam's stager run when the `build` package is absent
    # (with it: `python -m build --no-isolation --sdist`, reading the same setup.py).
    subprocess.run(
        [sys.executable, "setup.py", "--quiet", "sdist", "--dist-dir", str(tmp_path / "dist")],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (sdist,) = (tmp_path / "dist").iterdir()
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for module in (
        "pipeline/preprocess.py",
        "pipeline/job.py",
        "pipeline/sinks.py",
        "common/idx.py",
        "schemas/manifest.py",
    ):
        assert module in members, f"{module} is missing from the worker package"
    assert "schemas/raw_schema.pbtxt" in members

    # A worker: a fresh virtualenv whose Python sees Beam/TF (as a worker image has them) but
    # not this checkout, then pip installs the sdist as Dataflow does.
    venv = tmp_path / "worker"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with open(os.path.join(site, "worker_image.pth"), "w") as pth:  # plain paths: no editable finders
        pth.write("\n".join({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}) + "\n")
    install = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation"]
    subprocess.run([*install, str(sdist)], check=True, capture_output=True, cwd=tmp_path)
    probe = (
        "import pipeline.preprocess, pipeline.sinks, schemas.features as f;"
        "print(pipeline.preprocess.__file__); f.load_raw_schema()"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().startswith(site), done.stdout  # the installed copy, not the checkout


def test_separate_worker_processes_write_what_the_in_memory_run_writes(tmp_path):
    """DoFns pickled into 2 worker processes, as on Dataflow: same counts, analyzers, shards, examples."""
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 120, 30, gzip_train=False)
    common = ["--input-dir", str(input_dir), "--num-shards", "3", "--normalization", "z_score"]
    in_memory = str(tmp_path / "in_memory")
    processes = str(tmp_path / "processes")
    expected = preprocess.run([*common, "--output-dir", in_memory])
    found = preprocess.run(
        [
            *common,
            "--output-dir",
            processes,
            "--direct_running_mode=multi_processing",
            "--direct_num_workers=2",
        ]
    )

    def listing(manifest):
        return {name: [(s.path, s.examples) for s in split.shards] for name, split in manifest.splits.items()}

    assert listing(found) == listing(expected)
    raw = tf.constant([image.tobytes() for image in idx_fixtures.make_images(3, file_id=7)])
    analyzed = [
        tft.TFTransformOutput(d).transform_raw_features({features.IMAGE_RAW_KEY: raw})[features.IMAGE_KEY]
        for d in (in_memory, processes)
    ]
    np.testing.assert_array_equal(*analyzed)  # same mean and variance, to the bit
    for split in layout.SPLITS:
        for mine, theirs in zip(
            shards.read_shards(processes, split), shards.read_shards(in_memory, split), strict=True
        ):
            assert mine.keys() == theirs.keys()
            for key in mine:
                np.testing.assert_array_equal(mine[key], theirs[key])


def test_dataflow_job_graph_builds_offline(tmp_path):
    """DataflowRunner's dry run builds the job from the same code without submitting it."""
    input_dir = idx_fixtures.write_dataset(tmp_path / "idx", 40, 20)
    config = PreprocessConfig(str(input_dir), "gs://example-bucket/data")
    pairs = job.open_inputs(config.input_dir)
    options = PipelineOptions(
        [
            "--runner=DataflowRunner",
            "--project=example-project",
            "--region=us-central1",
            "--temp_location=gs://example-bucket/tmp",
            "--machine_type=n2-standard-4",
            "--max_num_workers=50",
            "--sdk_container_image=us-docker.pkg.dev/example-project/images/idx-tfrecords:1",
            "--dry_run=True",
        ]
    )
    p = beam.Pipeline(options=options)
    job.build_pipeline(p, config, pairs, job.shard_counts(pairs, 0), str(tmp_path / "staging"))
    result = p.run()
    assert result.state == beam.runners.runner.PipelineState.DONE
    graph = result.job.proto_pipeline
    names = {t.unique_name for t in graph.components.transforms.values()}
    top = {name for name in names if "/" not in name}  # the plan: the composites of pipeline/transforms.py
    assert top >= {"ReadForAnalysis", "Read", "AnalyzeAndTransform", "WriteTrain", "WriteEval", "WriteTest"}
    assert top >= {"WriteTransformFn", "Statistics"}
    for step in (
        "Read/ReadIdx",
        "AnalyzeAndTransform/AnalyzeTrain",
        "AnalyzeAndTransform/TransformEval",
        "Statistics/Analyze/SummarizeTest",
        "Statistics/Analyze/Join",
        "Statistics/WriteStatistics",
    ):
        assert step in names
    images = {env.payload for env in graph.components.environments.values()}
    assert any(b"example-project/images/idx-tfrecords:1" in payload for payload in images)
    assert result.job.proto.type_.name == "JOB_TYPE_BATCH"
