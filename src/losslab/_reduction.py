"""The one place that reduces a loss: reduction, weights, masks and explicit normalizers."""

from __future__ import annotations

import math

import torch

from ._checks import check_in_range, check_reduction, check_scalar
from ._numerics import output_dtype
from .distributed import all_reduce_sum, is_distributed

__all__ = ["reduce_loss"]


def reduce_loss(
    loss: torch.Tensor,
    reduction: str = "mean",
    sample_weight: torch.Tensor | None = None,
    *,
    mask: torch.Tensor | None = None,
    normalizer: torch.Tensor | float | None = None,
    target_class_weight: torch.Tensor | None = None,
    distributed: bool = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    r"""Reduce an unreduced loss tensor.

    With weights :math:`w` (default 1) and a validity mask :math:`m` (default all true):

    * ``"none"``: :math:`w \cdot \ell` with masked-out positions set to 0, same shape as ``loss``;
    * ``"sum"``: :math:`\sum m\,w\,\ell`;
    * ``"mean"``: :math:`\sum m\,w\,\ell / d` with the denominator :math:`d = \sum m\,w`, or
      :math:`d = n` when a normalizer :math:`n` (for example the number of positive anchors) is given. With
      per-class weights (``target_class_weight``: the weight :math:`c` of each element's target class, already
      applied to the loss) the mean is torch's class-weighted mean :math:`d = \sum m\,w\,c`, as
      ``F.cross_entropy(weight=...)``. With ``distributed`` (and a ``torch.distributed`` process group) the
      denominator is summed over the processes, so that the processes' results add up to the whole batch's mean.

    **The denominator rule** (one rule for every denominator): divide by :math:`d` when :math:`d > 0`, by 1 when
    :math:`d = 0`. For a count this is mmdetection's ``max(n, 1)``: a detection batch without positive anchors
    (``normalizer=0``) returns the plain sum of its (negative) terms, so it still trains; a fractional
    :math:`d`, such as a sum of soft weights, is used as it is. A mean over nothing (an empty batch, everything
    masked, all weights zero) has a zero numerator too, so it is 0 with a zero gradient, never NaN. A negative,
    NaN or infinite normalizer raises (a number always, a tensor while validation is on).

    Masked positions are replaced before multiplying, so a non-finite value there cannot leak into the result;
    its gradient stays finite only if the op that produced the value has a finite derivative there too, so
    losses make ignored positions safe (e.g. class 0 for an ignored index) upstream.

    Args:
        loss: Unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        sample_weight: Optional non-negative finite per-element weights, broadcastable to ``loss`` (their values
            checked while validation is on).
        mask: Optional boolean tensor broadcastable to ``loss``; ``False`` removes a position from the numerator
            and the denominator.
        normalizer: Optional explicit denominator for ``"mean"``: a non-negative finite number or one-element
            tensor (0 divides by 1, see the denominator rule above); ignored by ``"none"`` and ``"sum"``.
        target_class_weight: Optional per-element weight of the target class, broadcastable to ``loss`` (the
            loss already carries it); ``"mean"`` divides by the sum of these (times ``sample_weight``) instead of
            the sum of ``sample_weight``. Ignored with a ``normalizer``, and by ``"none"`` and ``"sum"``.
        distributed: Sum the ``"mean"`` denominator over the processes of ``torch.distributed`` (a no-op
            without an initialized process group).
        dtype: Optional dtype of the result (losses computed in float32 for half inputs return in half, except
            under ``torch.autocast``, where they return float32 like ``F.cross_entropy``).

    Returns:
        The reduced loss.

    Raises:
        ValueError: ``reduction`` unknown, ``sample_weight``/``mask`` not broadcastable to ``loss``, a negative or
            non-finite weight (validation on), or a negative or non-finite normalizer.
        TypeError: ``sample_weight``/``mask``/``normalizer`` of the wrong type.

    Example:
        >>> import torch
        >>> loss = torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> reduce_loss(loss, "mean", torch.tensor([1.0, 1.0, 0.0, 2.0]))
        tensor(2.7500)
        >>> reduce_loss(loss, "mean", mask=torch.tensor([True, False, False, False]))
        tensor(1.)
        >>> reduce_loss(loss, "mean", normalizer=2.0)
        tensor(5.)
        >>> reduce_loss(loss, "mean", normalizer=0)  # no positives: the plain sum, as max(n, 1)
        tensor(10.)
        >>> reduce_loss(loss, "mean", target_class_weight=torch.tensor([1.0, 1.0, 1.0, 2.0]))  # sum / 5
        tensor(2.)
    """
    check_reduction(reduction)
    check_normalizer(normalizer)
    weight = sample_weight
    if weight is not None:
        _check_broadcast(weight, loss, "sample_weight")
        check_in_range(weight, "sample_weight", 0.0, math.inf, "weights must be non-negative")
        weight = weight.to(loss.dtype)
    if mask is not None:
        _check_broadcast(mask, loss, "mask")
        if mask.dtype != torch.bool:
            raise TypeError(f"mask: expected a bool tensor, got dtype {mask.dtype}")
        loss = torch.where(mask, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
        if weight is not None:
            weight = torch.where(mask, weight, torch.zeros((), dtype=loss.dtype, device=loss.device))
    weighted = loss if weight is None else loss * weight
    if reduction == "mean" and target_class_weight is not None and normalizer is None:
        # torch's class-weighted mean: the denominator weighs each element by its target class's weight
        _check_broadcast(target_class_weight, loss, "target_class_weight")
        tcw = target_class_weight.to(loss.dtype)
        if mask is not None:
            tcw = torch.where(mask, tcw, torch.zeros((), dtype=loss.dtype, device=loss.device))
        weight = tcw if weight is None else weight * tcw

    if reduction == "none":
        out = weighted
    elif reduction == "sum":
        out = weighted.sum()
    else:
        total = weighted.sum()
        den: torch.Tensor | None = None
        if isinstance(normalizer, torch.Tensor):
            den = normalizer.to(dtype=total.dtype, device=total.device).reshape(())
        elif normalizer is None and weight is not None:
            den = torch.broadcast_to(weight, loss.shape).sum()
        elif normalizer is None and mask is not None:
            den = torch.broadcast_to(mask, loss.shape).sum().to(total.dtype)
        if distributed and is_distributed():
            if den is None:
                count = normalizer if normalizer is not None else loss.numel()
                den = torch.as_tensor(count, dtype=total.dtype, device=total.device)
            den = all_reduce_sum(den.detach(), enabled=True)
        if den is not None:
            # The denominator rule: d if d > 0 else 1 (0 / 0 -> 0 for a mean over nothing). ``den == 0`` rather
            # than ``den > 0`` so that, with validation off, a NaN normalizer shows as a NaN loss, not a silent sum.
            out = total / torch.where(den == 0, torch.ones_like(den), den)
        elif normalizer is not None:
            # a number (checked finite and >= 0 above): the same rule without creating a tensor
            out = total / normalizer if normalizer > 0 else total
        else:
            out = total / max(loss.numel(), 1)  # an empty loss sums to 0
    if dtype is not None:
        dtype = output_dtype(out, dtype)  # float32 under autocast
    return out if dtype is None or out.dtype == dtype else out.to(dtype)


def check_normalizer(normalizer: torch.Tensor | float | None) -> None:
    """A ``"mean"`` denominator: ``None``, a non-negative finite number (always checked) or a one-element real
    tensor (its value checked while validation is on, one host sync)."""
    if normalizer is None:
        return
    if isinstance(normalizer, torch.Tensor):
        if normalizer.numel() != 1:
            raise ValueError(
                f"normalizer: expected a number or a one-element tensor, got shape {tuple(normalizer.shape)}"
            )
        if normalizer.is_complex() or normalizer.dtype == torch.bool:
            raise TypeError(f"normalizer: expected a real tensor, got dtype {normalizer.dtype}")
        check_in_range(normalizer, "normalizer", 0.0, math.inf, "a normalizer is a count or a sum of weights")
    else:
        check_scalar(normalizer, "normalizer", low=0.0)


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
