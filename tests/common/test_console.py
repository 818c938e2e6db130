"""TensorFlow's start-up lines: what is dropped, and that nothing a user must see is."""

import logging

import pytest

from common import cli, console

# As TensorFlow 2.21 prints them while it loads on a machine without a GPU.
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
ONEDNN = (
    "I0000 00:00:1796256043.389459    8933 port.cc:153] oneDNN custom operations are on. You may see"
    " slightly different numerical results due to floating-point round-off errors.\n"
)
FEATURES = (
    "I0000 00:00:1796256043.445297    8933 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.\n",
)
CUINIT = (
    "E0000 00:00:1796256046.933753    8933 cuda_platform.cc:52] failed call to cuInit: INTERNAL:"
    " CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
REAL_ERROR = "E0000 00:00:1796256046.933753    8933 op_kernel.cc:1830] OP_REQUIRES failed: out of memory\n"
WARNING = "W0000 00:00:1796256046.933753    8933 loader.cc:10] something a user should know\n"


@pytest.fixture
def cpp_level(monkeypatch):
    monkeypatch.setenv(console.CPP_LOG_LEVEL, console.QUIET_CPP_LOG_LEVEL)


def test_start_up_info_lines_go_warnings_and_errors_stay(cpp_level):
    lines = [BANNER, ONEDNN, *FEATURES, WARNING, REAL_ERROR, "a Python warning\n"]
    kept = [line for line, drop in zip(lines, console.startup_noise(lines), strict=True) if not drop]
    assert kept == [WARNING, REAL_ERROR, "a Python warning\n"]


def test_a_failed_cuda_probe_is_dropped_only_where_there_is_no_driver(cpp_level):
    assert console.startup_noise([CUINIT], nvidia_driver=False) == [True]
    assert console.startup_noise([CUINIT], nvidia_driver=True) == [False]  # a driver that fails: an error


def test_info_lines_stay_when_the_user_asks_for_them(monkeypatch):
    monkeypatch.setenv(console.CPP_LOG_LEVEL, "0")
    assert console.startup_noise([BANNER, ONEDNN]) == [True, False]


def _enabled(name: str, level: int) -> bool:
    return logging.getLogger(name).isEnabledFor(level)


@pytest.fixture
def logger_levels():
    names = ("apache_beam", "absl", "tensorflow", "root", *cli.DATAFLOW_LOGGERS)
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize(
    "verbosity, tensorflow_level", [(0, logging.WARNING), (1, logging.INFO), (2, logging.DEBUG)]
)
def test_verbosity_levels_and_beams_dataflow_lines(verbosity, tensorflow_level, logger_levels):
    cli.setup_logging(verbosity)
    assert logging.getLogger("tensorflow").level == tensorflow_level
    assert _enabled("apache_beam.runners.portability", logging.INFO) == (verbosity > 0)
    for name in cli.DATAFLOW_LOGGERS:  # the job's URL, its state changes, worker errors
        assert _enabled(name, logging.INFO)


def test_tensorflows_notices_about_its_internals_are_filtered():
    notices = console.TensorFlowNotices()

    def record(message, level=logging.WARNING, name="tensorflow"):
        return logging.LogRecord(name, level, __file__, 1, message, None, None)

    deprecation = (
        "From /x/batch_normalization.py:883: _colocate_with is deprecated.\nInstructions for updating:\nx"
    )
    assert not notices.filter(record(deprecation))
    assert not notices.filter(record("Loading a TF2 SavedModel but eager mode seems disabled."))
    assert notices.filter(record("checkpoint model.ckpt-10 is unreadable: truncated"))
    assert notices.filter(record(deprecation, name="trainer"))
