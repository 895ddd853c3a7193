"""The one place that reduces a loss: reduction, weights, masks and explicit normalizers."""

from __future__ import annotations

import torch

from ._checks import check_reduction

__all__ = ["reduce_loss"]


def reduce_loss(
    loss: torch.Tensor,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    *,
    mask: torch.Tensor | None = None,
    normalizer: torch.Tensor | float | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    r"""Reduce an unreduced loss tensor.

    With weights :math:`w` (default 1) and a validity mask :math:`m` (default all true):

    * ``"none"``: :math:`w \cdot \ell` with masked-out positions set to 0, same shape as ``loss``;
    * ``"sum"``: :math:`\sum m\,w\,\ell`;
    * ``"mean"``: :math:`\sum m\,w\,\ell / \sum m\,w`, or :math:`\sum m\,w\,\ell / \text{normalizer}` when a
      normalizer (for example the number of positive anchors) is given.

    A mean over nothing (an empty batch, everything masked, all weights zero, a normalizer of 0) is 0 with a
    zero gradient, never NaN. Masked positions are replaced before multiplying, so a non-finite value there
    cannot leak into the result; its gradient stays finite only if the op that produced the value has a finite
    derivative there too, so losses make ignored positions safe (e.g. class 0 for an ignored index) upstream.

    Args:
        loss: Unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        weight: Optional non-negative weights, broadcastable to ``loss``.
        mask: Optional boolean tensor broadcastable to ``loss``; ``False`` removes a position from the numerator
            and the denominator.
        normalizer: Optional explicit denominator for ``"mean"`` (a number or a scalar tensor).
        dtype: Optional dtype of the result (losses computed in float32 for half inputs return in half).

    Returns:
        The reduced loss.

    Raises:
        ValueError: ``reduction`` unknown, or ``weight``/``mask`` not broadcastable to ``loss``.

    Example:
        >>> import torch
        >>> loss = torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> reduce_loss(loss, "mean", torch.tensor([1.0, 1.0, 0.0, 2.0]))
        tensor(2.7500)
        >>> reduce_loss(loss, "mean", mask=torch.tensor([True, False, False, False]))
        tensor(1.)
        >>> reduce_loss(loss, "mean", normalizer=2.0)
        tensor(5.)
    """
    check_reduction(reduction)
    if weight is not None:
        _check_broadcast(weight, loss, "weight")
        weight = weight.to(loss.dtype)
    if mask is not None:
        _check_broadcast(mask, loss, "mask")
        if mask.dtype != torch.bool:
            raise TypeError(f"mask: expected a bool tensor, got dtype {mask.dtype}")
        loss = torch.where(mask, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
        if weight is not None:
            weight = torch.where(mask, weight, torch.zeros((), dtype=loss.dtype, device=loss.device))
    weighted = loss if weight is None else loss * weight

    if reduction == "none":
        out = weighted
    elif reduction == "sum":
        out = weighted.sum()
    else:
        total = weighted.sum()
        if normalizer is not None:
            den = torch.as_tensor(normalizer, dtype=total.dtype, device=total.device)
        elif weight is not None:
            den = torch.broadcast_to(weight, loss.shape).sum()
        elif mask is not None:
            den = torch.broadcast_to(mask, loss.shape).sum().to(total.dtype)
        else:
            den = torch.tensor(float(loss.numel()), dtype=total.dtype, device=total.device)
        # 0 / 0 -> 0: the numerator is a sum over the same (empty or zero-weighted) positions, so it is 0 there.
        out = total / torch.where(den > 0, den, torch.ones_like(den))
    return out if dtype is None or out.dtype == dtype else out.to(dtype)


def _check_broadcast(x: torch.Tensor, loss: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    try:
        shape = torch.broadcast_shapes(x.shape, loss.shape)
    except RuntimeError:
        shape = None
    if shape != loss.shape:
        raise ValueError(
            f"{name}: expected a shape broadcastable to the unreduced loss {tuple(loss.shape)}, got {tuple(x.shape)}"
        )
