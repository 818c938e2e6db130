"""Property-based fuzzing of the IDX reader: it parses, or raises IdxFormatError.

Mutations of valid files (random bytes, truncation, extension, huge, zero and
mismatched dimensions), both uncompressed and gzip. Never another exception,
never a hang, never an allocation beyond the file: the reader reads at most a
chunk at a time and checks an uncompressed file's length before reading data.
"""

import gzip
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common import idx
from pipeline import sources
from tests import idx_fixtures

SHAPE = (28, 28)
_VALID_IMAGES = idx.encode_idx(idx_fixtures.make_images(6, 0))
_VALID_LABELS = idx.encode_idx(idx_fixtures.make_labels(6))
FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read_everything(path, ndim, shape):
    header = idx.read_header(path, ndim, shape)
    total = 0
    for _, chunk in idx.iter_chunks(header, chunk_records=4):
        assert chunk.shape[1:] == header.record_shape and chunk.dtype == np.uint8
        total += len(chunk)
    assert total == header.count
    return header


@st.composite
def mutated(draw, valid: bytes):
    data = bytearray(valid)
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "dims", "header_bytes"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "extend":
        data += draw(st.binary(min_size=1, max_size=64))
    elif kind == "dims":
        ndim = data[3]
        index = draw(st.integers(0, max(0, ndim - 1)))
        value = draw(st.sampled_from([0, 1, 5, 7, 28, 29, 2**31, 2**32 - 1]))
        data[4 + 4 * index : 8 + 4 * index] = struct.pack(">I", value)
    else:
        data[: min(len(data), 16)] = draw(st.binary(min_size=min(len(data), 16), max_size=min(len(data), 16)))
    return bytes(data)


def _check(tmp_path, data, ndim, shape, compress):
    path = tmp_path / ("f.gz" if compress else "f")
    path.write_bytes(gzip.compress(data) if compress else data)
    try:
        _read_everything(str(path), ndim, shape)
    except idx.IdxFormatError as e:
        assert str(path) in str(e)


@FUZZ
@given(data=mutated(_VALID_IMAGES), compress=st.booleans())
def test_mutated_image_files(tmp_path, data, compress):
    _check(tmp_path, data, idx.IMAGES_NDIM, SHAPE, compress)


@FUZZ
@given(data=mutated(_VALID_LABELS), compress=st.booleans())
def test_mutated_label_files(tmp_path, data, compress):
    _check(tmp_path, data, idx.LABELS_NDIM, (), compress)


@FUZZ
@given(data=st.binary(max_size=64), compress=st.booleans())
def test_random_bytes(tmp_path, data, compress):
    _check(tmp_path, data, idx.IMAGES_NDIM, SHAPE, compress)


@FUZZ
@given(n_images=st.integers(0, 6), n_labels=st.integers(0, 6))
def test_mismatched_counts(tmp_path, n_images, n_labels):
    idx.write_idx(
        str(tmp_path / "i"), idx_fixtures.make_images(n_images, 0) if n_images else np.zeros((0, 28, 28))
    )
    idx.write_idx(str(tmp_path / "l"), idx_fixtures.make_labels(n_labels))
    try:
        pair = sources.open_pair(str(tmp_path / "i"), str(tmp_path / "l"))
        sources.check_all_labels(pair)
        assert n_images == n_labels
    except idx.IdxFormatError as e:
        assert n_images != n_labels and "record count" in str(e)
