"""Contract-test cases for the entries of ``src/losslab/registry/scale_invariant.py``."""

from __future__ import annotations

import torch

from . import Case, add, elementwise, randn


def _vectors(features: int = 4, **kwargs):
    """Prediction and target vectors ``(n, features)``."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, features), dtype, g), randn((n, features), dtype, g)), dict(kwargs)

    return sample


add(Case("mean_absolute_percentage_error", sample=elementwise(low=-2.0, high=2.0, target_low=0.5, target_high=3.0)))
add(Case("cosine_similarity_loss", sample=_vectors(features=4)))
