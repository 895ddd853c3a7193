"""Catalogue entries for :mod:`losslab.regression`."""

from __future__ import annotations

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
