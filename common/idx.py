"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

The IDX format (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"):

    offset  size     field
    0       2 bytes  zero
    2       1 byte   data type: 0x08 unsigned byte (the only one MNIST uses)
    3       1 byte   number of dimensions, d
    4       4*d      each dimension, a big-endian uint32; the first is the record count
    4+4*d   ...      the data, row-major, prod(dims) items

so image files start with the magic number 0x00000803 (count, rows, cols) and
label files with 0x00000801 (count). Files may be gzip-compressed; a gzip file is
recognized by its first two bytes, not by its name.

Every path goes through `tf.io.gfile`, so local paths and gs:// work alike,
with no Beam import: the pipeline and the trainer both read IDX files. Records are read in chunks: memory is bounded by the chunk size, never by
what a header claims. Any problem raises `IdxFormatError`, whose message names
the file, the byte offset or field, what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import tensorflow as tf

from common import paths
from common.errors import InputNotFoundError, UserError

UBYTE = 0x08
IMAGES_NDIM = 3  # magic 0x00000803
LABELS_NDIM = 1  # magic 0x00000801
_DTYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
_GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_CHUNK_RECORDS = 4096


class IdxFormatError(UserError, ValueError):
    """A file is not the IDX data it should be.

    The message names the file, the byte offset or field, what was expected and
    what was found.
    """

    def __init__(self, path: str, where: str, expected: str, found: str):
        self.path = path
        self.where = where
        self.expected = expected
        self.found = found
        super().__init__(f"{path}: {where}: expected {expected}, found {found}")


@dataclasses.dataclass(frozen=True)
class IdxHeader:
    """What an IDX header says about its file.

    Attributes:
      path: the file's path or URL.
      dims: all dimensions; dims[0] is the record count.
      gzipped: whether the file is gzip-compressed.
      file_size: the file's size on disk in bytes (compressed size for gzip).
    """

    path: str
    dims: tuple[int, ...]
    gzipped: bool
    file_size: int

    @property
    def count(self) -> int:
        """Number of records (images or labels)."""
        return self.dims[0]

    @property
    def record_shape(self) -> tuple[int, ...]:
        """Shape of one record: (rows, cols) for images, () for labels."""
        return self.dims[1:]

    @property
    def record_bytes(self) -> int:
        """Bytes per record: rows * cols for images, 1 for labels."""
        return math.prod(self.record_shape)

    @property
    def header_bytes(self) -> int:
        """Bytes before the data: 4 + 4 * ndim."""
        return 4 + 4 * len(self.dims)

    @property
    def data_bytes(self) -> int:
        """Bytes of data the header promises (uncompressed)."""
        return self.count * self.record_bytes


def _open_raw(path: str) -> BinaryIO:
    paths.check_regular(path)  # a FIFO would block the reader for ever
    try:
        return tf.io.gfile.GFile(path, "rb")
    except tf.errors.OpError as e:  # NotFound, PermissionDenied, ...
        raise InputNotFoundError(f"{path}: cannot open: {e.message}") from e


def _file_size(path: str) -> int:
    try:
        if tf.io.gfile.isdir(path):
            raise InputNotFoundError(f"{path}: a directory, not an IDX file")
        return tf.io.gfile.stat(path).length
    except tf.errors.OpError as e:  # NotFound, PermissionDenied, ...
        raise InputNotFoundError(f"{path}: no such file") from e


def _open_data(path: str) -> tuple[BinaryIO, bool]:
    """Opens `path` for reading its uncompressed bytes; returns (stream, gzipped)."""
    raw = _open_raw(path)
    try:
        head = raw.read(2)
        raw.seek(0)
    except tf.errors.OpError as e:  # e.g. a permission refused only at the first read
        raise InputNotFoundError(f"{path}: cannot read: {e.message}") from e
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), True
    return raw, False


def _read_exact(stream: BinaryIO, n: int, path: str, offset: int, field: str) -> bytes:
    try:
        data = stream.read(n)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error, tf.errors.OpError) as e:
        raise IdxFormatError(path, f"byte offset {offset} ({field})", "a readable stream", f"{e}") from e
    if len(data) != n:
        raise IdxFormatError(
            path,
            f"byte offset {offset} ({field})",
            f"{n} bytes",
            f"end of file after {len(data)} bytes",
        )
    return data


def _parse_header(stream: BinaryIO, path: str, ndim: int, gzipped: bool, file_size: int) -> IdxHeader:
    magic = _read_exact(stream, 4, path, 0, "magic number")
    zero, dtype, found_ndim = struct.unpack(">HBB", magic)
    expected_magic = f"0x{(UBYTE << 8) | ndim:08X}"
    if zero != 0:
        raise IdxFormatError(
            path, "byte offset 0 (magic number)", expected_magic, f"0x{magic.hex().upper()} (not an IDX file)"
        )
    if dtype != UBYTE:
        name = _DTYPE_NAMES.get(dtype, "not an IDX type")
        raise IdxFormatError(
            path, "byte offset 2 (data type)", "0x08 (unsigned byte)", f"0x{dtype:02X} ({name})"
        )
    if found_ndim != ndim:
        kind = {IMAGES_NDIM: "an image file", LABELS_NDIM: "a label file"}.get(ndim, "")
        raise IdxFormatError(
            path,
            "byte offset 3 (number of dimensions)",
            f"{ndim} ({kind}, magic {expected_magic})",
            f"{found_ndim} (magic 0x{magic.hex().upper()})",
        )
    dims = struct.unpack(f">{ndim}I", _read_exact(stream, 4 * ndim, path, 4, "dimensions"))
    return IdxHeader(path=path, dims=tuple(dims), gzipped=gzipped, file_size=file_size)


def read_header(path: str, ndim: int, record_shape: tuple[int, ...] | None = None) -> IdxHeader:
    """Reads and validates the header of an IDX file of unsigned bytes.

    For an uncompressed file the file's length is checked against the header
    here, before any data is read or allocated. For a gzip file the length is
    checked while streaming (`iter_chunks`), since a compressed stream cannot be
    sized without decompressing it.

    Args:
      path: a local path or any URL tf.io.gfile reads (gs://...).
      ndim: the expected number of dimensions: IMAGES_NDIM (3) or LABELS_NDIM (1).
      record_shape: if given, the expected dims after the count, e.g. (28, 28).

    Returns:
      The validated header.

    Raises:
      InputNotFoundError (a FileNotFoundError): the file does not exist.
      IdxFormatError: bad magic, data type, number of dimensions, record shape, or
        a length that disagrees with the header.
    """
    file_size = _file_size(path)
    stream, gzipped = _open_data(path)
    with stream:
        header = _parse_header(stream, path, ndim, gzipped, file_size)
    if record_shape is not None and header.record_shape != tuple(record_shape):
        raise IdxFormatError(
            path,
            "byte offset 8 (dimensions after the count)",
            f"{' x '.join(map(str, record_shape))}",
            f"{' x '.join(map(str, header.record_shape)) or 'none'}",
        )
    if not gzipped:
        expected = header.header_bytes + header.data_bytes
        if file_size != expected:
            raise IdxFormatError(
                path,
                "file length",
                f"{expected} bytes ({header.header_bytes} header + {header.count} records"
                f" x {header.record_bytes} bytes, as the header says)",
                f"{file_size} bytes",
            )
    return header


def iter_chunks(
    header: IdxHeader,
    start: int = 0,
    stop: int | None = None,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
) -> Iterator[tuple[int, np.ndarray]]:
    """Streams records [start, stop) of a file whose header was read.

    Uncompressed files are read from `start` by seeking; gzip files are
    decompressed from the beginning and the records before `start` skipped.

    Args:
      header: from `read_header`.
      start: index of the first record to read.
      stop: one past the last record; default: the record count.
      chunk_records: records per chunk; memory is about chunk_records * record_bytes.

    Yields:
      (index of the chunk's first record, uint8 array of shape
      (n, *header.record_shape)), in order, n <= chunk_records.

    Raises:
      IdxFormatError: the data ends early (naming the byte offset), or, when the
        whole file is read, trailing bytes follow the last record.
      ValueError: start/stop out of range.
    """
    stop = header.count if stop is None else stop
    if not 0 <= start <= stop <= header.count:
        raise ValueError(f"records [{start}, {stop}) outside [0, {header.count}) of {header.path}")
    stream, _ = _open_data(header.path)
    with stream:
        offset = header.header_bytes + start * header.record_bytes
        if header.gzipped:
            _skip(stream, offset, header.path)
        else:
            stream.seek(offset)
        index = start
        while index < stop:
            n = min(chunk_records, stop - index)
            data = _read_exact(
                stream, n * header.record_bytes, header.path, offset, f"records {index}..{index + n - 1}"
            )
            yield index, np.frombuffer(data, dtype=np.uint8).reshape((n, *header.record_shape))
            index += n
            offset += len(data)
        if stop == header.count and header.gzipped:
            extra = _read_some(stream, header.path, offset)
            if extra:
                raise IdxFormatError(
                    header.path,
                    f"byte offset {offset} (end of data)",
                    "end of file after the last record, as the header says",
                    "more bytes",
                )


def _read_some(stream: BinaryIO, path: str, offset: int) -> bytes:
    try:
        return stream.read(1)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error, tf.errors.OpError) as e:
        raise IdxFormatError(path, f"byte offset {offset}", "end of file", f"{e}") from e


def _skip(stream: BinaryIO, n: int, path: str) -> None:
    block = 1 << 20
    done = 0
    while done < n:
        done += len(_read_exact(stream, min(block, n - done), path, done, "data before the first record"))


def read_idx(path: str, ndim: int, record_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Reads a whole IDX file into memory: for small files, tests and tools.

    Returns:
      uint8 array of shape header.dims.

    Raises:
      IdxFormatError, InputNotFoundError: as `read_header` and `iter_chunks`.
    """
    header = read_header(path, ndim, record_shape)
    chunks = [chunk for _, chunk in iter_chunks(header, chunk_records=max(1, 1 << 16))]
    if not chunks:
        return np.zeros(header.dims, dtype=np.uint8)
    return np.concatenate(chunks)


def check_pair(images: IdxHeader, labels: IdxHeader) -> int:
    """Checks that an image file and a label file describe the same records.

    Returns:
      The common record count.

    Raises:
      IdxFormatError: the counts differ (naming the label file).
    """
    if images.count != labels.count:
        raise IdxFormatError(
            labels.path,
            "byte offset 4 (record count)",
            f"{images.count} labels, one per image in {images.path}",
            f"{labels.count}",
        )
    return images.count


def check_labels(labels: np.ndarray, num_classes: int, header: IdxHeader, first_index: int) -> None:
    """Checks that every label of a chunk lies in [0, num_classes).

    Raises:
      IdxFormatError: naming the byte offset of the first bad label.
    """
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        i = int(bad[0])
        raise IdxFormatError(
            header.path,
            f"byte offset {header.header_bytes + first_index + i} (label of record {first_index + i})",
            f"a class index in 0..{num_classes - 1}",
            f"{int(labels[i])}",
        )


def encode_header(dims: tuple[int, ...]) -> bytes:
    """Returns the IDX header of an unsigned-byte file with these dimensions."""
    return struct.pack(">HBB", 0, UBYTE, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def encode_idx(array: np.ndarray) -> bytes:
    """Returns the IDX encoding of a uint8 array (header + data)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return encode_header(array.shape) + array.tobytes()


def write_idx(path: str, array: np.ndarray, compress: bool | None = None) -> None:
    """Writes a uint8 array as an IDX file (for fixtures, synthetic data, tools).

    Args:
      path: destination; any tf.io.gfile path.
      array: uint8 array; images (n, rows, cols) or labels (n,).
      compress: gzip the file; default: when `path` ends with '.gz'.
    """
    compress = path.endswith(".gz") if compress is None else compress
    data = encode_idx(array)
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(data)
