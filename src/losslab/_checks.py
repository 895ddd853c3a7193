"""Argument and value checks with clear messages, and the validation switch.

Two kinds of checks live here:

* **argument checks** (shapes, dtypes, ``reduction``, hyperparameter ranges) read only metadata and always run;
* **value checks** (probabilities in [0, 1], class indices in range, labels in {-1, 1}, finiteness) read tensor
  values, so they force a device sync. They run in eager mode while validation is on (the default), and are
  skipped while ``torch.compile`` traces and after ``set_validation(False)``, as ``torch.distributions`` does.

Every message names the argument, what was expected and what came.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

__all__ = ["set_validation", "validation_enabled", "validation"]

_VALIDATE = True

REDUCTIONS = ("none", "mean", "sum")


def set_validation(enabled: bool) -> None:
    """Switch the value checks (they read tensor data) on or off for the whole process.

    Argument checks on shapes, dtypes and hyperparameters always run.

    Example:
        >>> import losslab
        >>> losslab.set_validation(False)
        >>> losslab.validation_enabled()
        False
        >>> losslab.set_validation(True)
    """
    global _VALIDATE
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected a bool, got {type(enabled).__name__}")
    _VALIDATE = enabled


def validation_enabled() -> bool:
    """Whether the value checks run now (on, and not inside ``torch.compile`` tracing)."""
    if not _VALIDATE:
        return False
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling():
        return False
    return True


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
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
) -> float:
    """Check a Python number hyperparameter lies in a range; returns it as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if value != value:
        raise ValueError(f"{name}: expected a number, got nan")
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high:
        lo = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise ValueError(f"{name}: expected a value in {lo}, {hi}, got {value:g}")
    return value


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------------------
# value checks (read data; eager mode only, switchable)


def check_finite(x: torch.Tensor, name: str) -> None:
    if validation_enabled() and x.numel() and not bool(torch.isfinite(x).all()):
        kind = "NaN" if bool(torch.isnan(x).any()) else "inf"
        raise ValueError(f"{name}: expected finite values, found {kind}")


def check_in_range(
    x: torch.Tensor, name: str, low: float, high: float, hint: str = "", low_inclusive: bool = True
) -> None:
    """Value check: every element of ``x`` lies in [low, high] (or (low, high] when ``low_inclusive=False``)."""
    if not validation_enabled() or x.numel() == 0:
        return
    check_finite(x, name)
    xmin, xmax = float(x.detach().min()), float(x.detach().max())
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
    check_in_range(x, name, 0.0, 1.0, hint)


def check_class_indices(
    target: torch.Tensor, num_classes: int, name: str = "target", ignore_index: int | None = None
) -> None:
    if not validation_enabled() or target.numel() == 0:
        return
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.numel() == 0:
        return
    tmin, tmax = int(valid.min()), int(valid.max())
    if tmin < 0 or tmax >= num_classes:
        extra = f" (ignore_index={ignore_index})" if ignore_index is not None else ""
        raise ValueError(
            f"{name}: expected class indices in [0, {num_classes - 1}]{extra}, got values in [{tmin}, {tmax}]"
        )


def check_values_in(x: torch.Tensor, name: str, allowed: Sequence[float], hint: str = "") -> None:
    if not validation_enabled() or x.numel() == 0:
        return
    ok = torch.zeros_like(x, dtype=torch.bool)
    for a in allowed:
        ok |= x == a
    if not bool(ok.all()):
        bad = x[~ok].flatten()[:3].tolist()
        raise ValueError(
            f"{name}: expected values in {{{', '.join(f'{a:g}' for a in allowed)}}}, got e.g. {bad}"
            + (f"; {hint}" if hint else "")
        )
