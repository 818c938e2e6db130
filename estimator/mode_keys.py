"""The three modes a `model_fn` is called in, with tf.estimator's values."""


class ModeKeys:
    """Standard names for model modes (the values of `tf.estimator.ModeKeys`).

    TRAIN: training. EVAL: evaluation. PREDICT: inference, and the export of a
    SavedModel for serving.
    """

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"

    ALL = (TRAIN, EVAL, PREDICT)
