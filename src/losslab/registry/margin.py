"""Catalogue entries for :mod:`losslab.classification.margin` (multi-class hinge losses)."""

from __future__ import annotations

import torch

from ..classification import margin as M
from . import LossSpec, register
from ._samplers import randint, randn


def _scores_index(classes: int = 5, spatial: tuple[int, ...] = (), **kwargs):
    """Scores ``(n, C, *spatial)`` and indices ``(n, *spatial)``, away from the kinks and ties of a hinge with
    margin 1."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        # Classes sit on a grid of spacing 0.5 plus jitter < 0.1, and the target's score on the same grid shifted
        # by 0.25: every 1 + s_k - s_y is then 0.25 (mod 0.5) +- 0.05, at least 0.2 from the kink at 0, and no two
        # scores tie.
        base = torch.randperm(classes, generator=g).to(torch.float64)
        shape = (n, classes, *spatial)
        idx = randint((n, *spatial), classes, g)
        jitter = 0.05 * torch.rand(shape, generator=g, dtype=torch.float64)
        scores = 0.5 * base.reshape(1, -1, *([1] * len(spatial))) + jitter
        scores = scores + 0.25 * torch.nn.functional.one_hot(idx, classes).movedim(-1, 1)
        scores = scores + randn((n, 1, *spatial), torch.float64, g)  # a per-position shift changes nothing
        return (scores.to(dtype), idx), dict(kwargs)

    return sample


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
        sample=_scores_index(classes=5, spatial=(3,)),
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
        sample=_scores_index(classes=5, spatial=(3,), p=2, margin=1.0),
        curve=_curve(M.multiclass_hinge_loss),
        advice="torch.nn.MultiMarginLoss with channels-first spatial dims and ignore_index; p=2 is the smooth "
        "squared hinge.",
    )
)
