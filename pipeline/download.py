"""Fetch MNIST or Fashion-MNIST IDX files: a system copy first, then the mirrors.

    python -m pipeline.download --dataset fashion_mnist --dest data/fashion-mnist

For each of the four files, in order:
  1. a file already in DEST that passes the checks below is kept;
  2. a system copy (Debian's `dataset-fashion-mnist` package installs
     /usr/share/datasets/fashion-mnist/) is copied in when its IDX header and
     decompressed size are right. Debian recompressed those files, so their MD5
     differs from the published one; the decompressed bytes are the dataset;
  3. each mirror in turn: downloaded to a temporary file, checked against the
     MD5 its publisher gives (MNIST: the checksums torchvision pins; Fashion-MNIST:
     the table in zalandoresearch/fashion-mnist's README), then renamed in place.
     A file that fails the check is deleted, never kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Sequence

from tqdm import tqdm

from pipeline import cli, idx

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

# Decompressed sizes, the same for MNIST and Fashion-MNIST: 16-byte header + 60,000
# or 10,000 28x28 images; 8-byte header + one byte a label.
DECOMPRESSED_BYTES = {
    TRAIN_IMAGES: 47_040_016,
    TRAIN_LABELS: 60_008,
    TEST_IMAGES: 7_840_016,
    TEST_LABELS: 10_008,
}
_NDIM = {TRAIN_IMAGES: 3, TRAIN_LABELS: 1, TEST_IMAGES: 3, TEST_LABELS: 1}
_TIMEOUT_SECONDS = 60
_BLOCK = 1 << 20


class DownloadError(OSError):
    """No source gave a file that passes its checks."""


@dataclasses.dataclass(frozen=True)
class DatasetSource:
    """Where a dataset's files come from and how to check them.

    Attributes:
      mirrors: base URLs, tried in order; file names are appended.
      md5: published MD5 of each gzip file, by file name.
      system_dirs: folders a system package may have installed the files into.
    """

    mirrors: tuple[str, ...]
    md5: dict[str, str]
    system_dirs: tuple[str, ...] = ()


DATASETS = {
    "mnist": DatasetSource(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        md5={
            TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
            TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
            TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion_mnist": DatasetSource(
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        md5={
            TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
            TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
            TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
        },
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}


def md5sum(path: str) -> str:
    """Returns the hex MD5 of a local file (integrity against the published sums)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _decompressed_size(path: str) -> int:
    size = 0
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            size += len(block)
    return size


def is_valid_copy(path: str, name: str) -> bool:
    """Whether a local copy of `name` is the dataset file, whatever its compression.

    True when its IDX header is right for the file and its decompressed size is
    DECOMPRESSED_BYTES[name] (how a recompressed system copy is accepted).
    """
    try:
        idx.read_header(path, _NDIM[name])
        return _decompressed_size(path) == DECOMPRESSED_BYTES[name]
    except (OSError, EOFError, idx.IdxFormatError):
        return False


def _copy_atomically(src: str, dest_path: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest_path), prefix=".part-")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _download(url: str, dest_path: str, expected_md5: str) -> None:
    """Downloads `url` to `dest_path` if its MD5 matches; raises DownloadError otherwise."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest_path), prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=os.path.basename(dest_path), leave=False
            ) as bar:
                for block in iter(lambda: response.read(_BLOCK), b""):
                    out.write(block)
                    bar.update(len(block))
        found = md5sum(tmp)
        if found != expected_md5:
            raise DownloadError(f"{url}: MD5 expected {expected_md5}, found {found}; file discarded")
        os.replace(tmp, dest_path)
    except (OSError, ValueError) as e:  # URLError and HTTPError are OSErrors
        raise DownloadError(f"{url}: {e}") from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fetch_file(name: str, source: DatasetSource, dest: str) -> tuple[str, str]:
    """Puts a verified copy of `name` into `dest`.

    Returns:
      (path in dest, where it came from: 'present', a system path or a URL).

    Raises:
      DownloadError: no source passed the checks; the message lists each failure.
    """
    dest_path = os.path.join(dest, name)
    if os.path.exists(dest_path) and (
        md5sum(dest_path) == source.md5[name] or is_valid_copy(dest_path, name)
    ):
        return dest_path, "present"
    failures = []
    for folder in source.system_dirs:
        candidate = os.path.join(folder, name)
        if not os.path.exists(candidate):
            continue
        if is_valid_copy(candidate, name):
            _copy_atomically(candidate, dest_path)
            return dest_path, candidate
        failures.append(
            f"{candidate}: not the expected IDX data ({DECOMPRESSED_BYTES[name]} bytes decompressed)"
        )
    for mirror in source.mirrors:
        url = mirror + name
        try:
            _download(url, dest_path, source.md5[name])
            return dest_path, url
        except DownloadError as e:
            failures.append(str(e))
    raise DownloadError(f"{name}: no source worked: " + "; ".join(failures or ["no sources configured"]))


def fetch(dataset: str, dest: str, sources: dict[str, DatasetSource] | None = None) -> dict[str, str]:
    """Fetches all four IDX files of `dataset` into `dest`.

    Returns:
      {file name: where it came from}.

    Raises:
      ValueError: unknown dataset. DownloadError: a file could not be had.
    """
    sources = DATASETS if sources is None else sources
    if dataset not in sources:
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {sorted(sources)}")
    os.makedirs(dest, exist_ok=True)
    source = sources[dataset]
    return {name: fetch_file(name, source, dest)[1] for name in source.md5}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.download", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="fashion_mnist")
    parser.add_argument("--dest", required=True, help="local directory for the four .gz files")
    args = parser.parse_args(argv)
    for name, origin in fetch(args.dataset, args.dest).items():
        print(f"{os.path.join(args.dest, name)}  <- {origin}")
    return 0


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(main)


if __name__ == "__main__":
    entry()
