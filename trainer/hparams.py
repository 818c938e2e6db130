"""The training job's hyperparameters: defaults written once, saved as hparams.json."""

from __future__ import annotations

import dataclasses
import json

import tensorflow as tf

from trainer import model

HPARAMS_FILE = "hparams.json"


@dataclasses.dataclass(frozen=True)
class HParams:
    """Everything that decides what a training run computes.

    Attributes:
      model: "cnn" (Deep MNIST) or "vgg".
      train_steps: global step to train to; when None, num_epochs decides.
      num_epochs: passes over the train split, used when train_steps is None.
      batch_size: examples per step.
      learning_rate: Adam's initial learning rate, decayed to 0 over the run by a
        cosine schedule (Loshchilov & Hutter 2017, SGDR) unless constant_learning_rate.
      constant_learning_rate: keep the learning rate constant.
      augment: flip training images left-right at random; None: only for datasets
        whose classes survive a mirror (Fashion-MNIST yes, digits no).
      eval_steps: batches per evaluation (None: the whole eval split).
      save_checkpoints_steps: checkpoint (and evaluate, at most every
        throttle_secs) every this many steps.
      keep_checkpoint_max: checkpoints to keep.
      throttle_secs: at least this many seconds between evaluations.
      shuffle_buffer: examples in the training shuffle buffer.
      seed: graph and shuffle seed.
      log_step_count_steps: log loss and examples/s every this many steps.
    """

    model: str = model.CNN
    train_steps: int | None = None
    num_epochs: float | None = None
    batch_size: int = 100
    learning_rate: float = 1e-3
    constant_learning_rate: bool = False
    augment: bool | None = None
    eval_steps: int | None = None
    save_checkpoints_steps: int = 1000
    keep_checkpoint_max: int = 5
    throttle_secs: int = 60
    shuffle_buffer: int = 10_000
    seed: int = 42
    log_step_count_steps: int = 100

    def __post_init__(self):
        if self.model not in model.MODELS:
            raise ValueError(f"--model must be one of {model.MODELS}, got {self.model!r}")
        for name in ("batch_size", "save_checkpoints_steps", "keep_checkpoint_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        for name in ("train_steps", "num_epochs", "eval_steps"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        if self.learning_rate <= 0:
            raise ValueError(f"--learning-rate must be > 0, got {self.learning_rate}")

    def max_steps(self, train_examples: int) -> int:
        """The global step to stop at: train_steps, or num_epochs over train_examples
        (default schedule when neither is given: DEFAULT_EPOCHS)."""
        if self.train_steps:
            return self.train_steps
        epochs = self.num_epochs or DEFAULT_EPOCHS[self.model]
        return max(1, round(epochs * train_examples / self.batch_size))

    def model_params(self, max_steps: int, dataset: str, class_names) -> dict:
        """The params dict of trainer.model.model_fn for a run of max_steps on `dataset`."""
        augment = self.augment if self.augment is not None else dataset in MIRROR_SAFE_DATASETS
        return {
            "model": self.model,
            "learning_rate": self.learning_rate,
            "decay_steps": None if self.constant_learning_rate else max_steps,
            "augment": augment,
            "class_names": list(class_names),
        }

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    def save(self, directory: str) -> str:
        """Writes hparams.json into `directory` (next to the checkpoints); returns its path."""
        tf.io.gfile.makedirs(directory)
        path = directory.rstrip("/") + "/" + HPARAMS_FILE
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(self.to_json())
        return path


# The default schedule: what fits in about 10 minutes of training on 2 CPU cores
# (BENCHMARKS.md has the measured times and accuracies).
DEFAULT_EPOCHS = {model.CNN: 10, model.VGG: 25}
MIRROR_SAFE_DATASETS = ("fashion_mnist",)
