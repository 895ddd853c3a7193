"""The bi-tempered logistic losses and their modules."""

from __future__ import annotations

import torch

from .._checks import check_finite, check_floating, check_ignore_index, check_in_range, check_same_shape
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss
from .._targets import INDEX, check_class_target, check_label_smoothing, one_hot, safe_indices, valid_mask
from ._primitives import _check_num_iters, _check_t, _check_t1, _expm1_over, _log_tempered_softmax


def _bi_tempered(
    a: torch.Tensor, y: torch.Tensor, t1: float, t2: float, num_iters: int | None, dim: int = 1
) -> torch.Tensor:
    r"""Per-sample loss :math:`\sum_c y_c(\log_{t_1} y_c - \log_{t_1} p_c) - (y_c^{2-t_1} - p_c^{2-t_1})/(2-t_1)`.

    Every tempered log is :math:`\log_{t_1} x = \mathrm{expm1}((1-t_1)\log x)/(1-t_1)` of an accurate
    :math:`\log x`, so the loss is continuous in both temperatures through 1. Terms with :math:`y_c = 0` are 0
    (also where :math:`p_c = 0` outside the finite support), through a double ``where``.
    """
    k1 = 1.0 - t1
    log_p = _log_tempered_softmax(a, t2, num_iters, dim)
    pos = y > 0
    log_y = torch.log(torch.where(pos, y, torch.ones_like(y)))
    log_p_on_y = torch.where(pos, log_p, torch.zeros_like(log_p))  # log p where the target has mass
    cross = y * (_expm1_over(k1, log_y) - _expm1_over(k1, log_p_on_y))
    powers = (torch.where(pos, torch.exp((2.0 - t1) * log_y), torch.zeros_like(y)) - torch.exp((2.0 - t1) * log_p))
    return (cross - powers / (2.0 - t1)).sum(dim)


def _bi_tempered_one_hot(a: torch.Tensor, labels: torch.Tensor, t1: float, t2: float, num_iters: int | None) -> torch.Tensor:
    r"""The same loss for a one-hot target :math:`y = e_k`: :math:`-\log_{t_1} p_k - (1 - \sum_c p_c^{2-t_1})/(2-t_1)`."""
    log_p = _log_tempered_softmax(a, t2, num_iters, 1)
    log_p_k = log_p.gather(1, labels.long().unsqueeze(1)).squeeze(1)
    return (torch.exp((2.0 - t1) * log_p).sum(1) - 1.0) / (2.0 - t1) - _expm1_over(1.0 - t1, log_p_k)


@renamed_arguments(weight="sample_weight")
def bi_tempered_logistic_loss(
    activations: torch.Tensor,
    target: torch.Tensor,
    *,
    t1: float,
    t2: float,
    label_smoothing: float = 0.0,
    num_iters: int | None = 5,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Bi-tempered logistic loss, for classification when some training labels are wrong.

    The logistic loss with two temperatures [Amid2019]_: :math:`t_1 < 1` makes it bounded (a confidently
    mislabelled example costs at most :math:`1/(1-t_1)`-ish, not :math:`\infty`), :math:`t_2 > 1` gives the
    tempered softmax a heavy tail. With :math:`p = \mathrm{tempered\_softmax}(a, t_2)` (:func:`tempered_softmax`),
    the per-sample loss is the Bregman divergence the authors' code computes:

    .. math::
        \ell = \sum_c \Big[ y_c\big(\log_{t_1} y_c - \log_{t_1} p_c\big)
               - \tfrac{1}{2 - t_1}\big(y_c^{2-t_1} - p_c^{2-t_1}\big) \Big]

    It is 0 when :math:`p = y`. At :math:`t_1 = t_2 = 1` it is the softmax cross-entropy for one-hot targets
    and the cross-entropy minus the target's entropy, :math:`\mathrm{KL}(y \| p)`, for soft targets (as the
    official JAX code; the TF code returns the cross-entropy, which differs by that entropy).

    Args:
        activations: Unnormalized scores (logits), shape ``(N, C, *)``.
        target: Class indices ``(N, *)`` (integer dtype) or target distributions ``(N, C, *)`` in [0, 1].
        t1: Temperature of the logarithm, in ``(0, 2)``; ``< 1`` bounds the loss (the paper uses 0.2–0.9).
        t2: Temperature of the tempered softmax, ``> 0``; ``> 1`` gives heavier tails (the paper uses 1–4).
        label_smoothing: ``eps`` in [0, 1]. The official convention: the labelled class gets ``1 - eps`` and
            *each* other class ``eps / (C - 1)``. (torch's ``cross_entropy`` mixes with the uniform
            distribution instead: ``1 - eps' + eps'/C`` and ``eps'/C``; ``eps = eps' (C - 1) / C`` gives the
            same targets.) Applies to dense targets too: ``y <- (1 - C eps/(C-1)) y + eps/(C-1)``.
        num_iters: Rounds of the paper's fixed-point iteration for the normalization when ``t2 > 1`` (the
            official default 5); ``None`` solves it to a tolerance. ``t2 < 1`` is always solved to a tolerance.
        ignore_index: Index-target value to ignore (removed from the mean's denominator too).
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``t1`` outside (0, 2), ``t2 <= 0``, ``num_iters < 1``, ``label_smoothing`` outside [0, 1],
            bad target shape or values.
        TypeError: non-floating activations, or a target dtype that does not match its shape.

    Note:
        The normalization :math:`\lambda` is solved without a graph and differentiated implicitly, so autograd
        gives the paper's closed-form gradient

        .. math::
            \partial\ell/\partial a_j = (p_j - y_j)\,p_j^{t_2-t_1}
                - \frac{p_j^{t_2}}{\sum_c p_c^{t_2}} \sum_c (p_c - y_c)\,p_c^{t_2-t_1}

        (at the converged normalization), second derivatives and ``torch.func`` transforms. For ``t2 < 1`` a class
        outside the finite support (``p_c = 0``) contributes nothing; the official gradient puts ``-y_c`` there
        (``t1 = t2``) or NaN (``t2 < t1``), losslab returns the true gradient. The normalization for ``t2 < 1``
        (or ``num_iters=None``) is Newton's method on :math:`(\sum_c \exp_t(a_c - \lambda))^{1-t} = 1`, run to
        convergence, not the official 5 bisection steps. Every tempered log is ``expm1((1 - t) log x)/(1 - t)``
        of an accurate ``log x`` (and ``log p`` comes from ``log1p``), so the loss is continuous through
        ``t1 = 1`` and ``t2 = 1`` to the dtype's precision. The official ``+1e-10`` inside ``log_t1(y)`` is
        replaced by the exact ``0 log_t1 0 = 0``. Finite loss and gradient for activations up to ±1e4 at
        ``t1 <= 1``; with ``t1 >= 1`` and ``t2 < 1`` a labelled class outside the support costs ``inf``, as the
        formula says.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 0.0]])
        >>> labels = torch.tensor([0, 2])
        >>> bi_tempered_logistic_loss(logits, labels, t1=1.0, t2=1.0, reduction="none")
        tensor([0.2413, 3.0949])
        >>> bi_tempered_logistic_loss(logits, labels, t1=0.8, t2=1.2, reduction="none")
        tensor([0.2131, 1.8670])
        >>> bi_tempered_logistic_loss(100 * logits, labels, t1=1.0, t2=1.0, reduction="none")
        tensor([  0., 300.])
        >>> bi_tempered_logistic_loss(100 * logits, labels, t1=0.8, t2=1.2, reduction="none")  # bounded
        tensor([0.0000, 4.9180])

    References:
        .. [Amid2019] E. Amid, M. K. Warmuth, R. Anil, T. Koren. "Robust Bi-Tempered Logistic Loss Based on
           Bregman Divergences." NeurIPS 2019. https://arxiv.org/abs/1906.03361
    """
    t1, t2, num_iters, ls = _check_hyperparameters(t1, t2, label_smoothing, num_iters)
    check_ignore_index(ignore_index)
    check_floating(activations, "activations")
    kind = check_class_target(activations, target, ignore_index=ignore_index, input_name="activations")
    num_classes = activations.shape[1]
    if num_classes < 2:
        raise ValueError(f"activations: expected at least 2 classes on dim 1, got shape {tuple(activations.shape)}")
    check_finite(activations, "activations")
    (a,) = upcast(activations)
    mask = None
    if kind == INDEX and ls == 0.0:
        mask = valid_mask(target, ignore_index)
        loss = _bi_tempered_one_hot(a, safe_indices(target, ignore_index), t1, t2, num_iters)
        return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=activations.dtype)
    if kind == INDEX:
        mask = valid_mask(target, ignore_index)
        y = one_hot(target, num_classes, a.dtype, ignore_index)
    else:
        y = target.to(a.dtype)
    if ls > 0.0:  # the official convention: 1 - ls on the labelled class, ls / (C - 1) on each other class
        y = y * (1.0 - num_classes * ls / (num_classes - 1)) + ls / (num_classes - 1)
    loss = _bi_tempered(a, y, t1, t2, num_iters)
    return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=activations.dtype)


def _check_hyperparameters(
    t1: float, t2: float, label_smoothing: float = 0.0, num_iters: int | None = 5, **_: object
) -> tuple[float, float, int | None, float]:
    return _check_t1(t1), _check_t(t2, "t2"), _check_num_iters(num_iters), check_label_smoothing(label_smoothing)


def _check_module(**hyperparameters: object) -> None:
    _check_hyperparameters(**hyperparameters)  # type: ignore[arg-type]
    check_ignore_index(hyperparameters.get("ignore_index"))  # type: ignore[arg-type]


class BiTemperedLogisticLoss(LossModule, function=bi_tempered_logistic_loss, validate=_check_module):
    pass


@renamed_arguments(weight="sample_weight")
def bi_tempered_binary_logistic_loss(
    activations: torch.Tensor,
    target: torch.Tensor,
    *,
    t1: float,
    t2: float,
    label_smoothing: float = 0.0,
    num_iters: int | None = 5,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Bi-tempered logistic loss for binary and multi-label targets (element-wise).

    Each element is the two-class :func:`bi_tempered_logistic_loss` of the activations :math:`[0, a]` with
    target :math:`[1 - y, y]`, the official parameterization: at :math:`t_1 = t_2 = 1` it is exactly
    ``binary_cross_entropy_with_logits(a, y)`` for hard labels (and that minus the label's binary entropy for
    soft ones). The probability it trains is :func:`tempered_sigmoid` with ``t2``.

    .. math::
        \ell(a, y) = \ell_{\text{bi-tempered}}\big([0, a],\, [1-y, y]\big)

    Args:
        activations: Scores (logits), any shape.
        target: Labels in [0, 1] (hard or soft), same shape.
        t1: Temperature of the logarithm, in ``(0, 2)``; ``< 1`` bounds the loss.
        t2: Temperature of the tempered sigmoid, ``> 0``.
        label_smoothing: ``eps`` in [0, 1]: a label ``y`` becomes ``(1 - 2 eps) y + eps`` (the official
            convention with two classes: the labelled side gets ``1 - eps``, the other ``eps``).
        num_iters: As in :func:`bi_tempered_logistic_loss`.
        sample_weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``activations``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad temperatures, shapes differ, or ``target`` outside [0, 1].
        TypeError: non-floating tensors.

    Note:
        Some ports (pytorch-toolbelt) use :math:`[-a, a]`, which at :math:`t = 1` is ``sigmoid(2a)``, not
        ``sigmoid(a)``; losslab follows the authors.

    Example:
        >>> import torch
        >>> x, y = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])
        >>> bi_tempered_binary_logistic_loss(x, y, t1=1.0, t2=1.0, reduction="none")
        tensor([0.1269, 1.3133])
        >>> bi_tempered_binary_logistic_loss(100 * x, y, t1=1.0, t2=1.0, reduction="none")
        tensor([  0., 100.])
        >>> bi_tempered_binary_logistic_loss(100 * x, y, t1=0.5, t2=4.0, reduction="none")  # bounded
        tensor([0.0345, 1.1227])

    References:
        See :func:`bi_tempered_logistic_loss`.
    """
    t1, t2, num_iters, ls = _check_hyperparameters(t1, t2, label_smoothing, num_iters)
    check_floating(activations, "activations")
    check_floating(target, "target")
    check_same_shape(activations, target, "activations", "target")
    check_finite(activations, "activations")
    check_in_range(target, "target", 0.0, 1.0)
    a, y = upcast(activations, target)
    y = y.to(a.dtype)
    if ls > 0.0:
        y = y * (1.0 - 2.0 * ls) + ls
    pair_a = torch.stack([torch.zeros_like(a), a], dim=-1)
    pair_y = torch.stack([1.0 - y, y], dim=-1)
    loss = _bi_tempered(pair_a, pair_y, t1, t2, num_iters, dim=-1)
    return reduce_loss(loss, reduction, sample_weight, dtype=activations.dtype)


class BiTemperedBinaryLogisticLoss(LossModule, function=bi_tempered_binary_logistic_loss, validate=_check_module):
    pass
