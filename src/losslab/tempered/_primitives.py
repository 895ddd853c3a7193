"""Tempered logarithm and exponential, tempered softmax/sigmoid, and the normalization solvers."""

from __future__ import annotations

import math

import torch

from .._checks import check_floating, check_scalar
from .._numerics import upcast

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


def _ipow(x: torch.Tensor, n: int, *, inplace: bool = False, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """``x ** n`` for a whole number ``n != 0`` by repeated squaring (a multiply costs ~1/20 of a real ``pow``).

    With ``inplace=True`` the storage of ``x`` may be reused; ``scratch`` (same shape) is used for the first
    square instead of a fresh allocation (fresh pages cost a page fault each). Returns ``x`` itself when ``n == 1``.
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
        if base_owned:
            base = base.mul_(base)
        else:
            base, base_owned = (base * base if scratch is None else torch.mul(base, base, out=scratch)), True
            scratch = None


def _pow(x: torch.Tensor, e: float, log_x: torch.Tensor | None = None) -> torch.Tensor:
    """``x ** e`` for ``x >= 0`` (new tensor): repeated multiplies for whole ``e``, else ``exp(e log x)``."""
    n = _as_int(e)
    if n is not None:
        return _ipow(x, n) if n != 1 else x.clone()
    if log_x is None:
        log_x = torch.log(x)
    return torch.exp(log_x * e)


def _sum_pow_(x: torch.Tensor, e: float, dim: int, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """``sum(x ** e, dim, keepdim=True)`` for ``x >= 0``; overwrites ``x`` (and ``scratch``)."""
    n = _as_int(e)
    y = _ipow(x, n, inplace=True, scratch=scratch) if n is not None else x.log_().mul_(e).exp_()
    return y.sum(dim, keepdim=True)


def _solve_fixed_point(a0: torch.Tensor, t: float, num_iters: int, dim: int) -> torch.Tensor:
    r"""The paper's fixed point for ``t > 1``; returns the row constant :math:`1 - (1-t)\lambda_0`.

    :math:`Z \leftarrow \sum_c \exp_t(a^0_c Z^{1-t})` for ``num_iters`` rounds from :math:`Z^{1-t} = 1`, then
    :math:`\lambda_0 = -\log_t(1/Z)`, i.e. :math:`1 - (1-t)\lambda_0 = Z^{t-1}` (the official schedule).
    """
    k = 1.0 - t
    r = 1.0 / k
    zk = None  # Z^(1-t)
    base = torch.empty_like(a0)  # two work buffers reused by every round
    scratch = torch.empty_like(a0) if _as_int(r) is not None else None
    for _ in range(num_iters + 1):
        torch.mul(a0, k if zk is None else zk * k, out=base)
        z = _sum_pow_(base.add_(1.0), r, dim, scratch)
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
