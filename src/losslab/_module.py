"""One mechanism for the ``nn.Module`` form of every loss.

A loss's module is declared in one line beside its function::

    class SigmoidFocalLoss(LossModule, function=sigmoid_focal_loss):
        pass

The class reads the function's signature: its keyword-only arguments with defaults are the module's
hyperparameters (stored once, as attributes; tensors as buffers so ``.to(device)`` moves them), the arguments
before them are the ``forward`` inputs, and ``sample_weight`` (plus any argument listed in ``call_time``) is passed
per call. ``validate`` (optional) is the function's own hyperparameter check, run at construction with every
hyperparameter as a keyword argument. ``repr`` shows the hyperparameters and the class docstring is the function's.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from ._checks import check_reduction

__all__ = ["LossModule"]

# Keyword arguments that belong to a call, not to the loss's configuration.
_CALL_TIME = frozenset({"sample_weight", "normalizer", "mask"})


class LossModule(nn.Module):
    """Base class of every loss module: hyperparameters bound once, validated at construction."""

    function: ClassVar[Callable[..., torch.Tensor]]
    _hyperparameters: ClassVar[dict[str, Any]]
    _call_time: ClassVar[frozenset[str]]
    _validate: ClassVar[Callable[..., object] | None]

    def __init_subclass__(
        cls,
        *,
        function: Callable[..., torch.Tensor] | None = None,
        call_time: tuple[str, ...] = (),
        validate: Callable[..., object] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if function is None:
            return
        cls.function = staticmethod(function)
        cls._validate = staticmethod(validate) if validate is not None else None
        params = inspect.signature(function).parameters.values()
        cls._call_time = _CALL_TIME | frozenset(call_time)
        cls._hyperparameters = {
            p.name: p.default
            for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in cls._call_time
        }
        init_params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)] + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
            for name, default in cls._hyperparameters.items()
        ]
        cls.__signature__ = inspect.Signature(init_params)  # type: ignore[attr-defined]
        cls.__doc__ = f"Module form of :func:`losslab.{function.__name__}`.\n\n" + _without_examples(
            inspect.cleandoc(function.__doc__ or "")
        )

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__()
        cls = type(self)
        if not hasattr(cls, "_hyperparameters"):
            raise TypeError("LossModule is a base class; declare `class X(LossModule, function=...)`")
        unknown = set(hyperparameters) - set(cls._hyperparameters)
        if unknown:
            name = sorted(unknown)[0]
            raise TypeError(
                f"{cls.__name__}: unexpected argument {name!r}; expected keyword arguments from "
                f"{tuple(cls._hyperparameters)}"
            )
        values = {**cls._hyperparameters, **hyperparameters}
        missing = [name for name, value in values.items() if value is inspect.Parameter.empty]
        if missing:
            raise TypeError(f"{cls.__name__}: missing required keyword argument {missing[0]!r}")
        for name, value in values.items():
            _check_hyperparameter(name, value)
            if isinstance(value, torch.Tensor):
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)
        if cls._validate is not None:
            cls._validate(**values)

    def hyperparameters(self) -> dict[str, Any]:
        """The bound hyperparameters, as passed to the function on every call."""
        return {name: getattr(self, name) for name in type(self)._hyperparameters}

    def forward(self, *inputs: torch.Tensor, **call_kwargs: Any) -> torch.Tensor:
        # an old argument name (``weight``) goes on to the function, whose TypeError names its replacement
        unknown = set(call_kwargs) - type(self)._call_time - {"weight"}
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.forward: unexpected argument {sorted(unknown)[0]!r}; hyperparameters are "
                f"set at construction, per call only {tuple(sorted(type(self)._call_time))}"
            )
        return type(self).function(*inputs, **self.hyperparameters(), **call_kwargs)

    def extra_repr(self) -> str:
        parts = []
        for name, value in self.hyperparameters().items():
            if isinstance(value, torch.Tensor):
                value = f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
            else:
                value = repr(value)
            parts.append(f"{name}={value}")
        return ", ".join(parts)


def _without_examples(doc: str) -> str:
    """The docstring less its ``Example:`` section (the function's doctests run once, on the function)."""
    lines = doc.splitlines()
    out, skipping = [], False
    for line in lines:
        if line.strip() in ("Example:", "Examples:") and not line.startswith(" "):
            skipping = True
            continue
        if skipping and line and not line.startswith(" "):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out)


def _check_hyperparameter(name: str, value: Any) -> None:
    """The checks every hyperparameter gets at construction; the function checks ranges on every call."""
    if name == "reduction":
        check_reduction(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
