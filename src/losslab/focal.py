r"""Focal losses: sigmoid (binary / multi-label) and softmax (single-label) forms of Lin et al.'s focal loss.

The focal loss scales cross-entropy by :math:`(1 - p_t)^\gamma`, so well-classified examples (:math:`p_t \to 1`)
contribute little and training concentrates on the hard ones [Lin2017]_.

Both losses are computed in log space: the focal factor is :math:`\exp(\gamma \log(1 - p_t))` with
:math:`\log(1 - p_t)` obtained from ``logsigmoid`` / ``logsumexp`` and :func:`~losslab._numerics.log1mexp`, never
from a probability, so loss **and** gradient stay finite at logits of ±1e4 for every ``gamma >= 0`` (including the
``0 < gamma < 1`` range where ``pow(0, gamma - 1)`` makes the naive gradient NaN).

Speed and memory. Each loss is a custom :class:`torch.autograd.Function` with the closed-form gradient. It saves
only its inputs (plus one value per sample for the softmax form) and recomputes the rest in ``backward``, so a
training step holds no intermediate tensors between the forward and the backward pass. The forward and backward
kernels are plain tensor functions, so ``torch.compile`` traces through the Function and fuses each of them into a
single loop: wrap your loss (or, better, your whole training step) in ``torch.compile`` to get the compiled speed,
about the cost of ``F.binary_cross_entropy_with_logits`` (``benchmarks/bench_focal.py`` measures it). Nothing is
compiled behind your back: eager calls run eager kernels, so there is no warm-up and no compiler requirement.

The custom gradients are first-order only: ``torch.autograd.grad(..., create_graph=True)`` through these losses
gives no second derivatives (the backward is not itself differentiable).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_floating, check_in_range, check_same_shape, check_scalar, check_tensor
from ._numerics import log1mexp, upcast
from ._reduction import reduce_loss
from ._targets import INDEX, check_class_target, safe_indices, valid_mask  # noqa: F401

__all__ = ["sigmoid_focal_loss", "SigmoidFocalLoss"]


# ---------------------------------------------------------------------------------------------------------------
# sigmoid focal loss


def _check_alpha_scalar(alpha: float | None) -> float | None:
    if alpha is None:
        return None
    return check_scalar(alpha, "alpha", low=0.0, high=1.0)


# Eager calls run the element-wise kernels over cache-sized chunks of the flattened tensors: every temporary then
# stays in cache and comes from the allocator's free list, instead of a fresh full-size buffer per operation
# (page faults and memory traffic dominate an op-by-op loss on large tensors). Under torch.compile the kernels run
# whole, and the compiler fuses each into one loop.
_CHUNK = 1 << 13


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
    ``ce = softplus(x) - y x = relu(x) - y x - log(max(s, sm))``, where ``max(s, sm) = sigmoid(|x|)`` lies in
    [1/2, 1], so its log is accurate to one ulp of 1 (the precision of ``F.binary_cross_entropy_with_logits``).
    """
    s = torch.sigmoid(x)
    sm = torch.sigmoid(-x)
    q = torch.lerp(s, sm, y)
    ce = torch.relu(x).addcmul_(y, x, value=-1.0).sub_(torch.maximum(s, sm).log_())
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
    gx = torch.sub(s, y)  # d ce / dx
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
        Computed in log space: :math:`\log p` and :math:`\log(1-p)` by ``logsigmoid``, and
        :math:`\log(1 - p_t) = \operatorname{logaddexp}(\log p + \log(1-y),\ \log(1-p) + \log y)`, so the focal
        factor :math:`\exp(\gamma \log(1 - p_t))` never rounds :math:`1 - p_t` to 0. A custom autograd Function
        supplies the closed-form gradient (finite for every ``gamma >= 0`` at logits ±1e4, saves only its inputs);
        it gives first derivatives only (no double backward). Gradients also flow to a ``target`` that requires
        them. float16/bfloat16 inputs are computed in float32 and returned in their dtype.

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
    check_in_range(target, "target", 0.0, 1.0, "sigmoid_focal_loss expects binary or soft labels in [0, 1]")
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
