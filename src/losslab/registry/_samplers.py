"""Input generators for registry entries: ``sampler(n, dtype, generator) -> (args, kwargs)``.

They give the contract tests (tests/test_contracts.py) a valid call of every loss at any batch size and dtype.
"""

from __future__ import annotations

import torch


def randn(shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def rand(shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    return (low + (high - low) * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype)


def randint(shape: tuple[int, ...], high: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=g)


def elementwise(low: float = -2.0, high: float = 2.0, target_low: float | None = None, target_high: float | None = None, features: int = 3, **kwargs):
    """Same-shape ``(n, features)`` prediction and target drawn uniformly from the given ranges."""
    tl = low if target_low is None else target_low
    th = high if target_high is None else target_high

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (rand((n, features), dtype, g, low, high), rand((n, features), dtype, g, tl, th)), dict(kwargs)

    return sample


def logits_index(classes: int = 5, spatial: tuple[int, ...] = (), scale: float = 2.0, **kwargs):
    """Logits ``(n, C, *spatial)`` and class indices ``(n, *spatial)``."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, classes, *spatial), dtype, g, scale), randint((n, *spatial), classes, g)), dict(kwargs)

    return sample


def logits_binary(features: int = 4, scale: float = 2.0, soft: bool = False, **kwargs):
    """Logits ``(n, features)`` and binary (or soft, in [0, 1]) targets of the same shape."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        if soft:
            target = rand((n, features), dtype, g)
        else:
            target = randint((n, features), 2, g).to(dtype)
        return (randn((n, features), dtype, g, scale), target), dict(kwargs)

    return sample


def probs_binary(features: int = 4, soft: bool = False, **kwargs):
    """Probabilities ``(n, features)`` in (0.05, 0.95) and binary or soft targets."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        target = rand((n, features), dtype, g) if soft else randint((n, features), 2, g).to(dtype)
        return (rand((n, features), dtype, g, 0.05, 0.95), target), dict(kwargs)

    return sample


def probs_categorical(classes: int = 5, **kwargs):
    """Softmax probabilities ``(n, C)`` and one-hot targets ``(n, C)``."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        probs = torch.softmax(randn((n, classes), torch.float64, g), dim=1).to(dtype)
        target = torch.nn.functional.one_hot(randint((n,), classes, g), classes).to(dtype)
        return (probs, target), dict(kwargs)

    return sample


def logits_dense(classes: int = 5, spatial: tuple[int, ...] = (), scale: float = 2.0, **kwargs):
    """Logits ``(n, C, *spatial)`` and soft targets ``(n, C, *spatial)`` (a softmax over dim 1)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        logits = randn((n, classes, *spatial), dtype, g, scale)
        target = torch.softmax(randn((n, classes, *spatial), torch.float64, g, 2.0), dim=1).to(dtype)
        return (logits, target), dict(kwargs)

    return sample
