r"""Losses for classification with noisy labels: bounded or symmetric alternatives to softmax cross-entropy.

Cross-entropy is unbounded: a confidently mislabelled example costs :math:`-\log p_y \to \infty` and its gradient
keeps pulling the model toward memorizing the wrong label. The losses here bound that pull in different ways:

* :func:`generalized_cross_entropy` interpolates between cross-entropy (``q -> 0``) and the bounded mean absolute
  error (``q = 1``) [ZhangSabuncu2018]_;
* :func:`taylor_cross_entropy` truncates the Taylor series of :math:`-\log p_y` around :math:`p_y = 1` [Feng2020]_;
* :func:`reverse_cross_entropy` swaps the roles of prediction and label; :func:`symmetric_cross_entropy` adds it to
  cross-entropy [Wang2019]_;
* :func:`normalized_cross_entropy` divides cross-entropy by its sum over all labels, which makes it robust
  [Ma2020]_; :func:`active_passive_loss` pairs such a normalized ("active") loss with a bounded "passive" one;
* :func:`bootstrapped_cross_entropy` mixes the label with the model's own prediction [Reed2015]_.

All take logits ``(N, C, *)`` and class indices ``(N, *)`` or dense probabilities ``(N, C, *)``, and share
``class_weight`` / ``ignore_index`` with :func:`losslab.softmax_cross_entropy`. A loss defined on the labelled
class's probability, :math:`\ell = f(p_y)`, is extended to dense targets as the expectation
:math:`\sum_c w_c\,y_c f(p_c)` (cross-entropy's own extension); the ``"mean"`` divides by the summed class weights
of the targets (torch's convention), so a constant ``class_weight`` changes nothing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import check_choice, check_reduction, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_pow, upcast
from .._reduction import reduce_loss
from ._class_terms import ClassTarget, one_minus, out_dtype

__all__ = [
    "generalized_cross_entropy",
    "GeneralizedCrossEntropyLoss",
    "taylor_cross_entropy",
    "TaylorCrossEntropyLoss",
    "reverse_cross_entropy",
    "ReverseCrossEntropyLoss",
    "symmetric_cross_entropy",
    "SymmetricCrossEntropyLoss",
    "normalized_cross_entropy",
    "NormalizedCrossEntropyLoss",
    "active_passive_loss",
    "ActivePassiveLoss",
    "bootstrapped_cross_entropy",
    "BootstrappedCrossEntropyLoss",
]

# ---------------------------------------------------------------------------------------------------------------
# hyperparameter checks (the functions run them on every call; the modules at construction)


def _check_q(q: float) -> float:
    return check_scalar(q, "q", low=0.0, high=1.0, low_inclusive=False)


def _check_order(order: int) -> int:
    if isinstance(order, bool) or not isinstance(order, int):
        raise TypeError(f"order: expected an int >= 1, got {type(order).__name__}")
    if order < 1:
        raise ValueError(f"order: expected an int >= 1, got {order}")
    return order


def _check_log_zero(log_zero: float) -> float:
    return check_scalar(log_zero, "log_zero", high=0.0, high_inclusive=False)


def _check_coefficient(value: float, name: str) -> float:
    return check_scalar(value, name, low=0.0)


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    (x,) = upcast(logits)
    return F.log_softmax(x, dim=1)


# ---------------------------------------------------------------------------------------------------------------
# generalized cross-entropy


@renamed_arguments(weight="sample_weight")
def generalized_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    q: float = 0.7,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Generalized cross-entropy (:math:`\mathcal{L}_q`), for single-label classification with noisy labels.

    The negative Box-Cox transform of the labelled class's probability: cross-entropy in the limit
    :math:`q \to 0`, the bounded mean absolute error :math:`1 - p_y` at :math:`q = 1`; in between it keeps most
    of cross-entropy's fast training while bounding the pull of wrong labels by :math:`1/q`
    [ZhangSabuncu2018]_. With :math:`p = \mathrm{softmax}(x)`:

    .. math::
        \ell = \frac{1 - p_y^{\,q}}{q}
        \qquad\text{(dense targets: } \textstyle\sum_c w_c\,y_c\,(1 - p_c^{\,q})/q \text{)}

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` (integer, in ``[0, C)`` or ``ignore_index``) or class probabilities
            ``(N, C, *)`` (floating, in ``[0, 1]``).
        q: Robustness, in ``(0, 1]``; the paper's default ``0.7``. ``q -> 0`` recovers cross-entropy,
            ``q = 1`` gives :math:`1 - p_y`.
        class_weight: Optional per-class weights ``(C,)``, ``>= 0``, as in :func:`softmax_cross_entropy`.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"`` (0 at ignored positions), otherwise a scalar.

    Raises:
        ValueError: ``q`` outside ``(0, 1]``, and the target errors of :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        :math:`p^q = \exp(q \log p)` from ``log_softmax``, and :math:`(1 - p^q)/q = -\mathrm{expm1}(q \log p)/q`,
        which has no cancellation for small ``q`` and stays finite at logits of ±1e4. Keras'
        ``CategoricalGeneralizedCrossEntropy`` (``q`` in ``(0, 1)``, default 0.5) takes probabilities; here the
        softmax is inside. The paper's truncated variant :math:`\mathcal{L}_{trunc}` (which needs per-sample state
        across epochs) is not included.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> generalized_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.1601, 0.9463])

    References:
        .. [ZhangSabuncu2018] Z. Zhang, M. R. Sabuncu. "Generalized Cross Entropy Loss for Training Deep Neural Networks
           with Noisy Labels." NeurIPS 2018. https://arxiv.org/abs/1805.07836
    """
    check_reduction(reduction)
    q = _check_q(q)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="generalized_cross_entropy")
    # (1 - p^q) / q = -expm1(q log p) / q: accurate for small q, where it tends to -log p
    loss = t.expect(lambda log_p: -torch.expm1(q * log_p) / q, _log_probs(logits))
    return reduce_loss(
        loss, reduction, sample_weight, mask=t.mask, target_class_weight=t.target_weight(), dtype=out_dtype(logits)
    )


def _check_gce(*, q: float = 0.7, **_: object) -> None:
    _check_q(q)


class GeneralizedCrossEntropyLoss(LossModule, function=generalized_cross_entropy, validate=_check_gce):
    pass


# ---------------------------------------------------------------------------------------------------------------
# Taylor cross-entropy


@renamed_arguments(weight="sample_weight")
def taylor_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    order: int = 2,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Taylor cross-entropy: the first ``order`` terms of :math:`-\log p_y`'s series around :math:`p_y = 1`.

    :math:`-\log p = \sum_{k \ge 1} (1-p)^k / k`; keeping ``order`` terms gives a bounded loss (at most
    :math:`\sum_{k \le t} 1/k`) that fits clean labels like cross-entropy but lets wrong labels go [Feng2020]_.
    With :math:`p = \mathrm{softmax}(x)` and :math:`t` = ``order``:

    .. math::
        \ell = \sum_{k=1}^{t} \frac{(1 - p_y)^k}{k}

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``, as in
            :func:`generalized_cross_entropy` (dense: :math:`\sum_c w_c y_c \ell(p_c)`).
        order: Number of terms :math:`t`, an int ``>= 1``; the paper's default 2. ``order=1`` is the mean
            absolute error :math:`1 - p_y`; ``order -> inf`` recovers cross-entropy.
        class_weight: Optional per-class weights ``(C,)``, as in :func:`softmax_cross_entropy`.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``order < 1``, and the target errors of :func:`softmax_cross_entropy`.
        TypeError: a non-int ``order`` or a target dtype that does not fit its shape.

    Note:
        :math:`1 - p` is ``-expm1(log_softmax)`` (no cancellation near :math:`p = 1`) and the polynomial is
        evaluated by Horner's rule.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> taylor_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.1684, 1.0986])

    References:
        .. [Feng2020] L. Feng, S. Shu, Z. Lin, F. Lv, L. Li, B. An. "Can Cross Entropy Loss Be Robust to Label
           Noise?" IJCAI 2020. https://www.ijcai.org/proceedings/2020/305
    """
    check_reduction(reduction)
    order = _check_order(order)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="taylor_cross_entropy")

    def series(log_p: torch.Tensor) -> torch.Tensor:
        u = one_minus(log_p)  # 1 - p
        acc = torch.full_like(u, 1.0 / order)  # Horner: u (1 + u (1/2 + u (1/3 + ... + u / t)))
        for k in range(order - 1, 0, -1):
            acc = 1.0 / k + u * acc
        return u * acc

    loss = t.expect(series, _log_probs(logits))
    return reduce_loss(
        loss, reduction, sample_weight, mask=t.mask, target_class_weight=t.target_weight(), dtype=out_dtype(logits)
    )


def _check_taylor(*, order: int = 2, **_: object) -> None:
    _check_order(order)


class TaylorCrossEntropyLoss(LossModule, function=taylor_cross_entropy, validate=_check_taylor):
    pass


# ---------------------------------------------------------------------------------------------------------------
# reverse and symmetric cross-entropy


def _reverse_terms(t: ClassTarget, log_p: torch.Tensor, log_zero: float) -> torch.Tensor:
    r"""Unweighted RCE :math:`-\sum_k p_k \max(\log y_k, A)` per position (index targets: :math:`-A(1-p_y)`)."""
    if t.index is not None:
        return -log_zero * one_minus(t.gather(log_p))
    assert t.dense is not None
    return -(log_p.exp() * t.dense.clamp_min(math.exp(log_zero)).log()).sum(1)


def _weighted_by_target(loss: torch.Tensor, t: ClassTarget) -> torch.Tensor:
    tw = t.target_weight()
    return loss if tw is None else loss * tw


@renamed_arguments(weight="sample_weight")
def reverse_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    log_zero: float = -4.0,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Reverse cross-entropy: the cross-entropy of the label under the prediction, a bounded "passive" loss.

    The roles of prediction and label swapped, with :math:`\log 0` replaced by a constant :math:`A < 0`
    [Wang2019]_. For a one-hot label it is :math:`-A\,(1 - p_y)`, the mean absolute error scaled by :math:`-A`:
    bounded, and robust to symmetric label noise. With :math:`p = \mathrm{softmax}(x)`:

    .. math::
        \ell = -\sum_{k=1}^{C} p_k \max(\log y_k, A)
        \qquad\text{(one-hot } y\text{: } -A\,(1 - p_y)\text{)}

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)`` (floating, in ``[0, 1]``).
        log_zero: :math:`A`, the value taken for :math:`\log 0` (and the floor of :math:`\log y_k`), ``< 0``;
            the paper's ``-4``.
        class_weight: Optional per-class weights ``(C,)``: each position's loss is scaled by its target's weight
            :math:`\sum_c w_c y_c` (index targets: :math:`w_y`), and ``"mean"`` divides by their sum.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar; in ``[0, -A]``.

    Raises:
        ValueError: ``log_zero >= 0``, and the target errors of :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        The authors' code (for both [Wang2019]_ and [Ma2020]_) clamps the one-hot label to ``1e-4`` before the
        log, i.e. :math:`A = \log 10^{-4} \approx -9.21`; pass ``log_zero=math.log(1e-4)`` to reproduce it (the
        loss scales by :math:`-A`, so the code's :math:`\beta` corresponds to :math:`2.3\beta` here). The code also
        clamps :math:`p` to ``[1e-7, 1]``, which changes nothing measurable and is not done here.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> reverse_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.6248, 3.1522])

    References:
        .. [Wang2019] Y. Wang, X. Ma, Z. Chen, Y. Luo, J. Yi, J. Bailey. "Symmetric Cross Entropy for Robust
           Learning with Noisy Labels." ICCV 2019. https://arxiv.org/abs/1908.06112
    """
    check_reduction(reduction)
    log_zero = _check_log_zero(log_zero)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="reverse_cross_entropy")
    loss = _weighted_by_target(_reverse_terms(t, _log_probs(logits), log_zero), t)
    return reduce_loss(
        loss, reduction, sample_weight, mask=t.mask, target_class_weight=t.target_weight(), dtype=out_dtype(logits)
    )


def _check_rce(*, log_zero: float = -4.0, **_: object) -> None:
    _check_log_zero(log_zero)


class ReverseCrossEntropyLoss(LossModule, function=reverse_cross_entropy, validate=_check_rce):
    pass


@renamed_arguments(weight="sample_weight")
def symmetric_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    log_zero: float = -4.0,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Symmetric cross-entropy (SCE): cross-entropy plus reverse cross-entropy, for noisy labels.

    Cross-entropy learns the hard classes fast but overfits wrong labels; the reverse cross-entropy
    (:func:`reverse_cross_entropy`) is bounded and noise-tolerant. SCE adds them [Wang2019]_:

    .. math::
        \ell = \alpha\,\Bigl(-\sum_c w_c\,y_c \log p_c\Bigr) + \beta\,\Bigl(-\sum_k p_k \max(\log y_k, A)\Bigr)

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``.
        alpha: Weight of the cross-entropy term, ``>= 0``. The paper uses ``alpha=0.1, beta=1.0`` on CIFAR-10
            (the defaults) and ``alpha=6.0, beta=0.1`` on CIFAR-100.
        beta: Weight of the reverse cross-entropy term, ``>= 0``. ``beta=0`` gives ``alpha`` times
            cross-entropy.
        log_zero: :math:`A`, the value taken for :math:`\log 0` in the reverse term, ``< 0``; the paper's ``-4``
            (see :func:`reverse_cross_entropy` for the authors' code's :math:`\log 10^{-4}`).
        class_weight: Optional per-class weights ``(C,)``: inside the cross-entropy sum as in
            :func:`softmax_cross_entropy`, and as the target's weight on the reverse term.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: a negative ``alpha``/``beta``, ``log_zero >= 0``, and the target errors of
            :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> symmetric_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.6418, 3.3074])
    """
    check_reduction(reduction)
    alpha = _check_coefficient(alpha, "alpha")
    beta = _check_coefficient(beta, "beta")
    log_zero = _check_log_zero(log_zero)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="symmetric_cross_entropy")
    log_p = _log_probs(logits)
    ce = t.expect(torch.neg, log_p)
    rce = _weighted_by_target(_reverse_terms(t, log_p, log_zero), t)
    loss = alpha * ce + beta * rce
    return reduce_loss(
        loss, reduction, sample_weight, mask=t.mask, target_class_weight=t.target_weight(), dtype=out_dtype(logits)
    )


def _check_sce(*, alpha: float = 0.1, beta: float = 1.0, log_zero: float = -4.0, **_: object) -> None:
    _check_coefficient(alpha, "alpha")
    _check_coefficient(beta, "beta")
    _check_log_zero(log_zero)


class SymmetricCrossEntropyLoss(LossModule, function=symmetric_cross_entropy, validate=_check_sce):
    pass


# ---------------------------------------------------------------------------------------------------------------
# normalized losses and the active-passive combination


def _normalized_focal(t: ClassTarget, log_p: torch.Tensor, gamma: float) -> torch.Tensor:
    r"""NFL :math:`\sum_c w_c y_c (1-p_c)^\gamma(-\log p_c) / \sum_k (1-p_k)^\gamma(-\log p_k)`; NCE at gamma=0."""
    focal = -log_p if gamma == 0.0 else safe_pow(one_minus(log_p), gamma) * -log_p
    return t.expect(lambda f: f, focal) / focal.sum(1)


@renamed_arguments(weight="sample_weight")
def normalized_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Normalized cross-entropy (NCE): cross-entropy divided by its sum over every possible label.

    Normalizing a loss by its sum over all labels makes it robust to label noise [Ma2020]_: the result lies in
    :math:`[0, 1]`. It underfits on its own; pair it with a passive loss (:func:`active_passive_loss`).
    With :math:`p = \mathrm{softmax}(x)`:

    .. math::
        \ell = \frac{-\log p_y}{-\sum_{k=1}^{C} \log p_k}
        \qquad\text{(dense targets: } \textstyle\sum_c w_c\,y_c(-\log p_c) / \sum_k(-\log p_k)\text{)}

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``.
        class_weight: Optional per-class weights ``(C,)``, as in :func:`softmax_cross_entropy`.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, in ``[0, 1]``; otherwise a scalar.

    Raises:
        ValueError: the target errors of :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        The denominator is at least :math:`C \log C > 0` (its minimum, at the uniform prediction), so the
        division is always safe. The authors' ``scale`` is the ``alpha`` of :func:`active_passive_loss`.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> normalized_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.0308, 0.4245])

    References:
        .. [Ma2020] X. Ma, H. Huang, Y. Wang, S. Romano, S. Erfani, J. Bailey. "Normalized Loss Functions for Deep
           Learning with Noisy Labels." ICML 2020. https://arxiv.org/abs/2006.13554
    """
    check_reduction(reduction)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="normalized_cross_entropy")
    loss = _normalized_focal(t, _log_probs(logits), 0.0)
    return reduce_loss(
        loss, reduction, sample_weight, mask=t.mask, target_class_weight=t.target_weight(), dtype=out_dtype(logits)
    )


class NormalizedCrossEntropyLoss(LossModule, function=normalized_cross_entropy):
    pass


_ACTIVE = ("nce", "nfl")
_PASSIVE = ("rce", "mae")
_NFL_GAMMA = 0.5
_RCE_LOG_ZERO = -4.0


def _check_apl(
    *, active: str = "nce", passive: str = "rce", alpha: float = 1.0, beta: float = 1.0,
    gamma: float | None = None, log_zero: float | None = None, **_: object,
) -> tuple[str, str, float, float, float, float]:
    active = check_choice(active, "active", _ACTIVE)
    passive = check_choice(passive, "passive", _PASSIVE)
    alpha = _check_coefficient(alpha, "alpha")
    beta = _check_coefficient(beta, "beta")
    if gamma is not None and active != "nfl":
        raise ValueError(f"gamma: only applies to active='nfl' (the normalized focal loss), got active={active!r}")
    if log_zero is not None and passive != "rce":
        raise ValueError(f"log_zero: only applies to passive='rce', got passive={passive!r}")
    gamma = _NFL_GAMMA if gamma is None else check_scalar(gamma, "gamma", low=0.0)
    log_zero = _RCE_LOG_ZERO if log_zero is None else _check_log_zero(log_zero)
    return active, passive, alpha, beta, gamma, log_zero


@renamed_arguments(weight="sample_weight")
def active_passive_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    active: str = "nce",
    passive: str = "rce",
    alpha: float = 1.0,
    beta: float = 1.0,
    gamma: float | None = None,
    log_zero: float | None = None,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Active-passive loss (APL): a normalized "active" loss plus a bounded "passive" one, for noisy labels.

    A normalized loss alone is robust but underfits; Ma et al. pair an *active* loss (it only raises
    :math:`p_y`) with a *passive* one (it also lowers the other classes) [Ma2020]_:

    .. math::
        \ell = \alpha\,\ell_{\text{active}} + \beta\,\ell_{\text{passive}}

    with :math:`\ell_{\text{active}}` one of

    * ``"nce"``: :math:`\frac{-\log p_y}{-\sum_k \log p_k}` (:func:`normalized_cross_entropy`),
    * ``"nfl"``: :math:`\frac{-(1-p_y)^\gamma \log p_y}{-\sum_k (1-p_k)^\gamma \log p_k}` (normalized focal),

    and :math:`\ell_{\text{passive}}` one of

    * ``"rce"``: :math:`-\sum_k p_k \max(\log y_k, A)` (:func:`reverse_cross_entropy`; :math:`-A(1-p_y)` one-hot),
    * ``"mae"``: :math:`1 - \sum_c y_c p_c` (one-hot: :math:`1 - p_y`).

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``.
        active: ``"nce"`` | ``"nfl"``.
        passive: ``"rce"`` | ``"mae"``.
        alpha: Weight of the active loss, ``>= 0``. The paper's NCE+RCE uses ``alpha=1, beta=1`` on CIFAR-10
            (the defaults) and ``alpha=10, beta=0.1`` on CIFAR-100.
        beta: Weight of the passive loss, ``>= 0``.
        gamma: Focusing parameter of ``active="nfl"``, ``>= 0``; ``None`` takes the paper's ``0.5``. Passing it
            with ``active="nce"`` is an error.
        log_zero: :math:`A` of ``passive="rce"``, ``< 0``; ``None`` takes ``-4`` (see
            :func:`reverse_cross_entropy`). Passing it with ``passive="mae"`` is an error.
        class_weight: Optional per-class weights ``(C,)``: inside the sums over the target (NCE/NFL numerator,
            MAE) as in :func:`softmax_cross_entropy`, and as the target's weight on RCE.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: an unknown ``active``/``passive``, a negative coefficient, ``gamma``/``log_zero`` given for a
            loss that does not use it, and the target errors of :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        MAE follows the authors' code, :math:`1 - p_y`; the paper writes :math:`\sum_k |p_k - y_k| = 2(1 - p_y)`,
        so the code's (and this) :math:`\beta` is twice the paper-formula's. The code computes the NFL focusing
        factors :math:`(1-p)^\gamma` on detached probabilities (``.data``); here autograd differentiates the
        whole formula. Log-space throughout: :math:`(1-p)^\gamma` from ``-expm1(log_softmax)``.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> active_passive_loss(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.6556, 3.5768])
        >>> active_passive_loss(logits, torch.tensor([0, 2]), active="nfl", passive="mae", reduction="none")
        tensor([0.1691, 1.2304])
    """
    check_reduction(reduction)
    active, passive, alpha, beta, gamma, log_zero = _check_apl(
        active=active, passive=passive, alpha=alpha, beta=beta, gamma=gamma, log_zero=log_zero
    )
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index, loss="active_passive_loss")
    log_p = _log_probs(logits)
    active_loss = _normalized_focal(t, log_p, gamma if active == "nfl" else 0.0)
    if passive == "rce":
        passive_loss = _weighted_by_target(_reverse_terms(t, log_p, log_zero), t)
    else:
        passive_loss = t.expect(one_minus, log_p)
    loss = alpha * active_loss + beta * passive_loss
    return reduce_loss(
        loss, reduction, sample_weight, mask=t.mask, target_class_weight=t.target_weight(), dtype=out_dtype(logits)
    )


def _validate_apl(**hyperparameters: object) -> None:
    _check_apl(**hyperparameters)  # type: ignore[arg-type]


class ActivePassiveLoss(LossModule, function=active_passive_loss, validate=_validate_apl):
    pass


# ---------------------------------------------------------------------------------------------------------------
# bootstrapping

_BOOTSTRAP_BETA = {"soft": 0.95, "hard": 0.8}


def _check_bootstrap(*, beta: float | None = None, mode: str = "soft", **_: object) -> tuple[float, str]:
    mode = check_choice(mode, "mode", tuple(_BOOTSTRAP_BETA))
    beta = _BOOTSTRAP_BETA[mode] if beta is None else check_scalar(beta, "beta", low=0.0, high=1.0)
    return beta, mode


@renamed_arguments(weight="sample_weight")
def bootstrapped_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    beta: float | None = None,
    mode: str = "soft",
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Bootstrapped cross-entropy: cross-entropy against a mix of the label and the model's own prediction.

    Reed et al. replace the (possibly wrong) label :math:`y` by :math:`\beta y + (1-\beta) z`, where :math:`z` is
    the prediction itself (``"soft"``) or its arg-max as a one-hot vector (``"hard"``) [Reed2015]_. With
    :math:`p = \mathrm{softmax}(x)`:

    .. math::
        \ell = -\sum_k \bigl(\beta\,y_k + (1-\beta)\,z_k\bigr) \log p_k, \qquad
        z = p \ \text{(soft)}, \quad z = \mathrm{onehot}(\arg\max_k p_k) \ \text{(hard)}

    so the soft form is cross-entropy plus :math:`(1-\beta)` times the prediction's entropy (minimum-entropy
    regularization) and the hard form adds :math:`-(1-\beta)\log \max_k p_k`.

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``.
        beta: Weight of the label, in ``[0, 1]``; ``None`` takes the paper's value for the mode (``0.95`` soft,
            ``0.8`` hard). ``beta=1`` is cross-entropy.
        mode: ``"soft"`` | ``"hard"``.
        class_weight: Optional per-class weights ``(C,)``: inside the cross-entropy term as in
            :func:`softmax_cross_entropy`, and as the target's weight :math:`\sum_c w_c y_c` on the bootstrap term.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: an unknown ``mode``, ``beta`` outside ``[0, 1]``, and the target errors of
            :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        The soft target's :math:`p` is differentiated (the paper's reading as entropy regularization); some
        re-implementations detach it. The hard target's arg-max carries no gradient; ties share it.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> bootstrapped_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.1876, 1.5226])
        >>> bootstrapped_cross_entropy(logits, torch.tensor([0, 2]), mode="hard", reduction="none")
        tensor([0.1698, 1.3514])

    References:
        .. [Reed2015] S. Reed, H. Lee, D. Anguelov, C. Szegedy, D. Erhan, A. Rabinovich. "Training Deep Neural
           Networks on Noisy Labels with Bootstrapping." ICLR 2015 workshop. https://arxiv.org/abs/1412.6596
    """
    check_reduction(reduction)
    beta, mode = _check_bootstrap(beta=beta, mode=mode)
    t = ClassTarget(logits, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="bootstrapped_cross_entropy")
    log_p = _log_probs(logits)
    ce = t.expect(torch.neg, log_p)
    if mode == "soft":
        own = -(log_p.exp() * log_p).sum(1)  # entropy of the prediction
    else:
        own = -log_p.amax(1)  # cross-entropy against the one-hot arg-max
    loss = beta * ce + (1.0 - beta) * _weighted_by_target(own, t)
    return reduce_loss(
        loss, reduction, sample_weight, mask=t.mask, target_class_weight=t.target_weight(), dtype=out_dtype(logits)
    )


def _validate_bootstrap(**hyperparameters: object) -> None:
    _check_bootstrap(**hyperparameters)  # type: ignore[arg-type]


class BootstrappedCrossEntropyLoss(LossModule, function=bootstrapped_cross_entropy, validate=_validate_bootstrap):
    pass
