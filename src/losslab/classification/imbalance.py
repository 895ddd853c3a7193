r"""Losses and weights for class imbalance: asymmetric (multi-label), poly-1 and logit-adjusted cross-entropy, and
class-balanced weights.

* :func:`asymmetric_loss` focuses the many easy negatives of multi-label classification away, harder than the
  positives, and discards very easy negatives outright [Ridnik2021]_;
* :func:`poly1_cross_entropy` adds :math:`\epsilon(1 - p_t)` to cross-entropy, the first term of its polynomial
  expansion [Leng2022]_;
* :func:`logit_adjusted_cross_entropy` adds :math:`\tau \log \pi_c` to the logits during training so the model
  learns the balanced error [Menon2021]_;
* :func:`class_balanced_weights` gives per-class weights from the "effective number of samples" [Cui2019]_, usable
  as any loss's ``class_weight``.

Focal losses live in :mod:`losslab.focal`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .._checks import (
    check_finite,
    check_floating,
    check_in_range,
    check_reduction,
    check_same_shape,
    check_scalar,
    check_tensor,
)
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_pow, upcast
from .._reduction import reduce_loss
from .._targets import check_label_smoothing
from ._class_terms import ClassTarget, check_class_vector, one_minus, out_dtype

__all__ = [
    "asymmetric_loss",
    "AsymmetricLoss",
    "poly1_cross_entropy",
    "Poly1CrossEntropyLoss",
    "logit_adjusted_cross_entropy",
    "LogitAdjustedCrossEntropyLoss",
    "class_balanced_weights",
]

# ---------------------------------------------------------------------------------------------------------------
# asymmetric loss


def _check_asl(
    *, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05, **_: object
) -> tuple[float, float, float]:
    return (
        check_scalar(gamma_pos, "gamma_pos", low=0.0),
        check_scalar(gamma_neg, "gamma_neg", low=0.0),
        check_scalar(clip, "clip", low=0.0, high=1.0, high_inclusive=False),
    )


@renamed_arguments(weight="sample_weight")
def asymmetric_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    clip: float = 0.05,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Asymmetric loss (ASL), for multi-label classification where most labels of an example are negative.

    A focal loss with separate focusing for positives and negatives, plus a hard threshold that discards easy
    negatives: the negative's probability is shifted down by the margin :math:`m` (``clip``) [Ridnik2021]_. With
    :math:`p = \sigma(x)` per label and :math:`p_m = \max(p - m, 0)`:

    .. math::
        \ell = -y\,(1-p)^{\gamma_+} \log p \;-\; (1-y)\,p_m^{\gamma_-} \log(1 - p_m)

    Args:
        logits: Unnormalized scores, one per label, any shape (e.g. ``(N, C)``).
        target: Labels in ``[0, 1]`` (hard 0/1 or soft), same shape as ``logits``, floating.
        gamma_pos: Focusing parameter of the positives :math:`\gamma_+`, ``>= 0``; the paper's ``0``.
        gamma_neg: Focusing parameter of the negatives :math:`\gamma_-`, ``>= 0``; the paper's ``4``.
        clip: Probability margin :math:`m` of the negatives, in ``[0, 1)``; the paper's ``0.05``. ``clip=0``
            turns the shift off; with both gammas 0 the loss is then binary cross-entropy.
        sample_weight: Optional weights broadcastable to the unreduced loss (the shape of ``logits``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss of ``logits``' shape for ``"none"``, otherwise a scalar (``"mean"`` over elements).

    Raises:
        ValueError: shapes differ, targets outside ``[0, 1]``, a negative gamma or ``clip`` outside ``[0, 1)``.
        TypeError: a non-floating ``logits`` or ``target``.

    Note:
        Log space: :math:`\log p = \log\sigma(x)`, :math:`(1-p)^{\gamma_+} = \exp(\gamma_+ \log\sigma(-x))`, and
        :math:`1 - p_m = \min(\sigma(-x) + m, 1)` (a sum of non-negative terms, no cancellation). The official code
        clamps probabilities at ``1e-8`` inside the logs (capping each term at 18.4) and returns the *sum* over
        the batch; here nothing is clamped and the reduction is yours (``reduction="sum"`` matches it). Its
        ``disable_torch_grad_focal_loss`` switch detaches the focusing weights; here autograd differentiates the
        whole formula (same values, different gradients from that mode). The paper's defaults are used
        (``gamma_pos=0``; the code's class defaults to 1).

    Example:
        >>> import torch
        >>> logits = torch.tensor([[3.0, -2.0, 0.5], [-1.0, -4.0, 2.0]])
        >>> target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        >>> asymmetric_loss(logits, target, reduction="none")
        tensor([[4.8587e-02, 1.6448e-06, 9.1253e-02],
                [5.6780e-04, 0.0000e+00, 1.2693e-01]])

    References:
        .. [Ridnik2021] T. Ridnik, E. Ben-Baruch, N. Zamir, A. Noy, I. Friedman, M. Protter, L. Zelnik-Manor.
           "Asymmetric Loss For Multi-Label Classification." ICCV 2021. https://arxiv.org/abs/2009.14119
    """
    check_reduction(reduction)
    gamma_pos, gamma_neg, clip = _check_asl(gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip)
    check_floating(logits, "logits")
    check_tensor(target, "target")
    if not target.is_floating_point():
        raise TypeError(f"target: expected a floating-point tensor of labels in [0, 1], got dtype {target.dtype}; "
                        f"cast hard labels with target.float()")
    check_same_shape(logits, target, "logits", "target")
    check_finite(logits, "logits")
    check_in_range(target.detach(), "target", 0.0, 1.0)
    x, y = upcast(logits, target)
    log_p, log_1mp = F.logsigmoid(x), F.logsigmoid(-x)
    # 1 - p_m = min(1 - p + m, 1): shifting p down by m shifts 1 - p up by m
    log_1mpm = log_1mp if clip == 0.0 else torch.log((torch.sigmoid(-x) + clip).clamp_max(1.0))
    positive = torch.exp(gamma_pos * log_1mp) * -log_p
    negative = safe_pow(one_minus(log_1mpm), gamma_neg) * -log_1mpm
    loss = y * positive + (1.0 - y) * negative
    return reduce_loss(loss, reduction, sample_weight, dtype=out_dtype(logits))


def _validate_asl(**hyperparameters: object) -> None:
    _check_asl(**hyperparameters)  # type: ignore[arg-type]


class AsymmetricLoss(LossModule, function=asymmetric_loss, validate=_validate_asl):
    pass


# ---------------------------------------------------------------------------------------------------------------
# poly-1


@renamed_arguments(weight="sample_weight")
def poly1_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    epsilon: float = 1.0,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Poly-1 cross-entropy: cross-entropy plus :math:`\epsilon (1 - p_t)`, one extra polynomial coefficient.

    Cross-entropy expands as :math:`\sum_{j \ge 1} (1-p_t)^j / j`; PolyLoss perturbs the leading coefficient
    [Leng2022]_. :math:`\epsilon > 0` keeps the gradient large for confident predictions (helps classification),
    :math:`\epsilon < 0` lowers it (used for the imbalanced detection heads). With :math:`p = \mathrm{softmax}(x)`
    and the (smoothed) target :math:`\tilde y`:

    .. math::
        \ell = \sum_c w_c\,\tilde y_c \bigl(-\log p_c + \epsilon\,(1 - p_c)\bigr)
        \qquad\text{(one-hot: } -\log p_t + \epsilon(1 - p_t)\text{)}

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``.
        epsilon: The first coefficient's perturbation, ``>= -1`` (so the loss stays a proper one);
            ``epsilon=0`` is cross-entropy. The paper's ImageNet value is 2; optax's default is 2.
        class_weight: Optional per-class weights ``(C,)``, as in :func:`softmax_cross_entropy`.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        label_smoothing: :math:`\varepsilon_{ls} \in [0, 1]`: :math:`\tilde y = y(1-\varepsilon_{ls}) +
            \varepsilon_{ls}/C` in both terms (the paper's setting).
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``epsilon < -1``, a bad ``label_smoothing``, and the target errors of
            :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        :math:`1 - p` is ``-expm1(log_softmax)``. For dense targets summing to 1 this equals optax's
        ``poly_loss_cross_entropy`` (:math:`\mathrm{CE} + \epsilon \sum_c y_c (1 - p_c)`).

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> poly1_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.3260, 2.3395])

    References:
        .. [Leng2022] Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov. "PolyLoss: A Polynomial
           Expansion Perspective of Classification Loss Functions." ICLR 2022. https://arxiv.org/abs/2204.12511
    """
    check_reduction(reduction)
    epsilon = check_scalar(epsilon, "epsilon", low=-1.0)
    label_smoothing = check_label_smoothing(label_smoothing)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="poly1_cross_entropy", label_smoothing=label_smoothing)
    (x,) = upcast(logits)
    loss = t.expect(lambda log_p: -log_p + epsilon * one_minus(log_p), F.log_softmax(x, dim=1))
    return reduce_loss(loss, reduction, sample_weight, mask=t.mask,
                       target_class_weight=t.target_weight(), dtype=out_dtype(logits))


def _check_poly1(*, epsilon: float = 1.0, label_smoothing: float = 0.0, **_: object) -> None:
    check_scalar(epsilon, "epsilon", low=-1.0)
    check_label_smoothing(label_smoothing)


class Poly1CrossEntropyLoss(LossModule, function=poly1_cross_entropy, validate=_check_poly1):
    pass


# ---------------------------------------------------------------------------------------------------------------
# logit adjustment


def _check_prior(class_prior: torch.Tensor | None, num_classes: int | None = None) -> torch.Tensor:
    if class_prior is None:
        raise ValueError("class_prior: required, a (C,) tensor of class frequencies or counts (all > 0), got None")
    return check_class_vector(class_prior, "class_prior", num_classes, positive=True)


@renamed_arguments(weight="sample_weight")
def logit_adjusted_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_prior: torch.Tensor | None = None,
    tau: float = 1.0,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Logit-adjusted cross-entropy, for long-tailed single-label classification.

    Cross-entropy on logits shifted by the log class prior [Menon2021]_: rare classes must win by a larger margin
    during training, so the plain logits, used unchanged at test time, minimize the *balanced* error. With class
    prior :math:`\pi` and :math:`p = \mathrm{softmax}(x + \tau \log \pi)`:

    .. math::
        \ell = -\sum_c w_c\,\tilde y_c \log \frac{e^{x_c + \tau \log \pi_c}}{\sum_k e^{x_k + \tau \log \pi_k}}

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``.
        class_prior: Required. The training label frequencies :math:`\pi`, shape ``(C,)``, all ``> 0``; counts are
            fine (only ratios matter: a constant added to every logit cancels).
        tau: Temperature of the adjustment, ``>= 0``; the paper's ``1``. ``tau=0`` is cross-entropy.
        class_weight: Optional per-class weights ``(C,)``, as in :func:`softmax_cross_entropy`.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        label_smoothing: :math:`\varepsilon_{ls} \in [0, 1]`, as in :func:`softmax_cross_entropy`.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``class_prior`` missing, of the wrong shape or not positive; a negative ``tau``; and the
            target errors of :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        Predict with the unadjusted ``logits`` (the paper's point). The post-hoc variant (train with cross-entropy,
        predict with :math:`x - \tau \log \pi`) needs no loss: subtract the prior at inference.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> prior = torch.tensor([0.7, 0.2, 0.1])
        >>> logit_adjusted_cross_entropy(logits, torch.tensor([0, 2]), class_prior=prior, reduction="none")
        tensor([0.0448, 2.5980])

    References:
        .. [Menon2021] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar. "Long-tail learning via
           logit adjustment." ICLR 2021. https://arxiv.org/abs/2007.07314
    """
    check_reduction(reduction)
    tau = check_scalar(tau, "tau", low=0.0)
    label_smoothing = check_label_smoothing(label_smoothing)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="logit_adjusted_cross_entropy", label_smoothing=label_smoothing)
    prior = _check_prior(class_prior, logits.shape[1])
    (x,) = upcast(logits)
    shift = tau * prior.to(x.dtype).log()
    adjusted = x + shift.reshape(1, -1, *([1] * (x.ndim - 2)))
    loss = t.expect(torch.neg, F.log_softmax(adjusted, dim=1))
    return reduce_loss(loss, reduction, sample_weight, mask=t.mask,
                       target_class_weight=t.target_weight(), dtype=out_dtype(logits))


def _check_logit_adjusted(
    *, class_prior: torch.Tensor | None = None, tau: float = 1.0, label_smoothing: float = 0.0, **_: object
) -> None:
    _check_prior(class_prior)
    check_scalar(tau, "tau", low=0.0)
    check_label_smoothing(label_smoothing)


class LogitAdjustedCrossEntropyLoss(LossModule, function=logit_adjusted_cross_entropy, validate=_check_logit_adjusted):
    pass


# ---------------------------------------------------------------------------------------------------------------
# class-balanced weights


def class_balanced_weights(
    counts: torch.Tensor | Sequence[float], *, beta: float = 0.999, dtype: torch.dtype | None = None
) -> torch.Tensor:
    r"""Class-balanced weights from the effective number of samples, for any loss's ``class_weight``.

    Each new sample of a class adds less information than the last; the *effective number* of :math:`n` samples
    is :math:`E_n = (1 - \beta^n)/(1 - \beta)` [Cui2019]_. The weight of class :math:`c` is :math:`1/E_{n_c}`,
    normalized so the weights sum to the number of classes :math:`C`:

    .. math::
        w_c = C\,\frac{(1-\beta)/(1-\beta^{n_c})}{\sum_k (1-\beta)/(1-\beta^{n_k})}

    Args:
        counts: Number of training samples per class, shape ``(C,)``, all ``> 0``: a tensor or a sequence of
            numbers.
        beta: In ``[0, 1)``; the paper tries 0.9, 0.99, 0.999, 0.9999. ``beta=0`` gives equal weights,
            ``beta -> 1`` inverse class frequency.
        dtype: dtype of the result; default ``torch.get_default_dtype()``.

    Returns:
        Weights ``(C,)`` summing to ``C``, on ``counts``' device.

    Raises:
        ValueError: ``counts`` not 1-D or not all positive and finite, or ``beta`` outside ``[0, 1)``.
        TypeError: ``counts`` not numbers.

    Note:
        :math:`1 - \beta^n = -\mathrm{expm1}(n \log \beta)`, computed in float64, stays accurate for
        :math:`\beta` close to 1 and small counts.

    Example:
        >>> class_balanced_weights([1000, 100, 10], beta=0.99)
        tensor([0.2301, 0.3630, 2.4068])
        >>> class_balanced_weights(torch.tensor([1000, 100, 10]), beta=0.0)
        tensor([1., 1., 1.])

    References:
        .. [Cui2019] Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie. "Class-Balanced Loss Based on Effective
           Number of Samples." CVPR 2019. https://arxiv.org/abs/1901.05555
    """
    beta = check_scalar(beta, "beta", low=0.0, high=1.0, high_inclusive=False)
    if not isinstance(counts, torch.Tensor):
        try:
            counts = torch.tensor(counts, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"counts: expected a tensor or a sequence of numbers, got {type(counts).__name__}"
            ) from None
    if counts.is_complex() or counts.dtype == torch.bool:
        raise TypeError(f"counts: expected real numbers, got dtype {counts.dtype}")
    if counts.ndim != 1 or counts.shape[0] == 0:
        raise ValueError(f"counts: expected shape (C,) with C >= 1, got {tuple(counts.shape)}")
    n = counts.to(torch.float64)
    if not bool(torch.isfinite(n).all()) or bool((n <= 0).any()):
        raise ValueError(f"counts: expected finite counts > 0 for every class, got {counts.tolist()}")
    if beta == 0.0:
        effective = torch.ones_like(n)
    else:
        effective = -torch.expm1(n * math.log(beta)) / (1.0 - beta)  # (1 - beta^n) / (1 - beta)
    w = 1.0 / effective
    w = w * (n.numel() / w.sum())
    return w.to(torch.get_default_dtype() if dtype is None else dtype)
