"""Catalogue entries for :mod:`losslab.tempered`."""

from __future__ import annotations

import torch

from .. import tempered as T
from . import LossSpec, register

_REFERENCE = (
    "E. Amid, M. K. Warmuth, R. Anil, T. Koren, Robust Bi-Tempered Logistic Loss Based on Bregman Divergences, "
    "NeurIPS 2019, arXiv:1906.03361"
)
_ADVICE = (
    "For noisy labels: t1 < 1 bounds the loss (mislabelled outliers stop dominating), t2 > 1 gives the "
    "tempered softmax heavier tails (robust to noise near the boundary). The paper uses (t1, t2) = (0.5, 4.0) "
    "on MNIST and (0.8, 1.2) on CIFAR; predict with tempered_softmax / tempered_sigmoid at the same t2. "
    "On clean labels plain cross-entropy is usually as good or better."
)


def _binary_curve(t1: float, t2: float):
    def curve(x: torch.Tensor, y: float) -> torch.Tensor:
        return T.bi_tempered_binary_logistic_loss(x, torch.full_like(x, y), t1=t1, t2=t2, reduction="none")

    return curve


register(
    LossSpec(
        name="bi_tempered_logistic_loss",
        function=T.bi_tempered_logistic_loss,
        module=T.BiTemperedLogisticLoss,
        family="tempered",
        tasks=("single-label", "noisy-labels"),
        input_kind="activations",
        target_kind="class indices (N, *) or probabilities (N, C, *)",
        activation="none (tempered softmax with t2 inside; predict with tempered_softmax(a, t2))",
        value_range="[0, inf); bounded above for t1 < 1",
        summary="Logistic loss with a tempered log (t1 < 1: bounded) and a tempered softmax (t2 > 1: heavy tail); "
        "robust to label noise.",
        formula="sum_c y_c (log_t1 y_c - log_t1 p_c) - (y_c^(2-t1) - p_c^(2-t1)) / (2-t1),  p = tempered_softmax(a, t2)",
        reference=_REFERENCE,
        curve=_binary_curve(0.5, 4.0),
        advice=_ADVICE,
        curve_note="two classes, activations [0, x], target [1 - y, y]; (t1, t2) = (0.5, 4.0)",
    )
)

register(
    LossSpec(
        name="bi_tempered_binary_logistic_loss",
        function=T.bi_tempered_binary_logistic_loss,
        module=T.BiTemperedBinaryLogisticLoss,
        family="tempered",
        tasks=("multi-label", "noisy-labels"),
        input_kind="activations",
        target_kind="labels in [0, 1], same shape",
        activation="none (tempered sigmoid with t2 inside; predict with tempered_sigmoid(a, t2))",
        value_range="[0, inf); bounded above for t1 < 1",
        summary="Element-wise bi-tempered loss on activations [0, x]; equals BCE with logits at t1 = t2 = 1.",
        formula="bi_tempered_logistic_loss([0, a], [1 - y, y])",
        reference=_REFERENCE,
        curve=_binary_curve(0.5, 4.0),
        advice=_ADVICE,
        curve_note="(t1, t2) = (0.5, 4.0)",
    )
)
