"""One distribution for the whole project: `pipeline`, `trainer`, `estimator`, `common`, `schemas`.

It is also what Dataflow installs on each worker (`--setup_file ./setup.py`).
Exact versions of everything for a reproducible install: constraints.txt
(`pip install -c constraints.txt -e '.[test]'`, as the Makefile does).
"""

import pathlib

from setuptools import find_packages, setup

README = pathlib.Path(__file__).with_name("README.md")
PACKAGES = ("pipeline", "trainer", "estimator", "common", "schemas")

setup(
    name="idx-tfrecords",
    version="0.1.0",
    description=(
        "IDX (MNIST, Fashion-MNIST) -> Beam + tf.Transform -> sharded TFRecords -> "
        "custom CNN Estimator -> SavedModel that serves raw tf.Examples"
    ),
    long_description=README.read_text(encoding="utf-8") if README.exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.14",
    packages=find_packages(include=[p for name in PACKAGES for p in (name, f"{name}.*")]),
    package_data={"schemas": ["*.pbtxt"]},
    include_package_data=True,
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tensorflow-transform>=1.21,<1.22",
        "apache-beam[gcp]>=2.77,<2.78",
        "tf-keras>=2.21,<2.22",
        "tensorboard>=2.21,<2.22",
        "tfx-bsl>=1.21,<1.22",
        "tensorflow-metadata>=1.21,<1.22",
        "pyarrow",
        "numpy",
        "tqdm",
        "matplotlib",
        "pillow",  # pipeline.image_stats: Image.histogram; pipeline.report: greyscale PNGs
        "scikit-learn",  # trainer.report: sklearn.metrics
        "threadpoolctl",  # pipeline.leakage: one BLAS thread for the hashes beside TensorFlow
        "cloudml-hypertune",
    ],
    extras_require={
        # gcp-storage-emulator and cryptography: tests/gcs_emulator.py (Cloud Storage emulator, TLS proxy CA);
        # pytest-xdist: `make test` runs the suite in two processes
        "test": ["pytest", "pytest-xdist", "hypothesis", "ruff", "gcp-storage-emulator", "cryptography"],
        "bench": ["py-spy", "psutil"],
    },
    entry_points={
        "console_scripts": [
            "idx-preprocess=pipeline.preprocess:entry",
            "idx-download=pipeline.download:entry",
            "idx-validate=pipeline.validate:entry",
            "idx-train=trainer.task:entry",
            "idx-predict=trainer.predict:entry",
            "idx-local-cluster=trainer.local_cluster:entry",
            # tf.estimator 2.15's command of that name: canned checkpoints between the v1 and v2 classes.
            "estimator_ckpt_converter=estimator.tools.checkpoint_converter:entry",
        ],
    },
)
