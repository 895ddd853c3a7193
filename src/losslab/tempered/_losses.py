"""The bi-tempered logistic losses: the closed-form-gradient autograd Function, functions and modules."""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_floating, check_in_range, check_same_shape
from .._numerics import upcast
from .._reduction import reduce_loss
from .._targets import INDEX, check_class_target, check_label_smoothing, safe_indices, valid_mask
from ._primitives import _as_int, _check_num_iters, _check_t, _check_t1, _ipow, _normalized_base, _pow, log_t

# ---------------------------------------------------------------------------------------------------------------
# the loss


def _xlogt(y: torch.Tensor | float, t: float):
    """``y * log_t(y)`` with the value 0 at ``y = 0`` (a tensor or a float)."""
    if not isinstance(y, torch.Tensor):
        if y == 0.0:
            return 0.0
        return y * (math.log(y) if t == 1.0 else math.expm1((1.0 - t) * math.log(y)) / (1.0 - t))
    pos = y > 0
    safe = torch.where(pos, y, torch.ones_like(y))
    lt = torch.log(safe) if t == 1.0 else torch.expm1((1.0 - t) * torch.log(safe)) / (1.0 - t)
    return torch.where(pos, y * lt, torch.zeros_like(y))


def _bi_tempered_forward(
    a: torch.Tensor,
    target: torch.Tensor,
    index: bool,
    on: float,
    off: float,
    t1: float,
    t2: float,
    num_iters: int | None,
    need_grad_a: bool,
    need_grad_y: bool,
    cd: int = 1,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    r"""Per-sample loss (classes on dim ``cd``) and, on request, its gradients w.r.t. ``a`` and a dense target.

    ``index``: ``target`` holds class indices and the target distribution is ``off`` everywhere and ``on`` at
    the labelled class (label smoothing), never materialized. Otherwise ``target`` is dense.
    """
    C = a.shape[cd]
    one = t1 == 1.0
    qi = None
    # --- probabilities, expressed through p, s = p^(1 - t1) (or log p when t1 == 1) and inv_b = p^(t2 - 1).
    logp = s = inv_b = None
    if t2 == 1.0:
        a0 = a - a.amax(cd, keepdim=True)
        logp = a0.sub_(torch.logsumexp(a0, cd, keepdim=True))
        p = torch.exp(logp)
        if not one:
            s = logp.mul_(1.0 - t1).exp_()  # p^(1 - t1)
            logp = None
    else:
        b = _normalized_base(a, t2, num_iters, cd)
        r = 1.0 / (1.0 - t2)
        log_b = None
        if one:
            log_b = torch.log(b)
            logp = log_b * r
            p = _pow(b, r, log_b)
        else:
            q = (1.0 - t1) / (1.0 - t2)  # s = b^q, p = b^r = s^(r/q)
            qi = _as_int(q)
            if qi is None:
                log_b = torch.log(b)
            if qi == -1 and t2 > 1.0:  # (0.8, 1.2): s = 1/b, p = s^5; b is not needed any more
                s = b.reciprocal_()
            else:
                s = b if qi == 1 else _pow(b, q, log_b)
            n = _as_int(1.0 / (1.0 - t1))
            p = _ipow(s, n) if n is not None and n != 1 else _pow(b, r, log_b)
        if not one and qi == -1:
            inv_b = s
        else:
            inv_b = torch.reciprocal(b)
            if t2 < 1.0:
                inv_b = torch.where(b > 0, inv_b, torch.zeros_like(inv_b))
        del log_b

    # --- the loss: sum_c y (log_t1 y - log_t1 p) - (sum_c y^(2 - t1) - sum_c p^(2 - t1)) / (2 - t1)
    # p^(2 - t1) is the escort weight p^t2 when t1 + t2 = 2 (as at (0.8, 1.2)): then it is summed once, later
    shared = need_grad_a and not one and t2 != 1.0 and abs(2.0 - t1 - t2) < 1e-12
    if one:
        sum_p2 = torch.ones_like(p.select(cd, 0)) if t2 == 1.0 else p.sum(cd)
    elif shared:
        sum_p2 = None
    else:
        sum_p2 = (p * s).sum(cd)
    if index:
        k = target.unsqueeze(cd)
        if one:
            lt_k = logp.gather(cd, k).squeeze(cd)
        else:
            lt_k = (s.gather(cd, k).squeeze(cd) - 1.0) / (1.0 - t1)
        cross = (on - off) * lt_k
        if off > 0.0:
            sum_lt = (logp.sum(cd) if one else (s.sum(cd) - C) / (1.0 - t1))
            cross = cross + off * sum_lt
        ylty = (C - 1) * _xlogt(off, t1) + _xlogt(on, t1)
        sum_y2 = (C - 1) * off ** (2.0 - t1) + on ** (2.0 - t1)
        loss = (ylty - cross) - sum_y2 / (2.0 - t1)
    else:
        y = target
        if one:
            ylogp = y * logp
            if t2 < 1.0:  # 0 * log 0 outside the support
                ylogp = torch.where(y > 0, ylogp, torch.zeros_like(ylogp))
            cross = ylogp.sum(cd)
        else:
            cross = ((y * s).sum(cd) - y.sum(cd)) / (1.0 - t1)
        sum_y2 = y.sum(cd) if one else y.pow(2.0 - t1).sum(cd)
        loss = (_xlogt(y, t1).sum(cd) - cross) - sum_y2 / (2.0 - t1)
    if sum_p2 is not None:
        loss = loss + sum_p2 / (2.0 - t1)

    # --- target gradient: d loss / d y_c = log_t1(y_c) - log_t1(p_c)
    grad_y = None
    if need_grad_y and not index:
        lt_y = log_t(target, t1)
        grad_y = lt_y - (logp if one else (s - 1.0) / (1.0 - t1))

    if not need_grad_a:
        return loss, None, grad_y
    # --- activation gradient: D = (p - y) p^(t2 - t1);  g = D - p^t2 * sum(D) / sum(p^t2)
    if t2 == 1.0:
        w = None if one else s  # p^(1 - t1)
    elif one:
        w = inv_b
    elif qi == -1:
        w = s * s
    elif qi == 1:
        w = (b > 0).to(b.dtype) if t2 < 1.0 else torch.ones_like(b)
    else:
        w = s * inv_b
        if t2 < 1.0:  # outside the finite support the true gradient is 0 (the official one is not)
            w = torch.where(b > 0, w, torch.zeros_like(w))
    if index:
        w_k = torch.ones_like(lt_k).unsqueeze(cd) if w is None else w.gather(cd, k)
        if w is None:
            d = p - off
        elif off > 0.0:
            d = (p - off).mul_(w)
        else:  # w is a temporary unless it aliases s or inv_b, which are still needed
            d = w * p if (w is s or w is inv_b) else w.mul_(p)
        d.scatter_add_(cd, k, w_k.mul_(-(on - off)))
    else:
        d = p - target if w is None else (p - target).mul_(w)
    escort = p if t2 == 1.0 else p.mul_(inv_b)
    sum_escort = escort.sum(cd, keepdim=True)
    if shared:
        loss = loss + sum_escort.squeeze(cd) / (2.0 - t1)
    grad_a = d.sub_(escort.mul_(d.sum(cd, keepdim=True) / sum_escort))
    return loss, grad_a, grad_y


def _classes_first(a: torch.Tensor) -> bool:
    # Few classes on the last dim make every per-row broadcast and reduction run an inner loop of C elements
    # (~8x slower at C = 10); with the classes moved to dim 0 they run over N contiguous elements instead.
    return a.ndim == 2 and a.shape[1] <= 32 and a.shape[0] >= 4 * a.shape[1]


def _scaled_grad(grad: torch.Tensor, g: torch.Tensor, classes_first: bool) -> torch.Tensor:
    """``grad * g`` in the caller's ``(N, C)`` layout: the product is written through a transposed view of a
    contiguous ``(N, C)`` result, so the multiply and the transpose back are one pass."""
    if not classes_first:
        return grad * g
    out = torch.empty(grad.shape[::-1], dtype=grad.dtype, device=grad.device)
    torch.mul(grad, g, out=out.t())
    return out


def _forward_any_layout(a, target, index, on, off, t1, t2, num_iters, need_a, need_y):
    if not _classes_first(a):
        return _bi_tempered_forward(a, target, index, on, off, t1, t2, num_iters, need_a, need_y)
    tgt = target if index else target.t().contiguous()
    return _bi_tempered_forward(a.t().contiguous(), tgt, index, on, off, t1, t2, num_iters, need_a, need_y, cd=0)


class _BiTemperedLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, target, index, on, off, t1, t2, num_iters, need_a, need_y):
        loss, grad_a, grad_y = _forward_any_layout(a, target, index, on, off, t1, t2, num_iters, need_a, need_y)
        ctx.save_for_backward(grad_a, grad_y)
        ctx.classes_first = _classes_first(a)
        return loss

    @staticmethod
    def backward(ctx, grad):
        grad_a, grad_y = ctx.saved_tensors
        cd = 0 if ctx.classes_first else 1
        g = grad.unsqueeze(cd)
        return (
            None if grad_a is None else _scaled_grad(grad_a, g, ctx.classes_first),
            None if grad_y is None else _scaled_grad(grad_y, g, ctx.classes_first),
            None, None, None, None, None, None, None, None,
        )


def _per_sample(a, target, index, on, off, t1, t2, num_iters):
    need_y = target.requires_grad and not index
    if torch.is_grad_enabled() and (a.requires_grad or need_y):
        return _BiTemperedLoss.apply(a, target, index, on, off, t1, t2, num_iters, a.requires_grad, need_y)
    return _forward_any_layout(a, target, index, on, off, t1, t2, num_iters, False, False)[0]


def bi_tempered_logistic_loss(
    activations: torch.Tensor,
    target: torch.Tensor,
    *,
    t1: float,
    t2: float,
    label_smoothing: float = 0.0,
    num_iters: int | None = 5,
    ignore_index: int | None = None,
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``t1`` outside (0, 2), ``t2 <= 0``, ``num_iters < 1``, ``label_smoothing`` outside [0, 1],
            bad target shape or values.
        TypeError: non-floating activations, or a target dtype that does not match its shape.

    Note:
        Gradients come from the closed form (a custom :class:`torch.autograd.Function`; backward does not unroll
        the normalization):

        .. math::
            \partial\ell/\partial a_j = (p_j - y_j)\,p_j^{t_2-t_1}
                - \frac{p_j^{t_2}}{\sum_c p_c^{t_2}} \sum_c (p_c - y_c)\,p_c^{t_2-t_1}

        For ``t2 < 1`` a class outside the finite support (``p_c = 0``) contributes nothing; the official
        gradient puts ``-y_c`` there (``t1 = t2``) or NaN (``t2 < t1``), losslab returns the true gradient.
        The normalization for ``t2 < 1`` is a bracketed Newton iteration on
        :math:`(\sum_c \exp_t(a_c - \lambda))^{1-t} = 1` (monotone from :math:`\lambda = \max a`), run to
        ``|sum(p) - 1| <= 16 eps`` (a fixed 30 steps inside ``torch.compile``), not the official 5 bisection
        steps. The official ``+1e-10`` inside ``log_t1(y)`` is replaced by the exact ``0 log_t1 0 = 0``.
        Finite loss and gradient for activations up to ±1e3 at ``t1 <= 1``; with ``t1 >= 1`` and ``t2 < 1``
        a labelled class outside the support costs ``inf``, as the formula says.

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
    t1 = _check_t1(t1)
    t2 = _check_t(t2, "t2")
    num_iters = _check_num_iters(num_iters)
    ls = check_label_smoothing(label_smoothing)
    check_floating(activations, "activations")
    kind = check_class_target(activations, target, ignore_index=ignore_index, input_name="activations")
    C = activations.shape[1]
    if ls > 0.0 and C < 2:
        raise ValueError(f"label_smoothing: needs at least 2 classes, got activations of shape {tuple(activations.shape)}")
    (a,) = upcast(activations)
    mask = None
    if kind == INDEX:
        mask = valid_mask(target, ignore_index)
        tgt = safe_indices(target, ignore_index).long()
        on, off = 1.0 - ls, (ls / (C - 1) if ls > 0.0 else 0.0)
        loss = _per_sample(a, tgt, True, on, off, t1, t2, num_iters)
    else:
        y = target.to(a.dtype)
        if ls > 0.0:
            y = y * (1.0 - C * ls / (C - 1)) + ls / (C - 1)
        loss = _per_sample(a, y, False, 1.0, 0.0, t1, t2, num_iters)
    return reduce_loss(loss, reduction, weight, mask=mask, dtype=activations.dtype)


class BiTemperedLogisticLoss(nn.Module):
    """Module form of :func:`bi_tempered_logistic_loss`."""

    def __init__(
        self,
        *,
        t1: float,
        t2: float,
        label_smoothing: float = 0.0,
        num_iters: int | None = 5,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.t1 = _check_t1(t1)
        self.t2 = _check_t(t2, "t2")
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.num_iters = _check_num_iters(num_iters)
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(self, activations: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return bi_tempered_logistic_loss(
            activations, target, t1=self.t1, t2=self.t2, label_smoothing=self.label_smoothing,
            num_iters=self.num_iters, ignore_index=self.ignore_index, weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"t1={self.t1}, t2={self.t2}, label_smoothing={self.label_smoothing}, num_iters={self.num_iters}, "
            f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"
        )


def bi_tempered_binary_logistic_loss(
    activations: torch.Tensor,
    target: torch.Tensor,
    *,
    t1: float,
    t2: float,
    label_smoothing: float = 0.0,
    num_iters: int | None = 5,
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the unreduced loss.
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
    t1 = _check_t1(t1)
    t2 = _check_t(t2, "t2")
    num_iters = _check_num_iters(num_iters)
    ls = check_label_smoothing(label_smoothing)
    check_floating(activations, "activations")
    check_floating(target, "target")
    check_same_shape(activations, target, "activations", "target")
    check_in_range(target, "target", 0.0, 1.0)
    a, y = upcast(activations, target)
    y = y.to(a.dtype)
    if ls > 0.0:
        y = y * (1.0 - 2.0 * ls) + ls
    flat_a, flat_y = a.reshape(-1), y.reshape(-1)
    pair_a = torch.stack([torch.zeros_like(flat_a), flat_a], dim=1)
    pair_y = torch.stack([1.0 - flat_y, flat_y], dim=1)
    loss = _per_sample(pair_a, pair_y, False, 1.0, 0.0, t1, t2, num_iters).reshape(activations.shape)
    return reduce_loss(loss, reduction, weight, dtype=activations.dtype)


class BiTemperedBinaryLogisticLoss(nn.Module):
    """Module form of :func:`bi_tempered_binary_logistic_loss`."""

    def __init__(
        self, *, t1: float, t2: float, label_smoothing: float = 0.0, num_iters: int | None = 5, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.t1 = _check_t1(t1)
        self.t2 = _check_t(t2, "t2")
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.num_iters = _check_num_iters(num_iters)
        self.reduction = reduction

    def forward(self, activations: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return bi_tempered_binary_logistic_loss(
            activations, target, t1=self.t1, t2=self.t2, label_smoothing=self.label_smoothing,
            num_iters=self.num_iters, weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"t1={self.t1}, t2={self.t2}, label_smoothing={self.label_smoothing}, num_iters={self.num_iters}, "
            f"reduction={self.reduction!r}"
        )
