"""Serving as TF Serving serves: the C++ SavedModel loader in a Session, TF Serving's request shapes.

TF Serving itself cannot run here; what it does with a request is documented
(https://www.tensorflow.org/tfx/serving/api_rest) and done below: the REST
`predict` body (row "instances" with {"b64": ...} strings, or columnar "inputs"),
the REST `classify` body ("examples" of features), and the gRPC
`ClassificationRequest` of tensorflow-serving-api, each fed to the export loaded
with `tf.compat.v1.saved_model.loader.load` (tag "serve") and run by signature
tensor names, as TF Serving's servables do. Also `saved_model_cli run --input_examples`.
"""

import base64
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2

from common import idx
from trainer import model, prediction

pytestmark = pytest.mark.slow
README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
SAVED_MODEL_CLI = str(pathlib.Path(sys.executable).with_name("saved_model_cli"))  # installed with TensorFlow


class Servable:
    """An export loaded the way TF Serving loads it, called the way its handlers call it."""

    def __init__(self, export_dir: str):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], export_dir)
        self.signatures = meta.signature_def

    def run(self, signature_name: str, inputs: dict) -> dict:
        signature = self.signatures[signature_name]
        feed = {signature.inputs[key].name: value for key, value in inputs.items()}
        fetches = {key: info.name for key, info in signature.outputs.items()}
        return self.session.run(fetches, feed)

    def rest_predict(self, body: dict) -> dict:
        """TF Serving's REST predict: row format ("instances") or columnar ("inputs")."""
        name = body.get("signature_name", "serving_default")
        keys = list(self.signatures[name].inputs)
        if "instances" in body:
            rows = [
                row if isinstance(row, dict) and set(row) == set(keys) else {keys[0]: row}
                for row in body["instances"]
            ]
            inputs = {key: _tensor([_decode(row[key]) for row in rows]) for key in keys}
            outputs = self.run(name, inputs)
            return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(len(rows))]}
        columns = body["inputs"] if isinstance(body["inputs"], dict) else {keys[0]: body["inputs"]}
        outputs = self.run(
            name, {key: _tensor([_decode(v) for v in values]) for key, values in columns.items()}
        )
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}

    def rest_classify(self, body: dict) -> dict:
        """TF Serving's REST classify: "examples" of features, each value a list or a scalar, bytes as b64."""
        examples = [_example(features).SerializeToString() for features in body["examples"]]
        return self._classify(body.get("signature_name", "serving_default"), examples)

    def grpc_classify(
        self, request: classification_pb2.ClassificationRequest
    ) -> classification_pb2.ClassificationResponse:
        """TF Serving's Classify RPC: the request's tf.Examples, serialized, into the classify signature."""
        examples = [example.SerializeToString() for example in request.input.example_list.examples]
        result = self._classify(request.model_spec.signature_name, examples)["results"]
        response = classification_pb2.ClassificationResponse()
        for row in result:
            classification = response.result.classifications.add()
            for label, score in row:
                classification.classes.add(label=label, score=score)
        return response

    def _classify(self, name: str, examples: list[bytes]) -> dict:
        signature = self.signatures[name]
        assert signature.method_name == "tensorflow/serving/classify"
        outputs = self.run(name, {"inputs": _tensor(examples)})
        labels = [[c.decode() for c in row] for row in outputs["classes"]]
        return {
            "results": [
                list(zip(*pair, strict=True)) for pair in zip(labels, outputs["scores"].tolist(), strict=True)
            ]
        }


def _tensor(values: list) -> np.ndarray:
    """A batch as a feed value; bytes as objects (a fixed-width "S" array would drop trailing zero bytes)."""
    return np.array(values, dtype=object if isinstance(values[0], bytes) else None)


def _decode(value):
    return base64.b64decode(value["b64"]) if isinstance(value, dict) and set(value) == {"b64"} else value


def _example(features: dict) -> tf.train.Example:
    example = tf.train.Example()
    for name, value in features.items():
        values = value if isinstance(value, list) else [value]
        decoded = [_decode(v) for v in values]
        if isinstance(decoded[0], bytes):
            example.features.feature[name].bytes_list.value.extend(decoded)
        elif isinstance(decoded[0], float):
            example.features.feature[name].float_list.value.extend(decoded)
        else:
            example.features.feature[name].int64_list.value.extend(decoded)
    return example


@pytest.fixture(scope="module")
def served(trained):
    input_dir, _, result, _ = trained
    images = idx.read_idx(str(next(input_dir.glob("t10k-images*"))), idx.IMAGES_NDIM)[:5]
    expected = prediction.predict(
        tf.saved_model.load(result.export),
        iter([({"image_raw": tf.constant([image.tobytes() for image in images])}, np.full(5, -1))]),
        5,
        prediction.RAW_BYTES_SIGNATURE,
    )
    return Servable(result.export), images, expected, result.export


def test_the_signatures_tf_serving_sees(served):
    servable, *_ = served
    methods = {name: signature.method_name for name, signature in servable.signatures.items()}
    assert {
        name: methods[name] for name in ("serving_default", "image_raw:serving_default", "classification")
    } == {
        "serving_default": "tensorflow/serving/predict",
        "image_raw:serving_default": "tensorflow/serving/predict",
        model.CLASSIFICATION_SIGNATURE: "tensorflow/serving/classify",
    }


def test_rest_predict_row_format_with_b64_images(served):
    servable, images, expected, _ = served
    body = {
        "signature_name": "image_raw:serving_default",
        "instances": [{"b64": base64.b64encode(image.tobytes()).decode()} for image in images],
    }
    response = servable.rest_predict(json.loads(json.dumps(body)))  # as it travels: JSON text
    assert [p["classes"] for p in response["predictions"]] == expected["classes"].tolist()
    np.testing.assert_allclose(
        [p["probabilities"] for p in response["predictions"]], expected["probabilities"], atol=1e-6
    )


def test_rest_predict_columnar_format(served):
    servable, images, expected, _ = served
    body = {"signature_name": "image_raw:serving_default",
            "inputs": {"image_raw": [{"b64": base64.b64encode(i.tobytes()).decode()} for i in images]}}  # fmt: skip
    response = servable.rest_predict(body)
    assert response["outputs"]["classes"] == expected["classes"].tolist()


def test_rest_predict_on_serialized_examples_and_rest_classify(served):
    servable, images, expected, _ = served
    examples = [_example({"image_raw": image.tobytes()}).SerializeToString() for image in images]
    body = {"instances": [{"b64": base64.b64encode(e).decode()} for e in examples]}  # serving_default
    assert [p["classes"] for p in servable.rest_predict(body)["predictions"]] == expected["classes"].tolist()
    body = {"signature_name": "classification",
            "examples": [{"image_raw": {"b64": base64.b64encode(i.tobytes()).decode()}} for i in images]}  # fmt: skip
    results = servable.rest_classify(body)["results"]
    for row, probabilities in zip(results, expected["probabilities"], strict=True):
        assert [label for label, _ in row][9] == "Ankle boot"
        np.testing.assert_allclose([score for _, score in row], probabilities, atol=1e-6)


def test_grpc_classify_request(served):
    servable, images, expected, _ = served
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "fashion"
    request.model_spec.signature_name = model.CLASSIFICATION_SIGNATURE
    for image in images:
        request.input.example_list.examples.add().CopyFrom(_example({"image_raw": image.tobytes()}))
    response = servable.grpc_classify(
        classification_pb2.ClassificationRequest.FromString(request.SerializeToString())
    )
    best = [max(c.classes, key=lambda x: x.score).label for c in response.result.classifications]
    names = [c.label for c in response.result.classifications[0].classes]
    assert best == [names[i] for i in expected["classes"]]


def test_saved_model_cli_run_with_input_examples(served):
    _, images, expected, export = served
    literal = "b'" + "".join(f"\\x{b:02x}" for b in images[0].tobytes()) + "'"  # no ; or = in the argument
    done = subprocess.run(
        [SAVED_MODEL_CLI, "run", "--dir", export, "--tag_set", "serve",
         "--signature_def", "serving_default", "--input_examples", f"examples=[{{'image_raw':[{literal}]}}]"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"Result for output key classes:\n\[(\d+)\]", done.stdout)
    assert found and int(found.group(1)) == expected["classes"][0], done.stdout[-2000:]


def test_the_readme_request_body_is_what_tf_serving_takes(served, tmp_path, trained):
    """The README's snippet that writes request.json for curl, run as written."""
    _, _, expected, _ = served
    snippet = README.read_text().split("<!-- request.json -->\n```python\n", 1)[1].split("```", 1)[0]
    input_dir = trained[0]
    snippet = snippet.replace(
        "data/fashion-mnist/t10k-images-idx3-ubyte.gz", str(next(input_dir.glob("t10k-images*")))
    )
    subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, check=True, timeout=120)
    body = json.loads((tmp_path / "request.json").read_text())
    servable = served[0]
    assert [p["classes"] for p in servable.rest_predict(body)["predictions"]] == expected["classes"][
        :3
    ].tolist()
