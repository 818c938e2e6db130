"""The downloader: every file verified by content, the check named, bad files never kept."""

import gzip
import hashlib
import os

import numpy as np
import pytest

from common import idx
from pipeline import download
from tests import idx_fixtures

NAME = download.TEST_LABELS  # the smallest of the four files
SYSTEM_FASHION_MNIST = download.DATASETS["fashion_mnist"].system_dirs[0]


def _labels_gz(path, labels=None):
    """Writes a label file; returns (MD5 of the .gz, MD5 of its decompressed bytes)."""
    labels = idx_fixtures.make_labels(10_000) if labels is None else labels
    idx.write_idx(str(path), labels, compress=True)
    data = path.read_bytes()
    return hashlib.md5(data).hexdigest(), hashlib.md5(gzip.decompress(data)).hexdigest()


def _source(mirrors=(), md5="0" * 32, content_md5="0" * 32, system_dirs=()):
    return download.DatasetSource(
        mirrors=tuple(mirrors),
        md5={NAME: md5},
        content_md5={NAME: content_md5},
        system_dirs=tuple(system_dirs),
    )


def test_downloads_from_a_mirror_and_checks_md5(tmp_path):
    (tmp_path / "mirror").mkdir()
    md5, _ = _labels_gz(tmp_path / "mirror" / NAME)
    dead = "file://" + str(tmp_path / "dead") + "/"
    mirror = "file://" + str(tmp_path / "mirror") + "/"
    path, origin, check = download.fetch_file(NAME, _source([dead, mirror], md5), str(tmp_path))
    assert (origin, check) == (mirror + NAME, download.GZIP_MD5) and download.md5sum(path) == md5
    assert download.fetch_file(NAME, _source([dead], md5), str(tmp_path))[1:] == (
        "present",
        download.GZIP_MD5,
    )


def test_checksum_mismatch_is_an_error_and_nothing_is_kept(tmp_path):
    (tmp_path / "mirror").mkdir()
    _labels_gz(tmp_path / "mirror" / NAME)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(download.DownloadError, match="MD5 expected 0000.*file discarded"):
        download.fetch_file(NAME, _source(["file://" + str(tmp_path / "mirror") + "/"]), str(dest))
    assert os.listdir(dest) == []


def test_a_recompressed_system_copy_is_accepted_by_its_content(tmp_path):
    system = tmp_path / "system"
    system.mkdir()
    _, content = _labels_gz(system / NAME)  # recompressed: its gzip MD5 is not the published one
    path, origin, check = download.fetch_file(
        NAME, _source(content_md5=content, system_dirs=[system]), str(tmp_path)
    )
    assert (origin, check) == (str(system / NAME), download.CONTENT_MD5)
    assert download.fetch_file(NAME, _source(content_md5=content), str(tmp_path))[1:] == (
        "present",
        download.CONTENT_MD5,
    )


def test_a_file_of_the_right_size_with_other_content_is_refused_and_kept(tmp_path):
    """Shuffled labels, or another dataset's file, have the right size and header: they still fail,
    and a user's file is never replaced."""
    labels = idx_fixtures.make_labels(10_000)
    _, content = _labels_gz(tmp_path / "good.gz", labels)
    dest = tmp_path / "dest"
    dest.mkdir()
    _labels_gz(dest / NAME, np.random.default_rng(0).permutation(labels))
    before = (dest / NAME).read_bytes()
    with pytest.raises(download.DownloadError, match="neither the published gzip nor the published content"):
        download.fetch_file(NAME, _source(content_md5=content), str(dest))
    assert os.listdir(dest) == [NAME] and (dest / NAME).read_bytes() == before


@pytest.mark.skipif(
    not os.path.isdir(SYSTEM_FASHION_MNIST), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_real_fashion_mnist_is_accepted_as_itself_and_refused_as_mnist(tmp_path):
    fashion = download.DATASETS["fashion_mnist"]
    for name in download.FILES:
        assert (
            download.accepted_by(os.path.join(SYSTEM_FASHION_MNIST, name), name, fashion)
            == download.CONTENT_MD5
        )
    mnist = download.DatasetSource(mirrors=(), md5=download.DATASETS["mnist"].md5,
                                   content_md5=download.DATASETS["mnist"].content_md5,
                                   system_dirs=(SYSTEM_FASHION_MNIST,))  # fmt: skip
    with pytest.raises(download.DownloadError, match="neither the published gzip nor the published content"):
        download.fetch_file(download.TEST_LABELS, mnist, str(tmp_path))


def test_both_datasets_have_published_checksums_for_all_files():
    for source in download.DATASETS.values():
        assert set(source.md5) == set(source.content_md5) == set(download.FILES)
        assert (
            all(len(m) == 32 for m in [*source.md5.values(), *source.content_md5.values()]) and source.mirrors
        )
