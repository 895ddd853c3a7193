"""IoU-balanced classification and localization losses (Wu, Yang, Wang & Li, arXiv:1908.05641)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import (
    check_bool,
    check_class_indices,
    check_finite,
    check_floating,
    check_in_range,
    check_integer,
    check_last_dim,
    check_same_shape,
    check_scalar,
)
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import _check_broadcast, check_normalizer, reduce_loss
from ..distributed import all_reduce_sum
from ..focal import sigmoid_focal_loss
from ..regression import smooth_l1_loss

# ---------------------------------------------------------------------------------------------------------------
# IoU-balanced losses (Wu, Yang, Wang & Li)


def _check_ious(ious: torch.Tensor, shape: torch.Size, layout: str) -> torch.Tensor:
    check_floating(ious, "ious")
    if tuple(ious.shape) != tuple(shape):
        raise ValueError(f"ious: expected shape {tuple(shape)} ({layout}), got {tuple(ious.shape)}")
    check_in_range(ious, "ious", 0.0, 1.0)
    return ious


def _renormalized_weights(
    base: torch.Tensor, positive: torch.Tensor, iou_pow: torch.Tensor, weight: torch.Tensor | None, distributed: bool
) -> torch.Tensor:
    """Detached per-element factors: ``iou^eta * s`` on positives, 1 elsewhere, with ``s`` keeping the positives'
    (weighted) loss sum: ``s = sum_pos w l / sum_pos w iou^eta l`` (sums all-reduced when ``distributed``)."""
    with torch.no_grad():
        pos_loss = torch.where(positive, base, torch.zeros_like(base))
        if weight is not None:
            pos_loss = pos_loss * weight
        sums = torch.stack((pos_loss.sum(), (pos_loss * iou_pow).sum()))
        sums = all_reduce_sum(sums, enabled=distributed)
        # no positives (or all with IoU 0): nothing to keep, factor 1
        scale = torch.where(sums[1] > 0, sums[0] / torch.where(sums[1] > 0, sums[1], torch.ones_like(sums[1])),
                            torch.ones_like(sums[1]))
        return torch.where(positive, iou_pow * scale, torch.ones_like(base))


def _checked_weight(sample_weight: torch.Tensor | None, base: torch.Tensor) -> torch.Tensor | None:
    """``sample_weight`` checked against the unreduced loss before the renormalization sums use it."""
    if sample_weight is None:
        return None
    _check_broadcast(sample_weight, base, "sample_weight")
    return sample_weight.to(base.dtype)


def _check_focal_hyperparameters(
    eta: float, gamma: float, alpha: float | None, distributed: bool, **_: object
) -> tuple[float, float, float | None]:
    check_bool(distributed, "distributed")
    alpha = None if alpha is None else check_scalar(alpha, "alpha", low=0.0, high=1.0)
    return check_scalar(eta, "eta", low=0.0), check_scalar(gamma, "gamma", low=0.0), alpha


def _check_softmax_hyperparameters(eta: float, background_index: int, distributed: bool, **_: object) -> float:
    if isinstance(background_index, bool) or not isinstance(background_index, int) or background_index < 0:
        raise ValueError(f"background_index: expected a non-negative int, got {background_index!r}")
    check_bool(distributed, "distributed")
    return check_scalar(eta, "eta", low=0.0)


def _check_smooth_l1_hyperparameters(
    lam: float, beta: float, loc_weight: float, distributed: bool, **_: object
) -> tuple[float, float, float]:
    check_bool(distributed, "distributed")
    return (
        check_scalar(lam, "lam", low=0.0),
        check_scalar(beta, "beta", low=0.0),
        check_scalar(loc_weight, "loc_weight", low=0.0, low_inclusive=False),
    )


@renamed_arguments(weight="sample_weight")
def iou_balanced_sigmoid_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    ious: torch.Tensor,
    *,
    eta: float = 1.5,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    normalizer: torch.Tensor | float | None = None,
    distributed: bool = False,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""IoU-balanced classification loss on the sigmoid focal loss (RetinaNet), for one-stage detectors.

    Positives whose predicted box overlaps its ground truth well get more weight, which ties the classification
    score to localization quality [Wu2019]_. With :math:`FL_i` the sigmoid focal loss of element :math:`i` and
    :math:`\mathrm{IoU}_i` the (detached) IoU of that anchor's regressed box with its target:

    .. math::
        L_{cls} = \sum_{i \in Pos} w_i\, FL_i + \sum_{i \in Neg} FL_i, \qquad
        w_i = \mathrm{IoU}_i^{\eta}\, \frac{\sum_{j \in Pos} FL_j}{\sum_{j \in Pos} \mathrm{IoU}_j^{\eta} FL_j}

    so the positives' summed loss is unchanged and only its distribution over positives moves; negatives are
    untouched. The paper divides :math:`L_{cls}` by the number of positive anchors: pass
    ``normalizer=num_positives`` with ``reduction="mean"`` (or use ``reduction="sum"`` and divide).

    Args:
        logits: Class logits, shape ``(N, C, *)`` (e.g. ``(anchors, classes)``).
        target: Binary targets, same shape; elements with ``target > 0`` are positives.
        ious: IoU of each anchor's regressed box with its ground truth, in [0, 1], shape ``(N, *)`` (the class
            dim removed); only read at positives, and never differentiated (detached).
        eta: Focus on high-IoU positives, ``>= 0``; ``eta=0`` gives the plain focal loss. The paper uses 1.5
            with RetinaNet.
        gamma: Focal focusing parameter, ``>= 0``.
        alpha: Weight of positives (1 - alpha on negatives), in [0, 1]; ``None`` for no class weighting.
        normalizer: Denominator of ``"mean"`` (the number of positives, as the paper); ``None`` averages over
            the (weighted) elements. ``>= 0`` and finite; 0 (a batch without positives) gives the plain sum, as
            mmdetection's ``max(num_pos, 1)`` (the rule of :func:`losslab.reduce_loss`).
        distributed: All-reduce the renormalization sums (and the ``"mean"`` denominator) over the processes
            of ``torch.distributed``, so N shards give the whole batch's loss (summed) and gradients.
        sample_weight: Optional per-element weights broadcastable to ``logits``; they also weight the renormalization sums.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-element loss for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ious outside [0, 1] (validation on), or a hyperparameter out of range.

    Note:
        Follows the author's code (``iou_balanced_sigmoid_focal_loss`` in ShengkaiWu/IoU-aware-single-stage-
        object-detector): weights and the renormalization factor are detached, the sums run over positive
        elements. The author adds 1e-6 to the denominator sum; here a zero denominator (no positives, or all
        their IoUs 0) gives a factor of 1.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, -1.0], [0.5, -3.0]])
        >>> target = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> ious = torch.tensor([0.9, 0.3])
        >>> iou_balanced_sigmoid_focal_loss(logits, target, ious, reduction="sum")
        tensor(0.0344)

    References:
        .. [Wu2019] S. Wu, J. Yang, X. Wang, X. Li. "IoU-balanced Loss Functions for Single-stage Object
           Detection." Pattern Recognition Letters 2022. https://arxiv.org/abs/1908.05641
    """
    eta, gamma, alpha = _check_focal_hyperparameters(eta, gamma, alpha, distributed)
    check_normalizer(normalizer)  # before any all-reduce
    check_floating(logits, "logits")
    check_floating(target, "target")
    check_same_shape(logits, target, "logits", "target")
    if logits.ndim < 1:
        raise ValueError(f"logits: expected shape (N, C, *), got {tuple(logits.shape)}")
    iou_shape = logits.shape[:1] + logits.shape[2:]
    _check_ious(ious, iou_shape, "logits' shape without the class dim 1")
    x, t, u = upcast(logits, target, ious)  # sigmoid_focal_loss checks logits and target (one read each)
    base = sigmoid_focal_loss(x, t, gamma=gamma, alpha=alpha, reduction="none")
    u = u.detach().clamp(0.0, 1.0)
    u = u.unsqueeze(1) if logits.ndim > 1 else u
    iou_pow = u.pow(eta).expand_as(base)
    factors = _renormalized_weights(base, t > 0, iou_pow, _checked_weight(sample_weight, base), distributed)
    return reduce_loss(
        base * factors, reduction, sample_weight, normalizer=normalizer, distributed=distributed, dtype=logits.dtype
    )


@renamed_arguments(weight="sample_weight")
def iou_balanced_softmax_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    ious: torch.Tensor,
    *,
    eta: float = 1.5,
    background_index: int = 0,
    normalizer: torch.Tensor | float | None = None,
    distributed: bool = False,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""IoU-balanced classification loss on softmax cross-entropy (the two-stage / SSD form) [Wu2019b]_.

    As :func:`iou_balanced_sigmoid_focal_loss`, with the per-sample softmax cross-entropy
    :math:`CE_i = -\log \mathrm{softmax}(z_i)_{y_i}`; a sample is positive when its class is not the background:

    .. math::
        L_{cls} = \sum_{i \in Pos} \mathrm{IoU}_i^{\eta}\,
        \frac{\sum_{j \in Pos} CE_j}{\sum_{j \in Pos} \mathrm{IoU}_j^{\eta} CE_j}\, CE_i + \sum_{i \in Neg} CE_i

    Args:
        logits: Class logits, shape ``(N, C, *)``, background included.
        target: Class indices, shape ``(N, *)``.
        ious: IoU of each sample's box with its ground truth, in [0, 1], shape ``(N, *)`` (detached).
        eta: Focus on high-IoU positives, ``>= 0``; the author's Faster R-CNN configs use 1.25-1.3.
        background_index: The background class (negatives), 0 as in the author's mmdetection v1 code.
        normalizer: Denominator of ``"mean"``; ``None`` averages over the (weighted) samples, as the author's
            code (``avg_factor`` = number of sampled RoIs). ``>= 0`` and finite; 0 gives the plain sum.
        distributed: All-reduce the renormalization sums and the ``"mean"`` denominator.
        sample_weight: Optional per-element weights broadcastable to the per-sample loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shapes, class indices out of range, ious outside [0, 1], hyperparameter out of range.
        TypeError: ``target`` not an integer tensor.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[0.2, 2.0, -1.0], [1.5, 0.0, 0.3], [0.0, 0.1, 1.0]])
        >>> target = torch.tensor([1, 0, 2])
        >>> iou_balanced_softmax_cross_entropy(logits, target, torch.tensor([0.8, 0.0, 0.6]), reduction="sum")
        tensor(1.1899)

    References:
        .. [Wu2019b] S. Wu, J. Yang, X. Wang, X. Li. "IoU-balanced Loss Functions for Single-stage Object
           Detection." Pattern Recognition Letters 2022. https://arxiv.org/abs/1908.05641
    """
    eta = _check_softmax_hyperparameters(eta, background_index, distributed)
    check_normalizer(normalizer)  # before any all-reduce
    check_floating(logits, "logits")
    if logits.ndim < 2:
        raise ValueError(f"logits: expected shape (N, C, *) with at least 2 dims, got {tuple(logits.shape)}")
    check_integer(target, "target")
    shape = logits.shape[:1] + logits.shape[2:]
    if tuple(target.shape) != tuple(shape):
        raise ValueError(f"target: expected shape {tuple(shape)} (logits' without the class dim), got {tuple(target.shape)}")
    num_classes = logits.shape[1]
    if num_classes < 2:
        raise ValueError(
            f"logits: expected at least 2 classes on dim 1 (the background and an object class), got shape "
            f"{tuple(logits.shape)}; a softmax over one class is constant (loss 0, no gradient)"
        )
    if isinstance(background_index, bool) or not isinstance(background_index, int) or not 0 <= background_index < num_classes:
        raise ValueError(f"background_index: expected an int in [0, {num_classes - 1}], got {background_index!r}")
    check_class_indices(target, num_classes)
    _check_ious(ious, shape, "one per sample")
    check_finite(logits, "logits", "iou_balanced_softmax_cross_entropy")
    x, u = upcast(logits, ious)
    base = F.cross_entropy(x, target, reduction="none")
    iou_pow = u.detach().clamp(0.0, 1.0).pow(eta)
    factors = _renormalized_weights(
        base, target != background_index, iou_pow, _checked_weight(sample_weight, base), distributed
    )
    return reduce_loss(
        base * factors, reduction, sample_weight, normalizer=normalizer, distributed=distributed, dtype=logits.dtype
    )


@renamed_arguments(weight="sample_weight")
def iou_balanced_smooth_l1_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    ious: torch.Tensor,
    *,
    lam: float = 1.5,
    beta: float = 0.11,
    loc_weight: float = 1.0,
    normalizer: torch.Tensor | float | None = None,
    distributed: bool = False,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""IoU-balanced localization loss: smooth-L1 on the box deltas, scaled by the (detached) IoU to a power.

    Down-weights the gradient of badly localized outliers and up-weights accurate boxes [Wu2019c]_. For
    positive anchor :math:`i` with regression deltas :math:`l_i^m` and targets :math:`\hat g_i^m`,
    :math:`m \in \{x, y, w, h\}`:

    .. math::
        L_{loc} = \frac{1}{N_{pos}} \sum_{i \in Pos} \sum_m w_{loc}\, \mathrm{IoU}_i^{\lambda}\,
        \mathrm{smooth}_{L1}(l_i^m - \hat g_i^m)

    where :math:`w_{loc}` is a constant the paper adjusts by hand so that the localization loss keeps its
    magnitude (the author's RetinaNet configs use a loss weight of about 2.2-3.05 with :math:`\lambda` = 1.4-1.5).
    ``reduction="mean"`` divides by the number of boxes (the positives), the paper's :math:`N_{pos}`.

    Args:
        pred: Predicted deltas of the positive anchors, shape ``(..., 4)``.
        target: Target deltas, same shape.
        ious: IoU of each predicted box with its ground truth, in [0, 1], shape ``(...)`` (detached).
        lam: The exponent :math:`\lambda`, ``>= 0``; ``lam=0`` gives the plain smooth-L1.
        beta: Smooth-L1 quadratic zone, ``>= 0`` (0.11 as in mmdetection's RetinaNet).
        loc_weight: The constant :math:`w_{loc}`, ``> 0``.
        normalizer: Denominator of ``"mean"`` instead of the (weighted) number of boxes; ``>= 0`` and finite,
            0 gives the plain sum.
        distributed: All-reduce the ``"mean"`` denominator over the processes.
        sample_weight: Optional per-element weights broadcastable to the per-box loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-box loss ``(...)`` (summed over the 4 coordinates) for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shapes, ious outside [0, 1] (validation on), hyperparameter out of range.

    Example:
        >>> import torch
        >>> pred = torch.tensor([[0.1, 0.0, 0.5, -0.2], [1.0, 0.0, 0.0, 0.0]])
        >>> iou_balanced_smooth_l1_loss(pred, torch.zeros(2, 4), torch.tensor([0.8, 0.2]), reduction="none")
        tensor([0.4547, 0.0845])

    References:
        .. [Wu2019c] S. Wu, J. Yang, X. Wang, X. Li. "IoU-balanced Loss Functions for Single-stage Object
           Detection." Pattern Recognition Letters 2022. https://arxiv.org/abs/1908.05641
    """
    lam, beta, loc_weight = _check_smooth_l1_hyperparameters(lam, beta, loc_weight, distributed)
    check_normalizer(normalizer)  # before any all-reduce
    check_floating(pred, "pred")
    check_last_dim(pred, 4, "pred")
    _check_ious(ious, pred.shape[:-1], "pred's shape without the last dim")
    per_coord = smooth_l1_loss(pred, target, beta=beta, reduction="none")  # checks pred and target (one read each)
    p, u = upcast(per_coord, ious)
    loss = loc_weight * u.detach().clamp(0.0, 1.0).pow(lam) * p.sum(-1)
    return reduce_loss(
        loss, reduction, sample_weight, normalizer=normalizer, distributed=distributed, dtype=pred.dtype
    )


class IoUBalancedSigmoidFocalLoss(LossModule, function=iou_balanced_sigmoid_focal_loss, validate=_check_focal_hyperparameters):
    pass


class IoUBalancedSoftmaxCrossEntropyLoss(LossModule, function=iou_balanced_softmax_cross_entropy, validate=_check_softmax_hyperparameters):
    pass


class IoUBalancedSmoothL1Loss(LossModule, function=iou_balanced_smooth_l1_loss, validate=_check_smooth_l1_hyperparameters):
    pass
