"""Contract-test cases for the entries of ``src/losslab/registry/detection_extra.py``.

The quality-aware classification losses get ``(n, 3)`` logits and dense IoU-quality targets (about one anchor in
four is background, the others carry a quality in (0.1, 0.95) at one class); the distribution focal loss gets
``(n, 8, 4)`` bin logits (bins 0..7 for each of 4 box sides) and distances in (0, 7); the box losses reuse
:func:`boxes.box_pairs` (continuous coordinates, about half the pairs overlapping).
"""

from __future__ import annotations

import torch

from . import Case, add, rand, randint, randn
from .boxes import box_pairs


def quality_targets(classes: int = 3, **kwargs):
    """Logits ``(n, C)`` and dense quality targets: one class per positive anchor holds its IoU, 0 elsewhere."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        logits = randn((n, classes), dtype, g, 2.0)
        labels = randint((n,), classes + 1, g)  # == classes: background
        quality = rand((n,), torch.float64, g, 0.1, 0.95)
        target = torch.zeros(n, classes + 1, dtype=torch.float64)
        target[torch.arange(n), labels] = quality
        return (logits, target[:, :classes].to(dtype)), dict(kwargs)

    return sample


def distribution_targets(bins: int = 8, sides: int = 4, **kwargs):
    """Bin logits ``(n, bins, sides)`` and continuous distances ``(n, sides)`` in (0, bins - 1)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, bins, sides), dtype, g, 1.5), rand((n, sides), dtype, g, 0.05, bins - 1.05)), dict(kwargs)

    return sample


add(Case("quality_focal_loss", sample=quality_targets()))
add(Case("distribution_focal_loss", sample=distribution_targets()))
add(Case("varifocal_loss", sample=quality_targets()))
add(Case("efficient_iou_loss", sample=box_pairs(), grad_args=(0, 1)))
add(Case("scylla_iou_loss", sample=box_pairs(), grad_args=(0, 1)))
add(Case("alpha_iou_loss", sample=box_pairs(kind="diou"), grad_args=(0, 1)))
