"""Catalogue entries for :mod:`losslab.scale_invariant` (MAPE and the cosine distance)."""

from __future__ import annotations

import torch

from .. import scale_invariant as S
from . import LossSpec, register
from ._samplers import elementwise, randn


def _vectors(features: int = 4, **kwargs):
    """Prediction and target vectors ``(n, features)``."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, features), dtype, g), randn((n, features), dtype, g)), dict(kwargs)

    return sample


register(
    LossSpec(
        name="mean_absolute_percentage_error",
        function=S.mean_absolute_percentage_error,
        module=S.MeanAbsolutePercentageError,
        family="scale_invariant",
        tasks=("regression",),
        input_kind="real values",
        target_kind="real values (away from 0), same shape",
        activation="none (linear output)",
        value_range="[0, inf) (percent)",
        summary="Absolute error as a percentage of the target, 100 |y - pred| / max(|y|, eps) (Keras' MAPE).",
        formula="100 |target - pred| / max(|target|, eps)",
        reference="standard (Keras MeanAbsolutePercentageError); R. J. Hyndman, A. B. Koehler, Another look at "
        "measures of forecast accuracy, Int. J. Forecasting 2006",
        sample=elementwise(low=-2.0, high=2.0, target_low=0.5, target_high=3.0),
        curve=lambda x, y: S.mean_absolute_percentage_error(x, torch.full_like(x, y), reduction="none"),
        advice="When errors matter relative to the target's size (demand, prices). Targets near 0 explode it; "
        "it rewards under-prediction.",
    )
)

register(
    LossSpec(
        name="cosine_similarity_loss",
        function=S.cosine_similarity_loss,
        module=S.CosineSimilarityLoss,
        family="scale_invariant",
        tasks=("regression",),
        input_kind="real values",
        target_kind="real vectors, same shape (components on dim)",
        activation="none (linear output)",
        value_range="[0, 2]",
        summary="Cosine distance 1 - cos(pred, target) along dim: compares directions, ignores lengths.",
        formula="1 - <pred / max(|pred|, eps), target / max(|target|, eps)>",
        reference="standard (optax cosine_distance; torch CosineEmbeddingLoss with y = 1; Keras CosineSimilarity "
        "is this minus 1)",
        sample=_vectors(features=4),
        advice="For embeddings, normals or any target whose length is arbitrary; add a magnitude loss if the "
        "length matters too.",
    )
)
