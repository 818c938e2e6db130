"""The job's steps as Beam composites, so the graph reads as the plan.

    p | "ReadForAnalysis" >> ReadSplits(train tasks)           {train: raw RecordBatches}
    p | "Read" >> ReadSplits(train + test tasks)                {train, eval, test: raw RecordBatches}
    (analysis, raw) | "AnalyzeAndTransform" >> AnalyzeAndTransform(...)
                                                ({split: transformed batches}, transform_fn)
    transformed[split] | "WriteTrain" >> WriteSplit(...)        manifest.Shard per file written

Each composite has a short `expand` and is tested alone (tests/pipeline/test_transforms.py).
Raw batches are `pyarrow.RecordBatch`es in the layout of `sources.read_arrow_schema()`;
transformed ones are tf.Transform's (RecordBatch, passthrough features) pairs.
"""

from __future__ import annotations

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from tfx_bsl.public import tfxio

from pipeline import preprocessing, sinks, sources
from schemas import features, layout

_TELEMETRY = ["idx-tfrecords", "preprocess"]


def raw_adapter_config() -> tfxio.TensorAdapterConfig:
    """How tf.Transform reads the raw RecordBatches: the raw schema's tensors, plus SHARD_COLUMN."""
    raw_tfxio = tfxio.TFExampleBeamRecord(
        physical_format="inmem", telemetry_descriptors=_TELEMETRY, schema=features.load_raw_schema()
    )
    return tfxio.TensorAdapterConfig(
        arrow_schema=sources.read_arrow_schema(), tensor_representations=raw_tfxio.TensorRepresentations()
    )


class ReadSplits(beam.PTransform):
    """PBegin -> {split: raw RecordBatches}: the driver's read tasks, spread over workers and read.

    Args:
      tasks: `sources.ReadTask`s (planned along the shard grid by `sources.plan_reads`).
      counter: name of the counter of images read (`sources.ReadIdxRecordBatches`).
      splits: the splits to return (a task's records go to its own split, or to
        train and eval for the training pair).
    """

    def __init__(self, tasks: list[sources.ReadTask], counter: str, splits: tuple[str, ...] = layout.SPLITS):
        super().__init__()
        self._tasks, self._counter, self._splits = list(tasks), counter, tuple(splits)

    def expand(self, pbegin):
        read = (
            pbegin
            | "Plan" >> beam.Create(self._tasks)
            | "Spread" >> beam.Reshuffle()
            | "ReadIdx"
            >> beam.ParDo(sources.ReadIdxRecordBatches(self._counter)).with_outputs(*layout.SPLITS)
        )
        return {split: read[split] for split in self._splits}


class AnalyzeAndTransform(beam.PTransform):
    """(analysis batches, {split: raw batches}) -> ({split: transformed batches}, transform_fn).

    The analyzers of `preprocessing.make_preprocessing_fn(normalization)` see the
    analysis batches only (the train split); every split is transformed by the
    same transform_fn, with SHARD_COLUMN passed through.

    Args:
      normalization: `config.SCALE_0_1` or `config.Z_SCORE`.
      temp_dir: tf.Transform's working directory (under the staging directory).
    """

    def __init__(self, normalization: str, temp_dir: str):
        super().__init__()
        self._normalization, self._temp_dir = normalization, temp_dir

    def expand(self, inputs):
        analysis, raw = inputs
        adapter_config = raw_adapter_config()
        with tft_beam.Context(temp_dir=self._temp_dir, passthrough_keys={sources.SHARD_COLUMN}):
            transform_fn = (analysis, adapter_config) | "AnalyzeTrain" >> tft_beam.AnalyzeDataset(
                preprocessing.make_preprocessing_fn(self._normalization)
            )
            transformed = {}
            for split, batches in raw.items():
                transformed[split], _ = ((batches, adapter_config), transform_fn) | (
                    f"Transform{split.title()}" >> tft_beam.TransformDataset(output_record_batches=True)
                )
        return transformed, transform_fn


class WriteSplit(beam.PTransform):
    """Transformed batches of one split -> its GZIP TFRecord shards; emits a `manifest.Shard` per file.

    Args:
      output_dir: the directory that receives SPLIT/ (the run's staging directory).
      split: layout.TRAIN, EVAL or TEST.
      num_shards: shards in the split's grid.
    """

    def __init__(self, output_dir: str, split: str, num_shards: int):
        super().__init__()
        self._output_dir, self._split, self._num_shards = output_dir, split, num_shards

    def expand(self, transformed):
        return transformed | "WriteShards" >> beam.ParDo(
            sinks.WriteShards(self._output_dir, self._split, self._num_shards)
        )
