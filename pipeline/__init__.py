"""The Beam + tf.Transform preprocessing job: IDX files to TFRecords and a transform graph."""

from common import console as _console

# TensorFlow's C++ INFO lines off (warnings and errors stay), before it loads: in the
# entry points and on every Beam worker that imports the pipeline.
_console.set_defaults()
