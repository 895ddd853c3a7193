"""Catalogue entries for :mod:`losslab.scale_invariant` (MAPE and the cosine distance)."""

from __future__ import annotations

import torch

from .. import scale_invariant as S
from . import LossSpec, register

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
        advice="For embeddings, normals or any target whose length is arbitrary; add a magnitude loss if the "
        "length matters too.",
    )
)
