"""Catalogue entries for :mod:`losslab.regression`."""

from __future__ import annotations

import torch

from .. import regression as R
from . import LossSpec, register

register(
    LossSpec(
        name="mse_loss",
        default_for=('regression',),
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
        curve=lambda x, y: R.mse_loss(x, torch.full_like(x, y), reduction="none"),
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
        curve=lambda x, y: R.mae_loss(x, torch.full_like(x, y), reduction="none"),
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
        curve=lambda x, y: R.smooth_l1_loss(x, torch.full_like(x, y), reduction="none"),
    )
)


def _where_defined(x: torch.Tensor, ok: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    """Curve values where the loss is defined, NaN elsewhere (plots leave a gap)."""
    return torch.where(ok, loss, torch.full_like(loss, float("nan")))


register(
    LossSpec(
        name="msle_loss",
        function=R.msle_loss,
        module=R.MSLELoss,
        family="regression",
        tasks=("regression",),
        input_kind="real values",
        target_kind="real values > -1 (typically >= 0), same shape",
        activation="none, softplus or relu (outputs > -1)",
        value_range="[0, inf)",
        summary="Squared error of log1p values; for positive targets spanning orders of magnitude (prices, counts).",
        formula="(log1p(pred) - log1p(target))^2",
        reference="standard (Keras MeanSquaredLogarithmicError)",
        curve=lambda x, y: _where_defined(
            x, x > -1, R.msle_loss(x.clamp_min(-0.999), torch.full_like(x, y), reduction="none")
        ),
        advice="Measures ratios, not differences; penalizes under-estimates more than over-estimates.",
    )
)

register(
    LossSpec(
        name="log_cosh_loss",
        function=R.log_cosh_loss,
        module=R.LogCoshLoss,
        family="regression",
        tasks=("regression",),
        input_kind="real values",
        target_kind="real values, same shape",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="log(cosh(r)): quadratic near 0, linear far out; a smooth Huber without a threshold.",
        formula="log(cosh(pred - target)) = |r| + softplus(-2|r|) - log 2",
        reference="standard (Keras LogCosh); P. Chen, G. Chen, S. Zhang, Log Hyperbolic Cosine Loss Improves "
        "Variational Auto-Encoder, ICLR 2019 submission",
        curve=lambda x, y: R.log_cosh_loss(x, torch.full_like(x, y), reduction="none"),
        advice="Like huber_loss with delta ~ 1, but twice differentiable; rescale targets so residuals of 1 mean 'large'.",
    )
)

register(
    LossSpec(
        name="poisson_loss",
        default_for=('counts',),
        function=R.poisson_loss,
        module=R.PoissonLoss,
        family="regression",
        tasks=("regression", "counts"),
        input_kind="real values",
        target_kind="non-negative counts, same shape",
        activation="softplus or exp (a rate >= 0); none with log_input=True",
        value_range="(-inf, inf) (the log y! constant is left out)",
        summary="Poisson negative log-likelihood of counts given a predicted rate (or log-rate).",
        formula="pred - target * log(pred + eps);  log_input=True: exp(pred) - target * pred",
        reference="P. McCullagh, J. A. Nelder, Generalized Linear Models, 1989 (Poisson regression); Keras Poisson, "
        "torch PoissonNLLLoss",
        curve=lambda x, y: _where_defined(
            x, x >= 0, R.poisson_loss(x.clamp_min(0.0), torch.full_like(x, y), reduction="none")
        ),
        advice="For count targets. Prefer log_input=True with a linear output: no eps, no clamping of the rate.",
    )
)
