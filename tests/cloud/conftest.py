"""The Cloud Storage emulator, for every test of this package (tests/gcs_emulator.py)."""

import os

import pytest

from tests.gcs_emulator import GcsEmulator


@pytest.fixture(scope="package")
def gcs(tmp_path_factory):
    """A running emulator with an empty bucket; this process and the commands it starts use it for gs://.

    The environment is restored when the package's tests are done. Every request the emulator
    answered is in emulator.log beside its CA certificate (pytest's gcs0/ temporary directory).
    """
    emulator = GcsEmulator(tmp_path_factory.mktemp("gcs"))
    with emulator:
        variables = emulator.environ()
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            yield emulator
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
