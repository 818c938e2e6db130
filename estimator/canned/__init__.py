"""Canned Estimators (tf.estimator's DNN, linear, wide-and-deep and baseline models).

Import the classes from the package root (`estimator.DNNClassifier`, ...) or from
their modules (`estimator.canned.dnn`, `linear`, `dnn_linear_combined`,
`baseline`). This package's own namespace stays empty, as tf.estimator's did, so
that `estimator.head` may import `canned.metric_keys` without a cycle.
"""
