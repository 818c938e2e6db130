"""The Beam + tf.Transform preprocessing job: IDX files to TFRecords and a transform graph."""
