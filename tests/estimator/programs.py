"""Shared helpers of the ported-program tests (tests/estimator/test_programs_*.py).

Serving a SavedModel as TF Serving does, reading summaries, making tf.Examples, and the
tiny synthetic Iris and MNIST-like data the programs train on.
"""

import glob
import os

import numpy as np
import pandas as pd
import tensorflow as tf

tf1 = tf.compat.v1
IRIS_COLUMNS = ["SepalLength", "SepalWidth", "PetalLength", "PetalWidth"]


def serve(export_dir, signature, feeds, tags=("serve",)):
    """Runs one signature of a SavedModel as TF Serving (or saved_model_cli run) does: TF1 loader."""
    with tf.Graph().as_default(), tf1.Session() as session:
        meta_graph = tf1.saved_model.loader.load(session, list(tags), export_dir)
        signature_def = meta_graph.signature_def[signature]
        fetches = {key: info.name for key, info in signature_def.outputs.items()}
        return session.run(fetches, {signature_def.inputs[key].name: value for key, value in feeds.items()})


def signatures(export_dir, tags=("serve",)):
    """{signature name: (sorted input keys, sorted output keys, method name)} of a SavedModel."""
    with tf.Graph().as_default(), tf1.Session() as session:
        meta_graph = tf1.saved_model.loader.load(session, list(tags), export_dir)
        return {
            name: (sorted(sig.inputs), sorted(sig.outputs), sig.method_name)
            for name, sig in meta_graph.signature_def.items()
        }


def scalars(directory):
    """{tag: {step: value}} of the scalar summaries in a directory's event files."""
    out = {}
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def example(**features):
    """A serialized tf.Example: ints, floats and strings by their Python type."""
    feature = {}
    for key, value in features.items():
        if isinstance(value, (str, bytes)):
            value = value.encode() if isinstance(value, str) else value
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        elif isinstance(value, float):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        else:
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def iris(n, seed):
    """Iris-like data: three well separated classes over the guide's four columns."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    x = (centers[y] + 0.15 * rng.randn(n, 4)).astype(np.float32)
    return pd.DataFrame(x, columns=IRIS_COLUMNS), pd.Series(y, name="Species")


def digits(n, seed=0, size=64):
    """MNIST-like data: 10 noisy prototypes of `size` pixels; (images float32 [n, size], labels int32)."""
    rng = np.random.RandomState(seed)
    prototypes = np.random.RandomState(99).rand(10, size).astype(np.float32)
    labels = rng.randint(0, 10, n).astype(np.int32)
    return (prototypes[labels] + 0.1 * rng.randn(n, size)).astype(np.float32), labels


PREDICT_X = {
    "SepalLength": [5.1, 5.9, 6.9],
    "SepalWidth": [3.3, 3.0, 3.1],
    "PetalLength": [1.7, 4.2, 5.4],
    "PetalWidth": [0.5, 1.5, 2.1],
}
