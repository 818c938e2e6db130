"""The head a canned classifier uses for its n_classes."""

from __future__ import annotations

from .binary_class_head import BinaryClassHead
from .multi_class_head import MultiClassHead


def binary_or_multi_class_head(n_classes, weight_column, label_vocabulary, loss_reduction):
    """BinaryClassHead for n_classes == 2, else MultiClassHead(n_classes)."""
    if n_classes == 2:
        return BinaryClassHead(
            weight_column=weight_column, label_vocabulary=label_vocabulary, loss_reduction=loss_reduction
        )
    return MultiClassHead(
        n_classes,
        weight_column=weight_column,
        label_vocabulary=label_vocabulary,
        loss_reduction=loss_reduction,
    )
