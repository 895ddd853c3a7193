"""Shared numerically stable primitives.

The "double where" pattern: a singular op (sqrt at 0, log at 0, x/0, atan(w/0)) is evaluated on a safe dummy
value wherever the real value is singular, and the result is replaced afterwards. Masking only the output is
not enough: the backward of ``where`` multiplies the masked branch's gradient by 0, and 0 * inf = NaN.
"""

from __future__ import annotations

import torch

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16/bfloat16 compute in float32; other floating dtypes as they are."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def autocast_active(device_type: str) -> bool:
    """Whether ``torch.autocast`` is on for ``device_type`` (then a loss returns float32, as ``F.cross_entropy``)."""
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except TypeError:  # torch < 2.4: no device argument
        return bool(torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled())


def output_dtype(computed: torch.Tensor, input_dtype: torch.dtype) -> torch.dtype:
    """The dtype a loss returns: float32 under autocast (like ``F.cross_entropy``), else the input's dtype."""
    if input_dtype in _LOW_PRECISION and autocast_active(computed.device.type):
        return computed.dtype
    return input_dtype


def upcast(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cast half-precision floating tensors to float32 (others unchanged)."""
    return tuple(t.float() if t.dtype in _LOW_PRECISION else t for t in tensors)


def result_dtype(loss: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Return ``loss`` in the dtype of the floating input ``like`` (undoes :func:`upcast`); float32 under autocast."""
    if not like.is_floating_point():
        return loss
    dtype = output_dtype(loss, like.dtype)
    return loss.to(dtype) if loss.dtype != dtype else loss


def safe_sqrt(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``sqrt(x)`` with gradient 0 (not inf/NaN) where ``x <= eps``; the value there is ``sqrt(max(x, 0))``."""
    ok = x > eps
    safe = torch.where(ok, x, torch.ones_like(x))
    return torch.where(ok, safe.sqrt(), x.clamp_min(0).detach().sqrt())


def safe_div(num: torch.Tensor, den: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``num / den`` where ``den != 0``, ``fill`` elsewhere, with no NaN in the gradient."""
    ok = den != 0
    safe_den = torch.where(ok, den, torch.ones_like(den))
    return torch.where(ok, num / safe_den, torch.full_like(num / safe_den, fill))


def safe_log(x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``log(x)`` where ``x > 0``, ``fill`` elsewhere, with no NaN in the gradient."""
    ok = x > 0
    return torch.where(ok, torch.where(ok, x, torch.ones_like(x)).log(), torch.full_like(x, fill))


def safe_pow(x: torch.Tensor, p: float) -> torch.Tensor:
    r"""``max(x, 0) ** p`` for a float ``p >= 0``, with finite values and gradients everywhere.

    * ``p == 0``: 1 everywhere (``0 ** 0 = 1``, as ``torch.pow``).
    * ``p >= 1``: ``clamp_min(0).pow(p)``; the slope at 0 is finite (0 for ``p > 1``).
    * ``0 < p < 1``: the slope ``p x^(p - 1)`` is infinite at 0 and overflows below the smallest normal number
      (``x = 1e-45``, ``p = 0.1`` gives ``1e40`` in float32), so there the value and the gradient are 0 (double
      ``where``); the values dropped are below ``tiny ** p``.

    Example:
        >>> x = torch.tensor([-1e-17, 0.0, 1e-45, 0.25, 4.0], requires_grad=True)
        >>> y = safe_pow(x, 0.5)
        >>> y.sum().backward()
        >>> y.detach(), x.grad
        (tensor([0.0000, 0.0000, 0.0000, 0.5000, 2.0000]), tensor([0.0000, 0.0000, 0.0000, 1.0000, 0.2500]))
    """
    if p == 0.0:
        return torch.ones_like(x)
    if p >= 1.0:
        return x.clamp_min(0.0).pow(p)
    normal = x >= torch.finfo(x.dtype).tiny
    return torch.where(normal, torch.where(normal, x, torch.ones_like(x)).pow(p), torch.zeros_like(x))


def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + exp(x))`` accurate in float64 too: torch's default threshold (20) returns ``x`` from ``x > 20``,
    6,000 float64 ulps off there; from 40 on the dropped ``exp(-x)`` is below float64's resolution."""
    return torch.nn.functional.softplus(x, threshold=40.0)


def log_softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    r"""``log softmax(x)`` along ``dim``, accurate to a few ulps *relative* also for the largest class.

    :math:`\log p_c = (x_c - m) - \operatorname{log1p}(\sum_{c' \ne c^*} e^{x_{c'} - m})`, with :math:`m` the
    maximum, reached at :math:`c^*`: two terms of one sign. ``torch.log_softmax`` takes the log of a sum that
    includes the maximum's :math:`e^0 = 1`, exact only to one ulp of 1, so a confident class's
    :math:`\log p = -10^{-9}` comes out 0 in float32 (and :math:`1 - p` with it). ``m`` is gathered, not detached,
    so autograd gives the softmax gradient; the top class's :math:`x_{c^*} - m` is written as the constant 0, so
    its gradient :math:`1 - p_{c^*}` comes from the ``log1p`` term alone, not as the cancelling sum ``1 - p``.
    """
    top = x.argmax(dim, keepdim=True)
    z = (x - x.gather(dim, top)).scatter(dim, top, 0.0)
    rest = torch.exp(z).scatter(dim, top, 0.0).sum(dim, keepdim=True)  # every class but one maximum
    return z - torch.log1p(rest)


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0`` (Maechler's two-branch form, accurate everywhere)."""
    x = x.clamp_max(0)
    near = x > -0.6931471805599453
    a = torch.where(near, x, torch.full_like(x, -1.0))
    b = torch.where(near, torch.full_like(x, -1.0), x)
    return torch.where(near, torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(b)))

