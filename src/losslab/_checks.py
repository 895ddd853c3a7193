"""Argument and value checks with clear messages, and the validation switch.

Two kinds of checks live here:

* **argument checks** (shapes, dtypes, ``reduction``, hyperparameter ranges) read only metadata and always run.
  Float hyperparameters are finite: :func:`check_scalar` rejects NaN and ±inf unless a caller opts in with
  ``allow_inf=True`` where infinity has a documented meaning;
* **value checks** (probabilities in [0, 1], class indices in range, labels in {-1, 1}, finiteness) read tensor
  values, so they force a device sync. They run in eager mode while validation is on (the default), and are
  skipped while ``torch.compile`` traces and after ``set_validation(False)``, as ``torch.distributions`` does.

Non-finite inputs (the policy for every loss): with validation on, a NaN or ±inf in any floating tensor a loss
reads (predictions, targets, weights, IoUs, distance maps, features) raises a ``ValueError`` naming the
argument and the loss (the public loss the user called, found on the call stack when a check fails, else the
checks' ``loss`` argument); nothing non-finite flows silently into a NaN loss. Each checked tensor
costs **one** host sync: a range check and the finiteness check share one ``torch.aminmax`` (a NaN anywhere
makes both extremes NaN, an infinity shows up as an extreme) read back with one ``.tolist()``; a tensor without
a range is read the same way. With validation off nothing is read and a non-finite input gives a non-finite
loss, as in torch.

Every message names the argument, what was expected and what came.
"""

from __future__ import annotations

import contextlib
import math
import sys
import types
from collections.abc import Iterator, Sequence

import torch

__all__ = ["set_validation", "validation_enabled", "validation"]

_VALIDATE: bool | str = True
# On an accelerator a value check costs a host sync that drains the queued work, so with the default policy each
# check site reads accelerator tensors on its first _FIRST_CALLS calls only (a training loop's first steps), then
# trusts them; validation "always" reads on every call, False never. CPU tensors are read on every call.
_FIRST_CALLS = 8
_reads: dict[object, int] = {}

REDUCTIONS = ("none", "mean", "sum")


def set_validation(enabled: bool | str) -> None:
    """Set the policy of the value checks (they read tensor data) for the whole process.

    * ``True`` (the default): CPU tensors are checked on every call; tensors on an accelerator (CUDA, XPU, MPS)
      on the first 8 calls of each check site only, so a training loop syncs with the host in its first steps
      and never after;
    * ``"always"``: every call on every device (one host sync per checked tensor);
    * ``False``: never (nothing is read; a non-finite input gives a non-finite loss, as in torch).

    Argument checks on shapes, dtypes and hyperparameters always run.

    Example:
        >>> import losslab
        >>> losslab.set_validation(False)
        >>> losslab.validation_enabled()
        False
        >>> losslab.set_validation(True)
    """
    global _VALIDATE
    if not isinstance(enabled, bool) and enabled != "always":
        raise TypeError(f"enabled: expected True, False or 'always', got {enabled!r}")
    _VALIDATE = enabled  # the accelerator read counts are kept: switching back and forth does not re-validate


def validation_enabled(x: torch.Tensor | None = None) -> bool:
    """Whether the value checks run now: on, and not inside ``torch.compile`` tracing or a ``torch.func``
    transform (``vmap``/``grad``), where tensor data cannot be read. Given the tensor about to be read, it also
    applies the accelerator policy of :func:`set_validation` (counting this call of the calling check site)."""
    if not _VALIDATE or is_compiling() or torch._C._functorch.peek_interpreter_stack() is not None:
        return False
    if x is None or x.device.type == "cpu" or _VALIDATE == "always":
        return True
    site = sys._getframe(1).f_code  # the check that asks, in the loss that called it
    caller = sys._getframe(2).f_code
    count = _reads.get((site, caller), 0)
    if count >= _FIRST_CALLS:
        return False
    _reads[(site, caller)] = count + 1
    return True


def is_compiling() -> bool:
    """Whether ``torch.compile`` is tracing the caller now (False on a torch without ``torch.compiler``)."""
    compiler = getattr(torch, "compiler", None)
    return compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling()


@contextlib.contextmanager
def validation(enabled: bool | str) -> Iterator[None]:
    """Context manager form of :func:`set_validation`; restores the previous setting on exit.

    Example:
        >>> import losslab, torch
        >>> with losslab.validation(False):
        ...     losslab.validation_enabled()
        False
    """
    global _VALIDATE
    previous = _VALIDATE
    set_validation(enabled)
    try:
        yield
    finally:
        _VALIDATE = previous


# ---------------------------------------------------------------------------------------------------------------
# argument checks (metadata only; always run)


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")


def check_tensor(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    return x


def check_floating(x: torch.Tensor, name: str) -> None:
    check_tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")


def check_integer(x: torch.Tensor, name: str, hint: str = "") -> None:
    check_tensor(x, name)
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected an integer tensor of class indices, got dtype {x.dtype}{hint}")


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str = "input", name_b: str = "target") -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b}: expected the same shape as {name_a} {tuple(a.shape)}, got {tuple(b.shape)}"
        )


def check_min_ndim(x: torch.Tensor, ndim: int, name: str, layout: str) -> None:
    if x.ndim < ndim:
        raise ValueError(f"{name}: expected shape {layout} with at least {ndim} dims, got {tuple(x.shape)}")


def check_last_dim(x: torch.Tensor, size: int, name: str) -> None:
    if x.ndim == 0 or x.shape[-1] != size:
        raise ValueError(f"{name}: expected a last dimension of size {size}, got shape {tuple(x.shape)}")


def check_scalar(
    value: float,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_inf: bool = False,
) -> float:
    """Check a Python number hyperparameter is finite and lies in a range; returns it as float.

    NaN is always rejected, ±inf too unless ``allow_inf=True`` (only where infinity has a documented meaning).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if value != value or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high:
        lo = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise ValueError(f"{name}: expected a value in {lo}, {hi}, got {value:g}")
    return value


def check_bool(value: object, name: str) -> bool:
    """A flag hyperparameter is a real ``bool`` (not ``0``/``1``, not a tensor)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return value


def check_ignore_index(ignore_index: int | None, num_classes: int | None = None) -> int | None:
    """``ignore_index`` is an int or ``None``; with ``num_classes``, also not one of the valid class indices
    (that class would silently vanish from the loss)."""
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"ignore_index: expected an int or None, got {type(ignore_index).__name__}")
    if num_classes is not None and 0 <= ignore_index < num_classes:
        raise ValueError(
            f"ignore_index: {ignore_index} is a valid class index for {num_classes} classes, so that class would "
            f"vanish from the loss; use a label outside [0, {num_classes - 1}] such as -100 or 255"
        )
    return ignore_index


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------------------
# value checks (read data; eager mode only, switchable)


def _extremes(x: torch.Tensor, *extra: torch.Tensor) -> list[float]:
    """``[min, max, *extra]`` of ``x`` with one host sync (``extra``: scalar tensors read in the same sync).

    NaN anywhere makes both extremes NaN (``aminmax`` propagates it); an infinity shows as an extreme.
    """
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    lo, hi = torch.aminmax(x.detach())
    dtype = lo.dtype
    for e in extra:  # read the extras at their own precision (a float64 row sum next to float16 values)
        dtype = torch.promote_types(dtype, e.dtype)
    return torch.stack([v.to(dtype) for v in (lo, hi, *extra)]).tolist()


def finite_extremes(x: torch.Tensor, name: str, loss: str = "", extra: Sequence[torch.Tensor] = ()) -> list[float]:
    """Value check reading ``x`` once: raise if it holds NaN or ±inf, else return ``[min, max, *extra]`` (scalar
    ``extra`` tensors, e.g. a derived quantity another check needs, come back in the same sync). Call it only
    while :func:`validation_enabled`."""
    values = _extremes(x, *extra)
    _check_extremes_finite(values[0], values[1], name, loss)
    return values


def _calling_loss() -> str:
    """The public loss the user called (the outermost ``losslab`` frame named in ``losslab.__all__``), for error
    messages: a loss built on another (IoU-balanced focal on the focal loss) is named as called. Read from the
    call stack on the error path only, so a check that passes costs nothing."""
    import losslab

    public = set(getattr(losslab, "__all__", ()))
    found = ""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("losslab.") and frame.f_code.co_name in public:
            found = frame.f_code.co_name
        frame = frame.f_back
    return found


def _check_extremes_finite(xmin: float, xmax: float, name: str, loss: str) -> None:
    if math.isfinite(xmin) and math.isfinite(xmax):
        return
    loss = _calling_loss() or loss
    if xmin != xmin:
        found = "NaN"
    elif math.isinf(xmax) and math.isinf(xmin):
        found = "-inf and inf" if xmin < 0 < xmax else f"{xmax:g}"
    else:
        found = f"{xmax:g}" if math.isinf(xmax) else f"{xmin:g}"
    raise ValueError(f"{name}: expected finite values, found {found}" + (f" (in {loss})" if loss else ""))


def check_finite(x: torch.Tensor, name: str, loss: str = "") -> None:
    """Value check: no NaN or ±inf in ``x`` (one host sync); ``loss`` names the loss in the message."""
    if x.numel() == 0 or not x.is_floating_point() or not validation_enabled(x):
        return
    xmin, xmax = _extremes(x)
    _check_extremes_finite(xmin, xmax, name, loss)


def check_all_finite(tensors: Sequence[tuple[str, torch.Tensor]], loss: str = "") -> None:
    """Value check: no NaN or ±inf in any of several ``(name, tensor)`` pairs (e.g. the layers of a feature
    dict), with one host sync for all of them."""
    items = [(name, t) for name, t in tensors if t.numel() and t.is_floating_point()]
    if not items or not validation_enabled(items[0][1]):
        return
    ok = torch.stack([torch.isfinite(torch.stack(torch.aminmax(t.detach()))).all() for _, t in items]).tolist()
    for (name, t), good in zip(items, ok):
        if not good:
            check_finite(t, name, loss)  # the error path re-reads the tensor for the message


def check_in_range(
    x: torch.Tensor,
    name: str,
    low: float,
    high: float,
    hint: str = "",
    low_inclusive: bool = True,
    loss: str = "",
    where: torch.Tensor | None = None,
) -> None:
    """Value check: every element of ``x`` is finite and lies in [low, high] (or (low, high] when
    ``low_inclusive=False``). One host sync reads both (``high=math.inf`` means "no upper bound"; an infinite
    element is still rejected). With ``where`` (a boolean mask of ``x``'s shape, e.g. the positions not ignored),
    only the elements where it is true are checked; the mask is applied only when the check runs."""
    if x.numel() == 0 or not validation_enabled(x):
        return
    if where is not None:
        inside = low if low_inclusive else (low + high) / 2 if math.isfinite(high) else low + 1.0
        x = torch.where(where, x.detach(), torch.full_like(x, inside))
    xmin, xmax = _extremes(x)
    _check_extremes_finite(xmin, xmax, name, loss)
    bad_low = xmin < low if low_inclusive else xmin <= low
    if bad_low or xmax > high:
        interval = ("[" if low_inclusive else "(") + f"{low:g}, {high:g}]"
        raise ValueError(
            f"{name}: expected values in {interval}, got values in [{xmin:.4g}, {xmax:.4g}]" + (f"; {hint}" if hint else "")
        )


def check_probabilities(x: torch.Tensor, name: str, *, logits_variant: str | None = None, loss: str = "") -> None:
    hint = ""
    if logits_variant is not None:
        hint = f"{loss} expects probabilities (softmax or sigmoid outputs); for logits use {logits_variant}"
    check_in_range(x, name, 0.0, 1.0, hint, loss=loss)


def check_class_indices(
    target: torch.Tensor, num_classes: int, name: str = "target", ignore_index: int | None = None
) -> None:
    if target.numel() == 0 or not validation_enabled(target):
        return
    # ignored positions read as class 0 (no boolean indexing: that would be a second sync)
    valid = target if ignore_index is None else torch.where(target == ignore_index, torch.zeros_like(target), target)
    tmin, tmax = (int(v) for v in _extremes(valid))
    if tmin < 0 or tmax >= num_classes:
        extra = f" (ignore_index={ignore_index})" if ignore_index is not None else ""
        raise ValueError(
            f"{name}: expected class indices in [0, {num_classes - 1}]{extra}, got values in [{tmin}, {tmax}]"
        )


def check_values_in(x: torch.Tensor, name: str, allowed: Sequence[float], hint: str = "") -> None:
    """Value check: every element of ``x`` is one of ``allowed`` (finite, and NaN/inf are named as such); one
    host sync reads the extremes and the membership together."""
    if x.numel() == 0 or not validation_enabled(x):
        return
    ok = torch.zeros_like(x, dtype=torch.bool)
    for a in allowed:
        ok |= x == a
    if not finite_extremes(x, name, extra=(ok.all(),))[2]:
        bad = x[~ok].flatten()[:3].tolist()
        raise ValueError(
            f"{name}: expected values in {{{', '.join(f'{a:g}' for a in allowed)}}}, got e.g. {bad}"
            + (f"; {hint}" if hint else "")
        )
