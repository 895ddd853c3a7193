"""Catalogue entries for :mod:`losslab.classification.imbalance` (losses for imbalanced classes).

:func:`losslab.class_balanced_weights` is a helper, not a loss, so it has no entry; the advice of these entries
points to it.
"""

from __future__ import annotations

import torch

from ..classification import imbalance as I
from . import LossSpec, register

_TARGETS = "class indices (N, *) or probabilities (N, C, *)"
_ACTIVATION = "softmax (applied inside; pass raw logits)"


def _two_class(function, **kwargs):
    def curve(x: torch.Tensor, y: float) -> torch.Tensor:
        logits = torch.stack([x, torch.zeros_like(x)], dim=1)
        target = torch.tensor([y, 1.0 - y], dtype=x.dtype).expand(x.shape[0], 2)
        return function(logits, target, reduction="none", **kwargs)

    return curve


# Registration order is the order `losslab recommend --imbalanced` lists them in after its rules.

register(
    LossSpec(
        name="asymmetric_loss",
        function=I.asymmetric_loss,
        module=I.AsymmetricLoss,
        family="classification",
        tasks=("multi-label", "imbalanced"),
        input_kind="logits",
        target_kind="labels in [0, 1] (hard or soft), same shape",
        activation="sigmoid (applied inside; pass raw logits)",
        value_range="[0, inf)",
        summary="Asymmetric loss: focal BCE with a stronger focus on negatives (gamma_neg > gamma_pos) and a "
        "probability margin that discards easy negatives; multi-label.",
        formula="-y (1-p)^gamma_pos log p - (1-y) p_m^gamma_neg log(1 - p_m),  p = sigmoid(x),  p_m = max(p - clip, 0)",
        reference="T. Ridnik, E. Ben-Baruch, N. Zamir, A. Noy, I. Friedman, M. Protter, L. Zelnik-Manor, Asymmetric "
        "Loss For Multi-Label Classification, ICCV 2021, arXiv:2009.14119",
        curve=lambda x, y: I.asymmetric_loss(x, torch.full_like(x, y), reduction="none"),
        advice="For multi-label data where each example has few positive labels among many: the paper's "
        "gamma_neg=4, gamma_pos=0, clip=0.05 beat focal loss on MS-COCO/NUS-WIDE. gamma_pos=gamma_neg=clip=0 is "
        "sigmoid_binary_cross_entropy.",
    )
)

register(
    LossSpec(
        name="logit_adjusted_cross_entropy",
        function=I.logit_adjusted_cross_entropy,
        module=I.LogitAdjustedCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "imbalanced"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, inf)",
        summary="Logit-adjusted cross-entropy: softmax cross-entropy of logits + tau log(class prior), so the raw "
        "logits minimize the balanced error on long-tailed data.",
        formula="-sum_c y_c log softmax(x + tau log pi)_c",
        reference="A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar, Long-tail learning via logit "
        "adjustment, ICLR 2021, arXiv:2007.07314",
        curve=_two_class(I.logit_adjusted_cross_entropy, class_prior=torch.tensor([0.9, 0.1])),
        advice="For long-tailed classes: pass the training label frequencies as class_prior (tau=1) and predict "
        "with the raw logits. Alternatively weight any loss with class_weight=class_balanced_weights(counts).",
        curve_note="two classes, class prior (0.9, 0.1)",
    )
)

register(
    LossSpec(
        name="poly1_cross_entropy",
        function=I.poly1_cross_entropy,
        module=I.Poly1CrossEntropyLoss,
        family="classification",
        tasks=("single-label", "imbalanced", "segmentation"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, inf)",
        summary="Poly-1: cross-entropy + epsilon (1 - p_t); epsilon > 0 keeps pushing confident predictions, "
        "epsilon < 0 eases off them.",
        formula="-log p_t + epsilon (1 - p_t),  p_t = sum_c y~_c softmax(x)_c",
        reference="Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov, PolyLoss: A Polynomial "
        "Expansion Perspective of Classification Loss Functions, ICLR 2022, arXiv:2204.12511",
        curve=_two_class(I.poly1_cross_entropy),
        advice="A one-parameter tweak of cross-entropy: epsilon=2 helped ImageNet classification, epsilon=-1 the "
        "imbalanced detection heads; epsilon=0 is softmax_cross_entropy.",
    )
)
