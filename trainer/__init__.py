"""The training job: parse-based input_fn, custom CNN Estimator, serving with the transform graph."""
