r"""Focal losses: sigmoid (binary / multi-label) and softmax (single-label) forms of Lin et al.'s focal loss.

The focal loss scales cross-entropy by :math:`(1 - p_t)^\gamma`, so well-classified examples (:math:`p_t \to 1`)
contribute little and training concentrates on the hard ones [Lin2017]_.

Both losses avoid the two classic failures of the probability-space formula: ``log`` of a probability that rounded
to 0, and ``pow(0, gamma - 1)`` in the gradient for ``0 < gamma < 1``. The softmax form works in log space
(:math:`(1 - p)^\gamma = \exp(\gamma\,\operatorname{log1mexp}(\log p))`); the sigmoid form computes
:math:`1 - p_t` from :math:`\sigma(x)` and :math:`\sigma(-x)` without cancellation. Loss **and** gradient stay
finite at logits of ±1e4 for every ``gamma >= 0``.

Speed and memory. Each loss is a custom :class:`torch.autograd.Function` with the closed-form gradient. It saves
only its inputs (plus log p_t, one value per position, for the softmax form) and recomputes the rest in
``backward``, so a training step holds no intermediate tensors between the forward and the backward pass. In eager
mode the kernels run over cache-sized blocks, so no full-size temporary is ever allocated. The kernels are plain
tensor functions, so ``torch.compile`` traces through the Function (``fullgraph=True`` works) and fuses each into a
single loop: wrap your loss, or better your whole training step, in ``torch.compile`` to get the compiled speed,
about the cost of ``F.binary_cross_entropy_with_logits`` (``python -m benchmarks.bench_focal`` measures it).
Nothing is compiled behind your back: eager calls run eager kernels, with no warm-up and no compiler needed.

The custom gradients are first-order only: ``torch.autograd.grad(..., create_graph=True)`` through these losses
gives no second derivatives (the backward is not itself differentiable).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._checks import check_finite, check_floating, check_in_range, check_same_shape, check_scalar
from ._numerics import log1mexp, upcast
from ._reduction import reduce_loss
from ._targets import INDEX, check_class_target, safe_indices, valid_mask

__all__ = ["sigmoid_focal_loss", "SigmoidFocalLoss", "softmax_focal_loss", "SoftmaxFocalLoss"]


# ---------------------------------------------------------------------------------------------------------------
# sigmoid focal loss


def _check_alpha_scalar(alpha: float | None) -> float | None:
    if alpha is None:
        return None
    return check_scalar(alpha, "alpha", low=0.0, high=1.0)


# Eager calls run the element-wise kernels over cache-sized chunks of the flattened tensors: every temporary then
# stays in cache and comes from the allocator's free list, instead of a fresh full-size buffer per operation
# (page faults and memory traffic dominate an op-by-op loss on large tensors). Under torch.compile the kernels run
# whole, and the compiler fuses each into one loop. 32K elements (128 KiB per float32 temporary) was the fastest
# of 2**13..2**18 against torchvision's formula with glibc's default allocator (benchmarks/bench_focal.py).
_CHUNK = 1 << 15


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling()


def _chunked(kernel, tensors: tuple[torch.Tensor, ...], n_out: int, *args):
    """Run ``kernel(*tensors, *args)`` (element-wise, ``n_out`` outputs or ``None``s) chunk by chunk.

    ``tensors[0]`` has the shape of the results; the others have it too or are 0-d (broadcast to every chunk).
    """
    shape = tensors[0].shape
    numel = shape.numel()
    if _is_compiling() or numel <= _CHUNK:
        return kernel(*tensors, *args)
    flat = [t if t.ndim == 0 else t.reshape(-1) for t in tensors]
    like = flat[0]
    outs: list[torch.Tensor | None] | None = None
    for start in range(0, numel, _CHUNK):
        parts = kernel(*(t if t.ndim == 0 else t[start : start + _CHUNK] for t in flat), *args)
        if outs is None:
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


class _SigmoidFocal(torch.autograd.Function):
    """Element-wise sigmoid focal loss with the closed-form gradient; saves only ``logits`` and ``target``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
        ctx.save_for_backward(x, y)
        ctx.gamma, ctx.alpha = gamma, alpha
        (loss,) = _chunked(_sigmoid_focal_forward, (x, y), 1, gamma, alpha)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, y = ctx.saved_tensors
        if grad.ndim and grad.numel() and all(st == 0 for st in grad.stride()):
            grad = grad[(0,) * grad.ndim]  # a broadcast scalar (backward of a sum or mean): keep it a scalar
        need_target = ctx.needs_input_grad[1]
        gx, gy = _chunked(_sigmoid_focal_backward, (x, y, grad), 2, ctx.gamma, ctx.alpha, need_target)
        return (gx if ctx.needs_input_grad[0] else None), gy, None, None


def sigmoid_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Sigmoid focal loss, for binary and multi-label classification with many easy negatives (dense detection).

    Binary cross-entropy down-weighted by :math:`(1 - p_t)^\gamma`, so confident correct predictions contribute
    little; :math:`\alpha` balances positives against negatives [Lin2017]_. With :math:`p = \sigma(x)`:

    .. math::
        p_t = p\,y + (1 - p)(1 - y), \qquad \alpha_t = \alpha\,y + (1 - \alpha)(1 - y),

        \ell = -\alpha_t\,(1 - p_t)^\gamma \,\bigl[y \log p + (1 - y)\log(1 - p)\bigr].

    For hard targets :math:`y \in \{0, 1\}` this is the paper's :math:`-\alpha_t (1-p_t)^\gamma \log p_t`. Soft
    targets :math:`y \in [0, 1]` use the same formulas, interpolating :math:`p_t` and :math:`\alpha_t` linearly in
    :math:`y` (torchvision's, optax's and Keras' convention; Keras' label smoothing is this with a smoothed
    :math:`y`).

    Args:
        logits: Raw scores (before the sigmoid), any shape.
        target: Targets in [0, 1] (hard 0/1 labels or soft labels), same shape and floating dtype as ``logits``.
        gamma: Focusing parameter, ``>= 0``. ``gamma=0`` recovers (alpha-balanced) binary cross-entropy.
        alpha: Weight of the positive class in [0, 1]; negatives get ``1 - alpha``. ``None`` disables the
            balancing (every element weighted 1). The paper's default is 0.25.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. The paper normalizes the summed loss by the number of
            positive anchors: use ``reduction="sum"`` and divide, or ``reduce_loss(..., normalizer=num_pos)``.

    Returns:
        The loss of ``logits``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``gamma < 0``, ``alpha`` outside [0, 1], shapes differ, or ``target`` outside [0, 1] or not
            finite.
        TypeError: a non-floating ``logits`` or ``target``, or a non-number ``gamma``/``alpha``.

    Note:
        No term is computed by subtracting nearly equal numbers, so loss and gradient are finite for every
        ``gamma >= 0`` at logits of ±1e4 (where the probability-space form of torchvision gives NaN gradients for
        ``gamma < 1``): :math:`p` and :math:`1 - p` are two sigmoids (:math:`\sigma(x)`, :math:`\sigma(-x)`), each
        accurate to a few ulps relative; :math:`1 - p_t = (1-y)\,\sigma(x) + y\,\sigma(-x)` is a convex combination
        of the two; the focal factor is its power; the cross-entropy is
        :math:`\operatorname{softplus}(x) - yx = (1-y)\max(x, 0) + y\max(-x, 0) + \log(1 + e^{-|x|})`, two
        non-negative terms each accurate to a few ulps relative (``F.binary_cross_entropy_with_logits`` is
        accurate only to one ulp of 1, which the gradients would divide by :math:`1 - p_t`). Values and both
        gradients match a float64 evaluation of the formula to a few float32 ulps relative at every logit
        (tests/test_differential_focal.py). A custom autograd Function supplies the closed-form
        gradient (see ``_sigmoid_focal_backward``), in which :math:`(1-p_t)^{\gamma-1}` only appears inside a
        ratio bounded by 1; it saves only its inputs and gives first derivatives only (no double backward).
        Gradients also flow to a ``target`` that requires them. float16/bfloat16 inputs are computed in float32
        and returned in their dtype.

    Example:
        >>> import torch
        >>> logits = torch.tensor([2.0, -1.0, 0.5])
        >>> target = torch.tensor([1.0, 0.0, 0.0])
        >>> sigmoid_focal_loss(logits, target, reduction="none")
        tensor([0.0005, 0.0170, 0.2831])
        >>> sigmoid_focal_loss(logits, target, gamma=0.0, alpha=None)  # == BCE with logits
        tensor(0.4714)

    References:
        .. [Lin2017] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. "Focal Loss for Dense Object Detection."
           ICCV 2017. https://arxiv.org/abs/1708.02002
    """
    gamma = check_scalar(gamma, "gamma", low=0.0)
    alpha = _check_alpha_scalar(alpha)
    check_floating(logits, "logits")
    check_floating(target, "target")
    check_same_shape(logits, target, "logits", "target")
    check_in_range(target.detach(), "target", 0.0, 1.0, "sigmoid_focal_loss expects binary or soft labels in [0, 1]")
    check_finite(logits, "logits", "sigmoid_focal_loss")
    x, y = upcast(logits, target)
    if y.dtype != x.dtype:
        y = y.to(x.dtype)
    loss = _SigmoidFocal.apply(x, y, gamma, alpha)
    return reduce_loss(loss, reduction, weight, dtype=logits.dtype)


class SigmoidFocalLoss(nn.Module):
    """Module form of :func:`sigmoid_focal_loss`."""

    def __init__(self, *, gamma: float = 2.0, alpha: float | None = 0.25, reduction: str = "mean") -> None:
        super().__init__()
        self.gamma = check_scalar(gamma, "gamma", low=0.0)
        self.alpha = _check_alpha_scalar(alpha)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return sigmoid_focal_loss(
            logits, target, gamma=self.gamma, alpha=self.alpha, weight=weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"gamma={self.gamma:g}, alpha={self.alpha!r}, reduction={self.reduction!r}"


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
    step = n if (_is_compiling() or n * per_row <= chunk) else max(1, chunk // per_row)
    return [slice(a, a + step) for a in range(0, n, max(step, 1))]


def _log_softmax(x: torch.Tensor) -> torch.Tensor:
    r"""``log softmax(x)`` over dim 1, accurate to a few ulps *relative* also for the largest class.

    :math:`\log p_c = (x_c - m) - \operatorname{log1p}(\sum_{c' \ne c^*} e^{x_{c'} - m})`, with :math:`m` the
    maximum, reached at :math:`c^*`: two terms of one sign. ``torch.log_softmax`` takes the log of a sum that includes
    the maximum's :math:`e^0 = 1`, exact only to one ulp of 1, so a confident class's :math:`\log p = -10^{-9}`
    comes out 0 in float32 and :math:`1 - p`, the focal factor's base, with it (the loss and gradient of a
    confident prediction lost all relative accuracy from logit margins of about 10).
    """
    m, top = x.max(1, keepdim=True)
    z = x - m
    rest = z.exp().scatter_(1, top, 0.0).sum(1, keepdim=True)  # every class but one maximum
    return z.sub_(rest.log1p_())


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


class _SoftmaxFocalIndex(torch.autograd.Function):
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
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
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


def _dense_alpha(alpha: float | torch.Tensor | None, x: torch.Tensor):
    if isinstance(alpha, torch.Tensor):
        return alpha.to(x.dtype).reshape((1, -1) + (1,) * (x.ndim - 2))
    return alpha


class _SoftmaxFocalDense(torch.autograd.Function):
    """Per-position :math:`-\\sum_c \\alpha_c y_c (1 - p_c)^\\gamma \\log p_c` for dense targets, computed by row
    blocks; saves only ``logits`` and ``target``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, alpha, gamma: float) -> torch.Tensor:
        loss = x.new_empty(x.shape[:1] + x.shape[2:])
        for b in _row_blocks(x):
            # clamped to the finite range so that 0 * log 0 is 0, not NaN, at logits of +-3e38 (see _SoftmaxFocalIndex)
            u = _log_softmax(x[b]).clamp_(torch.finfo(x.dtype).min, 0.0)
            term = u.mul_(y[b]) if gamma == 0.0 else torch.mul(log1mexp(u), gamma).exp_().mul_(u).mul_(y[b])
            if alpha is not None:
                term = term.mul_(alpha)
            loss[b] = term.sum(1).neg_()
        ctx.save_for_backward(x, y, alpha if isinstance(alpha, torch.Tensor) else None)
        ctx.gamma, ctx.alpha = gamma, alpha if not isinstance(alpha, torch.Tensor) else None
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, y, alpha_tensor = ctx.saved_tensors
        alpha = alpha_tensor if alpha_tensor is not None else ctx.alpha
        scale = grad.unsqueeze(1)
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gx = torch.empty_like(x) if need_x else None
        gy = torch.empty_like(y) if need_y else None
        for b in _row_blocks(x):
            u = _log_softmax(x[b]).clamp_(torch.finfo(x.dtype).min, 0.0)
            focal, second = _focal_du(u, ctx.gamma)
            a = scale[b] if alpha is None else scale[b] * alpha
            if need_y:  # d loss / d y_c = -alpha_c (1 - p_c)^gamma log p_c
                gy[b] = (focal * u).mul_(a).neg_()
            if need_x:  # h_c = d loss / d log p_c;  dx_j = h_j - p_j sum_c h_c = h_j (1 - p_j) - p_j sum_{c!=j} h_c
                # (1 - p_j as -expm1(log p_j): h_j - p_j h_j would cancel to 0 for a confident class)
                h = (focal if second is None else focal.add_(second)).mul_(y[b]).mul_(a).neg_()
                others = h.sum(1, keepdim=True) - h
                gx[b] = torch.expm1(u).mul_(h).neg_().sub_(u.exp_().mul_(others))
        return gx, gy, None, None


def _check_alpha_classes(alpha: float | torch.Tensor | None, num_classes: int | None = None):
    """``None``, a float in [0, 1], or a non-negative per-class tensor of shape ``(C,)``."""
    if alpha is None or not isinstance(alpha, torch.Tensor):
        return _check_alpha_scalar(alpha)
    check_floating(alpha, "alpha")
    if alpha.ndim != 1 or (num_classes is not None and alpha.shape[0] != num_classes):
        expected = "(C,)" if num_classes is None else f"({num_classes},), one weight per class"
        raise ValueError(f"alpha: expected a per-class tensor of shape {expected}, got {tuple(alpha.shape)}")
    check_in_range(alpha, "alpha", 0.0, float("inf"), "per-class weights must be non-negative")
    return alpha


def softmax_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | torch.Tensor | None = None,
    ignore_index: int | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Softmax focal loss, for single-label classification with class imbalance or many easy examples.

    Softmax cross-entropy down-weighted by :math:`(1 - p_c)^\gamma` [Lin2017]_, the multi-class form used by
    Keras' ``CategoricalFocalCrossentropy``. With :math:`p = \operatorname{softmax}(x)` over dim 1 and a target
    distribution :math:`y` (one-hot for class indices):

    .. math::
        \ell = -\sum_{c} \alpha_c\, y_c\, (1 - p_c)^\gamma \log p_c,
        \qquad\text{so for a class index } t:\quad \ell = -\alpha_t (1 - p_t)^\gamma \log p_t .

    ``alpha`` sets :math:`\alpha_c`, and peers disagree on it, so precisely:

    * ``None``: :math:`\alpha_c = 1` (plain focal loss);
    * a float :math:`a`: :math:`\alpha_c = a` for **every** class, a plain multiplier of the loss (Keras'
      ``CategoricalFocalCrossentropy(alpha=a)``; not kornia's/MONAI's "``1 - a`` for class 0, ``a`` for the rest");
    * a tensor of shape ``(C,)``: :math:`\alpha_c` = ``alpha[c]``, a per-class weight (e.g. inverse class
      frequencies). It scales each position's loss; ``"mean"`` still divides by the number of positions, unlike
      ``F.cross_entropy(weight=...)`` which divides by :math:`\sum \alpha_{t}`. For that normalization pass
      ``weight=alpha[target]`` instead.

    Args:
        logits: Raw scores, shape ``(N, C, *)`` with classes on dim 1, ``C >= 2``.
        target: Class indices ``(N, *)`` (integer dtype) or class probabilities ``(N, C, *)`` (floating, in
            [0, 1], e.g. label-smoothed one-hots).
        gamma: Focusing parameter, ``>= 0``. ``gamma=0`` with ``alpha=None`` is softmax cross-entropy.
        alpha: ``None``, a float in [0, 1], or a non-negative tensor of shape ``(C,)`` (see above).
        ignore_index: Class index whose positions are left out of the loss and of the ``"mean"`` denominator
            (index targets only). A batch with nothing left gives 0 with a zero gradient.
        weight: Optional weights broadcastable to the per-position loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The per-position loss ``(N, *)`` for ``"none"`` (0 at ignored positions), otherwise a scalar.

    Raises:
        ValueError: ``gamma < 0``; a float ``alpha`` outside [0, 1]; an ``alpha`` tensor not of shape ``(C,)`` or
            with negative values; ``C < 2``; target shape fitting neither form; class indices out of range;
            dense targets outside [0, 1]; ``ignore_index`` with dense targets.
        TypeError: floating targets of the index shape or integer targets of the dense shape; non-floating
            ``logits``.

    Note:
        Computed in log space: :math:`\log p_c = (x_c - m) - \operatorname{log1p}(\sum_{c' \ne c^*}
        e^{x_{c'} - m})` (:math:`m` the largest logit, at :math:`c^*`) and
        :math:`(1 - p_c)^\gamma = \exp(\gamma\,\operatorname{log1mexp}(\log p_c))`, so loss and gradient are finite
        at logits of ±1e4 for every ``gamma >= 0`` and relatively accurate also for confident predictions
        (``log_softmax`` would give :math:`\log p_t = 0` from a logit margin of about 17 in float32, and
        :math:`1 - p_t = 0` with it). A custom autograd Function with the closed-form gradient
        saves only the inputs and :math:`\log p_t` per position (no ``(N, C, *)`` intermediate), and in eager
        mode works by blocks of rows that stay in cache. First derivatives only (no double backward); dense
        targets also receive gradients if they require them. Finite logits never give NaN: :math:`\log p_c` is
        clamped to the dtype's finite range, so at logits of ±3e38 (where it overflows to -inf) a class with
        target 0 adds 0, and a target on such a class gives about 3.4e38 in float32 (the most negative finite
        log-probability) with the exact, finite gradient.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
        >>> softmax_focal_loss(logits, torch.tensor([0, 1]), reduction="none")
        tensor([0.0111, 2.8210])
        >>> softmax_focal_loss(logits, torch.tensor([0, 1]), gamma=0.0)  # == F.cross_entropy
        tensor(1.6681)
        >>> softmax_focal_loss(logits, torch.tensor([0, 1]), alpha=torch.tensor([1.0, 0.5, 0.5]), reduction="none")
        tensor([0.0111, 1.4105])

    References:
        .. [Lin2017] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. "Focal Loss for Dense Object Detection."
           ICCV 2017. https://arxiv.org/abs/1708.02002
    """
    gamma = check_scalar(gamma, "gamma", low=0.0)
    check_floating(logits, "logits")
    if logits.ndim >= 2 and logits.shape[1] < 2:
        raise ValueError(
            f"logits: expected at least 2 classes on dim 1, got shape {tuple(logits.shape)}; a softmax over one "
            "class is constant (for binary problems use sigmoid_focal_loss)"
        )
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise TypeError(f"ignore_index: expected an int or None, got {type(ignore_index).__name__}")
    checked = target.detach() if isinstance(target, torch.Tensor) else target
    kind = check_class_target(logits, checked, ignore_index=ignore_index)
    check_finite(logits, "logits", "softmax_focal_loss")
    alpha = _check_alpha_classes(alpha, logits.shape[1])
    (x,) = upcast(logits)
    if kind == INDEX:
        idx = safe_indices(target, ignore_index).long()
        loss = _SoftmaxFocalIndex.apply(x, idx, gamma)
        if isinstance(alpha, torch.Tensor):
            loss = loss * alpha.to(loss.dtype)[idx]
        elif alpha is not None:
            loss = loss * alpha
        mask = valid_mask(target, ignore_index)
    else:
        y = target.to(x.dtype)
        loss = _SoftmaxFocalDense.apply(x, y, _dense_alpha(alpha, x), gamma)
        mask = None
    return reduce_loss(loss, reduction, weight, mask=mask, dtype=logits.dtype)


class SoftmaxFocalLoss(nn.Module):
    """Module form of :func:`softmax_focal_loss` (a tensor ``alpha`` is a buffer, so ``.to()`` moves it)."""

    alpha_weights: torch.Tensor | None

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: float | torch.Tensor | None = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.gamma = check_scalar(gamma, "gamma", low=0.0)
        alpha = _check_alpha_classes(alpha)
        if isinstance(alpha, torch.Tensor):
            self.register_buffer("alpha_weights", alpha.detach().clone())
            self.alpha_scalar = None
        else:
            self.register_buffer("alpha_weights", None)
            self.alpha_scalar = alpha
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        alpha = self.alpha_weights if self.alpha_weights is not None else self.alpha_scalar
        return softmax_focal_loss(
            logits, target, gamma=self.gamma, alpha=alpha, ignore_index=self.ignore_index, weight=weight,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        weights = self.alpha_weights
        alpha = repr(self.alpha_scalar) if weights is None else f"tensor of {weights.numel()} classes"
        return f"gamma={self.gamma:g}, alpha={alpha}, ignore_index={self.ignore_index!r}, reduction={self.reduction!r}"
