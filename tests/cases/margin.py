"""Contract-test cases for the entries of ``src/losslab/registry/margin.py``."""

from __future__ import annotations

import torch

from . import Case, add, randint, randn


def _scores_index(classes: int = 5, spatial: tuple[int, ...] = (), **kwargs):
    """Scores ``(n, C, *spatial)`` and indices ``(n, *spatial)``, away from the kinks and ties of a hinge with
    margin 1."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        # Classes sit on a grid of spacing 0.5 plus jitter < 0.1, and the target's score on the same grid shifted
        # by 0.25: every 1 + s_k - s_y is then 0.25 (mod 0.5) +- 0.05, at least 0.2 from the kink at 0, and no two
        # scores tie.
        base = torch.randperm(classes, generator=g).to(torch.float64)
        shape = (n, classes, *spatial)
        idx = randint((n, *spatial), classes, g)
        jitter = 0.05 * torch.rand(shape, generator=g, dtype=torch.float64)
        scores = 0.5 * base.reshape(1, -1, *([1] * len(spatial))) + jitter
        scores = scores + 0.25 * torch.nn.functional.one_hot(idx, classes).movedim(-1, 1)
        scores = scores + randn((n, 1, *spatial), torch.float64, g)  # a per-position shift changes nothing
        return (scores.to(dtype), idx), dict(kwargs)

    return sample


add(Case("categorical_hinge_loss", sample=_scores_index(classes=5, spatial=(3,))))
add(Case("multiclass_hinge_loss", sample=_scores_index(classes=5, spatial=(3,), p=2, margin=1.0)))
