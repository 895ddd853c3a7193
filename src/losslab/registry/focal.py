"""Catalogue entries for :mod:`losslab.focal`."""

from __future__ import annotations

import torch

from .. import focal as Fo
from . import LossSpec, register

_PAPER = (
    "T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar, Focal Loss for Dense Object Detection, ICCV 2017, "
    "arXiv:1708.02002"
)


def _softmax_curve(x: torch.Tensor, y: float) -> torch.Tensor:
    # two classes with logits (x, 0); y is the target probability of the first class
    logits = torch.stack([x, torch.zeros_like(x)], dim=1)
    target = torch.tensor([y, 1.0 - y], dtype=x.dtype).expand(x.shape[0], 2)
    return Fo.softmax_focal_loss(logits, target, reduction="none")


register(
    LossSpec(
        name="sigmoid_focal_loss",
        default_for=('detection',),
        function=Fo.sigmoid_focal_loss,
        module=Fo.SigmoidFocalLoss,
        family="focal",
        tasks=("multi-label", "imbalanced", "detection"),
        input_kind="logits",
        target_kind="binary or soft labels in [0, 1], same shape",
        activation="sigmoid",
        value_range="[0, inf)",
        summary="Binary cross-entropy scaled by (1 - p_t)^gamma: easy examples fade, hard ones dominate (RetinaNet).",
        formula="-alpha_t (1 - p_t)^gamma [y log p + (1 - y) log(1 - p)],  p = sigmoid(x), p_t = p y + (1 - p)(1 - y)",
        reference=_PAPER,
        curve=lambda x, y: Fo.sigmoid_focal_loss(x, torch.full_like(x, y), reduction="none"),
        advice=(
            "For many easy negatives (dense detection, rare positive labels). The paper uses gamma=2, alpha=0.25, "
            "initializes the final bias to -log((1 - pi)/pi) with pi=0.01, and normalizes the summed loss by the "
            "number of positives (reduction='sum' / num_pos). gamma=0, alpha=None is binary cross-entropy."
        ),
    )
)

register(
    LossSpec(
        name="softmax_focal_loss",
        function=Fo.softmax_focal_loss,
        module=Fo.SoftmaxFocalLoss,
        family="focal",
        tasks=("single-label", "imbalanced", "segmentation"),
        input_kind="logits",
        target_kind="class indices (N, *) or probabilities (N, C, *)",
        activation="softmax",
        value_range="[0, inf)",
        summary="Softmax cross-entropy scaled by (1 - p_c)^gamma, with optional per-class alpha weights.",
        formula="-sum_c alpha_c y_c (1 - p_c)^gamma log p_c,  p = softmax(x) over dim 1",
        reference=_PAPER,
        curve=_softmax_curve,
        advice=(
            "For single-label problems where easy examples swamp the loss. A float alpha multiplies every class "
            "(Keras' convention); pass a (C,) tensor for per-class weights. gamma=0, alpha=None is cross-entropy. "
            "Focal loss lowers over-confidence, so it also helps calibration."
        ),
    )
)
