"""The report's formulas: the accuracy interval and the calibration error, and sklearn's metrics wired right."""

import numpy as np
import pytest

from trainer import report

NAMES = ["a", "b", "c"]


def test_wilson_interval_as_published():
    # 90 of 100: 0.8256-0.9448 (Newcombe 1998, Table I's method 3 as commonly tabulated)
    low, high = report.wilson_interval(90, 100)
    assert low == pytest.approx(0.8256, abs=1e-4) and high == pytest.approx(0.9448, abs=1e-4)
    assert report.wilson_interval(0, 10)[0] == 0 and report.wilson_interval(10, 10)[1] == pytest.approx(1)


def test_calibration_error_of_an_overconfident_and_a_calibrated_model():
    labels = np.array([0, 1, 0, 1])
    sure = np.array([[1.0, 0, 0]] * 4)  # always certain of class 0: right half the time
    assert report.expected_calibration_error(sure, labels) == pytest.approx(0.5)
    honest = np.array([[0.5, 0.5, 0]] * 4)  # 50% confident, argmax class 0, right half the time
    assert report.expected_calibration_error(honest, labels) == pytest.approx(0.0)


def test_per_class_and_averaged_metrics():
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])
    m = report.compute(labels, np.eye(3)[predicted] * 0.8 + 0.2 / 3, NAMES)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3),
                                   "f1": pytest.approx(2 / 3), "support": 3}  # fmt: skip
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3) and m["per_class"]["b"]["recall"] == 1
    assert m["per_class"]["c"] == {"precision": 0, "recall": 0, "f1": 0, "support": 1}
    assert m["macro_avg"]["recall"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["weighted_avg"]["recall"] == pytest.approx(4 / 6)  # support-weighted recall is accuracy
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    p_true = (np.eye(3)[predicted] * 0.8 + 0.2 / 3)[np.arange(6), labels]
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(p_true)), rel=1e-6)
