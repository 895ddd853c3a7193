"""Catalogue entries for :mod:`losslab.regression`."""

from __future__ import annotations

import torch

from .. import regression as R
from . import LossSpec, register
from ._samplers import elementwise

register(
    LossSpec(
        name="mse_loss",
        function=R.mse_loss,
        module=R.MSELoss,
        family="regression",
        tasks=("regression",),
        input_kind="real values",
        target_kind="real values, same shape",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="Squared error; the default for continuous targets with Gaussian-like noise.",
        formula="(pred - target)^2",
        reference="standard (Gauss, least squares)",
        sample=elementwise(),
        curve=lambda x, y: (x - y) ** 2,
        advice="Sensitive to outliers: one large error dominates. Use mae_loss or huber_loss if targets have outliers.",
    )
)

register(
    LossSpec(
        name="mae_loss",
        function=R.mae_loss,
        module=R.MAELoss,
        family="regression",
        tasks=("regression",),
        input_kind="real values",
        target_kind="real values, same shape",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="Absolute error; robust to outliers, estimates the conditional median.",
        formula="|pred - target|",
        reference="standard (Laplace, least absolute deviations)",
        sample=elementwise(),
        curve=lambda x, y: (x - y).abs(),
        advice="Robust to outliers; its gradient does not shrink near the optimum, so lower the learning rate late.",
    )
)

register(
    LossSpec(
        name="huber_loss",
        function=R.huber_loss,
        module=R.HuberLoss,
        family="regression",
        tasks=("regression",),
        input_kind="real values",
        target_kind="real values, same shape",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="Squared error near 0, absolute error beyond delta; robust and smooth.",
        formula="0.5 r^2 if |r| <= delta else delta (|r| - 0.5 delta),  r = pred - target",
        reference="P. J. Huber, Robust Estimation of a Location Parameter, Ann. Math. Statist. 1964",
        sample=elementwise(delta=0.7),
        curve=lambda x, y: R.huber_loss(x, torch.full_like(x, y), reduction="none"),
        advice="Pick delta near the residual size you still trust; beyond it errors count linearly.",
    )
)

register(
    LossSpec(
        name="smooth_l1_loss",
        function=R.smooth_l1_loss,
        module=R.SmoothL1Loss,
        family="regression",
        tasks=("regression", "detection"),
        input_kind="real values",
        target_kind="real values, same shape",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="Absolute error with a quadratic zone of width beta; the Fast R-CNN box-regression loss.",
        formula="0.5 r^2 / beta if |r| < beta else |r| - 0.5 beta,  r = pred - target",
        reference="R. Girshick, Fast R-CNN, ICCV 2015, arXiv:1504.08083",
        sample=elementwise(beta=0.5),
        curve=lambda x, y: R.smooth_l1_loss(x, torch.full_like(x, y), reduction="none"),
    )
)
