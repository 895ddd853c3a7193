"""Catalogue entries for :mod:`losslab.classification`.

Curves (``losslab plot``) are drawn over the score or probability of the positive class for a scalar target
``y`` in [0, 1] (the target probability of the positive class); classification targets outside that range, and
probabilities outside [0, 1], give NaN so a plot leaves a gap.
"""

from __future__ import annotations

import torch

from .. import classification as C
from . import LossSpec, register

_NAN = float("nan")


def _two_class_target(x: torch.Tensor, y: float) -> torch.Tensor:
    """Dense two-class target ``(G, 2)``: probability ``y`` for the positive class (column 0)."""
    return torch.tensor([y, 1.0 - y], dtype=x.dtype).expand(x.shape[0], 2)


def _in_unit(x: torch.Tensor) -> torch.Tensor:
    return (x >= 0) & (x <= 1)


def _gap(ok: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    return torch.where(ok, loss, torch.full_like(loss, _NAN))


def _probs_pair(x: torch.Tensor) -> torch.Tensor:
    p = x.clamp(0.0, 1.0)
    return torch.stack([p, 1.0 - p], dim=1)


register(
    LossSpec(
        name="softmax_cross_entropy",
        default_for=('single-label', 'segmentation'),
        function=C.softmax_cross_entropy,
        module=C.SoftmaxCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "segmentation"),
        input_kind="logits",
        target_kind="class indices (N, *) or probabilities (N, C, *)",
        activation="softmax (applied inside; pass raw logits)",
        value_range="[0, inf)",
        summary="Cross-entropy of softmax(logits); the default for single-label classification.",
        formula="-sum_c w_c y~_c log softmax(x)_c,  y~ = y (1 - ls) + ls / C",
        reference="standard (multinomial logistic regression); label smoothing: C. Szegedy et al., "
        "Rethinking the Inception Architecture, CVPR 2016, arXiv:1512.00567",
        curve=lambda x, y: C.softmax_cross_entropy(
            torch.stack([x, torch.zeros_like(x)], dim=1), _two_class_target(x, y), reduction="none"
        ),
        advice="Feed raw logits (no softmax layer). class_weight for imbalance, ignore_index for unlabeled pixels, "
        "label_smoothing=0.1 against over-confidence.",
    )
)

register(
    LossSpec(
        name="categorical_cross_entropy",
        function=C.categorical_cross_entropy,
        module=C.CategoricalCrossEntropyLoss,
        family="classification",
        tasks=("single-label",),
        input_kind="probabilities",
        target_kind="class indices (N, *) or probabilities (N, C, *)",
        activation="softmax (the caller applies it)",
        value_range="[0, -log(eps)] per sample for one-hot targets",
        summary="Cross-entropy of softmax probabilities, renormalized and clipped to [eps, 1-eps] as Keras does.",
        formula="-sum_c w_c y~_c log clip(p_c / sum_k p_k, eps, 1 - eps)",
        reference="standard (Keras CategoricalCrossentropy)",
        curve=lambda x, y: _gap(_in_unit(x), C.categorical_cross_entropy(
            _probs_pair(x), _two_class_target(x, y), reduction="none")),
        advice="Takes probabilities: tanh or linear outputs are an error. Prefer softmax_cross_entropy on logits.",
    )
)

register(
    LossSpec(
        name="sigmoid_binary_cross_entropy",
        default_for=('multi-label',),
        function=C.sigmoid_binary_cross_entropy,
        module=C.SigmoidBinaryCrossEntropyLoss,
        family="classification",
        tasks=("multi-label", "single-label", "segmentation"),
        input_kind="logits",
        target_kind="probabilities in [0, 1] (hard or soft), same shape",
        activation="sigmoid (applied inside; pass raw logits)",
        value_range="[0, inf) (soft targets: >= their entropy)",
        summary="Element-wise binary cross-entropy of sigmoid(logits); binary and multi-label classification.",
        formula="w_+ y~ softplus(-x) + (1 - y~) softplus(x),  y~ = y (1 - ls) + ls / 2",
        reference="standard (logistic regression)",
        curve=lambda x, y: C.sigmoid_binary_cross_entropy(x, torch.full_like(x, y), reduction="none"),
        advice="Feed raw logits. pos_weight = n_negative / n_positive balances a rare positive class.",
    )
)

register(
    LossSpec(
        name="binary_cross_entropy",
        function=C.binary_cross_entropy,
        module=C.BinaryCrossEntropyLoss,
        family="classification",
        tasks=("multi-label", "single-label"),
        input_kind="probabilities",
        target_kind="probabilities in [0, 1] (hard or soft), same shape",
        activation="sigmoid (the caller applies it)",
        value_range="[0, -log(eps)] (soft targets: >= their entropy)",
        summary="Element-wise binary cross-entropy of probabilities, clipped to [eps, 1-eps] as Keras does.",
        formula="-(y~ log p^ + (1 - y~) log(1 - p^)),  p^ = clip(p, eps, 1 - eps)",
        reference="standard (Keras BinaryCrossentropy)",
        curve=lambda x, y: _gap(_in_unit(x), C.binary_cross_entropy(
            x.clamp(0.0, 1.0), torch.full_like(x, y), reduction="none")),
        advice="With soft targets the minimum is the target entropy, not 0: watch binary_kl_divergence instead.",
    )
)

register(
    LossSpec(
        name="hinge_loss",
        function=C.hinge_loss,
        module=C.HingeLoss,
        family="classification",
        tasks=("single-label", "multi-label"),
        input_kind="real values",
        target_kind="labels in {-1, 1} (or {0, 1}), same shape",
        activation="tanh or none (a score whose sign is the decision)",
        value_range="[0, inf)",
        summary="Maximum-margin loss max(0, 1 - y * score) for yes/no decisions.",
        formula="max(0, 1 - y * pred),  y in {-1, 1} (0 -> -1)",
        reference="C. Cortes, V. Vapnik, Support-Vector Networks, Machine Learning 1995",
        curve=lambda x, y: _gap(torch.full_like(x, float(y in (-1.0, 0.0, 1.0)), dtype=torch.bool),
                                C.hinge_loss(x, torch.full_like(x, y if y in (-1.0, 0.0, 1.0) else 1.0), reduction="none")),
        advice="When only the decision matters, not a calibrated probability.",
    )
)

register(
    LossSpec(
        name="squared_hinge_loss",
        function=C.squared_hinge_loss,
        module=C.SquaredHingeLoss,
        family="classification",
        tasks=("multi-label", "single-label"),
        input_kind="real values",
        target_kind="labels in {-1, 1} (or {0, 1}), same shape",
        activation="tanh or none (a score whose sign is the decision)",
        value_range="[0, inf)",
        summary="Squared hinge max(0, 1 - y * score)^2: smooth at the margin, harsher on large violations.",
        formula="max(0, 1 - y * pred)^2,  y in {-1, 1} (0 -> -1)",
        reference="Y. Tang, Deep Learning using Linear Support Vector Machines, 2013, arXiv:1306.0239 (L2-SVM)",
        curve=lambda x, y: _gap(torch.full_like(x, float(y in (-1.0, 0.0, 1.0)), dtype=torch.bool),
                                C.squared_hinge_loss(x, torch.full_like(x, y if y in (-1.0, 0.0, 1.0) else 1.0),
                                                     reduction="none")),
        advice="Pairs with a tanh output; use when you do not need class probabilities.",
    )
)

register(
    LossSpec(
        name="binary_kl_divergence",
        function=C.binary_kl_divergence,
        module=C.BinaryKLDivergenceLoss,
        family="classification",
        tasks=("multi-label", "single-label"),
        input_kind="probabilities",
        target_kind="probabilities in [0, 1] (soft), same shape",
        activation="sigmoid (the caller applies it)",
        value_range="[0, inf); 0 exactly at probs == target",
        summary="Binary cross-entropy minus the target's entropy: 0 at the optimum even for soft targets.",
        formula="y (log y^ - log p^) + (1 - y)(log(1 - y^) - log(1 - p^)) = BCE(p, y) - H(y)",
        reference="S. Kullback, R. A. Leibler, On Information and Sufficiency, Ann. Math. Statist. 1951",
        curve=lambda x, y: _gap(_in_unit(x), C.binary_kl_divergence(
            x.clamp(0.0, 1.0), torch.full_like(x, y), reduction="none")),
        advice="Same gradient as binary_cross_entropy; its value reads as 'distance to the best possible'.",
    )
)

register(
    LossSpec(
        name="categorical_kl_divergence",
        function=C.categorical_kl_divergence,
        module=C.CategoricalKLDivergenceLoss,
        family="classification",
        tasks=("single-label",),
        input_kind="probabilities",
        target_kind="class indices (N, *) or probabilities (N, C, *)",
        activation="softmax (the caller applies it)",
        value_range="[0, inf); 0 exactly at probs == target",
        summary="Categorical cross-entropy minus the target's entropy: 0 at the optimum even for soft targets.",
        formula="sum_c y_c (log y^_c - log p^_c) = CCE(p, y) - H(y)",
        reference="S. Kullback, R. A. Leibler, On Information and Sufficiency, Ann. Math. Statist. 1951",
        curve=lambda x, y: _gap(_in_unit(x), C.categorical_kl_divergence(
            _probs_pair(x), _two_class_target(x, y), reduction="none")),
        advice="For distillation or soft labels: the divergence reaches 0 where the cross-entropy reaches the entropy.",
    )
)
