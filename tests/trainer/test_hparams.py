"""HParams: the defaults a job resolves from its data."""

import pytest

from trainer.hparams import HParams


@pytest.mark.parametrize(
    "dataset, flags, expected",
    [
        ("fashion_mnist", {}, True),  # clothes may be mirrored: trained and evaluated with flips
        ("mnist", {}, False),  # digits may not
        ("fashion_mnist", {"test_time_flips": False}, False),
        ("mnist", {"augment": True}, True),  # follows --augment
        ("mnist", {"test_time_flips": True}, True),
    ],
)
def test_test_time_flips_default_to_training_flips(dataset, flags, expected):
    assert HParams(**flags).model_params(1000, ["c"] * 10, dataset)["test_time_flips"] is expected
