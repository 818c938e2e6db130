"""Entry points: expected failures are one line, bugs keep their traceback, runners' wrapping is seen through."""

import importlib
import logging
import re
import shlex

import pytest

from common import cli
from common.errors import ConfigError, DataError
from common.idx import IdxFormatError
from pipeline import preprocess
from tests.commands import ENTRY_POINTS
from trainer import predict, task


def _fails(exception):
    def main(argv):
        raise exception

    return main


def test_a_user_error_is_one_line(capsys):
    assert cli.run_main(_fails(ConfigError("--batch-size must be > 0, got 0"))) == 1
    assert capsys.readouterr().err == "error: --batch-size must be > 0, got 0\n"


def test_a_bug_keeps_its_traceback_even_when_it_is_a_value_error(capsys):
    assert cli.run_main(_fails(ValueError("Shapes (100, 10) and (100,) are incompatible"))) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1] == "error: ValueError: Shapes (100, 10) and (100,) are incompatible"


def test_a_user_error_wrapped_by_a_runner_is_still_one_line(capsys):
    try:
        try:
            raise DataError("shard 3 is corrupt")
        except DataError as e:
            raise RuntimeError("bundle failed") from e
    except RuntimeError as wrapped:
        error = wrapped
    assert cli.run_main(_fails(error)) == 1
    assert capsys.readouterr().err == "error: shard 3 is corrupt\n"


def test_a_user_error_reported_as_text_by_a_worker_process(capsys):
    text = (
        "Traceback (most recent call last):\n  File ...\n"
        "common.idx.IdxFormatError: in.gz: byte offset 16 (records 0..39): expected 31360 bytes, found end of file"
        " [while running 'Read/ParDo(ReadIdxRecordBatches)']\n"
    )
    assert cli.run_main(_fails(RuntimeError(text))) == 1
    assert capsys.readouterr().err == (
        "error: in.gz: byte offset 16 (records 0..39): expected 31360 bytes, found end of file\n"
    )


def test_usage_errors_and_interrupts(capsys):
    assert cli.run_main(_fails(SystemExit(2))) == 2
    assert cli.run_main(_fails(KeyboardInterrupt())) == 130
    assert cli.run_main(lambda argv: None) == 0


def test_runner_logs_of_a_user_error_are_dropped_and_others_kept():
    keep = cli._DropUserErrorTracebacks()
    try:
        raise IdxFormatError("f", "byte offset 0 (magic number)", "0x00000803", "0x12340803")
    except IdxFormatError as e:
        error = e
    logged = logging.LogRecord(
        "apache_beam", logging.ERROR, "", 0, "failed", None, (type(error), error, None)
    )
    assert not keep.filter(logged)
    relayed = logging.LogRecord(
        "beam", logging.ERROR, "", 0, "Worker: ... common.idx.IdxFormatError: f: x", None, None
    )
    assert not keep.filter(relayed)
    bug = logging.LogRecord("beam", logging.ERROR, "", 0, "ZeroDivisionError: division by zero", None, None)
    assert keep.filter(bug)


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_lower_levels_are_never_dropped(level):
    record = logging.LogRecord("x", level, "", 0, "common.errors.DataError: x", None, None)
    assert cli._DropUserErrorTracebacks().filter(record)


def _main(module: str):
    imported = importlib.import_module(module)
    return getattr(imported, "run", None) or imported.main


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_ends_with_two_real_examples(module, capsys):
    assert cli.run_main(_main(module), ["--help"]) == 0
    help_text = capsys.readouterr().out
    examples = help_text.split("\nexamples:\n")[1].strip().splitlines()
    assert len(examples) == 2 and all(e.strip().startswith(f"python -m {module} ") for e in examples)
    for option in re.findall(r"^  (--[a-z-]+) ([A-Z_]+)\b", help_text, re.MULTILINE):  # readable metavars
        assert len(option[1]) <= 6, option
    parse = {"trainer.task": task.parse_args, "trainer.predict": predict.parse_args,
             "pipeline.preprocess": preprocess.parse_args}.get(module)  # fmt: skip
    for example in examples if parse else ():
        parse(shlex.split(example)[3:])  # the examples are valid command lines


def test_bounded_flags_state_their_range(capsys):
    cli.run_main(task.run, ["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--batch-size N examples per step (range 1..4,096" in help_text
    assert (
        "--label-smoothing X label smoothing of the training loss (Szegedy et al. 2016) (range 0 <= X < 1"
        in help_text
    )


@pytest.mark.parametrize(
    "main, argv, status, message",
    [
        (predict.main, ["--saved-model", "m", "--idx-images", "i", "--batch-size", "0"], 2,
         "error: --batch-size must be in [1, 65536], got 0"),
        (task.run, ["--data-dir", "d", "--job-dir", "j", "--batch-size", "many"], 2,
         "error: argument --batch-size: invalid int value: 'many'"),
        (task.run, ["--data-dir", "d", "--job-dir", "j", "--batch-size", "5000"], 1,
         "error: --batch-size must be an integer in [1, 4096], got 5000"),
        (preprocess.run, ["--input-dir", "i"], 2, "error: the following arguments are required: --output-dir"),
    ],
)  # fmt: skip
def test_every_entry_point_refuses_in_one_style(main, argv, status, message, capsys):
    assert cli.run_main(main, argv) == status
    assert capsys.readouterr().err.splitlines()[-1] == message
