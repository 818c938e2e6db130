"""The manifest: the typed contract between the preprocessing job and the trainer.

The pipeline writes OUTPUT_DIR/manifest.json last, when everything else is in
place; the trainer reads it to learn what the data dir holds and checks the
files against it. It records, per split, every shard with its record count,
size and sha256, and a content hash of the transform (`transform_fn/` and
`transformed_metadata/`). From those, `Manifest.identity` names exactly this
output: the trainer pins it in its job dir, so a data dir that changes under a
job (an `--overwrite` run, a swapped shard or transform) is refused, never
silently trained on or exported with.

    {"producer": "idx-tfrecords", "format_version": 2, "dataset": "fashion_mnist",
     "class_names": [...], "transform_sha256": "…",
     "splits": {"train": {"examples": 54000, "shards": [
         {"path": "train/part-00000-of-00006.tfrecord.gz", "examples": 9000,
          "bytes": 6412345, "sha256": "…"}, …]}, "eval": …, "test": …},
     "leakage": {"exact": {"test_in_train": 0, …}, "near": {…}},
     "inputs": {...}, "options": {...}, "versions": {...}, "created": "…", "wall_time_seconds": 6.1}

All file access goes through `tf.io.gfile` (local paths and gs:// alike).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import posixpath
from collections.abc import Iterable, Mapping

import tensorflow as tf

from common import files
from common.errors import DataError, InputNotFoundError
from common.paths import check_regular
from schemas import features, layout

PRODUCER = "idx-tfrecords"  # marks this project's outputs: only those may be overwritten
# 2: per-shard examples/bytes/sha256, transform_sha256, metadata/ for the raw schema.
# 3: "leakage", the duplicate counts of statistics/ (a version 2 manifest reads with none).
FORMAT_VERSION = 3
READABLE_VERSIONS = (2, 3)
_HASH_BLOCK = 1 << 22
_TRANSFORM_DIRS = (layout.TRANSFORM_FN_DIR, layout.TRANSFORMED_METADATA_DIR)


@dataclasses.dataclass(frozen=True)
class Shard:
    """One shard file of a split.

    Attributes:
      path: relative to the data dir, e.g. "train/part-00000-of-00006.tfrecord.gz".
      examples: tf.Examples it holds.
      bytes: its size on disk (GZIP-compressed).
      sha256: hex sha256 of its bytes on disk.
    """

    path: str
    examples: int
    bytes: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Split:
    """A split's examples and its shards, in shard order."""

    examples: int
    shards: tuple[Shard, ...]


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What a finished preprocessing run wrote (see the module doc for the JSON).

    Attributes:
      dataset: key of schemas.features.CLASS_NAMES.
      class_names: NUM_CLASSES names, index i names label i.
      splits: {layout.TRAIN | EVAL | TEST: Split}.
      transform_sha256: `tree_sha256` of transform_fn/ and transformed_metadata/.
      inputs: {name: {"path", "sha256", "bytes", "records", "dims"}} of the IDX inputs.
      options: the run's settings (normalization, eval fraction, runner, ...).
      versions: {distribution: version} of the stack that wrote it.
      created: ISO 8601 UTC time of the commit.
      wall_time_seconds: the run's duration.
      leakage: {"exact" | "near": {count name: images}}, the duplicate counts of
        statistics/ (pipeline/leakage.py names the counts); empty when the run
        did not look (--dedup off, or a version 2 manifest).
      format_version: FORMAT_VERSION of the writer (READABLE_VERSIONS are read).
      producer: PRODUCER.
    """

    dataset: str
    class_names: tuple[str, ...]
    splits: Mapping[str, Split]
    transform_sha256: str
    inputs: Mapping[str, dict] = dataclasses.field(default_factory=dict)
    options: Mapping[str, object] = dataclasses.field(default_factory=dict)
    versions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    created: str = ""
    wall_time_seconds: float = 0.0
    leakage: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    producer: str = PRODUCER

    def shards(self, split: str) -> tuple[Shard, ...]:
        return self.splits[split].shards

    def shard_paths(self, data_dir: str, split: str) -> list[str]:
        """The full paths of a split's shards, in order: what the trainer reads (never a glob)."""
        return [layout.join(data_dir, shard.path) for shard in self.splits[split].shards]

    @property
    def identity(self) -> str:
        """A hex sha256 naming this output: the transform's hash and every shard's path,
        count, size and hash. Two data dirs with the same identity hold the same data."""
        digest = hashlib.sha256(self.transform_sha256.encode())
        for split in layout.SPLITS:
            for shard in self.splits[split].shards:
                digest.update(f"\n{shard.path} {shard.examples} {shard.bytes} {shard.sha256}".encode())
        return digest.hexdigest()

    def to_json(self) -> str:
        payload = dataclasses.asdict(self)
        payload["class_names"] = list(self.class_names)
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "manifest") -> Manifest:
        """Parses and validates a manifest.

        Raises:
          DataError: not JSON, not this project's manifest, a format version not
            in READABLE_VERSIONS, or a field missing or of the wrong type (naming
            `source`).
        """
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{source}: not valid JSON: {e}") from None
        if not isinstance(payload, dict) or payload.get("producer") != PRODUCER:
            raise DataError(f'{source}: not a manifest of {PRODUCER} (no "producer": "{PRODUCER}")')
        version = payload.get("format_version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            readable = " or ".join(str(v) for v in READABLE_VERSIONS)
            raise DataError(
                f"{source}: format_version {version!r}, but this version reads {readable}:"
                " preprocess the data again"
            )
        try:
            manifest = cls(
                dataset=_typed(payload, "dataset", str),
                class_names=_class_names(payload),
                splits=_splits(payload),
                transform_sha256=_sha256(payload, "transform_sha256"),
                inputs=dict(payload.get("inputs", {})),
                options=dict(payload.get("options", {})),
                versions=dict(payload.get("versions", {})),
                created=str(payload.get("created", "")),
                wall_time_seconds=float(payload.get("wall_time_seconds", 0.0)),
                leakage={
                    kind: {str(name): _int(n) for name, n in counts.items()}
                    for kind, counts in payload.get("leakage", {}).items()
                },
                format_version=version,
            )
        except _FieldError as e:
            raise DataError(f"{source}: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(f"{source}: malformed manifest: {type(e).__name__}: {e}") from None
        for name, split in manifest.splits.items():
            counted = sum(shard.examples for shard in split.shards)
            if counted != split.examples:
                raise DataError(
                    f"{source}: split {name} says {split.examples} examples but its shards hold {counted}"
                )
        return manifest

    def write(self, data_dir: str) -> str:
        """Writes DATA_DIR/manifest.json; returns its path."""
        path = layout.join(data_dir, layout.MANIFEST_FILE)
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(self.to_json())
        return path

    @classmethod
    def read(cls, data_dir: str) -> Manifest:
        """Reads and validates DATA_DIR/manifest.json.

        Raises:
          InputNotFoundError: no manifest: not the output of a finished run (an
            interrupted --overwrite commit is named, with how to recover it).
          DataError: as `from_json`.
        """
        path = layout.join(data_dir, layout.MANIFEST_FILE)
        if not tf.io.gfile.exists(path):
            hint = ""
            replaced = [  # set aside by an interrupted --overwrite (its marker says so)
                path
                for path in tf.io.gfile.glob(_glob_escape(data_dir.rstrip("/")) + layout.REPLACED_INFIX + "*")
                if tf.io.gfile.exists(layout.join(path, layout.SET_ASIDE_MARKER))
            ]
            if tf.io.gfile.exists(layout.join(data_dir, layout.COMMIT_MARKER)):
                hint = "; a commit was interrupted half way: run pipeline.preprocess with --overwrite"
            if replaced:
                hint = (
                    f"; {replaced[0]} holds the output an interrupted --overwrite was replacing:"
                    " run pipeline.preprocess with the same --output-dir to restore it"
                )
            raise InputNotFoundError(
                f"{path}: no manifest; {data_dir} is not the output of a finished preprocessing run{hint}"
            )
        check_regular(path)
        with tf.io.gfile.GFile(path) as f:
            return cls.from_json(f.read(), source=path)


def is_data_dir(directory: str) -> bool:
    """Whether `directory` holds a manifest written by this project's pipeline (any format version)."""
    path = layout.join(directory, layout.MANIFEST_FILE)
    try:
        with tf.io.gfile.GFile(path) as f:
            payload = json.loads(f.read())
    except (tf.errors.OpError, ValueError):  # missing, unreadable, not JSON
        return False
    if not isinstance(payload, dict):
        return False
    if payload.get("producer") == PRODUCER:
        return True
    # Format version 1 had no producer field; its keys were these.
    return payload.get("format_version") == 1 and {"splits", "transform_fn", "inputs"} <= set(payload)


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, found {value!r}")
    return value


# A transformed example is over 3 KB (784 float32 pixels and a label) and gzip compresses at most
# about 1000:1 (blank images come close): a shard holds at most one example per MIN_BYTES_PER_EXAMPLE.
MIN_BYTES_PER_EXAMPLE = 3
_MAX_COUNT = 2**63 - 1  # what TensorFlow's int64 counters hold


class _FieldError(ValueError):
    """A manifest field that is missing or not what it must be (its message names the field)."""


def _typed(payload: dict, key: str, kind: type, where: str = ""):
    if not isinstance(payload, dict):
        raise _FieldError(f"{where.rstrip('.') or 'manifest'}: expected an object, found {payload!r:.80}")
    if key not in payload:
        raise _FieldError(f"{where}{key}: missing")
    value = payload[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _FieldError(f"{where}{key}: expected {kind.__name__}, found {value!r:.80}")
    return value


def _count(payload: dict, key: str, where: str = "") -> int:
    value = payload.get(key) if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        found = "nothing" if value is None else f"{value!r:.80}"
        raise _FieldError(f"{where}{key}: expected a count (an integer from 0 to 2**63-1), found {found}")
    return value


def _sha256(payload: dict, key: str, where: str = "") -> str:
    value = payload.get(key) if isinstance(payload, dict) else None
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise _FieldError(f"{where}{key}: expected a sha256 (64 hex digits), found {value!r:.80}")
    return value


def _class_names(payload: dict) -> tuple[str, ...]:
    names = _typed(payload, "class_names", list)
    if len(names) != features.NUM_CLASSES or not all(isinstance(n, str) and n for n in names):
        raise _FieldError(
            f"class_names: expected {features.NUM_CLASSES} names (one per label), found {len(names)}: {names!r:.120}"
        )
    return tuple(names)


def _shard(entry, split: str, where: str) -> Shard:
    """One shard entry: a relative, normalized path under its split's dir; plausible counts."""
    path = _typed(entry, "path", str, where)
    if (
        "\0" in path
        or posixpath.isabs(path)
        or posixpath.normpath(path) != path
        or path.split("/")[0] != split
        or ".." in path.split("/")
    ):
        raise _FieldError(f"{where}path: {path!r} is not a normalized path under {split}/ in the data dir")
    shard = Shard(
        path, _count(entry, "examples", where), _count(entry, "bytes", where), _sha256(entry, "sha256", where)
    )
    if shard.examples * MIN_BYTES_PER_EXAMPLE > shard.bytes + 64:
        raise _FieldError(
            f"{where}examples: {shard.examples} examples cannot fit in {shard.bytes} bytes (a transformed example"
            f" takes at least {MIN_BYTES_PER_EXAMPLE} bytes, gzip-compressed)"
        )
    return shard


def _splits(payload: dict) -> dict[str, Split]:
    """Every split's shards, each listed once: no path and no sha256 twice in the manifest."""
    splits, seen = {}, {}
    for name in layout.SPLITS:
        where = f"splits.{name}."
        split = _typed(_typed(payload, "splits", dict), name, dict, "splits.")
        entries = _typed(split, "shards", list, where)
        shards = tuple(_shard(entry, name, f"{where}shards[{i}].") for i, entry in enumerate(entries))
        for i, shard in enumerate(shards):
            for key in (
                (shard.path, shard.sha256) if shard.examples else (shard.path,)
            ):  # empty shards are alike
                if key in seen:
                    raise _FieldError(
                        f"{where}shards[{i}]: the shard {seen[key]} is listed again ({shard.path})"
                    )
                seen[key] = shard.path
        splits[name] = Split(examples=_count(split, "examples", where), shards=shards)
    return splits


def _glob_escape(path: str) -> str:
    """Escapes glob characters, so a directory named 'd[1]' matches only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


def file_sha256(path: str) -> str:
    """Returns the hex sha256 of a file's bytes as stored (compressed if it is)."""
    check_regular(path)  # never /dev/zero (it never ends) or a FIFO (it blocks)
    digest = hashlib.sha256()
    with tf.io.gfile.GFile(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(directories: Iterable[str]) -> str:
    """Returns a hex sha256 of every file under `directories`: relative paths and contents.

    Raises:
      InputNotFoundError: a directory is missing.
    """
    digest = hashlib.sha256()
    for directory in directories:
        if not tf.io.gfile.isdir(directory):
            raise InputNotFoundError(f"{directory}: missing")
        for parent, _, names in sorted(files.walk(directory)):
            for name in sorted(names):
                path = layout.join(parent, name)
                if not files.is_utf8(path):
                    raise DataError(
                        f"{files.printable(path)}: the name is not UTF-8: not a file of the transform"
                    )
                relative = path[len(directory.rstrip("/")) :]
                digest.update(f"\n{relative} {file_sha256(path)}".encode())
    return digest.hexdigest()


def transform_sha256(data_dir: str) -> str:
    """The content hash of a data dir's transform: transform_fn/ and transformed_metadata/."""
    return tree_sha256(layout.join(data_dir, name) for name in _TRANSFORM_DIRS)


def count_records(path: str) -> int:
    """Counts the records of a GZIP TFRecord shard, reading it whole.

    Raises:
      DataError: the shard is truncated or corrupt (naming the file).
    """
    records = tf.data.TFRecordDataset(path, compression_type=layout.SHARD_COMPRESSION)
    try:
        return int(records.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
        raise DataError(f"{path}: corrupt TFRecord shard: {data_loss_reason(e)}") from None


def data_loss_reason(error: tf.errors.OpError) -> str:
    """The first line of a TensorFlow data error, without the op and graph context."""
    return error.message.split("}}")[-1].split("[Op:")[0].split("\n")[0].strip()


def check_data_dir(data_dir: str, deep: bool = False) -> Manifest:
    """Validates a data dir against its manifest before anything trains on it.

    Always (cheap: metadata only, plus hashing the small transform): the manifest
    is valid, transform_fn/ and transformed_metadata/ are present and hash to
    the manifest's transform_sha256, and every listed shard is present with its
    listed size. With `deep`, also every shard's sha256 and record count.

    Returns:
      The manifest.

    Raises:
      InputNotFoundError: no manifest, no transform, or a listed shard missing.
      DataError: a shard of the wrong size, hash or count, or a transform that
        is not the one the manifest describes (each naming the file).
    """
    manifest = Manifest.read(data_dir)
    for name in _TRANSFORM_DIRS:
        if not tf.io.gfile.isdir(layout.join(data_dir, name)):
            raise InputNotFoundError(f"{data_dir}: no {name}/: not a complete preprocessing output")
    found = transform_sha256(data_dir)
    if found != manifest.transform_sha256:
        raise DataError(
            f"{layout.join(data_dir, layout.TRANSFORM_FN_DIR)}: not the transform this data dir's"
            f" manifest describes (sha256 {found[:12]}…, manifest {manifest.transform_sha256[:12]}…)"
        )
    for split in layout.SPLITS:
        for shard in manifest.shards(split):
            check_shard(data_dir, shard, deep)
    return manifest


def check_shard(data_dir: str, shard: Shard, deep: bool = False) -> None:
    """Checks one shard's size (and with `deep`, sha256 and record count) against the manifest.

    Raises:
      InputNotFoundError: the shard is missing, or a FIFO, device or socket.
      DataError: it differs, or is a link that leaves the data dir (naming it).
    """
    path = layout.join(data_dir, shard.path)
    check_regular(path)
    if "://" not in path and not os.path.realpath(path).startswith(os.path.realpath(data_dir) + os.sep):
        raise DataError(
            f"{path}: a link to {os.path.realpath(path)}, outside the data dir: refusing to read it"
        )
    try:
        size = tf.io.gfile.stat(path).length
    except tf.errors.NotFoundError:
        raise InputNotFoundError(f"{path}: shard listed in the manifest is missing") from None
    if size != shard.bytes:
        raise DataError(f"{path}: {size} bytes, but the manifest lists {shard.bytes}: the shard was changed")
    if not deep:
        return
    examples = count_records(path)
    if examples != shard.examples:
        raise DataError(f"{path}: {examples} records, but the manifest lists {shard.examples}")
    digest = file_sha256(path)
    if digest != shard.sha256:
        raise DataError(
            f"{path}: sha256 {digest[:12]}…, but the manifest lists {shard.sha256[:12]}…: the shard was changed"
        )
