"""common.paths: pattern characters refused in outputs; FIFOs, devices and sockets refused as inputs."""

import os
import socket

import pytest

from common.errors import ConfigError, InputNotFoundError
from common.paths import check_literal, check_regular


def test_pattern_characters_are_refused_naming_the_flag():
    check_literal("out/data-1", "--output-dir")
    with pytest.raises(ConfigError, match=r"--job-dir j\[1\]: TensorFlow reads \["):
        check_literal("j[1]", "--job-dir")


def test_files_that_are_not_files_are_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would block: the test would hang
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    (tmp_path / "zero").symlink_to("/dev/zero")
    try:
        for name, kind in (("fifo", "a FIFO"), ("sock", "a socket"), ("zero", "a character device")):
            with pytest.raises(InputNotFoundError, match=f"{tmp_path / name}: {kind}.*not a regular file"):
                check_regular(str(tmp_path / name))
        with pytest.raises(InputNotFoundError, match=r"a character device \(a link to /dev/zero\)"):
            check_regular(str(tmp_path / "zero"))
    finally:
        server.close()
    (tmp_path / "file").write_bytes(b"")
    for ordinary in ("file", "missing", "."):
        check_regular(
            str(tmp_path / ordinary)
        )  # files, directories and missing paths are their readers' business
    check_regular("gs://bucket/object")
