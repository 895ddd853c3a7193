"""Renamed arguments: an old keyword gets a TypeError that names its replacement."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# torch's ``weight`` is per-class in cross-entropy; losslab's per-element weights are ``sample_weight``.
RENAMED = {"weight": "sample_weight"}


def renamed_arguments(**renames: str) -> Callable[[F], F]:
    """Reject the old names of renamed keyword arguments with a message that says the new name.

    Example:
        >>> @renamed_arguments(weight="sample_weight")
        ... def f(x, *, sample_weight=None):
        ...     return x
        >>> f(1, weight=2)
        Traceback (most recent call last):
        ...
        TypeError: f: `weight` was renamed to `sample_weight` (per-element weights; per-class weights are `class_weight`)
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    hint = " (per-element weights; per-class weights are `class_weight`)" if new == "sample_weight" else ""
                    raise TypeError(f"{fn.__name__}: `{old}` was renamed to `{new}`{hint}")
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
