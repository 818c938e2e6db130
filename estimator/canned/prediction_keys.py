"""The keys of the predictions heads and canned Estimators return (tf.estimator's)."""


class PredictionKeys:
    """Prediction key strings.

    Classifiers: LOGITS, LOGISTIC (binary only), PROBABILITIES, CLASS_IDS,
    CLASSES, ALL_CLASS_IDS, ALL_CLASSES. Regressors: PREDICTIONS (and LOGITS
    when the head has an inverse link function).
    """

    CLASSES = "classes"
    CLASS_IDS = "class_ids"
    ALL_CLASSES = "all_classes"
    ALL_CLASS_IDS = "all_class_ids"
    LOGISTIC = "logistic"
    LOGITS = "logits"
    PREDICTIONS = "predictions"
    PROBABILITIES = "probabilities"
    TOP_K = "top_k"
