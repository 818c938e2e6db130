"""The metric and prediction keys tf.estimator 2.15 gives a binary classifier, as the tests expect them."""

# A BinaryClassHead's eval metrics (Head.metrics()).
BINARY_HEAD_METRICS = {
    "accuracy",
    "accuracy_baseline",
    "auc",
    "auc_precision_recall",
    "average_loss",
    "label/mean",
    "precision",
    "prediction/mean",
    "recall",
}
# What Estimator.evaluate returns for a binary classifier: the head's metrics, the loss and the step.
BINARY_METRICS = BINARY_HEAD_METRICS | {"loss", "global_step"}
BINARY_PREDICTIONS = {
    "logits",
    "logistic",
    "probabilities",
    "class_ids",
    "classes",
    "all_class_ids",
    "all_classes",
}
MULTI_CLASS_PREDICTIONS = BINARY_PREDICTIONS - {"logistic"}
