"""The manifest's format versions: what this version writes, what it still reads, what it refuses."""

import hashlib
import json

import pytest

from common.errors import DataError
from schemas import layout
from schemas import manifest as manifest_lib


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest(**kwargs) -> manifest_lib.Manifest:
    splits = {
        name: manifest_lib.Split(
            examples=3, shards=(manifest_lib.Shard(layout.shard_path(name, 0, 1), 3, 10, _sha(name)),)
        )
        for name in layout.SPLITS
    }
    fields = {"splits": splits, "transform_sha256": _sha("transform"), **kwargs}
    return manifest_lib.Manifest(dataset="fashion_mnist", class_names=tuple("abcdefghij"), **fields)


def test_round_trip_keeps_the_leakage_counts():
    leakage = {"exact": {"test_in_train": 2, "within_train": 0}, "near": {"test_in_train": 5}}
    written = _manifest(leakage=leakage)
    assert json.loads(written.to_json())["format_version"] == manifest_lib.FORMAT_VERSION == 3
    assert manifest_lib.Manifest.from_json(written.to_json()) == written


def test_a_version_2_manifest_still_reads_with_no_leakage_counts():
    payload = json.loads(_manifest().to_json())
    payload["format_version"] = 2
    del payload["leakage"]
    read = manifest_lib.Manifest.from_json(json.dumps(payload))
    assert read.format_version == 2 and read.leakage == {}
    assert read.identity == _manifest().identity  # the data's identity does not depend on the format


@pytest.mark.parametrize("version", [1, 4, "3", True, None])
def test_other_format_versions_are_refused_naming_the_file(version):
    payload = json.loads(_manifest().to_json())
    payload["format_version"] = version
    with pytest.raises(DataError, match=r"data/manifest.json: format_version .*reads 2 or 3"):
        manifest_lib.Manifest.from_json(json.dumps(payload), source="data/manifest.json")


@pytest.mark.parametrize("leakage", [{"exact": {"test_in_train": -1}}, {"exact": [1]}, {"near": {"x": "2"}}])
def test_malformed_leakage_counts_are_refused(leakage):
    payload = json.loads(_manifest().to_json())
    payload["leakage"] = leakage
    with pytest.raises(DataError, match="malformed manifest"):
        manifest_lib.Manifest.from_json(json.dumps(payload))
