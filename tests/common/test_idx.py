"""The IDX reader: good files in both compressions, and each kind of corruption."""

import gzip
import struct

import numpy as np
import pytest

from common import idx
from pipeline import sources
from tests import idx_fixtures

SHAPE = (28, 28)


def _write_bytes(path, data: bytes, compress=False):
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("compress", [False, True])
def test_reads_back_what_was_written(tmp_path, compress):
    images = idx_fixtures.make_images(50, 0)
    path = str(tmp_path / ("images.gz" if compress else "images"))
    idx.write_idx(path, images)
    header = idx.read_header(path, idx.IMAGES_NDIM, SHAPE)
    assert header.count == 50 and header.record_shape == SHAPE and header.gzipped == compress
    np.testing.assert_array_equal(idx.read_idx(path, idx.IMAGES_NDIM, SHAPE), images)


@pytest.mark.parametrize("compress", [False, True])
def test_chunks_cover_a_range_in_order(tmp_path, compress):
    labels = idx_fixtures.make_labels(100)
    path = str(tmp_path / ("labels.gz" if compress else "labels"))
    idx.write_idx(path, labels)
    header = idx.read_header(path, idx.LABELS_NDIM)
    chunks = list(idx.iter_chunks(header, start=13, stop=77, chunk_records=10))
    assert [first for first, _ in chunks] == list(range(13, 77, 10))
    assert max(len(c) for _, c in chunks) == 10
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), labels[13:77])


def test_gzip_is_recognized_by_content_not_name(tmp_path):
    path = str(tmp_path / "labels-no-suffix")
    idx.write_idx(path, idx_fixtures.make_labels(5), compress=True)
    assert idx.read_header(path, idx.LABELS_NDIM).gzipped


def test_bad_magic_names_file_and_offset(tmp_path):
    path = _write_bytes(tmp_path / "x", b"\x12\x34\x08\x03" + b"\0" * 12)
    with pytest.raises(idx.IdxFormatError, match=r"x: byte offset 0 \(magic number\): expected 0x00000803"):
        idx.read_header(path, idx.IMAGES_NDIM)


def test_wrong_dtype(tmp_path):
    path = _write_bytes(tmp_path / "x", struct.pack(">HBBI", 0, 0x0D, 1, 1) + b"\0" * 4)
    with pytest.raises(idx.IdxFormatError, match=r"byte offset 2 \(data type\).*found 0x0D \(float32\)"):
        idx.read_header(path, idx.LABELS_NDIM)


def test_labels_file_given_for_images(tmp_path):
    path = str(tmp_path / "labels")
    idx.write_idx(path, idx_fixtures.make_labels(3))
    with pytest.raises(idx.IdxFormatError, match=r"number of dimensions.*expected 3 \(an image file"):
        idx.read_header(path, idx.IMAGES_NDIM, SHAPE)


def test_wrong_image_shape(tmp_path):
    path = str(tmp_path / "images")
    idx.write_idx(path, np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(idx.IdxFormatError, match="expected 28 x 28, found 32 x 32"):
        idx.read_header(path, idx.IMAGES_NDIM, SHAPE)


def test_truncated_header(tmp_path):
    path = _write_bytes(tmp_path / "x", b"\0\0\x08\x03\0\0")
    with pytest.raises(idx.IdxFormatError, match=r"byte offset 4 \(dimensions\): expected 12 bytes"):
        idx.read_header(path, idx.IMAGES_NDIM)


def test_truncated_body_is_refused_before_reading(tmp_path):
    data = idx.encode_idx(idx_fixtures.make_images(10, 0))
    path = _write_bytes(tmp_path / "x", data[:-100])
    with pytest.raises(idx.IdxFormatError, match=r"file length: expected 7856 bytes .* found 7756 bytes"):
        idx.read_header(path, idx.IMAGES_NDIM, SHAPE)


def test_truncated_gzip_body_fails_at_its_offset(tmp_path):
    data = idx.encode_idx(idx_fixtures.make_images(10, 0))
    path = _write_bytes(tmp_path / "x.gz", data[:-100], compress=True)
    header = idx.read_header(path, idx.IMAGES_NDIM, SHAPE)  # can't size a gzip stream up front
    with pytest.raises(
        idx.IdxFormatError, match=r"byte offset 16 \(records 0\.\.9\).*end of file after 7740"
    ):
        list(idx.iter_chunks(header))


def test_trailing_bytes_in_gzip(tmp_path):
    path = _write_bytes(
        tmp_path / "x.gz", idx.encode_idx(idx_fixtures.make_labels(10)) + b"junk", compress=True
    )
    header = idx.read_header(path, idx.LABELS_NDIM)
    with pytest.raises(idx.IdxFormatError, match=r"byte offset 18 \(end of data\)"):
        list(idx.iter_chunks(header))


def test_absurd_header_allocates_nothing(tmp_path):
    # 4 billion images of 28x28 would be 3 TB; the file has 16 bytes.
    path = _write_bytes(tmp_path / "x", struct.pack(">HBBIII", 0, 8, 3, 0xFFFFFFFF, 28, 28))
    with pytest.raises(idx.IdxFormatError, match=r"expected 3367254359296 bytes .* found 16 bytes"):
        idx.read_header(path, idx.IMAGES_NDIM, SHAPE)


def test_absurd_gzip_header_fails_at_first_chunk(tmp_path):
    path = _write_bytes(tmp_path / "x.gz", struct.pack(">HBBIII", 0, 8, 3, 0xFFFFFFFF, 28, 28), compress=True)
    header = idx.read_header(path, idx.IMAGES_NDIM, SHAPE)
    with pytest.raises(idx.IdxFormatError, match="end of file after 0 bytes"):
        next(idx.iter_chunks(header, chunk_records=64))


def test_count_mismatch_names_the_label_file(tmp_path):
    idx.write_idx(str(tmp_path / "i"), idx_fixtures.make_images(10, 0))
    idx.write_idx(str(tmp_path / "l"), idx_fixtures.make_labels(9))
    with pytest.raises(idx.IdxFormatError, match=r"/l: byte offset 4 \(record count\): expected 10 labels"):
        sources.open_pair(str(tmp_path / "i"), str(tmp_path / "l"))


def test_label_out_of_range_names_its_offset(tmp_path):
    labels = idx_fixtures.make_labels(20)
    labels[17] = 10
    idx.write_idx(str(tmp_path / "i"), idx_fixtures.make_images(20, 0))
    idx.write_idx(str(tmp_path / "l"), labels)
    pair = sources.open_pair(str(tmp_path / "i"), str(tmp_path / "l"))
    with pytest.raises(
        idx.IdxFormatError, match=r"byte offset 25 \(label of record 17\): expected .* 0\.\.9, found 10"
    ):
        sources.check_all_labels(pair)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        idx.read_header(str(tmp_path / "nope"), idx.LABELS_NDIM)
