"""Captures what the runtime logs through TensorFlow's logger (tf.get_logger())."""

import contextlib
import logging

import tensorflow as tf


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def tf_log():
    """Yields the list of messages logged at INFO or above through TensorFlow's logger meanwhile."""
    logger = tf.get_logger()
    handler, level = _Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
