"""Fetch MNIST or Fashion-MNIST IDX files: a system copy first, then the mirrors.

    python -m pipeline.download --dataset fashion_mnist --dest data/fashion-mnist

Every file is verified by content before it is kept, and the command says which
check accepted it:

  - "gzip MD5": the file's bytes are the publisher's .gz (MNIST: the MD5s
    torchvision pins for the mirrors; Fashion-MNIST: the table in
    zalandoresearch/fashion-mnist's README);
  - "content MD5": its decompressed bytes are the dataset's (the MD5s of the
    uncompressed IDX files, as dataset loaders publish them beside the .gz ones).
    Debian's `dataset-fashion-mnist` package recompressed the files, so this is
    how its copy in /usr/share/datasets/fashion-mnist/ is accepted.

For each of the four files, in order: a file already in DEST that passes; a
system copy that passes (copied in); each mirror in turn (downloaded to a
temporary file, renamed in place only if its MD5 is the publisher's). A
downloaded file that fails is never kept; Fashion-MNIST files are not MNIST's,
and a file of the right size with other bytes (shuffled labels, another
dataset) fails. A file already in DEST that fails is never replaced: the
command stops, naming it, before anything is written.
No TensorFlow: the files are checked with gzip and hashlib.

Why not `tf_keras.utils.get_file` (which Keras' own `mnist.load_data` uses): it
fetches one URL and checks the hash of the file it downloaded. This module needs
what it does not do: a list of mirrors tried in turn; a system copy (Debian's
package, recompressed) accepted by the MD5 of its decompressed bytes, as no
published .gz hash matches it; and a file already in DEST verified and never
overwritten when it fails, rather than re-downloaded over.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence

from tqdm import tqdm

from common import cli
from common.errors import ConfigError, UserError

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
GZIP_MD5 = "gzip MD5"
CONTENT_MD5 = "content MD5"
_TIMEOUT_SECONDS = 60
_BLOCK = 1 << 20


class DownloadError(UserError, OSError):
    """No source gave a file that passes its checks."""


@dataclasses.dataclass(frozen=True)
class DatasetSource:
    """Where a dataset's files come from and how to check them.

    Attributes:
      mirrors: base URLs, tried in order; file names are appended.
      md5: published MD5 of each .gz file, by file name.
      content_md5: published MD5 of each file's decompressed bytes, by .gz file name.
      system_dirs: folders a system package may have installed the files into.
    """

    mirrors: tuple[str, ...]
    md5: dict[str, str]
    content_md5: dict[str, str]
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
        content_md5={
            TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
            TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
            TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
            TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
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
        content_md5={
            TRAIN_IMAGES: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            TRAIN_LABELS: "9018921c3c673c538a1fc5bad174d6f9",
            TEST_IMAGES: "8181f5470baa50b63fa0f6fddb340f0a",
            TEST_LABELS: "15d484375f8d13e6eb1aabb0c3f46965",
        },
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}
DEFAULT_DATASET = "fashion_mnist"


def md5sum(path: str) -> str:
    """Returns the hex MD5 of a local file (integrity against the published sums)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _content_md5(path: str) -> str | None:
    """The MD5 of a gzip file's decompressed bytes (None if it is not a readable gzip file)."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path, "rb") as f:
            for block in iter(lambda: f.read(_BLOCK), b""):
                digest.update(block)
    except (OSError, EOFError, zlib.error):  # not gzip, truncated, corrupt
        return None
    return digest.hexdigest()


def accepted_by(path: str, name: str, source: DatasetSource) -> str | None:
    """Which check a local copy of `name` passes: GZIP_MD5, CONTENT_MD5, or None (neither)."""
    if md5sum(path) == source.md5[name]:
        return GZIP_MD5
    if _content_md5(path) == source.content_md5[name]:
        return CONTENT_MD5
    return None


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


def check_present(path: str, name: str, source: DatasetSource) -> str:
    """The check a file already in --dest passes; it is never replaced.

    Raises:
      DownloadError: it is not a regular file, or passes neither check (naming it).
    """
    if not os.path.isfile(path):
        raise DownloadError(
            f"{path}: in --dest but not a regular file; move it away or choose another --dest"
        )
    check = accepted_by(path, name, source)
    if check is None:
        raise DownloadError(
            f"{path}: already in --dest and neither the published gzip nor the published content of {name}"
            " (another dataset's file?); it is left as it is: move it away or choose another --dest"
        )
    return check


def fetch_file(name: str, source: DatasetSource, dest: str) -> tuple[str, str, str]:
    """Puts a verified copy of `name` into `dest`.

    Returns:
      (path in dest, where it came from: 'present', a system path or a URL,
      the check that accepted it: GZIP_MD5 or CONTENT_MD5).

    Raises:
      DownloadError: no source passed the checks (the message lists each
        failure), or a file of that name in `dest` fails them (as `check_present`).
    """
    dest_path = os.path.join(dest, name)
    failures = []
    if os.path.lexists(dest_path):
        return dest_path, "present", check_present(dest_path, name, source)
    for folder in source.system_dirs:
        candidate = os.path.join(folder, name)
        if not os.path.exists(candidate):
            continue
        check = accepted_by(candidate, name, source)
        if check:
            _copy_atomically(candidate, dest_path)
            return dest_path, candidate, check
        failures.append(f"{candidate}: neither the published gzip nor the published content")
    for mirror in source.mirrors:
        url = mirror + name
        try:
            _download(url, dest_path, source.md5[name])
            return dest_path, url, GZIP_MD5
        except DownloadError as e:
            failures.append(str(e))
    raise DownloadError(f"{name}: no source worked: " + "; ".join(failures or ["no sources configured"]))


def fetch(
    dataset: str, dest: str, sources: dict[str, DatasetSource] | None = None
) -> dict[str, tuple[str, str]]:
    """Fetches all four IDX files of `dataset` into `dest`.

    Returns:
      {file name: (where it came from, the check that accepted it)}.

    Raises:
      ConfigError: unknown dataset, or `dest` is a file. DownloadError: a file
        could not be had, `dest` cannot be created, or a file already in `dest`
        fails its checks (it is left as it is).
    """
    sources = DATASETS if sources is None else sources
    if dataset not in sources:
        raise ConfigError(f"unknown dataset {dataset!r}: expected one of {sorted(sources)}")
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ConfigError(
            f"--dest {dest}: a file, not a directory; choose a directory for the four .gz files"
        )
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"--dest {dest}: cannot create it: {e.strerror}") from None
    source = sources[dataset]
    for name in source.md5:  # every file already there is checked before anything is written
        if os.path.lexists(os.path.join(dest, name)):
            check_present(os.path.join(dest, name), name, source)
    return {name: fetch_file(name, source, dest)[1:] for name in source.md5}


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        prog="python -m pipeline.download",
        description=__doc__.splitlines()[0],
        examples=(
            "python -m pipeline.download --dataset fashion_mnist --dest data/fashion-mnist",
            "python -m pipeline.download --dataset mnist --dest data/mnist",
        ),
    )
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), default=DEFAULT_DATASET, help="default: %(default)s"
    )
    parser.add_argument("--dest", required=True, metavar="DIR", help="local directory for the four .gz files")
    args = parser.parse_args(argv)
    for name, (origin, check) in fetch(args.dataset, args.dest).items():
        print(f"{os.path.join(args.dest, name)}  <- {origin}  ({check} verified)")
    return 0


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(main)


if __name__ == "__main__":
    entry()
