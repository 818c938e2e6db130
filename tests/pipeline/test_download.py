"""The downloader: system copies first, mirrors verified by MD5, bad files never kept."""

import gzip
import hashlib
import os

import pytest

from pipeline import download, idx
from tests import idx_fixtures

NAME = download.TEST_LABELS  # the smallest of the four files


def _labels_gz(path, n=10_000):
    idx.write_idx(str(path), idx_fixtures.make_labels(n), compress=True)
    return hashlib.md5(path.read_bytes()).hexdigest()


def _source(mirrors=(), md5="0" * 32, system_dirs=()):
    return download.DatasetSource(mirrors=tuple(mirrors), md5={NAME: md5}, system_dirs=tuple(system_dirs))


def test_downloads_from_a_mirror_and_checks_md5(tmp_path):
    (tmp_path / "mirror").mkdir()
    md5 = _labels_gz(tmp_path / "mirror" / NAME)
    dead = "file://" + str(tmp_path / "dead") + "/"
    mirror = "file://" + str(tmp_path / "mirror") + "/"
    path, origin = download.fetch_file(NAME, _source([dead, mirror], md5), str(tmp_path))
    assert origin == mirror + NAME and download.md5sum(path) == md5


def test_checksum_mismatch_is_an_error_and_nothing_is_kept(tmp_path):
    (tmp_path / "mirror").mkdir()
    _labels_gz(tmp_path / "mirror" / NAME)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(download.DownloadError, match="MD5 expected 0000.*file discarded"):
        download.fetch_file(NAME, _source(["file://" + str(tmp_path / "mirror") + "/"]), str(dest))
    assert os.listdir(dest) == []


def test_system_copy_is_preferred_and_accepted_by_header_and_size(tmp_path):
    system = tmp_path / "system"
    system.mkdir()
    _labels_gz(system / NAME)  # recompressed: its MD5 is not the published one
    path, origin = download.fetch_file(NAME, _source(system_dirs=[system]), str(tmp_path))
    assert origin == str(system / NAME)
    assert len(gzip.decompress(open(path, "rb").read())) == download.DECOMPRESSED_BYTES[NAME]
    assert download.fetch_file(NAME, _source(system_dirs=[system]), str(tmp_path))[1] == "present"


def test_system_copy_of_the_wrong_size_is_refused(tmp_path):
    system = tmp_path / "system"
    system.mkdir()
    _labels_gz(system / NAME, n=9_999)
    with pytest.raises(download.DownloadError, match="not the expected IDX data"):
        download.fetch_file(NAME, _source(system_dirs=[system]), str(tmp_path / "dest"))


def test_both_datasets_have_published_checksums_for_all_files():
    for source in download.DATASETS.values():
        assert set(source.md5) == set(download.DECOMPRESSED_BYTES)
        assert all(len(m) == 32 for m in source.md5.values()) and source.mirrors
