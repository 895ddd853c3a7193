"""Contract-test cases for the entries of ``src/losslab/registry/classification.py``."""

from __future__ import annotations

import torch

from . import Case, add, logits_binary, logits_index, probs_binary, probs_index, randint, randn


def _labels_pm1(features: int = 4, scale: float = 2.0, **kwargs):
    """Scores ``(n, features)`` and labels in {-1, 1}, away from the hinge's kink."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        pred = randn((n, features), dtype, g, scale)
        target = (2 * randint((n, features), 2, g) - 1).to(dtype)
        # keep |1 - y * pred| away from 0 so finite differences do not straddle the kink
        margin = 1.0 - target.double() * pred.double()
        pred = torch.where(margin.abs() < 0.05, pred + 0.2 * target, pred)
        return (pred, target), dict(kwargs)

    return sample


def _probs_soft_categorical(classes: int = 5, **kwargs):
    """Softmax probabilities ``(n, C)`` and soft targets ``(n, C)`` (another softmax)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        probs = torch.softmax(randn((n, classes), torch.float64, g), dim=1).to(dtype)
        target = torch.softmax(randn((n, classes), torch.float64, g, 2.0), dim=1).to(dtype)
        return (probs, target), dict(kwargs)

    return sample


add(Case("softmax_cross_entropy", sample=logits_index(classes=5, spatial=(3,), label_smoothing=0.1)))
add(Case("categorical_cross_entropy", sample=probs_index(classes=5)))
add(
    Case(
        "sigmoid_binary_cross_entropy",
        sample=logits_binary(features=4, soft=True, pos_weight=torch.tensor([1.0, 2.0, 0.5, 3.0])),
    )
)
add(Case("binary_cross_entropy", sample=probs_binary(features=4, soft=True, label_smoothing=0.1)))
add(Case("hinge_loss", sample=_labels_pm1()))
add(Case("squared_hinge_loss", sample=_labels_pm1()))
add(Case("binary_kl_divergence", sample=probs_binary(features=4, soft=True)))
add(Case("categorical_kl_divergence", sample=_probs_soft_categorical(classes=5)))
