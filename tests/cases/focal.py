"""Contract-test cases for the entries of ``src/losslab/registry/focal.py``."""

from __future__ import annotations

import torch

from . import Case, add, logits_binary, randint, randn


def _index_with_ignored(classes: int = 4, spatial: tuple[int, ...] = (3,), ignore_index: int = -100, **kwargs):
    """Logits ``(n, C, *spatial)`` and class indices ``(n, *spatial)`` with about 1 in 5 positions ignored, and a
    per-class ``alpha`` tensor."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        logits = randn((n, classes, *spatial), dtype, g, 2.0)
        target = randint((n, *spatial), classes, g)
        drop = torch.rand((n, *spatial), generator=g) < 0.2
        target = torch.where(drop, torch.full_like(target, ignore_index), target)
        alpha = torch.linspace(0.25, 1.0, classes, dtype=torch.float64).to(dtype)
        return (logits, target), dict(kwargs, alpha=alpha, ignore_index=ignore_index)

    return sample


add(Case("sigmoid_focal_loss", sample=logits_binary(soft=True, gamma=1.5, alpha=0.25)))
add(Case("softmax_focal_loss", sample=_index_with_ignored(gamma=2.0)))
