"""Catalogue entries for :mod:`losslab.classification.noisy` (losses for noisy labels).

Curves (``losslab plot``) use two classes, logits ``[x, 0]`` and the dense target ``[y, 1 - y]``.
"""

from __future__ import annotations

import torch

from ..classification import noisy as N
from . import LossSpec, register

_TARGETS = "class indices (N, *) or probabilities (N, C, *)"
_ACTIVATION = "softmax (applied inside; pass raw logits)"


def _curve(function, **kwargs):
    def curve(x: torch.Tensor, y: float) -> torch.Tensor:
        logits = torch.stack([x, torch.zeros_like(x)], dim=1)
        target = torch.tensor([y, 1.0 - y], dtype=x.dtype).expand(x.shape[0], 2)
        return function(logits, target, reduction="none", **kwargs)

    return curve


# Registration order is the order `losslab recommend --noisy-labels` lists them in after its rules: the
# drop-in robust losses first, the halves of the combinations (NCE underfits alone, RCE trains slowly) last.

register(
    LossSpec(
        name="generalized_cross_entropy",
        function=N.generalized_cross_entropy,
        module=N.GeneralizedCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "noisy-labels", "segmentation"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, 1/q]",
        summary="Generalized cross-entropy (1 - p_y^q)/q: between cross-entropy (q -> 0) and MAE (q = 1); bounded, "
        "robust to noisy labels.",
        formula="(1 - p_y^q) / q,  p = softmax(x)",
        reference="Z. Zhang, M. R. Sabuncu, Generalized Cross Entropy Loss for Training Deep Neural Networks with "
        "Noisy Labels, NeurIPS 2018, arXiv:1805.07836",
        curve=_curve(N.generalized_cross_entropy),
        advice="For noisy labels, a drop-in replacement of softmax_cross_entropy: q=0.7 (the paper's) trains almost "
        "as fast as cross-entropy on clean data and stops memorizing wrong labels; lower q if it underfits.",
    )
)

register(
    LossSpec(
        name="symmetric_cross_entropy",
        function=N.symmetric_cross_entropy,
        module=N.SymmetricCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "noisy-labels"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, inf)",
        summary="Symmetric cross-entropy alpha*CE + beta*RCE: cross-entropy's fast fitting plus a bounded, "
        "noise-tolerant reverse term.",
        formula="alpha (-sum_c y_c log p_c) + beta (-sum_k p_k max(log y_k, A))",
        reference="Y. Wang, X. Ma, Z. Chen, Y. Luo, J. Yi, J. Bailey, Symmetric Cross Entropy for Robust Learning "
        "with Noisy Labels, ICCV 2019, arXiv:1908.06112",
        curve=_curve(N.symmetric_cross_entropy),
        advice="For noisy labels: the paper's (alpha, beta) are (0.1, 1.0) on CIFAR-10 and (6.0, 0.1) on CIFAR-100 "
        "(more classes: more cross-entropy). beta=0 is alpha * cross-entropy.",
    )
)

register(
    LossSpec(
        name="active_passive_loss",
        function=N.active_passive_loss,
        module=N.ActivePassiveLoss,
        family="classification",
        tasks=("single-label", "noisy-labels"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, alpha + beta * max(-log_zero, 1)]",
        summary="Active-passive loss alpha*(NCE or NFL) + beta*(RCE or MAE): a normalized loss made to fit by a "
        "bounded passive partner; robust to noisy labels.",
        formula="alpha * {NCE, NFL} + beta * {RCE, MAE}",
        reference="X. Ma, H. Huang, Y. Wang, S. Romano, S. Erfani, J. Bailey, Normalized Loss Functions for Deep "
        "Learning with Noisy Labels, ICML 2020, arXiv:2006.13554",
        curve=_curve(N.active_passive_loss),
        advice="For noisy labels: NCE+RCE with alpha=beta=1 on CIFAR-10 and alpha=10, beta=0.1 on CIFAR-100 (the "
        "paper's). With many classes raise alpha.",
    )
)

register(
    LossSpec(
        name="taylor_cross_entropy",
        function=N.taylor_cross_entropy,
        module=N.TaylorCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "noisy-labels"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, sum_{k<=order} 1/k]",
        summary="Cross-entropy's Taylor series around p_y = 1 truncated after `order` terms: bounded, robust to "
        "noisy labels.",
        formula="sum_{k=1}^{order} (1 - p_y)^k / k,  p = softmax(x)",
        reference="L. Feng, S. Shu, Z. Lin, F. Lv, L. Li, B. An, Can Cross Entropy Loss Be Robust to Label Noise?, "
        "IJCAI 2020",
        curve=_curve(N.taylor_cross_entropy),
        advice="For noisy labels: order=2 is MAE plus a quadratic term; a higher order approaches cross-entropy "
        "(fits faster, less robust).",
    )
)

register(
    LossSpec(
        name="bootstrapped_cross_entropy",
        function=N.bootstrapped_cross_entropy,
        module=N.BootstrappedCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "noisy-labels"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, inf)",
        summary="Bootstrapped cross-entropy: the target is beta*label + (1-beta)*the model's own (soft or arg-max) "
        "prediction.",
        formula="-sum_k (beta y_k + (1 - beta) z_k) log p_k,  z = p (soft) or onehot(argmax p) (hard)",
        reference="S. Reed, H. Lee, D. Anguelov, C. Szegedy, D. Erhan, A. Rabinovich, Training Deep Neural Networks "
        "on Noisy Labels with Bootstrapping, ICLR 2015 workshop, arXiv:1412.6596",
        curve=_curve(N.bootstrapped_cross_entropy),
        advice="A light touch against label noise: soft (beta=0.95) adds entropy minimization, hard (beta=0.8) "
        "trusts the model's arg-max; both need a model that is already partly right.",
    )
)

register(
    LossSpec(
        name="normalized_cross_entropy",
        function=N.normalized_cross_entropy,
        module=N.NormalizedCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "noisy-labels"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, 1]",
        summary="Normalized cross-entropy: -log p_y divided by -sum_k log p_k; robust to noisy labels but underfits "
        "alone.",
        formula="(-log p_y) / (-sum_k log p_k),  p = softmax(x)",
        reference="X. Ma, H. Huang, Y. Wang, S. Romano, S. Erfani, J. Bailey, Normalized Loss Functions for Deep "
        "Learning with Noisy Labels, ICML 2020, arXiv:2006.13554",
        curve=_curve(N.normalized_cross_entropy),
        advice="Use it as the active half of active_passive_loss (NCE+RCE); alone it underfits.",
    )
)

register(
    LossSpec(
        name="reverse_cross_entropy",
        function=N.reverse_cross_entropy,
        module=N.ReverseCrossEntropyLoss,
        family="classification",
        tasks=("single-label", "noisy-labels"),
        input_kind="logits",
        target_kind=_TARGETS,
        activation=_ACTIVATION,
        value_range="[0, -log_zero]",
        summary="Reverse cross-entropy -sum_k p_k log y_k with log 0 := A: the label's cross-entropy under the "
        "prediction; -A (1 - p_y) for one-hot labels.",
        formula="-sum_k p_k max(log y_k, A),  p = softmax(x),  A = log_zero",
        reference="Y. Wang, X. Ma, Z. Chen, Y. Luo, J. Yi, J. Bailey, Symmetric Cross Entropy for Robust Learning "
        "with Noisy Labels, ICCV 2019, arXiv:1908.06112",
        curve=_curve(N.reverse_cross_entropy),
        advice="A passive, bounded loss: on its own it trains slowly; use it inside symmetric_cross_entropy or "
        "active_passive_loss.",
    )
)
