"""Quality-aware classification losses of dense detectors: GFL's quality and distribution focal losses (Li et al.
2020) and VarifocalNet's varifocal loss (Zhang et al. 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_finite, check_floating, check_in_range, check_same_shape, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_pow, upcast
from .._reduction import check_normalizer, reduce_loss


def _quality_pair(logits: torch.Tensor, target: torch.Tensor, hint: str) -> tuple[torch.Tensor, torch.Tensor]:
    check_floating(logits, "logits")
    check_floating(target, "target")
    check_same_shape(logits, target, "logits", "target")
    check_in_range(target.detach(), "target", 0.0, 1.0, hint)
    check_finite(logits, "logits")
    x, y = upcast(logits, target)
    return x, y.to(x.dtype)


@renamed_arguments(weight="sample_weight")
def quality_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    beta: float = 2.0,
    normalizer: torch.Tensor | float | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Quality focal loss (GFL): sigmoid cross-entropy against a soft IoU target, focused by the distance to it.

    The classification score of a dense detector is trained to *be* the localization quality: the target of the
    positive class is the IoU of the anchor's regressed box with its ground truth (0 for negatives), and the focal
    modulating factor becomes :math:`|y - \sigma|^\beta` [Li2020]_. With :math:`\sigma = \sigma(x)`:

    .. math::
        \ell = -|y - \sigma|^{\beta}\,\big[y \log \sigma + (1 - y) \log(1 - \sigma)\big]

    Args:
        logits: Class logits (joint class-quality scores), any shape, e.g. ``(anchors, classes)``.
        target: Soft targets in [0, 1], same shape: the IoU quality at each positive's class, 0 elsewhere. Build it
            from decoded boxes with :func:`anchor_ious`.
        beta: Focusing parameter, ``>= 0`` (2 in the paper); ``beta=0`` gives binary cross-entropy.
        normalizer: Denominator of ``"mean"``: GFL divides the summed loss by the number of positive anchors
            (mmdetection's ``avg_factor``). ``None`` averages over the (weighted) elements.
        sample_weight: Optional weights broadcastable to ``logits``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``logits``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``beta < 0``, or (validation on) ``target`` outside [0, 1].
        TypeError: non-floating ``logits`` or ``target``.

    Note:
        Conventions of the official code (implus/GFocal, mmdetection ``quality_focal_loss``): the modulating factor
        :math:`|y - \sigma|^\beta` is *not* detached (its gradient is part of the loss's), the target quality is a
        constant (compute it from detached boxes), and the per-element loss is summed and divided by the number of
        positives. mmdetection takes ``(labels, scores)``; the dense ``target`` here is that pair scattered into
        ``logits``' shape. With a one-hot target (quality 1) this is exactly :func:`sigmoid_focal_loss` with
        ``gamma=beta, alpha=None``. The cross-entropy is ``binary_cross_entropy_with_logits`` (log space), and
        :math:`|d|^\beta` has a zero gradient at :math:`d = 0` for every ``beta`` (double where), so ``beta < 1``
        is finite too.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[1.5, -2.0], [-1.0, 0.5]])
        >>> target = torch.tensor([[0.8, 0.0], [0.0, 0.0]])  # anchor 0 is a class-0 positive with IoU 0.8
        >>> quality_focal_loss(logits, target, reduction="none")
        tensor([[1.5487e-04, 1.8036e-03],
                [2.2658e-02, 3.7741e-01]])
        >>> quality_focal_loss(logits, target, normalizer=1.0)  # summed, per positive anchor
        tensor(0.4020)

    References:
        .. [Li2020] X. Li, W. Wang, L. Wu, S. Chen, X. Hu, J. Li, J. Tang, J. Yang. "Generalized Focal Loss:
           Learning Qualified and Distributed Bounding Boxes for Dense Object Detection." NeurIPS 2020.
           https://arxiv.org/abs/2006.04388
    """
    beta = check_scalar(beta, "beta", low=0.0)
    check_normalizer(normalizer)
    x, y = _quality_pair(logits, target, "quality_focal_loss expects IoU qualities in [0, 1] (0 for negatives)")
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    loss = safe_pow((y - torch.sigmoid(x)).abs(), beta) * bce
    return reduce_loss(loss, reduction, sample_weight, normalizer=normalizer, dtype=logits.dtype)


@renamed_arguments(weight="sample_weight")
def distribution_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    normalizer: torch.Tensor | float | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Distribution focal loss (GFL): box edges as discrete distributions, pushed onto the two bins around the target.

    Each box side's distance is predicted as a softmax over the integers :math:`0, 1, \dots, n` (the box edge is
    its expectation). For a continuous target :math:`y` between bins :math:`y_l = \lfloor y \rfloor` and
    :math:`y_r = y_l + 1`, the loss is the cross-entropy of both neighbours, weighted by closeness [Li2020b]_:

    .. math::
        \ell = -\big[(y_r - y) \log S_{y_l} + (y - y_l) \log S_{y_r}\big], \qquad S = \mathrm{softmax}(x)

    Its minimum puts all mass on :math:`y_l, y_r` with :math:`S_{y_l} = y_r - y`, whose expectation is :math:`y`.

    Args:
        logits: Bin logits, shape ``(N, n + 1, *)`` (bins on dim 1, losslab's channels-first layout; mmdetection's
            ``(N * 4, n + 1)`` is the case without trailing dims).
        target: Distances in bin units, in ``[0, n]``, shape ``(N, *)``.
        normalizer: Denominator of ``"mean"`` (GFL: 4 times the number of positives, with the quality score as
            ``sample_weight``). ``None`` averages over the (weighted) positions.
        sample_weight: Optional weights broadcastable to the per-position loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-position loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes do not match, fewer than 2 bins, or (validation on) ``target`` outside ``[0, n]``.
        TypeError: non-floating ``logits`` or ``target``.

    Note:
        mmdetection clips the target to ``n - 0.01`` before the loss (``bbox2distance``) so that ``y_r <= n``;
        here a target of exactly ``n`` uses bins ``n - 1`` and ``n`` (weights 0 and 1), the continuous limit. The
        target is not differentiated (the bin weights are linear in it, as in the official code, but the floor is
        not). Log-softmax, not the log of a softmax.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[0.0, 2.0, 1.0, -1.0]])  # bins 0..3
        >>> distribution_focal_loss(logits, torch.tensor([1.25]))
        tensor(0.6902)

    References:
        .. [Li2020b] X. Li, W. Wang, L. Wu, S. Chen, X. Hu, J. Li, J. Tang, J. Yang. "Generalized Focal Loss:
           Learning Qualified and Distributed Bounding Boxes for Dense Object Detection." NeurIPS 2020.
           https://arxiv.org/abs/2006.04388
    """
    check_normalizer(normalizer)
    check_floating(logits, "logits")
    check_floating(target, "target")
    if logits.ndim < 2 or logits.shape[1] < 2:
        raise ValueError(f"logits: expected shape (N, n + 1, *) with at least 2 bins on dim 1, got {tuple(logits.shape)}")
    shape = logits.shape[:1] + logits.shape[2:]
    if tuple(target.shape) != tuple(shape):
        raise ValueError(f"target: expected shape {tuple(shape)} (logits' without the bin dim 1), got {tuple(target.shape)}")
    n = logits.shape[1] - 1
    check_in_range(target.detach(), "target", 0.0, float(n), f"distances in bin units, in [0, n] with n = {n}")
    check_finite(logits, "logits")
    x, y = upcast(logits, target)
    y = y.detach().to(x.dtype)
    left = y.floor().clamp(0, n - 1)
    log_s = F.log_softmax(x, dim=1)
    left_idx = left.long().unsqueeze(1)
    log_left = log_s.gather(1, left_idx).squeeze(1)
    log_right = log_s.gather(1, left_idx + 1).squeeze(1)
    loss = -((left + 1.0 - y) * log_left + (y - left) * log_right)
    return reduce_loss(loss, reduction, sample_weight, normalizer=normalizer, dtype=logits.dtype)


@renamed_arguments(weight="sample_weight")
def varifocal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.75,
    gamma: float = 2.0,
    normalizer: torch.Tensor | float | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Varifocal loss (VarifocalNet): IoU-aware classification that focuses only the negatives.

    Like :func:`quality_focal_loss` the target of a positive is its IoU :math:`q > 0` (0 for negatives), but the
    focal down-weighting is applied to negatives only, and positives are weighted by their own quality so that
    high-IoU examples dominate [Zhang2021]_. With :math:`p = \sigma(x)`:

    .. math::
        \ell = \begin{cases}
        -q\,\big[q \log p + (1 - q) \log(1 - p)\big] & q > 0 \\
        -\alpha\, p^{\gamma} \log(1 - p) & q = 0
        \end{cases}

    Args:
        logits: IoU-aware classification logits, any shape, e.g. ``(anchors, classes)``.
        target: IoU-aware classification score targets in [0, 1], same shape (the IoU at each positive's class, 0
            elsewhere; see :func:`anchor_ious`).
        alpha: Weight of the negatives, ``>= 0`` (0.75 in the paper; unlike focal loss' ``alpha`` it does not
            weight the positives).
        gamma: Focusing parameter of the negatives, ``>= 0`` (2 in the paper).
        normalizer: Denominator of ``"mean"``: VarifocalNet divides by the number of positives (``avg_factor``).
            ``None`` averages over the (weighted) elements.
        sample_weight: Optional weights broadcastable to ``logits``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``logits``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, a hyperparameter out of range, or (validation on) ``target`` outside [0, 1].
        TypeError: non-floating ``logits`` or ``target``.

    Note:
        Conventions of the official code (hyz-xmaster/VarifocalNet, mmdetection ``varifocal_loss`` with its
        default ``iou_weighted=True``): the negatives' factor :math:`\alpha p^\gamma` is *not* detached; the
        positives' weight :math:`q` is the (constant) target; the sum is divided by the number of positives. The
        negatives' term is exactly :func:`sigmoid_focal_loss`'s at the same ``gamma`` with focal ``alpha = 1 -
        alpha`` (0.25 for 0.75). ultralytics' ``VarifocalLoss`` applies :math:`\alpha p^\gamma` to every element
        of a one-hot label instead; that is a different loss. Computed in log space: :math:`p^\gamma =
        \exp(\gamma \log\sigma(x))` and :math:`-\log(1-p) = \mathrm{softplus}(x)`.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[1.5, -2.0], [-1.0, 0.5]])
        >>> target = torch.tensor([[0.8, 0.0], [0.0, 0.0]])
        >>> varifocal_loss(logits, target, reduction="none")
        tensor([[0.4011, 0.0014],
                [0.0170, 0.2831]])

    References:
        .. [Zhang2021] H. Zhang, Y. Wang, F. Dayoub, N. Sünderhauf. "VarifocalNet: An IoU-aware Dense Object
           Detector." CVPR 2021. https://arxiv.org/abs/2008.13367
    """
    alpha = check_scalar(alpha, "alpha", low=0.0)
    gamma = check_scalar(gamma, "gamma", low=0.0)
    check_normalizer(normalizer)
    x, q = _quality_pair(logits, target, "varifocal_loss expects IoU-aware targets in [0, 1] (0 for negatives)")
    positive = q > 0
    pos = q * F.binary_cross_entropy_with_logits(x, q, reduction="none")
    neg = alpha * torch.exp(gamma * F.logsigmoid(x)) * F.softplus(x)
    loss = torch.where(positive, pos, neg)
    return reduce_loss(loss, reduction, sample_weight, normalizer=normalizer, dtype=logits.dtype)


class QualityFocalLoss(LossModule, function=quality_focal_loss):
    pass


class DistributionFocalLoss(LossModule, function=distribution_focal_loss):
    pass


class VarifocalLoss(LossModule, function=varifocal_loss):
    pass

