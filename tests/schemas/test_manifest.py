"""schemas.manifest, the data contract: round trip, format versions, and every refusal, each naming the
field or file (the manifest is input like any other: a hand-edited or hostile one is refused)."""

import gzip
import hashlib
import json
import os

import pytest
import tensorflow as tf

from common.errors import DataError, InputNotFoundError
from schemas import features, layout
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


def test_round_trip_through_a_data_dir_and_the_identity_names_the_data(tmp_path):
    written = _manifest(
        inputs={"train_images": {"records": 3}}, options={"eval_fraction": 0.1}, created="now"
    )
    path = written.write(str(tmp_path))
    assert (
        path == str(tmp_path / layout.MANIFEST_FILE) and manifest_lib.Manifest.read(str(tmp_path)) == written
    )
    assert manifest_lib.Manifest.from_json(written.to_json()).identity == written.identity
    changed = [
        _manifest(transform_sha256=_sha("another transform")),
        _manifest(splits={**written.splits, layout.TEST: manifest_lib.Split(2, (
            manifest_lib.Shard(layout.shard_path(layout.TEST, 0, 1), 2, 10, _sha(layout.TEST)),))}),
    ]  # fmt: skip
    assert len({written.identity, *(m.identity for m in changed)}) == 3
    assert written.shard_paths("gs://b/data", layout.EVAL) == [
        "gs://b/data/eval/part-00000-of-00001.tfrecord.gz"
    ]


def _refused(payload: dict, *fragments: str) -> None:
    with pytest.raises(DataError) as refused:
        manifest_lib.Manifest.from_json(json.dumps(payload), source="d/manifest.json")
    message = str(refused.value)
    assert message.startswith("d/manifest.json: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def _payload() -> dict:
    return json.loads(_manifest().to_json())


def _shard_field(key, value, split=layout.TRAIN) -> dict:
    payload = _payload()
    payload["splits"][split]["shards"][0][key] = value
    return payload


@pytest.mark.parametrize(
    "path",
    ["../x.tfrecord.gz", "/etc/passwd", "train/../train/part-00000-of-00001.tfrecord.gz", "train//a",
     "./train/a", "eval/part-00000-of-00001.tfrecord.gz", "train/a\0b", "train/.."],
)  # fmt: skip
def test_shard_paths_must_be_normalized_and_under_their_split(path):
    _refused(_shard_field("path", path), "splits.train.shards[0].path:", "not a normalized path under train/")


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("path", 7, "path: expected str, found 7"),
        ("path", None, "path: expected str, found None"),
        ("examples", -1, "examples: expected a count"),
        ("examples", 1.5, "examples: expected a count"),
        ("examples", "3", "examples: expected a count"),
        ("examples", None, "examples: expected a count (an integer from 0 to 2**63-1), found nothing"),
        ("examples", True, "examples: expected a count"),
        ("examples", 2**64, "examples: expected a count"),
        ("bytes", -10, "bytes: expected a count"),
        ("bytes", [10], "bytes: expected a count"),
        ("sha256", None, "sha256: expected a sha256 (64 hex digits), found None"),
        ("sha256", "ab", "sha256: expected a sha256"),
    ],
)
def test_shard_fields_of_the_wrong_type_or_range_name_the_field(key, value, expected):
    _refused(_shard_field(key, value), f"splits.train.shards[0].{expected}")


def test_a_record_count_the_shard_cannot_hold_is_refused():
    payload = _shard_field("examples", 10**12)
    payload["splits"][layout.TRAIN]["shards"][0]["bytes"] = 3_000_000
    payload["splits"][layout.TRAIN]["examples"] = 10**12
    _refused(payload, "splits.train.shards[0].examples: 1000000000000 examples cannot fit in 3000000 bytes")
    fits = _shard_field("examples", 1_000_000)  # 3 bytes each: as small as gzip gets blank images
    fits["splits"][layout.TRAIN]["shards"][0]["bytes"] = 3_000_000
    fits["splits"][layout.TRAIN]["examples"] = 1_000_000
    assert manifest_lib.Manifest.from_json(json.dumps(fits)).splits[layout.TRAIN].examples == 1_000_000


def test_a_shard_is_listed_once_in_one_split():
    payload = _payload()
    train = payload["splits"][layout.TRAIN]["shards"][0]
    payload["splits"][layout.TEST]["shards"][0]["sha256"] = train[
        "sha256"
    ]  # the test split: a train shard's copy
    _refused(
        payload, "splits.test.shards[0]: the shard train/part-00000-of-00001.tfrecord.gz is listed again"
    )
    twice = _payload()
    twice["splits"][layout.TRAIN]["shards"].append(dict(train))
    twice["splits"][layout.TRAIN]["examples"] = 6
    _refused(twice, "splits.train.shards[1]: the shard train/part-00000-of-00001.tfrecord.gz is listed again")
    empty = _payload()  # empty shards are byte for byte alike: not duplicates
    for split in layout.SPLITS:
        empty["splits"][split] = {"examples": 0, "shards": [
            {"path": layout.shard_path(split, 0, 1), "examples": 0, "bytes": 20, "sha256": _sha("empty")}]}  # fmt: skip
    assert manifest_lib.Manifest.from_json(json.dumps(empty)).splits[layout.TEST].examples == 0


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda p: p.update(class_names=["a", "b", "c"]),
            f"class_names: expected {features.NUM_CLASSES} names",
        ),
        (lambda p: p.update(class_names="abcdefghij"), "class_names: expected list"),
        (lambda p: p.update(class_names=[*"abcdefghi", 9]), "class_names: expected 10 names"),
        (lambda p: p.pop("dataset"), "dataset: missing"),
        (lambda p: p.update(dataset=["fashion_mnist"]), "dataset: expected str"),
        (lambda p: p.update(transform_sha256=None), "transform_sha256: expected a sha256"),
        (lambda p: p.pop("splits"), "splits: missing"),
        (lambda p: p["splits"].pop(layout.EVAL), "splits.eval: missing"),
        (lambda p: p["splits"][layout.EVAL].update(shards={}), "splits.eval.shards: expected list"),
        (lambda p: p["splits"][layout.EVAL].update(examples=-3), "splits.eval.examples: expected a count"),
        (
            lambda p: p["splits"][layout.EVAL].update(examples=4),
            "split eval says 4 examples but its shards hold 3",
        ),
        (
            lambda p: p["splits"][layout.EVAL]["shards"].append("eval/x"),
            "splits.eval.shards[1]: expected an object, found 'eval/x'",
        ),
        (lambda p: p.update(producer="someone"), "not a manifest of idx-tfrecords"),
    ],
)
def test_every_other_field_is_checked_naming_it(edit, expected):
    payload = _payload()
    edit(payload)
    _refused(payload, expected)


def test_text_that_is_not_a_json_object_is_refused():
    for text in ("not json {", "[1, 2]", '"manifest"'):
        with pytest.raises(DataError, match="d/manifest.json: "):
            manifest_lib.Manifest.from_json(text, source="d/manifest.json")


# --- a data dir against its manifest --------------------------------------------------------------


def _data_dir(tmp_path, records: int = 3):
    """A data dir as the pipeline leaves it, in miniature: real GZIP TFRecord shards, transform dirs,
    and a manifest that describes them. Returns (data dir, manifest)."""
    data_dir = tmp_path / "data"
    for name in (layout.TRANSFORM_FN_DIR, layout.TRANSFORMED_METADATA_DIR):
        (data_dir / name).mkdir(parents=True)
        (data_dir / name / "saved_model.pb").write_bytes(name.encode())
    splits = {}
    for split in layout.SPLITS:
        path = data_dir / layout.shard_path(split, 0, 1)
        path.parent.mkdir()
        with tf.io.TFRecordWriter(str(path), options=layout.SHARD_COMPRESSION) as writer:
            for i in range(records):
                writer.write(f"{split} {i}".encode() * 200)
        shard = manifest_lib.Shard(layout.shard_path(split, 0, 1), records, path.stat().st_size,
                                   manifest_lib.file_sha256(str(path)))  # fmt: skip
        splits[split] = manifest_lib.Split(records, (shard,))
    manifest = manifest_lib.Manifest("fashion_mnist", features.class_names("fashion_mnist"), splits,
                                     manifest_lib.transform_sha256(str(data_dir)))  # fmt: skip
    manifest.write(str(data_dir))
    return data_dir, manifest


def test_a_data_dir_that_matches_its_manifest_passes_shallow_and_deep(tmp_path):
    data_dir, manifest = _data_dir(tmp_path)
    assert manifest_lib.check_data_dir(str(data_dir)) == manifest
    assert manifest_lib.check_data_dir(str(data_dir), deep=True) == manifest


def test_a_shard_linked_from_outside_the_data_dir_is_refused(tmp_path):
    data_dir, manifest = _data_dir(tmp_path)
    shard = data_dir / manifest.shards(layout.TEST)[0].path
    outside = tmp_path / "elsewhere.tfrecord.gz"
    os.rename(shard, outside)
    shard.symlink_to(outside)  # same bytes, but read from outside the data dir
    with pytest.raises(DataError, match=f"{shard}: a link to {outside}, outside the data dir"):
        manifest_lib.check_data_dir(str(data_dir))


def test_shards_that_differ_from_the_manifest_are_named(tmp_path):
    data_dir, manifest = _data_dir(tmp_path)
    shard = data_dir / manifest.shards(layout.EVAL)[0].path
    raw = gzip.decompress(shard.read_bytes())
    shard.write_bytes(
        gzip.compress(raw[::-1], mtime=0)[: shard.stat().st_size].ljust(shard.stat().st_size, b"\0")
    )
    manifest_lib.check_data_dir(str(data_dir))  # same size: only the deep check reads it
    with pytest.raises(DataError, match=f"{shard}: "):
        manifest_lib.check_data_dir(str(data_dir), deep=True)
    shard.unlink()
    with pytest.raises(InputNotFoundError, match=f"{shard}: shard listed in the manifest is missing"):
        manifest_lib.check_data_dir(str(data_dir))


def test_a_changed_transform_and_a_missing_manifest_are_named(tmp_path):
    data_dir, _ = _data_dir(tmp_path)
    (data_dir / layout.TRANSFORM_FN_DIR / "saved_model.pb").write_bytes(b"another graph")
    with pytest.raises(DataError, match="not the transform this data dir's manifest describes"):
        manifest_lib.check_data_dir(str(data_dir))
    (data_dir / layout.MANIFEST_FILE).unlink()
    with pytest.raises(
        InputNotFoundError, match="no manifest; .* is not the output of a finished preprocessing run$"
    ):
        manifest_lib.Manifest.read(str(data_dir))
    aside = tmp_path / f"data{layout.REPLACED_INFIX}0123456789ab"
    aside.mkdir()
    with pytest.raises(
        InputNotFoundError, match="finished preprocessing run$"
    ):  # not marked: not ours to name
        manifest_lib.Manifest.read(str(data_dir))
    (aside / layout.SET_ASIDE_MARKER).write_text("{}")
    with pytest.raises(InputNotFoundError, match=f"{aside} holds the output an interrupted --overwrite"):
        manifest_lib.Manifest.read(str(data_dir))


def test_is_data_dir_knows_this_projects_outputs_of_every_version(tmp_path):
    data_dir, _ = _data_dir(tmp_path)
    assert manifest_lib.is_data_dir(str(data_dir)) and not manifest_lib.is_data_dir(str(tmp_path))
    (tmp_path / layout.MANIFEST_FILE).write_text(json.dumps({"format_version": 1, "splits": {}, "transform_fn": "",
                                                             "inputs": {}}))  # fmt: skip
    assert manifest_lib.is_data_dir(str(tmp_path))  # format version 1 had no producer field
    (tmp_path / layout.MANIFEST_FILE).write_text(json.dumps({"producer": "another tool"}))
    assert not manifest_lib.is_data_dir(str(tmp_path))
