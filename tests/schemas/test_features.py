"""The raw schema file and the constants agree; the layout matches tf.Transform's names."""

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.tf_metadata import schema_utils
from tfx_bsl.public import tfxio

from pipeline import sources
from schemas import features, layout


def test_pbtxt_features_match_constants():
    schema = features.load_raw_schema()
    by_name = {f.name: f for f in schema.feature}
    assert set(by_name) == {features.IMAGE_RAW_KEY, features.LABEL_KEY}
    label = by_name[features.LABEL_KEY]
    assert (label.int_domain.min, label.int_domain.max) == (0, features.NUM_CLASSES - 1)


def test_raw_feature_spec():
    assert features.raw_feature_spec() == {
        features.IMAGE_RAW_KEY: tf.io.FixedLenFeature([], tf.string),
        features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    }
    assert features.serving_raw_feature_spec() == {
        features.IMAGE_RAW_KEY: tf.io.FixedLenFeature([], tf.string)
    }


def test_geometry_and_classes():
    assert features.IMAGE_PIXELS == features.IMAGE_HEIGHT * features.IMAGE_WIDTH == 784
    for names in features.CLASS_NAMES.values():
        assert len(names) == len(set(names)) == features.NUM_CLASSES
    assert features.class_names("fashion_mnist")[9] == "Ankle boot"


def test_record_batches_have_the_layout_tfxio_gives_the_raw_schema():
    tfx = tfxio.TFExampleBeamRecord(
        physical_format="inmem", telemetry_descriptors=["test"], schema=features.load_raw_schema()
    )
    assert sources.raw_arrow_schema().equals(tfx.ArrowSchema())


def test_layout_names_are_tf_transforms():
    assert layout.TRANSFORM_FN_DIR == tft.TFTransformOutput.TRANSFORM_FN_DIR
    assert layout.TRANSFORMED_METADATA_DIR == tft.TFTransformOutput.TRANSFORMED_METADATA_DIR
    assert layout.RAW_METADATA_DIR == tft.TFTransformOutput.RAW_METADATA_DIR
    assert layout.join("gs://b/out", layout.shard_path("train", 3, 16)) == (
        "gs://b/out/train/part-00003-of-00016.tfrecord.gz"
    )


def test_schema_round_trips_through_tf_metadata():
    spec = schema_utils.schema_as_feature_spec(features.load_raw_schema()).feature_spec
    assert set(spec) == {features.IMAGE_RAW_KEY, features.LABEL_KEY}
