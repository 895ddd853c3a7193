"""Catalogue entries for :mod:`losslab.classification.margin` (multi-class hinge losses)."""

from __future__ import annotations

import torch

from ..classification import margin as M
from . import LossSpec, register


def _curve(function):
    """Two classes, scores ``[x, 0]``; label 1 means class 0 (the plotted score's class), label 0 class 1.
    Other targets are not labels: NaN (a gap in the plot)."""

    def curve(x: torch.Tensor, y: float) -> torch.Tensor:
        scores = torch.stack([x, torch.zeros_like(x)], dim=1)
        if y not in (0.0, 1.0):
            return torch.full_like(x, float("nan"))
        index = torch.full(x.shape, 0 if y == 1.0 else 1, dtype=torch.long)
        return function(scores, index, reduction="none")

    return curve


register(
    LossSpec(
        name="categorical_hinge_loss",
        function=M.categorical_hinge_loss,
        module=M.CategoricalHingeLoss,
        family="classification",
        tasks=("single-label",),
        input_kind="real values",
        target_kind="class indices (N, *) or one-hot labels (N, C, *)",
        activation="linear (raw class scores; softmax outputs also work)",
        value_range="[0, inf)",
        summary="Crammer-Singer hinge max(0, 1 + max_{k != y} s_k - s_y): the target's score must lead every other "
        "by 1 (Keras' CategoricalHinge).",
        formula="max(0, 1 + max_{k != y} s_k - s_y)",
        reference="K. Crammer, Y. Singer, On the Algorithmic Implementation of Multiclass Kernel-based Vector "
        "Machines, JMLR 2001",
        curve=_curve(M.categorical_hinge_loss),
        advice="A multi-class SVM objective: only the runner-up class is pushed down. No probabilities come out; "
        "prefer softmax_cross_entropy unless you want margins.",
    )
)

register(
    LossSpec(
        name="multiclass_hinge_loss",
        function=M.multiclass_hinge_loss,
        module=M.MulticlassHingeLoss,
        family="classification",
        tasks=("single-label",),
        input_kind="real values",
        target_kind="class indices (N, *)",
        activation="linear (raw class scores)",
        value_range="[0, inf)",
        summary="Weston-Watkins multi-class hinge as torch's MultiMarginLoss: every class within `margin` of the "
        "target's score adds its shortfall (^p), divided by C.",
        formula="(1/C) sum_{k != y} max(0, margin - s_y + s_k)^p",
        reference="J. Weston, C. Watkins, Support Vector Machines for Multi-Class Pattern Recognition, ESANN 1999 "
        "(torch.nn.MultiMarginLoss)",
        curve=_curve(M.multiclass_hinge_loss),
        advice="torch.nn.MultiMarginLoss with channels-first spatial dims and ignore_index; p=2 is the smooth "
        "squared hinge.",
    )
)
