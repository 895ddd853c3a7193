"""Regression losses: squared, absolute, squared-log, Huber, smooth-L1, log-cosh and Poisson errors.

Every function takes ``pred`` and ``target`` of the same shape and returns the element-wise loss reduced by
:func:`losslab._reduction.reduce_loss`.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_finite, check_floating, check_same_shape, check_scalar
from ._numerics import upcast
from ._reduction import reduce_loss

__all__ = ["mse_loss", "MSELoss", "mae_loss", "MAELoss", "huber_loss", "HuberLoss", "smooth_l1_loss", "SmoothL1Loss"]


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    check_finite(target, "target")
    return upcast(pred, target)


def mse_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean squared error, for regression to continuous values with Gaussian-like noise.

    Squaring penalizes large errors heavily, so a few outliers dominate the loss; prefer :func:`mae_loss` or
    :func:`huber_loss` when the targets have outliers:

    .. math::
        \ell = (\hat y - y)^2

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or ``target`` is not finite.
        TypeError: a non-floating tensor.

    Example:
        >>> import torch
        >>> mse_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0]))
        tensor(1.6667)
    """
    p, t = _check_pair(pred, target)
    return reduce_loss((p - t).square(), reduction, weight, dtype=pred.dtype)


class MSELoss(nn.Module):
    """Module form of :func:`mse_loss`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return mse_loss(pred, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


def mae_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean absolute error, for regression when the targets contain outliers.

    Every unit of error costs the same, so outliers weigh less than under :func:`mse_loss`; the minimizer is the
    conditional median rather than the mean:

    .. math::
        \ell = |\hat y - y|

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or ``target`` is not finite.
        TypeError: a non-floating tensor.

    Example:
        >>> import torch
        >>> mae_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0]))
        tensor(1.)
    """
    p, t = _check_pair(pred, target)
    return reduce_loss((p - t).abs(), reduction, weight, dtype=pred.dtype)


class MAELoss(nn.Module):
    """Module form of :func:`mae_loss`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return mae_loss(pred, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


def _huber(residual: torch.Tensor, delta: float) -> torch.Tensor:
    # 0.5 r^2 inside |r| <= delta, delta (|r| - 0.5 delta) outside; written with a clamp so both branches are
    # finite everywhere and the gradient is r inside, delta * sign(r) outside.
    a = residual.abs()
    q = a.clamp(max=delta)
    return 0.5 * q.square() + delta * (a - q)


def huber_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Huber loss: squared error for small residuals, absolute error beyond ``delta``.

    A compromise between :func:`mse_loss` (smooth near the optimum) and :func:`mae_loss` (robust to outliers)
    [Huber1964]_. With :math:`r = \hat y - y`:

    .. math::
        \ell = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\ \delta\,(|r| - \tfrac12\delta) & |r| > \delta \end{cases}

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        delta: Where the quadratic turns linear, ``> 0``.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``target`` not finite, or ``delta <= 0``.
        TypeError: a non-floating tensor.

    Note:
        ``huber_loss(delta=d) == d * smooth_l1_loss(beta=d)``: torch's ``HuberLoss`` and Keras' ``Huber`` use
        this definition.

    Example:
        >>> import torch
        >>> huber_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([0.1250, 2.5000])

    References:
        .. [Huber1964] P. J. Huber. "Robust Estimation of a Location Parameter." Ann. Math. Statist. 1964.
    """
    delta = check_scalar(delta, "delta", low=0.0, low_inclusive=False)
    p, t = _check_pair(pred, target)
    return reduce_loss(_huber(p - t, delta), reduction, weight, dtype=pred.dtype)


class HuberLoss(nn.Module):
    """Module form of :func:`huber_loss`."""

    def __init__(self, *, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.delta = check_scalar(delta, "delta", low=0.0, low_inclusive=False)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return huber_loss(pred, target, delta=self.delta, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"delta={self.delta}, reduction={self.reduction!r}"


def smooth_l1_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    beta: float = 1.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Smooth-L1 loss (Fast R-CNN): absolute error with a quadratic zone of width ``beta`` around 0.

    The box-regression loss of Fast R-CNN [Girshick2015]_; with :math:`r = \hat y - y`:

    .. math::
        \ell = \begin{cases} \tfrac{1}{2\beta} r^2 & |r| < \beta \\ |r| - \tfrac12\beta & |r| \ge \beta \end{cases}

    Unlike :func:`huber_loss`, the linear part always has slope 1, so ``beta`` changes only the quadratic zone.
    ``beta=0`` is the absolute error.

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        beta: Width of the quadratic zone, ``>= 0``.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``target`` not finite, or ``beta < 0``.
        TypeError: a non-floating tensor.

    Example:
        >>> import torch
        >>> smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([0.1250, 2.5000])

    References:
        .. [Girshick2015] R. Girshick. "Fast R-CNN." ICCV 2015. https://arxiv.org/abs/1504.08083
    """
    beta = check_scalar(beta, "beta", low=0.0)
    p, t = _check_pair(pred, target)
    r = p - t
    loss = r.abs() if beta == 0.0 else _huber(r, beta) / beta
    return reduce_loss(loss, reduction, weight, dtype=pred.dtype)


class SmoothL1Loss(nn.Module):
    """Module form of :func:`smooth_l1_loss`."""

    def __init__(self, *, beta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.beta = check_scalar(beta, "beta", low=0.0)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return smooth_l1_loss(pred, target, beta=self.beta, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, reduction={self.reduction!r}"
