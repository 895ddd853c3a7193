r"""Tempered logarithm and exponential, tempered softmax/sigmoid, and the bi-tempered logistic losses.

The bi-tempered logistic loss [Amid2019]_ replaces the log in the logistic loss by a tempered logarithm
:math:`\log_{t_1}` (for :math:`t_1 < 1` the loss is bounded, so a mislabelled example far from the boundary
cannot dominate training) and the softmax by a tempered softmax with a heavier tail (:math:`t_2 > 1`, so
examples near the boundary are not pushed over it by noise).

The normalization of the tempered softmax has no closed form. ``losslab`` computes it in the forward pass and
differentiates the loss with its closed-form gradient in a custom :class:`torch.autograd.Function`, so backward
never unrolls the iterations. Every power in the forward and backward pass is written as a power of one
intermediate :math:`b = 1 + (1 - t_2)(a - \lambda)`; when the temperatures make those powers whole numbers
(``(t1, t2) = (0.8, 1.2)``: :math:`p = b^{-5}`, :math:`p^{1-t_1} = b^{-1}`) they are computed with a few
multiplies instead of a transcendental ``pow``.
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
