"""Batch prediction with an exported model, as a server would call it.

IDX images go to the model's `image_raw:serving_default` signature as raw bytes,
raw tf.Examples to `serving_default`; the transform graph inside the model does
the rest. Class names come from the model itself: its `classification`
signature returns them (TF Serving's Classify API), so a digit model is never
labelled with Fashion-MNIST's names.
"""

from __future__ import annotations

import csv
import json
import os
import posixpath
import uuid
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common import idx
from common.errors import ConfigError, DataError, InputNotFoundError, OutputError
from common.paths import check_regular
from estimator import export_dirs
from schemas import features
from trainer import model, serving

INCOMPLETE_SUFFIX = ".incomplete"  # predictions are written here first, then renamed
EXAMPLES_SIGNATURE = "serving_default"
RAW_BYTES_SIGNATURE = f"{serving.RAW_BYTES_RECEIVER}:serving_default"
NO_LABEL = -1
MISTAKES_KEPT = 32  # misclassified images kept for the report's mistakes grid
TOP_K = 3  # classes per row of the predictions file, most probable first


def resolve_export(path: str) -> str:
    """An export directory: `path` itself if it holds a SavedModel, else the newest complete
    export under it (e.g. JOB_DIR/export/best).

    Raises:
      InputNotFoundError: neither.
    """
    if tf.io.gfile.exists(posixpath.join(path, export_dirs.SAVED_MODEL_FILE)):
        return path
    newest = export_dirs.newest_export(path)
    if newest is None:
        raise InputNotFoundError(f"{path}: neither a SavedModel nor a directory of complete exports")
    return newest


def load(export_dir: str):
    """Loads an export with tf.saved_model.load (as TF Serving would load it).

    Raises:
      InputNotFoundError: it does not load.
      ConfigError: it is not a classifier this project exported (e.g. a transform_fn/):
        it lacks the signatures, inputs or outputs predict calls.
    """
    try:
        loaded = tf.saved_model.load(export_dir)
    except (OSError, tf.errors.OpError) as e:
        raise InputNotFoundError(f"{export_dir}: cannot load the SavedModel: {e}") from None
    for name, inputs in ((EXAMPLES_SIGNATURE, {"examples"}), (RAW_BYTES_SIGNATURE, {features.IMAGE_RAW_KEY})):
        signature = loaded.signatures.get(name)
        found = set(signature.structured_input_signature[1]) if signature is not None else set()
        outputs = set(signature.structured_outputs) if signature is not None else set()
        if found != inputs or not {"classes", "probabilities"} <= outputs:
            raise ConfigError(
                f"--saved-model {export_dir}: not a classifier exported by trainer.task (no signature {name!r}"
                f" taking {sorted(inputs)} and returning classes and probabilities; it has"
                f" {sorted(loaded.signatures)}): give JOB_DIR/export/best"
            )
    return loaded


def class_names(loaded) -> tuple[str, ...]:
    """The class names the model's classification signature returns, in class-index order.

    A model without that signature gets its class indices as names.
    """
    probe = tf.constant([serving.raw_example(bytes(features.IMAGE_PIXELS))])
    signature = loaded.signatures.get(model.CLASSIFICATION_SIGNATURE)
    if signature is None:
        scores = loaded.signatures[EXAMPLES_SIGNATURE](examples=probe)["probabilities"]
        return tuple(str(i) for i in range(scores.shape[-1]))
    return tuple(name.decode("utf-8") for name in signature(inputs=probe)["classes"].numpy()[0])


def idx_batches(images_path: str, labels_path: str | None, batch_size: int, num_classes: int):
    """Reads an IDX image file (and its label file) in batches for RAW_BYTES_SIGNATURE.

    Every label is checked before the first batch, so a bad label file fails
    before any prediction is written.

    Returns:
      (number of images, iterator of ({"image_raw": string [n]}, int64 labels [n]));
      labels are NO_LABEL without a label file.

    Raises:
      IdxFormatError: a bad header, a count mismatch, or a label outside [0, num_classes).
    """
    images = idx.read_header(images_path, idx.IMAGES_NDIM, (features.IMAGE_HEIGHT, features.IMAGE_WIDTH))
    labels = idx.read_header(labels_path, idx.LABELS_NDIM) if labels_path else None
    if labels is not None:
        idx.check_pair(images, labels)
        for first, chunk in idx.iter_chunks(labels, chunk_records=1 << 20):
            idx.check_labels(chunk, num_classes, labels, first)

    def batches():
        label_chunks = idx.iter_chunks(labels, chunk_records=batch_size) if labels else None
        for _, chunk in idx.iter_chunks(images, chunk_records=batch_size):
            inputs = {features.IMAGE_RAW_KEY: tf.constant([row.tobytes() for row in chunk])}
            y = next(label_chunks)[1].astype(np.int64) if label_chunks else np.full(len(chunk), NO_LABEL)
            yield inputs, y

    return images.count, batches()


def tfrecord_files(pattern: str) -> list[str]:
    """The files a --tfrecords glob matches, sorted.

    Raises:
      InputNotFoundError: no file matches, or one is a FIFO, device or socket.
    """
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise InputNotFoundError(f"{pattern}: no files match")
    for path in files:
        check_regular(path)
    return files


def tfrecord_batches(pattern: str, batch_size: int):
    """Reads TFRecord files of raw tf.Examples (gzip if named .gz) in batches for EXAMPLES_SIGNATURE.

    Returns:
      (None: the count is unknown, iterator of ({"examples": string [n]}, int64 labels [n])).

    Raises:
      InputNotFoundError: no file matches `pattern` (a glob).
    """
    files = tfrecord_files(pattern)
    compression = "GZIP" if files[0].endswith(".gz") else ""
    label_spec = {features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=NO_LABEL)}

    def batches():
        records = tf.data.TFRecordDataset(files, compression_type=compression).batch(batch_size)
        try:
            for batch in records:
                labels = tf.io.parse_example(batch, label_spec)[features.LABEL_KEY].numpy()
                yield {"examples": batch}, labels
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError, UnicodeDecodeError) as e:
            reason = e.message.splitlines()[0] if isinstance(e, tf.errors.OpError) else str(e)
            raise DataError(f"{pattern}: not TFRecord files of tf.Examples: {reason}") from None

    return None, batches()


def _images(inputs: dict, rows: np.ndarray) -> np.ndarray:
    """uint8 [len(rows), height, width]: the raw images of some rows of an input batch."""
    if features.IMAGE_RAW_KEY in inputs:
        raw = inputs[features.IMAGE_RAW_KEY].numpy()[rows]
    else:  # serialized raw tf.Examples
        spec = {features.IMAGE_RAW_KEY: tf.io.FixedLenFeature([], tf.string)}
        raw = tf.io.parse_example(tf.gather(inputs["examples"], rows), spec)[features.IMAGE_RAW_KEY].numpy()
    pixels = np.frombuffer(b"".join(raw), np.uint8)
    return pixels.reshape(len(rows), features.IMAGE_HEIGHT, features.IMAGE_WIDTH)


def _keep_mistakes(kept: dict, inputs: dict, labels: np.ndarray, classes: np.ndarray) -> None:
    room = MISTAKES_KEPT - len(kept["labels"])
    rows = np.flatnonzero((labels != NO_LABEL) & (labels != classes))[:room]
    if len(rows):
        kept["images"].extend(_images(inputs, rows))
        kept["labels"].extend(labels[rows].tolist())
        kept["classes"].extend(classes[rows].tolist())


def predict(loaded, batches: Iterator, total: int | None, signature: str) -> dict[str, np.ndarray]:
    """Runs a signature of a loaded model over input batches.

    Returns:
      {"classes": int64 [n], "probabilities": float32 [n, NUM_CLASSES], "labels": int64 [n]
      (NO_LABEL where unknown), "mistakes": the first MISTAKES_KEPT misclassified labelled
      examples: {"images": uint8 [k, height, width], "labels": [k], "classes": [k]}}.

    Raises:
      DataError: the model refuses an input batch (its message), or there was none.
    """
    if signature not in loaded.signatures:
        raise DataError(f"the model has no signature {signature!r}; it has {sorted(loaded.signatures)}")
    fn = loaded.signatures[signature]
    classes, probabilities, labels = [], [], []
    mistakes = {"images": [], "labels": [], "classes": []}
    with tqdm(total=total, unit="img", desc="predict") as bar:
        for inputs, y in batches:
            try:
                out = fn(**inputs)
            except tf.errors.InvalidArgumentError as e:
                raise DataError(f"the model refused the input: {refusal(e.message)}") from None
            except UnicodeDecodeError:  # TensorFlow could not decode its error, which quotes the input
                raise DataError("the model refused the input: not serialized tf.Examples") from None
            classes.append(out["classes"].numpy())
            probabilities.append(out["probabilities"].numpy())
            labels.append(y)
            _keep_mistakes(mistakes, inputs, y, classes[-1])
            bar.update(len(y))
    if not classes:
        raise DataError("no examples to predict")
    shape = (0, features.IMAGE_HEIGHT, features.IMAGE_WIDTH)
    mistakes["images"] = np.stack(mistakes["images"]) if mistakes["images"] else np.zeros(shape, np.uint8)
    return {
        "classes": np.concatenate(classes),
        "probabilities": np.concatenate(probabilities),
        "labels": np.concatenate(labels),
        "mistakes": mistakes,
    }


def refusal(message: str) -> str:
    """The line of a TensorFlow error that says what was wrong with the input (not the op's context)."""
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(
            ("Graph execution error", "Detected at node", "File ", "<stack", "[[")
        ):
            return line.split(" [[")[0].split(" [Op:")[0]
    return message.splitlines()[0] if message else "InvalidArgumentError"


def _real(path: str) -> str:
    return os.path.realpath(path) if "://" not in path else path.rstrip("/")


def _inside(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def check_outputs(
    output: str, report_files: Sequence[str], inputs: Sequence[str], models: Sequence[str]
) -> None:
    """Refuses outputs that would replace an input, write into a SavedModel, or replace a user's file.

    Args:
      output: --output.
      report_files: the files the report writes (in --report-dir).
      inputs: the input files (IDX images and labels, or the TFRecord files).
      models: --saved-model and the export resolved from it.

    Raises:
      OutputError: --output or a report file is an input, or lies inside a
        SavedModel; a report file is --output; or --output's temporary name
        (OUTPUT.incomplete) is taken by an existing file (each naming the path).
    """
    real_inputs = {_real(path): path for path in inputs}
    for flag, path in [("--output", output)] + [("--report-dir", path) for path in report_files]:
        if _real(path) in real_inputs:
            raise OutputError(f"{flag} {path} is the input {real_inputs[_real(path)]}: choose another {flag}")
        for model_dir in models:
            if _inside(_real(path), _real(model_dir)):
                raise OutputError(
                    f"{flag} {path} lies inside the SavedModel {model_dir}: choose another {flag}"
                )
        if flag != "--output" and _real(path) == _real(output):
            raise OutputError(f"--report-dir writes {path}, which is --output: choose another --report-dir")
    if tf.io.gfile.exists(output + INCOMPLETE_SUFFIX):
        raise OutputError(
            f"{output + INCOMPLETE_SUFFIX}: exists, and predictions are written under this name before being"
            " renamed to --output: move it away or choose another --output"
        )


def check_writable(path: str) -> None:
    """Fails now, not after the predictions, if `path` cannot be written.

    The probe is a new file of a name no file has, removed at once.

    Raises:
      OutputError: its directory cannot be created or written.
    """
    directory = os.path.dirname(path) or "."
    probe = posixpath.join(directory, f".{os.path.basename(path)}.write-test-{uuid.uuid4().hex[:12]}")
    try:
        tf.io.gfile.makedirs(directory)
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("")
        tf.io.gfile.remove(probe)
    except tf.errors.OpError as e:
        raise OutputError(f"{path}: cannot write: {e.message}") from None


def csv_header() -> list[str]:
    """The predictions CSV's columns: index; the top-1 class, its name and probability; the
    same for the next TOP_K - 1 classes (top2_class, ...); the label (empty when unknown)."""
    columns = ["index"]
    for k in range(1, TOP_K + 1):
        prefix = "" if k == 1 else f"top{k}_"
        columns += [f"{prefix}class", f"{prefix}class_name", f"{prefix}probability"]
    return [*columns, "label"]


def write_predictions(path: str, result: dict, names: Sequence[str]) -> None:
    """Writes one row per example, with its TOP_K most probable classes: CSV (`csv_header`),
    or JSON lines for a .jsonl/.json suffix (every probability, and "top").

    Written to a temporary file and renamed, so a failure leaves no partial file.

    Raises:
      OutputError: the file cannot be written.
    """
    rows = zip(result["probabilities"], result["labels"], strict=True)
    temporary = path + INCOMPLETE_SUFFIX
    try:
        with tf.io.gfile.GFile(temporary, "w") as f:
            if path.endswith((".jsonl", ".json")):
                for i, (p, y) in enumerate(rows):
                    top = np.argsort(-p, kind="stable")[:TOP_K]
                    record = {
                        "index": i,
                        "class": int(top[0]),
                        "class_name": names[top[0]],
                        "probabilities": p.round(6).tolist(),
                        "top": [
                            {"class": int(c), "class_name": names[c], "probability": float(p[c])} for c in top
                        ],
                    }
                    if y != NO_LABEL:
                        record["label"] = int(y)
                    f.write(json.dumps(record) + "\n")
            else:
                writer = csv.writer(f)
                writer.writerow(csv_header())
                for i, (p, y) in enumerate(rows):
                    top = np.argsort(-p, kind="stable")[:TOP_K]
                    cells = [x for c in top for x in (int(c), names[c], f"{p[c]:.6f}")]
                    writer.writerow([i, *cells, "" if y == NO_LABEL else int(y)])
        tf.io.gfile.rename(temporary, path, overwrite=True)
    except tf.errors.OpError as e:
        raise OutputError(f"{path}: cannot write: {e.message}") from None
