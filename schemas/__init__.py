"""The one definition of features, the raw schema and the output layout.

Both the pipeline and the trainer import this package; no other module defines
a feature key, an image shape or an output path.
"""
