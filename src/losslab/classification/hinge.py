"""Hinge and squared hinge losses for {-1, 1} (or {0, 1}) labels."""

from __future__ import annotations

import torch

from .._checks import check_finite, check_floating, check_reduction, check_same_shape, check_tensor, check_values_in
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss

__all__ = ["hinge_loss", "HingeLoss", "squared_hinge_loss", "SquaredHingeLoss"]

# ---------------------------------------------------------------------------------------------------------------
# hinge


def _hinge_margin(pred: torch.Tensor, target: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``relu(1 - y * pred)`` in the compute dtype, with labels {0, 1} mapped to {-1, 1} element-wise."""
    check_floating(pred, "pred")
    check_tensor(target, "target")
    if target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target: expected labels in {{-1, 1}} or {{0, 1}} as a real tensor, got dtype {target.dtype}")
    check_same_shape(pred, target, "pred", "target")
    check_values_in(  # also rejects NaN/inf (one read)
        target, "target", (-1.0, 0.0, 1.0),
        f"{loss} expects labels in {{-1, 1}} (or {{0, 1}}); for probabilities use a cross-entropy",
    )
    check_finite(pred, "pred", loss)
    (p,) = upcast(pred)
    y = target.to(p.dtype)
    y = torch.where(y == 0, -torch.ones_like(y), y)
    return torch.relu(1.0 - y * p), p


@renamed_arguments(weight="sample_weight")
def hinge_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Hinge loss, for maximum-margin binary decisions (each element a yes/no question).

    Zero once the score has the right sign with a margin of at least 1; linear in the shortfall otherwise. With
    labels :math:`y \in \{-1, 1\}`:

    .. math::
        \ell = \max(0,\ 1 - y\,\hat y)

    Args:
        pred: Real-valued scores (raw or tanh outputs), any shape.
        target: Labels in ``{-1, 1}``; ``{0, 1}`` labels are accepted, 0 meaning the negative class. Same shape as
            ``pred``; floating or integer dtype.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or a label outside ``{-1, 0, 1}`` (or NaN).
        TypeError: a non-floating ``pred`` or a bool/complex ``target``.

    Note:
        Keras converts labels with :math:`2y - 1` when *every* label in the batch is 0 or 1, and leaves them as
        they are otherwise. Here 0 is mapped to -1 element by element; the values agree with Keras for
        ``{0, 1}`` and ``{-1, 1}`` labels, and a mixture of all three is no longer batch-dependent (Keras would
        keep a 0 label, giving a constant loss of 1 with no gradient).

    Example:
        >>> import torch
        >>> hinge_loss(torch.tensor([2.0, 0.3, -0.5]), torch.tensor([1.0, 1.0, 0.0]), reduction="none")
        tensor([0.0000, 0.7000, 0.5000])

    References:
        .. [Cortes1995] C. Cortes, V. Vapnik. "Support-Vector Networks." Machine Learning 20, 1995.
    """
    check_reduction(reduction)
    margin, _ = _hinge_margin(pred, target, "hinge_loss")
    return reduce_loss(margin, reduction, sample_weight, dtype=pred.dtype)


class HingeLoss(LossModule, function=hinge_loss):
    pass


@renamed_arguments(weight="sample_weight")
def squared_hinge_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Squared hinge loss: the hinge's shortfall squared, smooth at the margin.

    Same decision rule as :func:`hinge_loss` (labels :math:`y \in \{-1, 1\}`, score :math:`\hat y`, usually a tanh
    or raw output), but differentiable everywhere and harsher on large violations:

    .. math::
        \ell = \max(0,\ 1 - y\,\hat y)^2

    Args:
        pred: Real-valued scores (raw or tanh outputs), any shape.
        target: Labels in ``{-1, 1}``; ``{0, 1}`` labels are accepted, 0 meaning the negative class.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or a label outside ``{-1, 0, 1}`` (or NaN).
        TypeError: a non-floating ``pred`` or a bool/complex ``target``.

    Note:
        Label handling as in :func:`hinge_loss` (0 maps to -1 element-wise; same values as Keras' ``SquaredHinge``
        for ``{0, 1}`` and ``{-1, 1}`` labels).

    Example:
        >>> import torch
        >>> squared_hinge_loss(torch.tensor([2.0, 0.3, -0.5]), torch.tensor([1, 1, -1]), reduction="none")
        tensor([0.0000, 0.4900, 0.2500])

    References:
        .. [Tang2013] Y. Tang. "Deep Learning using Linear Support Vector Machines." ICML 2013 workshop
           (the L2-SVM, i.e. squared hinge, as a network's loss). https://arxiv.org/abs/1306.0239
    """
    check_reduction(reduction)
    margin, _ = _hinge_margin(pred, target, "squared_hinge_loss")
    return reduce_loss(margin.square(), reduction, sample_weight, dtype=pred.dtype)


class SquaredHingeLoss(LossModule, function=squared_hinge_loss):
    pass
