r"""Tempered logarithm and exponential, tempered softmax/sigmoid, and the bi-tempered logistic losses.

The bi-tempered logistic loss [Amid2019]_ replaces the log in the logistic loss by a tempered logarithm
:math:`\log_{t_1}` (for :math:`t_1 < 1` the loss is bounded, so a mislabelled example far from the boundary
cannot dominate training) and the softmax by a tempered softmax with a heavier tail (:math:`t_2 > 1`, so
examples near the boundary are not pushed over it by noise).

The normalization of the tempered softmax has no closed form. ``losslab`` computes it in the forward pass and
differentiates the loss with its closed-form gradient in a custom :class:`torch.autograd.Function`, so backward
never unrolls the iterations. Every power in the forward and backward pass is written as a power of one
intermediate :math:`b = 1 + (1 - t_2)(a - \lambda)`; when the temperatures make those powers whole numbers
(``(t1, t2) = (0.8, 1.2)``: :math:`p = b^{-5}`, :math:`p^{1-t_1} = b^{-1}`) they are computed with a few
multiplies instead of a transcendental ``pow``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_floating, check_in_range, check_same_shape, check_scalar
from ._numerics import upcast
from ._reduction import reduce_loss
from ._targets import INDEX, check_class_target, check_label_smoothing, safe_indices, valid_mask

__all__ = [
    "log_t",
    "exp_t",
    "tempered_softmax",
    "tempered_sigmoid",
    "bi_tempered_logistic_loss",
    "BiTemperedLogisticLoss",
    "bi_tempered_binary_logistic_loss",
    "BiTemperedBinaryLogisticLoss",
]

_REFERENCE = (
    "E. Amid, M. K. Warmuth, R. Anil, T. Koren. \"Robust Bi-Tempered Logistic Loss Based on Bregman "
    "Divergences.\" NeurIPS 2019. https://arxiv.org/abs/1906.03361"
)

# The t < 1 normalization (and num_iters=None) is solved to |sum(p) - 1| <= _TOL_ULPS * eps(dtype); inside
# torch.compile, where a data-dependent stopping test would break the graph, it runs a fixed _COMPILED_ITERS.
_TOL_ULPS = 16
_MAX_ITERS = 100
_COMPILED_ITERS = 30


# ---------------------------------------------------------------------------------------------------------------
# argument checks


def _check_t(t: float, name: str) -> float:
    return check_scalar(t, name, low=0.0, low_inclusive=False)


def _check_t1(t1: float) -> float:
    # 2 - t1 divides the loss; for t1 >= 2 a one-hot target makes y^(2 - t1) infinite at y = 0.
    return check_scalar(t1, "t1", low=0.0, high=2.0, low_inclusive=False, high_inclusive=False)


def _check_num_iters(num_iters: int | None) -> int | None:
    if num_iters is None:
        return None
    if isinstance(num_iters, bool) or not isinstance(num_iters, int):
        raise TypeError(f"num_iters: expected an int >= 1 or None, got {type(num_iters).__name__}")
    if num_iters < 1:
        raise ValueError(f"num_iters: expected an int >= 1 or None, got {num_iters}")
    return num_iters


def _compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling())


# ---------------------------------------------------------------------------------------------------------------
# tempered log / exp


def log_t(u: torch.Tensor, t: float) -> torch.Tensor:
    r"""Tempered logarithm :math:`\log_t(u) = (u^{1-t} - 1)/(1 - t)`, with :math:`\log_1 = \log`.

    Increasing and concave in ``u``; for :math:`t < 1` it is bounded below, :math:`\log_t(0) = -1/(1-t)`
    (the source of the bi-tempered loss's boundedness), for :math:`t \ge 1` it tends to :math:`-\infty` at 0.

    Args:
        u: Non-negative values, any shape (negative values give NaN).
        t: Temperature, ``>= 0``. ``t=1`` is the natural logarithm exactly.

    Returns:
        :math:`\log_t(u)`, same shape and dtype as ``u``.

    Raises:
        ValueError: ``t < 0``.

    Note:
        Computed as ``expm1((1 - t) log u) / (1 - t)``, accurate for ``t`` near 1. The gradient at ``u = 0``
        (where the true derivative :math:`u^{-t}` is infinite) is set to 0 so no inf/NaN enters backward.

    Example:
        >>> import torch
        >>> log_t(torch.tensor([0.0, 0.25, 1.0, 4.0]), 0.5)
        tensor([-2., -1.,  0.,  2.])

    References:
        See :func:`bi_tempered_logistic_loss`.
    """
    t = check_scalar(t, "t", low=0.0)
    check_floating(u, "u")
    if t == 1.0:
        return torch.log(u)
    k = 1.0 - t
    pos = u > 0
    safe = torch.where(pos, u, torch.ones_like(u))
    at_zero = -1.0 / k if k > 0 else -math.inf
    value = torch.expm1(k * torch.log(safe)) / k
    # u == 0 -> log_t(0); u < 0 -> NaN (outside the domain), as torch.log does.
    fill = torch.where(u == 0, torch.full_like(u, at_zero), torch.full_like(u, math.nan))
    return torch.where(pos, value, fill)


def exp_t(u: torch.Tensor, t: float) -> torch.Tensor:
    r"""Tempered exponential :math:`\exp_t(u) = [1 + (1-t)u]_+^{1/(1-t)}`, the inverse of :func:`log_t`.

    For :math:`t < 1` it has finite support: it is exactly 0 for :math:`u \le -1/(1-t)`. For :math:`t > 1` it
    has a heavier tail than ``exp`` and a pole at :math:`u = 1/(t-1)`, where (and beyond which) it returns
    ``+inf``, as the official implementation does.

    Args:
        u: Any real values, any shape.
        t: Temperature, ``>= 0``. ``t=1`` is ``exp`` exactly.

    Returns:
        :math:`\exp_t(u)`, same shape and dtype as ``u``.

    Raises:
        ValueError: ``t < 0``.

    Note:
        Computed as ``exp(log1p((1 - t) u) / (1 - t))`` with a double ``where`` at the cutoff/pole, so the
        gradient :math:`\exp_t(u)^t` is finite everywhere (0 outside the support and beyond the pole).

    Example:
        >>> import torch
        >>> exp_t(torch.tensor([-3.0, 0.0, 1.0]), 0.5)
        tensor([0.0000, 1.0000, 2.2500])

    References:
        See :func:`bi_tempered_logistic_loss`.
    """
    t = check_scalar(t, "t", low=0.0)
    check_floating(u, "u")
    if t == 1.0:
        return torch.exp(u)
    k = 1.0 - t
    x = k * u
    inside = x > -1.0
    safe = torch.where(inside, x, torch.zeros_like(x))
    value = torch.exp(torch.log1p(safe) / k)
    return torch.where(inside, value, torch.full_like(u, 0.0 if k > 0 else math.inf))


# ---------------------------------------------------------------------------------------------------------------
# whole-number powers and the normalization


def _as_int(x: float, limit: int = 16) -> int | None:
    """``x`` as an int when it is a whole number with ``1 <= |x| <= limit`` (up to rounding of the temperatures)."""
    n = round(x)
    if n != 0 and abs(n) <= limit and abs(x - n) <= 1e-9 * max(1.0, abs(x)):
        return int(n)
    return None


def _ipow(x: torch.Tensor, n: int, *, inplace: bool = False) -> torch.Tensor:
    """``x ** n`` for a whole number ``n != 0`` by repeated squaring (a multiply costs ~1/20 of a real ``pow``).

    With ``inplace=True`` the storage of ``x`` may be reused. Returns ``x`` itself when ``n == 1``.
    """
    if n < 0:
        x = x.reciprocal_() if inplace else torch.reciprocal(x)
        n, inplace = -n, True
    result, result_owned = None, False
    base, base_owned = x, inplace
    while True:
        if n & 1:
            if result is None:
                result, result_owned, base_owned = base, base_owned, False
            elif result_owned:
                result = result.mul_(base)
            elif base_owned:
                result, result_owned, base_owned = base.mul_(result), True, False
            else:
                result, result_owned = result * base, True
        n >>= 1
        if not n:
            return result
        base, base_owned = (base.mul_(base), True) if base_owned else (base * base, True)


def _pow(x: torch.Tensor, e: float, log_x: torch.Tensor | None = None) -> torch.Tensor:
    """``x ** e`` for ``x >= 0`` (new tensor): repeated multiplies for whole ``e``, else ``exp(e log x)``."""
    n = _as_int(e)
    if n is not None:
        return _ipow(x, n) if n != 1 else x.clone()
    if log_x is None:
        log_x = torch.log(x)
    return torch.exp(log_x * e)


def _sum_pow_(x: torch.Tensor, e: float, dim: int) -> torch.Tensor:
    """``sum(x ** e, dim, keepdim=True)`` for ``x >= 0``; overwrites ``x``."""
    n = _as_int(e)
    y = _ipow(x, n, inplace=True) if n is not None else x.log_().mul_(e).exp_()
    return y.sum(dim, keepdim=True)


def _solve_fixed_point(a0: torch.Tensor, t: float, num_iters: int, dim: int) -> torch.Tensor:
    r"""The paper's fixed point for ``t > 1``; returns the row constant :math:`1 - (1-t)\lambda_0`.

    :math:`Z \leftarrow \sum_c \exp_t(a^0_c Z^{1-t})` for ``num_iters`` rounds from :math:`Z^{1-t} = 1`, then
    :math:`\lambda_0 = -\log_t(1/Z)`, i.e. :math:`1 - (1-t)\lambda_0 = Z^{t-1}` (the official schedule).
    """
    k = 1.0 - t
    r = 1.0 / k
    zk = None  # Z^(1-t)
    for _ in range(num_iters + 1):
        base = a0 * k if zk is None else a0 * (zk * k)
        z = _sum_pow_(base.add_(1.0), r, dim)
        zk = torch.log(z).mul_(k).exp_()
    return zk.reciprocal()


def _solve_newton(a0: torch.Tensor, t: float, dim: int, fixed_iters: int | None = None) -> torch.Tensor:
    r"""Solve :math:`\sum_c \exp_t(a^0_c - \lambda_0) = 1` to a tolerance; returns :math:`1 - (1-t)\lambda_0`.

    Newton's method on :math:`G(\lambda) = (\sum_c \exp_t(a^0_c - \lambda))^{1-t} = 1`. :math:`G` is a power
    mean of affine functions of :math:`\lambda`: concave for ``t > 1``, convex for ``t < 1``, and exactly
    linear when the active activations are equal. From :math:`\lambda_0 = 0` (where the sum is >= 1) the
    iterates therefore increase monotonically to the root, quadratically near it. A bracket
    :math:`[0, -\log_t(1/C)]` guards against rounding: a step that leaves it is replaced by bisection.
    """
    k = 1.0 - t
    r = 1.0 / k
    c = a0.shape[dim]
    row = a0.narrow(dim, 0, 1)
    lam = torch.zeros_like(row)
    lo = torch.zeros_like(row)
    hi = torch.full_like(row, (1.0 - c ** (t - 1.0)) / k if c > 1 else 0.0)
    eps = torch.finfo(a0.dtype).eps
    tol = _TOL_ULPS * eps
    iters = fixed_iters if fixed_iters is not None else _MAX_ITERS
    for _ in range(iters):
        b = torch.add(1.0 - k * lam, a0, alpha=k)
        if k > 0:
            b.clamp_min_(0.0)
        pt = _pow(b, r - 1.0)  # p^t = b^(r - 1)
        s_t = pt.sum(dim, keepdim=True)
        f = pt.mul_(b).sum(dim, keepdim=True)  # sum p
        err = f - 1.0
        if fixed_iters is None and bool((err.abs() <= tol).all()):
            break
        lo = torch.where(err > 0, lam, lo)
        hi = torch.where(err > 0, hi, lam)
        step = (f - f.pow(t)) / (k * s_t.clamp_min(torch.finfo(a0.dtype).tiny))
        new = lam + step
        new = torch.where((new >= lo) & (new <= hi), new, 0.5 * (lo + hi))
        if fixed_iters is None and bool(((new - lam).abs() <= 4 * eps * lam.abs().clamp_min(1.0)).all()):
            lam = new
            break
        lam = new
    return 1.0 - k * lam


def _normalized_base(a: torch.Tensor, t: float, num_iters: int | None, dim: int) -> torch.Tensor:
    r"""For ``t != 1``: :math:`b = 1 + (1-t)(a - \lambda)`, clamped at 0 for ``t < 1``; :math:`p = b^{1/(1-t)}`.

    ``t > 1`` with an int ``num_iters``: the paper's fixed point; ``t < 1`` or ``num_iters=None``: solved to a
    tolerance. The result is a new tensor.
    """
    k = 1.0 - t
    a0 = a - a.amax(dim, keepdim=True)
    if t > 1.0 and num_iters is not None:
        shift = _solve_fixed_point(a0, t, num_iters, dim)
    else:
        shift = _solve_newton(a0, t, dim, _COMPILED_ITERS if _compiling() else None)
    b = a0.mul_(k).add_(shift)
    return b.clamp_min_(0.0) if k > 0 else b


def _probs_and_escort(a: torch.Tensor, t: float, num_iters: int | None, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tempered softmax ``p`` and ``p ** t`` (which is ``p / b``; 0 outside the support) along ``dim``."""
    if t == 1.0:
        p = torch.softmax(a, dim)
        return p, p
    b = _normalized_base(a, t, num_iters, dim)
    p = _pow(b, 1.0 / (1.0 - t))
    inv_b = b.reciprocal_()
    if t < 1.0:
        inv_b = torch.where(p > 0, inv_b, torch.zeros_like(inv_b))
    return p, inv_b.mul_(p)


class _TemperedSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: torch.Tensor, t: float, num_iters: int | None, dim: int) -> torch.Tensor:
        p, pt = _probs_and_escort(a, t, num_iters, dim)
        ctx.save_for_backward(pt)
        ctx.dim = dim
        return p

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        # dp_c/da_j = p_c^t (delta_cj - p_j^t / sum p^t)
        (pt,) = ctx.saved_tensors
        gp = grad * pt
        coef = gp.sum(ctx.dim, keepdim=True) / pt.sum(ctx.dim, keepdim=True)
        return gp.sub_(pt * coef), None, None, None


def tempered_softmax(activations: torch.Tensor, t: float, *, num_iters: int | None = 5, dim: int = 1) -> torch.Tensor:
    r"""Tempered softmax :math:`p_c = \exp_t(a_c - \lambda(a))` with :math:`\lambda` such that :math:`\sum_c p_c = 1`.

    This is the prediction of a model trained with :func:`bi_tempered_logistic_loss`: at inference use it with
    the loss's ``t2`` (``t=1`` is the ordinary softmax). For :math:`t > 1` it has heavier tails than the
    softmax; for :math:`t < 1` it has finite support (classes far below the top get probability exactly 0).

    Args:
        activations: Unnormalized scores, classes on ``dim``.
        t: Temperature, ``> 0``.
        num_iters: For ``t > 1``, rounds of the paper's fixed-point iteration (the official default is 5);
            ``None`` solves the normalization to a tolerance instead. Not used for ``t <= 1``: ``t = 1`` is
            closed-form, ``t < 1`` is always solved to a tolerance.
        dim: The class dimension.

    Returns:
        Probabilities, same shape and dtype as ``activations`` (half precision is computed in float32).

    Raises:
        ValueError: ``t <= 0`` or ``num_iters < 1``.

    Note:
        ``t > 1``: the fixed point converges linearly; after 5 rounds ``|sum(p) - 1|`` is about 1e-6 at
        ``t = 1.2`` and ``t = 4`` on the official fixtures but up to ~1e-3 at ``t = 2``, and much larger for
        scores spread over tens of units; pass a larger ``num_iters`` or ``None`` for exact probabilities.
        ``t < 1``: the official code runs ``num_iters`` bisection steps (probabilities off by up to 1.7e-2);
        losslab runs a bracketed Newton iteration (see :func:`bi_tempered_logistic_loss`) to
        ``|sum(p) - 1| <= 16 eps``. Backward uses the closed form
        :math:`\partial p_c/\partial a_j = p_c^t(\delta_{cj} - p_j^t/\sum_k p_k^t)`, not the iterations.

    Example:
        >>> import torch
        >>> tempered_softmax(torch.tensor([[0.0, 1.0, 2.0]]), 1.0)
        tensor([[0.0900, 0.2447, 0.6652]])
        >>> tempered_softmax(torch.tensor([[0.0, 1.0, 2.0]]), 0.5)  # finite support: class 0 gets 0
        tensor([[0.0000, 0.1693, 0.8307]])

    References:
        See :func:`bi_tempered_logistic_loss`.
    """
    t = _check_t(t, "t")
    num_iters = _check_num_iters(num_iters)
    check_floating(activations, "activations")
    if activations.ndim == 0:
        raise ValueError("activations: expected at least 1 dim (the class dim), got a 0-d tensor")
    dim = dim % activations.ndim
    (a,) = upcast(activations)
    if t == 1.0:
        p = torch.softmax(a, dim)
    else:
        p = _TemperedSoftmax.apply(a, t, num_iters, dim)
    return p.to(activations.dtype)


def tempered_sigmoid(activations: torch.Tensor, t: float, *, num_iters: int | None = 5) -> torch.Tensor:
    r"""Tempered sigmoid: the probability of class 1 under :func:`tempered_softmax` of ``[0, a]``.

    The prediction of a model trained with :func:`bi_tempered_binary_logistic_loss`: at inference use it with
    the loss's ``t2``. ``t=1`` is the logistic sigmoid.

    Args:
        activations: Scores, any shape (element-wise).
        t: Temperature, ``> 0``.
        num_iters: As in :func:`tempered_softmax`.

    Returns:
        Probabilities, same shape and dtype as ``activations``.

    Raises:
        ValueError: ``t <= 0`` or ``num_iters < 1``.

    Example:
        >>> import torch
        >>> tempered_sigmoid(torch.tensor([-1.0, 0.0, 1.0]), 1.0)
        tensor([0.2689, 0.5000, 0.7311])

    References:
        See :func:`bi_tempered_logistic_loss`.
    """
    check_floating(activations, "activations")
    pair = torch.stack([torch.zeros_like(activations), activations], dim=-1)
    return tempered_softmax(pair, t, num_iters=num_iters, dim=-1)[..., 1]


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
    sum_p2 = (p * s).sum(cd) if not one else (torch.ones_like(p.select(cd, 0)) if t2 == 1.0 else p.sum(cd))
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
        loss = (ylty - cross) - (sum_y2 - sum_p2) / (2.0 - t1)
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
        loss = (_xlogt(y, t1).sum(cd) - cross) - (sum_y2 - sum_p2) / (2.0 - t1)

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
    coef = d.sum(cd, keepdim=True) / escort.sum(cd, keepdim=True)
    grad_a = d.sub_(escort.mul_(coef))
    return loss, grad_a, grad_y


def _classes_first(a: torch.Tensor) -> bool:
    # Few classes on the last dim make every per-row broadcast and reduction run an inner loop of C elements
    # (~8x slower at C = 10); with the classes moved to dim 0 they run over N contiguous elements instead.
    return a.ndim == 2 and a.shape[1] <= 32 and a.shape[0] >= 4 * a.shape[1]


def _from_layout(x: torch.Tensor, classes_first: bool) -> torch.Tensor:
    return x.t() if classes_first else x


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
            None if grad_a is None else _from_layout(grad_a * g, ctx.classes_first),
            None if grad_y is None else _from_layout(grad_y * g, ctx.classes_first),
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
