r"""Tempered logarithm and exponential, tempered softmax/sigmoid, and the bi-tempered logistic losses.

The bi-tempered logistic loss [Amid2019]_ replaces the log in the logistic loss by a tempered logarithm
:math:`\log_{t_1}` (for :math:`t_1 < 1` the loss is bounded, so a mislabelled example far from the boundary
cannot dominate training) and the softmax by a tempered softmax with a heavier tail (:math:`t_2 > 1`, so
examples near the boundary are not pushed over it by noise).

The normalization of the tempered softmax has no closed form. ``losslab`` solves it without a graph (the
official fixed point for ``t2 > 1`` with an int ``num_iters``, Newton's method otherwise) and differentiates it
implicitly (:math:`\partial\lambda/\partial a_j = p_j^{t}/\sum_c p_c^{t}`), so autograd never unrolls the
iterations, and second derivatives and ``torch.func`` work. Every tempered log and exp is written through
``log1p``/``expm1`` of an accurate log-probability, so the losses are continuous through temperatures of 1 in
float32 as in float64.
"""

from __future__ import annotations

from ._losses import (
    BiTemperedBinaryLogisticLoss,
    BiTemperedLogisticLoss,
    bi_tempered_binary_logistic_loss,
    bi_tempered_logistic_loss,
)
from ._primitives import exp_t, log_t, tempered_sigmoid, tempered_softmax

__all__ = [
    "log_t",
    "exp_t",
    "tempered_softmax",
    "tempered_sigmoid",
    "bi_tempered_logistic_loss",
    "BiTemperedLogisticLoss",
    "bi_tempered_binary_logistic_loss",
    "BiTemperedBinaryLogisticLoss",
]
