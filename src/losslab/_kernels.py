r"""Hand-fused fast paths: custom autograd Functions with closed-form gradients, chunked for the CPU cache.

Every loss in losslab is written once as its formula (the *reference*: plain log-space torch ops, differentiated
by autograd), which is what runs on accelerators, under ``torch.compile`` and under ``torch.func``. A few losses
also have a fast path here, used only where a benchmark shows it wins and only in the situation it was measured
in (:func:`use_fast_path`: a CPU tensor, eager mode, no functorch transform, fast paths switched on), and pinned
to the reference by differential tests of values and gradients against float64 (tests/test_differential_focal.py
runs every case on both paths).

Why they win on one CPU thread: an op-by-op loss allocates a full-size temporary per op (page faults and memory
traffic dominate large tensors); these kernels save only their inputs, recompute the rest in backward, and run
over cache-sized blocks. On a GPU the same loops would be thousands of tiny kernel launches, so they never run
there. The gradients are first order only: differentiating them again raises an error that says to switch the
fast paths off (:func:`fast_paths`), which gives the reference, differentiable to any order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch.autograd.function import once_differentiable

from ._checks import is_compiling
from ._numerics import log1mexp

__all__ = ["set_fast_paths", "fast_paths", "use_fast_path"]

_ENABLED = True


def set_fast_paths(enabled: bool) -> None:
    """Switch the CPU fast paths on (the default) or off (every loss then runs its reference formula)."""
    global _ENABLED
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected a bool, got {type(enabled).__name__}")
    _ENABLED = enabled


@contextlib.contextmanager
def fast_paths(enabled: bool) -> Iterator[None]:
    """Context manager form of :func:`set_fast_paths`; restores the previous setting on exit.

    Example:
        >>> import torch, losslab
        >>> x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
        >>> with losslab.fast_paths(False):  # the reference: second derivatives work
        ...     g, = torch.autograd.grad(losslab.sigmoid_focal_loss(x, torch.ones(4, 3, dtype=torch.float64)), x,
        ...                              create_graph=True)
        >>> g.requires_grad
        True
    """
    global _ENABLED
    previous = _ENABLED
    set_fast_paths(enabled)
    try:
        yield
    finally:
        _ENABLED = previous


def use_fast_path(*tensors: torch.Tensor) -> bool:
    """Whether a fast path may run for these tensors: switched on, all on the CPU, eager, no ``torch.func``."""
    return (
        _ENABLED
        and all(t.device.type == "cpu" for t in tensors)
        and not is_compiling()
        and torch._C._functorch.peek_interpreter_stack() is None
    )


def _first_order_only(ctx, loss: str) -> None:
    if torch.is_grad_enabled():  # backward with create_graph=True
        raise RuntimeError(
            f"{loss}: the CPU fast path gives first derivatives only; for second derivatives run the loss under "
            "`with losslab.fast_paths(False):` (the reference formula, differentiable to any order)"
        )


# ---------------------------------------------------------------------------------------------------------------
# sigmoid focal loss


# Eager calls run the element-wise kernels over cache-sized chunks of the flattened tensors: every temporary then
# stays in cache and comes from the allocator's free list, instead of a fresh full-size buffer per operation
# (page faults and memory traffic dominate an op-by-op loss on large tensors). Under torch.compile the kernels run
# whole, and the compiler fuses each into one loop. 32K elements (128 KiB per float32 temporary) was the fastest
# of 2**13..2**18 against torchvision's formula with glibc's default allocator (benchmarks/bench_focal.py).
_CHUNK = 1 << 15


def _chunked(kernel, tensors: tuple[torch.Tensor, ...], n_out: int, *args):
    """Run ``kernel(*tensors, *args)`` (element-wise, ``n_out`` outputs or ``None``s) chunk by chunk.

    ``tensors[0]`` has the shape of the results; the others have it too or are 0-d (broadcast to every chunk).
    """
    shape = tensors[0].shape
    numel = shape.numel()
    if is_compiling() or numel <= _CHUNK:
        return kernel(*tensors, *args)
    flat = [t if t.ndim == 0 else t.reshape(-1) for t in tensors]
    like = flat[0]
    outs: list[torch.Tensor | None] = []
    for start in range(0, numel, _CHUNK):
        parts = kernel(*(t if t.ndim == 0 else t[start : start + _CHUNK] for t in flat), *args)
        if not outs:
            outs = [None if part is None else torch.empty_like(like) for part in parts]
        for out, part in zip(outs, parts):
            if out is not None:
                out[start : start + _CHUNK] = part
    return tuple(None if out is None else out.view(shape) for out in outs)


def _sigmoid_parts(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``s = sigmoid(x)``, ``sm = sigmoid(-x) = 1 - s``, ``q = 1 - p_t`` and the cross-entropy ``ce``.

    Each is computed without cancellation: ``s`` and ``sm`` are both accurate to a few ulps relative (``1 - s``
    would round to 0 for large ``x``); ``q = s (1 - y) + sm y`` is ``lerp(s, sm, y)``, a convex combination of two
    non-negative numbers that torch evaluates from the nearer end; and
    ``ce = softplus(x) - y x = (1 - y) relu(x) + y relu(-x) + log1p(exp(-|x|))``, a sum of two non-negative
    terms, each accurate to a few ulps *relative*: the first is ``lerp(relu(x), relu(-x), y)`` (no cancellation
    between ``relu(x)`` and ``y x``), the second is ``-log1p(-min(s, sm))`` since ``min(s, sm) = exp(-|x|) /
    (1 + exp(-|x|))``. Relative accuracy matters: the gradients divide ``ce`` by ``q`` where both are tiny (the
    former ``-log(max(s, sm))`` was exact only to one ulp of 1, so ``ce / q`` came out 0 instead of 1 at
    ``|x| > 16`` in float32 and the target gradient was off by percents).
    """
    s = torch.sigmoid(x)
    sm = torch.sigmoid(-x)
    q = torch.lerp(s, sm, y)
    r = torch.relu(x)
    ce = torch.lerp(r, r - x, y).sub_(torch.minimum(s, sm).neg_().log1p_())  # r - x = relu(-x), exactly
    return s, sm, q, ce


def _alpha_t(y: torch.Tensor, alpha: float) -> torch.Tensor:
    # alpha_t = alpha y + (1 - alpha)(1 - y)
    return torch.mul(y, 2.0 * alpha - 1.0).add_(1.0 - alpha)


def _sigmoid_focal_forward(x: torch.Tensor, y: torch.Tensor, gamma: float, alpha: float | None):
    """Element-wise sigmoid focal loss (no autograd; the forward kernel of :class:`_SigmoidFocal`)."""
    _, _, q, ce = _sigmoid_parts(x, y)
    loss = ce if gamma == 0.0 else ce.mul_(q.pow_(gamma))
    return (loss if alpha is None else loss.mul_(_alpha_t(y, alpha)),)


def _sigmoid_focal_backward(
    x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor, gamma: float, alpha: float | None, need_target: bool
):
    r"""Closed-form gradients of the element-wise loss, times ``grad`` (the backward kernel).

    With :math:`s = \sigma(x)`, :math:`q = 1 - p_t = s(1-y) + (1-s)y`, :math:`w = q^\gamma`:

    * :math:`\partial\ell/\partial x = \alpha_t\,[(s - y)\,w + \gamma\,\mathrm{ce}\,w\,\rho]` with
      :math:`\rho = s(1-s)(1-2y)/q`, and :math:`|\rho| \le 1` because :math:`s(1-s) \le q` for :math:`y\in[0,1]`.
      :math:`q^{\gamma-1}` never appears alone, so nothing is infinite for ``gamma < 1``; where :math:`q` underflows
      to 0, :math:`\rho` is taken as 0, which is exact after the factor :math:`w = 0`.
    * :math:`\partial\ell/\partial y = (2\alpha-1)\,\mathrm{ce}\,w + \alpha_t\,w\,[-x + \gamma\,(\mathrm{ce}/q)(1-2s)]`,
      with :math:`\mathrm{ce}/q \to 1` where both vanish.
    """
    s, sm, q, ce = _sigmoid_parts(x, y)
    w = None if gamma == 0.0 else q.pow(gamma)
    # d ce / dx = s - y, as lerp(s, -sm, y) = (1 - y) s - y sm: exact for hard targets, where s - 1 would round
    # to 0 (or -eps/2) at logits above 16 in float32 and lose all relative accuracy of a small gradient
    gx = torch.lerp(s, sm.neg(), y)
    if w is not None:
        rho = torch.mul(s, sm).mul_(torch.mul(y, -2.0).add_(1.0)).div_(q.clamp_min(torch.finfo(q.dtype).tiny))
        gx.add_(rho.mul_(ce), alpha=gamma).mul_(w)
        del rho
    gy = None
    if need_target:
        gy = x.neg()
        if w is not None:
            ratio = torch.where(q > 0, ce / q.clamp_min(torch.finfo(q.dtype).tiny), torch.ones_like(q))
            gy.add_(ratio.mul_(sm - s), alpha=gamma).mul_(w)
        if alpha is not None:
            gy.mul_(_alpha_t(y, alpha)).add_(ce if w is None else ce.mul(w), alpha=2.0 * alpha - 1.0)
        gy.mul_(grad)
    if alpha is not None:
        gx.mul_(_alpha_t(y, alpha))
    return gx.mul_(grad), gy


class SigmoidFocal(torch.autograd.Function):
    """Element-wise sigmoid focal loss with the closed-form gradient; saves only ``logits`` and ``target``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
        ctx.save_for_backward(x, y)
        ctx.gamma, ctx.alpha = gamma, alpha
        (loss,) = _chunked(_sigmoid_focal_forward, (x, y), 1, gamma, alpha)
        return loss

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        _first_order_only(ctx, "sigmoid_focal_loss")
        return SigmoidFocal._backward(ctx, grad)

    @staticmethod
    @once_differentiable
    def _backward(ctx, grad: torch.Tensor):
        x, y = ctx.saved_tensors
        if grad.ndim and grad.numel() and all(st == 0 for st in grad.stride()):
            grad = grad[(0,) * grad.ndim]  # a broadcast scalar (backward of a sum or mean): keep it a scalar
        need_target = ctx.needs_input_grad[1]
        gx, gy = _chunked(_sigmoid_focal_backward, (x, y, grad), 2, ctx.gamma, ctx.alpha, need_target)
        return (gx if ctx.needs_input_grad[0] else None), gy, None, None


# ---------------------------------------------------------------------------------------------------------------
# softmax focal loss


_ROW_CHUNK = 1 << 13  # elements per row block in eager mode (fits in cache)
# The index forward runs ~10 small ops per block (:func:`_log_p_gathered`); with 8K-element blocks their dispatch
# cost dominated (1000 classes: 8 rows a block). 64K elements (256 KiB per float32 temporary, two of them) halved it.
_GATHER_CHUNK = 1 << 16


def _row_blocks(x: torch.Tensor, chunk: int = _ROW_CHUNK):
    """Slices of dim 0 holding about ``chunk`` elements each (one slice when compiling or small)."""
    n = x.shape[0]
    per_row = max(1, x[0].numel()) if n else 1
    step = n if (is_compiling() or n * per_row <= chunk) else max(1, chunk // per_row)
    return [slice(a, a + step) for a in range(0, n, max(step, 1))]


def _log_p_gathered(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """:func:`_log_softmax` at the target class only: ``(x_t - m) - log1p(rest)``. (Faster than the fused
    ``log_softmax`` for few classes, slower by ~3.5 ns per element for 1000 classes: 40 vs 12 us per 8K-element
    block, one thread.)"""
    m, top = x.max(1, keepdim=True)
    rest = (x - m).exp_().scatter_(1, top, 0.0).sum(1, keepdim=True)
    return (x.gather(1, idx) - m).sub_(rest.log1p_()).squeeze(1)


def _log_p_target(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``log softmax(x)[target]`` per position (as :func:`_log_softmax`), by row blocks that stay in cache (the full
    ``(N, C, *)`` log-probabilities never exist at once)."""
    blocks = _row_blocks(x, _GATHER_CHUNK)
    if len(blocks) == 1:
        return _log_p_gathered(x, idx)
    out = x.new_empty(idx.shape[:1] + idx.shape[2:])
    for b in blocks:
        out[b] = _log_p_gathered(x[b], idx[b])
    return out


def _focal_du(u: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""``(1 - p)^gamma`` and ``gamma p (-u) (1 - p)^(gamma - 1)`` for ``u = log p <= 0``, in log space.

    :math:`f(u) = -(1 - e^u)^\gamma u` has :math:`-f'(u) = (1-p)^\gamma + \gamma\,p\,(-u)\,(1-p)^{\gamma-1}`; the
    second term is :math:`\gamma\exp(u + (\gamma-1)\log(1-p) + \log(-u))`, finite for every ``gamma``, and 0 at
    :math:`u = 0` (its limit for ``gamma > 0``), where the log form would give ``inf - inf``.
    """
    if gamma == 0.0:
        return torch.ones_like(u), None
    l1m = log1mexp(u)
    focal = torch.mul(l1m, gamma).exp_()
    neg = u < 0
    safe = torch.where(neg, u, torch.full_like(u, -1.0))
    second = (l1m * (gamma - 1.0)).add_(safe).add_(torch.log(-safe)).exp_().mul_(gamma)
    second = torch.where(neg, second, torch.zeros_like(u))
    return focal, second


class SoftmaxFocalIndex(torch.autograd.Function):
    """Per-position :math:`-(1 - p_t)^\\gamma \\log p_t` for class-index targets; saves ``logits``, ``target`` and
    :math:`\\log p_t` (one value per position), never a ``(N, C, *)`` intermediate."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, idx: torch.Tensor, gamma: float) -> torch.Tensor:
        # log p_t, clamped to the dtype's finite range: at logits of +-3e38 it is -inf, which the closed-form
        # gradient would turn into inf - inf (the loss is then ~3.4e38 in float32 instead of inf)
        u = _log_p_target(x, idx.unsqueeze(1)).clamp_(torch.finfo(x.dtype).min, 0.0)
        ctx.save_for_backward(x, idx, u)
        ctx.gamma = gamma
        return -u if gamma == 0.0 else torch.mul(log1mexp(u), gamma).exp_().mul_(u).neg_()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        _first_order_only(ctx, "softmax_focal_loss")
        return SoftmaxFocalIndex._backward(ctx, grad)

    @staticmethod
    @once_differentiable
    def _backward(ctx, grad: torch.Tensor):
        x, idx, u = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        focal, second = _focal_du(u, ctx.gamma)
        g = focal if second is None else focal.add_(second)
        g = g.neg_().mul_(grad)  # d loss / d log p_t, times the incoming gradient
        # d log p_t / dx = onehot(t) - softmax(x), so dx = -g softmax(x) + g onehot(t)
        # (the softmax output is the gradient buffer itself: one full-size allocation, the one autograd needs).
        # The target's entry g (1 - p_t) is written as -g expm1(log p_t), not added as g - g p_t, which cancels
        # to 0 once p_t rounds to 1 (logit margins above ~17 in float32) and loses a small gradient entirely.
        gx = torch.softmax(x, 1).mul_(g.neg().unsqueeze(1))
        return gx.scatter_(1, idx.unsqueeze(1), torch.expm1(u).mul_(g).neg_().unsqueeze(1)), None, None


