"""The soft-target floor: binary and categorical entropies, and the KL divergences (cross-entropy minus it)."""

from __future__ import annotations

import torch

from .._checks import (
    check_class_indices,
    check_floating,
    check_in_range,
    check_probabilities,
    check_reduction,
    finite_extremes,
    validation_enabled,
)
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss
from .._targets import INDEX, one_hot, target_kind
from ._common import (
    _PROBS_HINT_BINARY,
    _PROBS_HINT_CATEGORICAL,
    _binary_xent,
    _check_binary_pair,
    _check_entropy_eps,
    _check_eps,
    _check_two_classes,
    _validate,
)

__all__ = [
    "binary_entropy",
    "binary_kl_divergence",
    "BinaryKLDivergenceLoss",
    "categorical_entropy",
    "categorical_kl_divergence",
    "CategoricalKLDivergenceLoss",
]

# ---------------------------------------------------------------------------------------------------------------
# the soft-target floor: entropies and KL divergences


@renamed_arguments(weight="sample_weight")
def binary_entropy(
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Entropy of binary target probabilities: the smallest value binary cross-entropy can take.

    :func:`binary_cross_entropy` with soft targets is minimized at ``probs == target``, where it equals this
    entropy, not 0. With :math:`\hat y = \mathrm{clip}(y, \epsilon, 1-\epsilon)` (the clipping
    :func:`binary_cross_entropy` applies to its prediction) and :math:`0\log 0 = 0`:

    .. math::
        H(y) = -y\log\hat y - (1-y)\log(1-\hat y)

    Args:
        target: Probabilities in ``[0, 1]``, any shape, floating.
        eps: The clipping of :func:`binary_cross_entropy` (default ``1e-7``), so that
            ``binary_entropy(y) == binary_cross_entropy(y, y)``; ``0`` gives the exact entropy (0 for hard labels;
            with the default a hard label gets :math:`-\log(1-\epsilon) \approx 10^{-7}`). In ``[0, 0.5)``.
        sample_weight: Optional per-element weights broadcastable to the unreduced value.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; pass the reduction of the cross-entropy it is compared with.

    Returns:
        Element-wise entropy for ``"none"``, otherwise a scalar (in nats).

    Raises:
        ValueError: ``target`` outside ``[0, 1]`` or not finite.
        TypeError: a non-floating ``target``.

    Example:
        >>> import torch
        >>> binary_entropy(torch.tensor([0.5, 0.3, 0.5, 0.9]))
        tensor(0.5806)
    """
    eps = _check_entropy_eps(eps)
    check_reduction(reduction)
    check_floating(target, "target")
    check_in_range(target.detach(), "target", 0.0, 1.0)
    (y,) = upcast(target)
    return reduce_loss(_binary_xent(y, y.clamp(eps, 1.0 - eps)), reduction, sample_weight, dtype=target.dtype)


@renamed_arguments(weight="sample_weight")
def binary_kl_divergence(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary KL divergence of the prediction from the target: binary cross-entropy minus the target's entropy.

    The part of :func:`binary_cross_entropy` that training can remove: 0 exactly when ``probs == target`` and
    positive otherwise, with the same gradient as the cross-entropy. With :math:`\hat p, \hat y` clipped to
    :math:`[\epsilon, 1-\epsilon]`:

    .. math::
        \mathrm{KL} = y\,(\log\hat y - \log\hat p) + (1-y)\,(\log(1-\hat y) - \log(1-\hat p))
        = \mathrm{BCE}(p, y) - H(y)

    Args:
        probs: Predicted probabilities in ``[0, 1]``, any shape.
        target: Target probabilities in ``[0, 1]``, same shape, floating.
        eps: Clipping bound, in ``(0, 0.5)``, shared with :func:`binary_cross_entropy` and :func:`binary_entropy`.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise divergence for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, values outside ``[0, 1]``, ``target`` not finite.
        TypeError: a non-floating tensor.

    Note:
        The two logs of each term are subtracted before summing, so ``probs == target`` gives exactly 0 (not a
        rounding residue of BCE − H), and the result is clamped at 0 so rounding next to the minimum cannot make
        it negative. Two probabilities both below ``eps`` (or above ``1 - eps``) count as equal.

    Example:
        >>> import torch
        >>> y = torch.tensor([0.5, 0.3, 0.5, 0.9])
        >>> binary_kl_divergence(y, y)
        tensor(0.)
        >>> binary_kl_divergence(torch.tensor([0.1, 0.3, 0.5, 0.8]), y)
        tensor(0.1369)

    References:
        .. [Kullback1951] S. Kullback, R. A. Leibler. "On Information and Sufficiency." Ann. Math. Statist. 1951.
    """
    eps = _check_eps(eps)
    check_reduction(reduction)
    _check_binary_pair(probs, target, "probs")
    check_probabilities(probs.detach(), "probs", logits_variant=_PROBS_HINT_BINARY, loss="binary_kl_divergence")
    p, y = upcast(probs, target)
    y = y.to(p.dtype)
    p_hat, y_hat = p.clamp(eps, 1.0 - eps), y.clamp(eps, 1.0 - eps)
    loss = (torch.xlogy(y, y_hat) - torch.xlogy(y, p_hat)) + (torch.special.xlog1py(1.0 - y, -y_hat) - torch.special.xlog1py(1.0 - y, -p_hat))
    # >= 0 in exact arithmetic; rounding can leave -1e-17 next to the minimum: the value is clamped at 0, the
    # gradient stays that of the formula (clamp_min would zero it there, where d/dp = -y/p is not 0)
    return reduce_loss(loss - loss.detach().clamp_max(0.0), reduction, sample_weight, dtype=probs.dtype)


class BinaryKLDivergenceLoss(LossModule, function=binary_kl_divergence, validate=_validate):
    pass


@renamed_arguments(weight="sample_weight")
def categorical_entropy(
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Entropy of class distributions: the smallest value categorical cross-entropy can take.

    :func:`categorical_cross_entropy` with soft targets is minimized at ``probs == target``, where it equals
    this entropy, not 0. With :math:`\hat y` the target renormalized and clipped as
    :func:`categorical_cross_entropy` treats its prediction, and :math:`0\log 0 = 0`:

    .. math::
        H(y) = -\sum_{c=1}^{C} y_c \log \hat y_c

    Args:
        target: Class probabilities ``(N, C, *)``, values in ``[0, 1]``, floating.
        eps: The clipping of :func:`categorical_cross_entropy` (default ``1e-7``), so that
            ``categorical_entropy(y) == categorical_cross_entropy(y, y)``; ``0`` gives the exact entropy. In
            ``[0, 0.5)``.
        sample_weight: Optional per-element weights broadcastable to the per-sample value ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample entropy ``(N, *)`` for ``"none"``, otherwise a scalar (in nats).

    Raises:
        ValueError: fewer than 2 dims, ``target`` outside ``[0, 1]`` or not finite.
        TypeError: a non-floating ``target``.

    Note:
        With ``label_smoothing`` the cross-entropy's floor is the entropy of the *smoothed* target.

    Example:
        >>> import torch
        >>> categorical_entropy(torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]), eps=0.0, reduction="none")
        tensor([0.6931, 0.0000])
    """
    eps = _check_entropy_eps(eps)
    check_reduction(reduction)
    check_floating(target, "target")
    if target.ndim < 2:
        raise ValueError(f"target: expected class probabilities of shape (N, C, *), got {tuple(target.shape)}")
    check_in_range(target.detach(), "target", 0.0, 1.0)
    (y,) = upcast(target)
    y_hat = (y / y.sum(1, keepdim=True).clamp_min(max(eps, torch.finfo(y.dtype).tiny))).clamp(eps, 1.0 - eps)
    return reduce_loss(-torch.xlogy(y, y_hat).sum(1), reduction, sample_weight, dtype=target.dtype)


def _row_sum_tolerance(dtype: torch.dtype) -> float:
    """How far from 1 a row of class probabilities may sum: 1e-3, or 2 machine epsilons of a 16-bit dtype."""
    return max(1e-3, 2.0 * torch.finfo(dtype).eps)


def _check_rows_sum_to_one(x: torch.Tensor, name: str, loss: str, hint: str = "") -> None:
    """Value check: finite, in [0, 1], and every distribution over dim 1 summing to 1 within
    :func:`_row_sum_tolerance`; one host sync reads all three."""
    if x.numel() == 0 or not validation_enabled(x):
        return
    tol = _row_sum_tolerance(x.dtype)
    sums = x.detach().sum(1, dtype=torch.float64)
    dev = (sums - 1.0).abs().flatten()
    lo, hi, worst, bad = finite_extremes(x, name, loss, (dev.amax(), sums.flatten()[dev.argmax()]))
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name}: expected values in [0, 1], got values in [{lo:.4g}, {hi:.4g}]" + (f"; {hint}" if hint else "")
        )
    if not worst <= tol:
        raise ValueError(
            f"{name}: expected each distribution over dim 1 to sum to 1 (within {tol:g}), got a row summing to "
            f"{bad:.6g}; {loss} is a divergence between probability distributions. Normalize with "
            f"x / x.sum(1, keepdim=True); for independent per-element probabilities use binary_kl_divergence. "
            f"With losslab.set_validation(False) such rows are used as they are (Keras' KLDivergence and optax's "
            f"kl_divergence, which do not renormalize)"
        )


@renamed_arguments(weight="sample_weight")
def categorical_kl_divergence(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""KL divergence of predicted class probabilities from the target: categorical cross-entropy minus entropy.

    The part of :func:`categorical_cross_entropy` that training can remove: 0 exactly when ``probs == target``,
    positive otherwise, with the same gradient as the cross-entropy. With :math:`\hat p, \hat y` clipped to
    :math:`[\epsilon, 1]` (not renormalized) and :math:`0 \log 0 = 0`:

    .. math::
        \mathrm{KL}(y \,\|\, p) = \sum_{c=1}^{C} y_c\,(\log\hat y_c - \log\hat p_c) \approx \mathrm{CCE}(p, y) - H(y)

    Args:
        probs: Class probabilities ``(N, C, *)`` in ``[0, 1]``, ``C >= 2``, each distribution over dim 1
            summing to 1 (see Raises).
        target: Class indices ``(N, *)`` (then the divergence equals the cross-entropy, up to the clipping) or
            class probabilities ``(N, C, *)``, each distribution summing to 1.
        eps: Clipping bound, in ``(0, 0.5)``, shared with :func:`categorical_cross_entropy`.
        sample_weight: Optional per-element weights broadcastable to the per-sample loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample divergence ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``probs`` outside ``[0, 1]``; with validation on, a row of ``probs`` or of a dense
            ``target`` whose sum over dim 1 is farther than ``max(1e-3, 2 * finfo(dtype).eps)`` from 1 (1e-3 for
            float32/float64, 2e-3 for float16, 1.6e-2 for bfloat16); and the target errors of
            :func:`categorical_cross_entropy`.
        TypeError: wrong target dtype for its shape.

    Note:
        No renormalization: rows are used as they come, so the value is that of Keras' ``KLDivergence`` and of
        ``optax.losses.kl_divergence(log(probs), target)`` up to the clipping. On distributions (rows summing to
        1) it is a divergence: ``probs == target`` gives exactly 0, and the result is clamped at 0 so that
        rounding next to the minimum cannot make it negative. Rows that are not distributions are rejected while validation is
        on (the usual cause is per-element probabilities, which belong in :func:`binary_kl_divergence`); with
        validation off they are used as they are: the value is Keras'/optax's formula, clamped at 0 (on such
        rows the formula can be negative). Versus Keras, each class with target 0 adds :math:`\epsilon\log(\epsilon/\hat p)` there
        (Keras clips the target to :math:`[\epsilon, 1]` as well), a difference of at most
        :math:`\epsilon\,|\log\epsilon| \approx 1.6\cdot 10^{-6}` per such class; versus optax, the clipping
        of ``probs`` at :math:`\epsilon` only (optax does not clip). :func:`categorical_cross_entropy`
        renormalizes ``probs``, so the identity KL = CCE - H holds to the row-sum tolerance.

    Example:
        >>> import torch
        >>> y = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
        >>> categorical_kl_divergence(y, y, reduction="none")
        tensor([0., 0.])

    References:
        S. Kullback, R. A. Leibler. "On Information and Sufficiency." Ann. Math. Statist. 1951.
    """
    eps = _check_eps(eps)
    check_floating(probs, "probs")
    check_reduction(reduction)
    kind = target_kind(probs, target, input_name="probs")
    _check_two_classes(probs, "probs", "categorical_kl_divergence")
    # one read per tensor: range, finiteness and row sums together
    hint = f"categorical_kl_divergence expects probabilities; for logits use {_PROBS_HINT_CATEGORICAL}"
    _check_rows_sum_to_one(probs, "probs", "categorical_kl_divergence", hint)
    if kind == INDEX:
        check_class_indices(target, probs.shape[1])
    else:
        _check_rows_sum_to_one(target, "target", "categorical_kl_divergence")
    (p,) = upcast(probs)
    y = one_hot(target, probs.shape[1], p.dtype) if kind == INDEX else upcast(target)[0].to(p.dtype)
    # y (log y^ - log p^) term by term, so probs == target gives exactly 0
    loss = (torch.xlogy(y, y.clamp(eps, 1.0)) - torch.xlogy(y, p.clamp(eps, 1.0))).sum(1)
    # >= 0 in exact arithmetic for distributions; rounding can leave -1e-17 next to the minimum: the value is
    # clamped at 0, the gradient stays that of the formula (clamp_min would zero it, and d/dp = -y/p is not 0)
    return reduce_loss(loss - loss.detach().clamp_max(0.0), reduction, sample_weight, dtype=probs.dtype)


class CategoricalKLDivergenceLoss(LossModule, function=categorical_kl_divergence, validate=_validate):
    pass
