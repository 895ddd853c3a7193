"""Regression losses: squared, absolute, squared-log, Huber, smooth-L1, log-cosh and Poisson errors.

Every function takes ``pred`` and ``target`` of the same shape and returns the element-wise loss reduced by
:func:`losslab._reduction.reduce_loss`.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_floating, check_same_shape, check_finite
from ._numerics import upcast
from ._reduction import reduce_loss

__all__ = ["mse_loss", "MSELoss", "mae_loss", "MAELoss"]


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
