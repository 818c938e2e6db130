"""The training job's hyperparameters: one frozen dataclass, the flags generated from it.

Each field's default is written once, here; `add_flags` turns the fields into
`--kebab-case` flags with those defaults and `from_flags` back into an
`HParams`, so the command line and the dataclass cannot disagree. The values are
saved, resolved (`HParams.resolved`), as JOB_DIR/hparams.json next to the
checkpoints (schemas/jobdir.py). No TensorFlow import: the entry point parses its flags before TensorFlow loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing

from common.errors import ConfigError
from trainer.networks import CNN, FAST, MODELS, NETWORKS, VGG  # noqa: F401 (the --model names)

MAX_STEPS = 10**9  # a bound far beyond any real schedule; beyond it, int64 step arithmetic is at risk
MAX_BATCH_SIZE = 4096  # vgg at 4096 needs about 8 GB of activations; also bounded by the train split
# Evaluations (after as many checkpoints) of a job by default: enough points for a curve in TensorBoard,
# few enough to cost under 10% of the default job's time (BENCHMARKS.md, "evaluations").
EVALUATIONS = 5
MIRROR_SAFE_DATASETS = ("fashion_mnist",)  # classes that survive a left-right flip (clothes, not digits)


def _field(
    default, help: str, flag: str | None = None, choices=None, bounds: str | None = None, metavar=None
):
    """A field with its flag's help; `bounds` is the accepted range as --help states it."""
    metadata = {"help": help, "flag": flag, "choices": choices, "bounds": bounds, "metavar": metavar}
    return dataclasses.field(default=default, metadata=metadata)


_STEPS = f"1..{10**9:,}"  # MAX_STEPS, as --help states it


@dataclasses.dataclass(frozen=True)
class HParams:
    """Everything that decides what a training run computes.

    Raises:
      ConfigError: a value out of its range (naming the flag), e.g. a non-finite
        or non-positive learning rate, or both train_steps and num_epochs.
    """

    model: str = _field(
        FAST,
        "the network: " + "; ".join(f"{name} ({network.summary})" for name, network in NETWORKS.items()),
        choices=MODELS,
    )
    train_steps: int | None = _field(
        None, "global step to train to (default: from --num-epochs)", bounds=_STEPS
    )
    num_epochs: float | None = _field(
        None,
        "passes over the train split (default: "
        + ", ".join(f"{name} {network.default_epochs}" for name, network in NETWORKS.items())
        + ")",
        bounds="> 0",
        metavar="E",
    )
    batch_size: int = _field(128, "examples per step", bounds="1..4,096, at most the train split's examples")
    learning_rate: float = _field(
        2e-3,
        "Adam's peak learning rate, decayed to 0 over the run by a cosine schedule"
        " (Loshchilov & Hutter 2017) unless --constant-learning-rate",
        bounds="> 0",
        metavar="LR",
    )
    constant_learning_rate: bool = _field(False, "keep the learning rate constant")
    augment: bool | None = _field(
        None, "random left-right flips while training (default: for Fashion-MNIST, not for digits)"
    )
    test_time_flips: bool | None = _field(
        None,
        "average the logits of each image and its mirror image in the exported model and the final test"
        " evaluation (test-time augmentation; evaluations during training skip it; default: when training"
        " flips)",
    )
    warmup_epochs: float = _field(
        0.3, "linear warm-up of the learning rate from 0 over this many epochs", bounds=">= 0", metavar="E"
    )
    label_smoothing: float = _field(
        0.1, "label smoothing of the training loss (Szegedy et al. 2016)", bounds="0 <= X < 1"
    )
    eval_steps: int | None = _field(
        None, "batches per evaluation (default: the whole eval split)", bounds=_STEPS
    )
    save_checkpoints_steps: int | None = _field(
        None,
        f"checkpoint and evaluate (at most every --throttle-secs) every N steps (default: {EVALUATIONS} times"
        " in the job)",
        bounds=_STEPS,
    )
    keep_checkpoint_max: int = _field(5, "checkpoints (and latest exports) to keep", bounds=_STEPS)
    throttle_secs: int = _field(
        0, "at least this many seconds between evaluations", bounds=f"0..{10**9:,}", metavar="SECS"
    )
    shuffle_buffer: int = _field(10_000, "examples in the training shuffle buffer", bounds=_STEPS)
    seed: int = _field(42, "graph and shuffle seed")
    log_step_count_steps: int = _field(
        100, "log tf.estimator's loss and step rate (-v) every N steps", flag="--log-steps", bounds=_STEPS
    )

    def __post_init__(self):
        if self.model not in MODELS:
            raise ConfigError(f"--model must be one of {MODELS}, got {self.model!r}")
        positive = ("batch_size", "keep_checkpoint_max", "shuffle_buffer")
        for name in positive + ("log_step_count_steps",):
            _check_int(name, getattr(self, name), 1, MAX_STEPS)
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_int("throttle_secs", self.throttle_secs, 0, MAX_STEPS)
        for name in ("train_steps", "eval_steps", "save_checkpoints_steps"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1, MAX_STEPS)
        if self.train_steps is not None and self.num_epochs is not None:
            raise ConfigError("give --train-steps or --num-epochs, not both")
        if self.num_epochs is not None and not (math.isfinite(self.num_epochs) and self.num_epochs > 0):
            raise ConfigError(f"--num-epochs must be a finite number > 0, got {self.num_epochs}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"--learning-rate must be a finite number > 0, got {self.learning_rate}")
        if not (math.isfinite(self.warmup_epochs) and self.warmup_epochs >= 0):
            raise ConfigError(f"--warmup-epochs must be a finite number >= 0, got {self.warmup_epochs}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")

    def max_steps(self, train_examples: int) -> int:
        """The global step to stop at: train_steps, or num_epochs (default: the network's default_epochs)
        over `train_examples`.

        Raises:
          ConfigError: the batch is larger than the train split, or the schedule
            runs past MAX_STEPS.
        """
        if self.batch_size > train_examples:
            raise ConfigError(
                f"--batch-size {self.batch_size} is larger than the train split's {train_examples} examples"
            )
        if self.train_steps:
            return self.train_steps
        epochs = self.num_epochs or NETWORKS[self.model].default_epochs
        steps = max(1, round(epochs * train_examples / self.batch_size))
        if steps > MAX_STEPS:
            raise ConfigError(f"--num-epochs {epochs} means {steps} steps, more than the {MAX_STEPS} allowed")
        return steps

    def checkpoint_steps(self, train_examples: int) -> int:
        """Steps between checkpoints (and evaluations): --save-checkpoints-steps, else the
        schedule in EVALUATIONS equal parts (rounded up), the last at its end."""
        return self.save_checkpoints_steps or math.ceil(self.max_steps(train_examples) / EVALUATIONS)

    def resolved(self, train_examples: int, eval_examples: int, dataset: str) -> dict:
        """Every field with the value this job uses in place of a default left to the data
        (train_steps, num_epochs, augment, test_time_flips, eval_steps, save_checkpoints_steps),
        plus the schedule: steps_per_epoch, and the learning rate's decay_steps (None:
        constant) and warmup_steps.

        Raises:
          ConfigError: as `max_steps`.
        """
        steps = self.max_steps(train_examples)
        params = self.model_params(train_examples, (), dataset)
        epochs = self.num_epochs or (NETWORKS[self.model].default_epochs if not self.train_steps else None)
        values = self.to_dict()
        values.update(
            train_steps=steps,
            num_epochs=epochs if epochs else round(steps * self.batch_size / train_examples, 4),
            augment=self.flips(dataset),
            test_time_flips=params["test_time_flips"],
            eval_steps=self.eval_steps or max(1, math.ceil(eval_examples / self.batch_size)),
            save_checkpoints_steps=self.checkpoint_steps(train_examples),
            steps_per_epoch=round(train_examples / self.batch_size, 4),
            decay_steps=params["decay_steps"],
            warmup_steps=params["warmup_steps"],
        )
        return values

    def model_params(self, train_examples: int, class_names, dataset: str) -> dict:
        """The params dict of trainer.model.model_fn for this schedule over
        `train_examples` of `dataset` (the manifest's name, e.g. "fashion_mnist").

        Raises:
          ConfigError: as `max_steps`.
        """
        return {
            "model": self.model,
            "learning_rate": self.learning_rate,
            "decay_steps": None if self.constant_learning_rate else self.max_steps(train_examples),
            "warmup_steps": round(self.warmup_epochs * train_examples / self.batch_size),
            "label_smoothing": self.label_smoothing,
            "test_time_flips": self.flips(dataset) if self.test_time_flips is None else self.test_time_flips,
            "class_names": list(class_names),
        }

    def flips(self, dataset: str) -> bool:
        """Whether training flips images left-right: --augment, else whether `dataset`'s classes allow it."""
        return self.augment if self.augment is not None else dataset in MIRROR_SAFE_DATASETS

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"--{name.replace('_', '-')} must be an integer in [{low}, {high}], got {value!r}")


_METAVARS = {int: "N", float: "X"}  # str fields have choices, shown as {a,b,c}


def _flag(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Adds one flag per HParams field, with the field's default and help."""
    hints = typing.get_type_hints(HParams)
    for field in dataclasses.fields(HParams):
        kind = hints[field.name]
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        default = field.default
        notes = [f"range {field.metadata['bounds']}"] if field.metadata.get("bounds") else []
        notes += [] if default is None else [f"default: {default}"]
        shown = f" ({'; '.join(notes)})" if notes else ""
        if base is bool:
            parser.add_argument(
                _flag(field),
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=field.metadata["help"] + shown,
            )
        else:
            parser.add_argument(
                _flag(field),
                dest=field.name,
                type=base,
                default=default,
                choices=field.metadata.get("choices"),
                metavar=field.metadata.get("metavar") or _METAVARS.get(base),
                help=field.metadata["help"] + shown,
            )


def from_flags(args: argparse.Namespace) -> HParams:
    """The HParams of parsed flags (see `add_flags`)."""
    return HParams(**{field.name: getattr(args, field.name) for field in dataclasses.fields(HParams)})
