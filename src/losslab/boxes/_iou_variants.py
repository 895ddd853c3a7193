"""Later IoU-family box losses (EIoU, SIoU, alpha-IoU) and :func:`anchor_ious`, the detached per-anchor quality
that the IoU-balanced, quality focal and varifocal losses take as input."""

from __future__ import annotations

import torch

from .._checks import check_choice, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_pow
from .._reduction import reduce_loss
from ._geometry import (
    _aspect_penalty,
    _ciou_tradeoff,
    _diou_penalty,
    _giou_penalty,
    _iou,
    _pair_loss,
    _prepare,
    _ratio,
)

IOU_KINDS = ("iou", "giou", "diou", "ciou")


def _extents(b: torch.Tensor, t: torch.Tensor):
    """Widths, heights, enclosing width/height and centre offsets (target minus box) of each pair."""
    x1, y1, x2, y2 = b.unbind(-1)
    u1, v1, u2, v2 = t.unbind(-1)
    w1, h1, w2, h2 = x2 - x1, y2 - y1, u2 - u1, v2 - v1
    # enclosing extent max(x2, u2) - min(x1, u1) = (w1 + w2 + |x2 - u2| + |x1 - u1|) / 2, as in _geometry
    cw = 0.5 * (w1 + w2 + (x2 - u2).abs() + (x1 - u1).abs())
    ch = 0.5 * (h1 + h2 + (y2 - v2).abs() + (y1 - v1).abs())
    dx = 0.5 * (u1 + u2 - x1 - x2)
    dy = 0.5 * (v1 + v2 - y1 - y2)
    return w1, h1, w2, h2, cw, ch, dx, dy


@renamed_arguments(weight="sample_weight")
def efficient_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    box_format: str = "xyxy",
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Efficient-IoU (EIoU) loss: DIoU with CIoU's aspect term replaced by separate width and height gaps.

    CIoU's aspect term :math:`v` only sees the aspect ratio, so it cannot tell a box from a scaled copy and its
    gradients push width and height in opposite directions; EIoU penalizes the width and height differences
    directly, each relative to the enclosing box [Zhang2022]_. With :math:`C_w, C_h` the enclosing box's width
    and height and :math:`c^2 = C_w^2 + C_h^2`:

    .. math::
        \ell = 1 - \mathrm{IoU} + \frac{\rho^2(b, b^{gt})}{c^2} + \frac{(w - w^{gt})^2}{C_w^2}
        + \frac{(h - h^{gt})^2}{C_h^2} \in [0, 3)

    Args:
        boxes: Predicted boxes, shape ``(..., 4)``.
        target: Target boxes, same shape.
        eps: Added to the union and to the three denominators, ``>= 0`` (``1e-7`` as torchvision's IoU losses
            and the public Focal-EIoU code). ``eps=0`` gives the exact ratios, with 0 (value and gradient) where a
            denominator is 0.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        sample_weight: Optional weights broadcastable to the per-pair loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-pair loss ``(...)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shape, format or eps; with validation on, a box with x2 < x1.

    Note:
        This is the EIoU of Zhang et al. ("Focal and Efficient IOU Loss"); mmdetection's ``EIoULoss`` is a
        different loss of the same acronym (Extended-IoU, a smoothed ``1 - IoU``). The paper's Focal-EIoU
        re-weights this loss by :math:`\mathrm{IoU}^\gamma`: multiply by ``box_iou(...).detach() ** gamma``
        (or pass it as ``sample_weight``). Nothing is detached; every term is differentiated. Degenerate boxes
        (zero width or height, points) give finite values and gradients.

    Example:
        >>> import torch
        >>> b, t = torch.tensor([[0.0, 0.0, 2.0, 1.0]]), torch.tensor([[0.0, 0.0, 1.0, 2.0]])
        >>> efficient_iou_loss(b, t, eps=0.0)  # 1 - 1/3 + 0.5/8 + 1/4 + 1/4
        tensor(1.2292)

    References:
        .. [Zhang2022] Y.-F. Zhang, W. Ren, Z. Zhang, Z. Jia, L. Wang, T. Tan. "Focal and Efficient IOU Loss for
           Accurate Bounding Box Regression." Neurocomputing 506, 2022. https://arxiv.org/abs/2101.08158
    """
    eps = check_scalar(eps, "eps", low=0.0)
    b, t = _prepare(boxes, target, box_format)
    iou, distance = _iou(b, t, eps), _diou_penalty(b, t, eps)
    w1, h1, w2, h2, cw, ch, _, _ = _extents(b, t)
    loss = 1.0 - iou + distance + _ratio((w1 - w2).square(), cw.square(), eps) + _ratio((h1 - h2).square(), ch.square(), eps)
    return reduce_loss(loss, reduction, sample_weight, dtype=boxes.dtype)


@renamed_arguments(weight="sample_weight")
def scylla_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    theta: float = 4.0,
    eps: float = 1e-7,
    box_format: str = "xyxy",
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""SCYLLA-IoU (SIoU) loss: IoU plus an angle-aware centre-distance cost and a shape cost.

    The centre offset is first driven onto the nearer axis, then along it: the angle cost :math:`\Lambda`
    (1 at 45°, 0 on an axis) raises the distance cost's weight when the offset is diagonal [Gevorgyan2022]_.
    With :math:`(\Delta_x, \Delta_y)` the offset between the centres, :math:`\rho^2 = \Delta_x^2 + \Delta_y^2`,
    :math:`C_w, C_h` the enclosing box's width and height:

    .. math::
        \Lambda = 1 - 2\sin^2\!\Big(\arcsin\frac{|\Delta_y|}{\rho} - \frac{\pi}{4}\Big)
                = \frac{2\,|\Delta_x \Delta_y|}{\rho^2}, \qquad \gamma = 2 - \Lambda,

        \Delta = \sum_{t \in \{x, y\}} \big(1 - e^{-\gamma \rho_t}\big),\quad
        \rho_x = \Big(\frac{\Delta_x}{C_w}\Big)^2,\ \rho_y = \Big(\frac{\Delta_y}{C_h}\Big)^2,

        \Omega = \sum_{t \in \{w, h\}} \big(1 - e^{-\omega_t}\big)^{\theta},\quad
        \omega_w = \frac{|w - w^{gt}|}{\max(w, w^{gt})},\ \omega_h = \frac{|h - h^{gt}|}{\max(h, h^{gt})},

        \ell = 1 - \mathrm{IoU} + \frac{\Delta + \Omega}{2}

    Args:
        boxes: Predicted boxes, shape ``(..., 4)``.
        target: Target boxes, same shape.
        theta: Exponent of the shape cost, ``> 0`` (4 in the paper's experiments and YOLOv6).
        eps: Added to the union and to :math:`C_w^2, C_h^2`, ``>= 0``. ``eps=0`` gives the exact ratios, with 0
            where a denominator is 0.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        sample_weight: Optional weights broadcastable to the per-pair loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-pair loss ``(...)`` for ``"none"``, otherwise a scalar, in ``[0, 3)``.

    Raises:
        ValueError: bad shape, format, ``theta`` or ``eps``; with validation on, a box with x2 < x1.

    Note:
        Matches meituan/YOLOv6's ``IOUloss(iou_type="siou")`` (mmdetection's ``siou_loss`` with
        ``neg_gamma=True``; its default ``neg_gamma=False`` flips the sign of :math:`\gamma` and is not the
        paper's), up to where ``eps`` enters: YOLOv6 adds it to the centre offsets and heights, here to the
        union and the squared enclosing extents. The paper's :math:`\arcsin`/threshold form is evaluated as the
        identity :math:`\sin 2\alpha = 2|\Delta_x\Delta_y|/\rho^2` (the threshold only picks between
        :math:`\alpha` and :math:`\pi/2 - \alpha`, which have the same :math:`\sin 2\alpha`). At coinciding
        centres :math:`\Lambda` is undefined but the distance cost is 0 whatever it is; it is set to 0 there
        through a double where, so gradients stay finite. Nothing is detached.

    Example:
        >>> import torch
        >>> b, t = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 0.0, 3.0, 2.0]])
        >>> scylla_iou_loss(b, t, eps=0.0)  # 1 - 1/3 + (1 - exp(-2 / 9)) / 2
        tensor(0.7664)

    References:
        .. [Gevorgyan2022] Z. Gevorgyan. "SIoU Loss: More Powerful Learning for Bounding Box Regression." 2022.
           https://arxiv.org/abs/2205.12740
    """
    theta = check_scalar(theta, "theta", low=0.0, low_inclusive=False)
    eps = check_scalar(eps, "eps", low=0.0)
    b, t = _prepare(boxes, target, box_format)
    iou = _iou(b, t, eps)
    w1, h1, w2, h2, cw, ch, dx, dy = _extents(b, t)
    rho2 = dx.square() + dy.square()
    angle = _ratio(2.0 * (dx * dy).abs(), rho2, 0.0)  # sin(2 alpha); 0 where the centres coincide
    gamma = 2.0 - angle
    distance = -torch.expm1(-gamma * _ratio(dx.square(), cw.square(), eps)) - torch.expm1(
        -gamma * _ratio(dy.square(), ch.square(), eps)
    )
    # max(w1, w2) = (w1 + w2 + |w1 - w2|) / 2
    dw, dh = (w1 - w2).abs(), (h1 - h2).abs()
    omega_w = _ratio(dw, 0.5 * (w1 + w2 + dw), 0.0)  # 0 where both widths are 0
    omega_h = _ratio(dh, 0.5 * (h1 + h2 + dh), 0.0)
    shape = safe_pow(-torch.expm1(-omega_w), theta) + safe_pow(-torch.expm1(-omega_h), theta)
    loss = 1.0 - iou + 0.5 * (distance + shape)
    return reduce_loss(loss, reduction, sample_weight, dtype=boxes.dtype)


@renamed_arguments(weight="sample_weight")
def alpha_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 3.0,
    kind: str = "iou",
    eps: float = 1e-7,
    box_format: str = "xyxy",
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Alpha-IoU loss: the IoU-family losses with IoU and penalty raised to a power :math:`\alpha`.

    Raising the IoU to :math:`\alpha > 1` up-weights the loss and gradient of high-IoU boxes, which the paper
    finds more accurate and more robust to noisy boxes [He2021]_. For each ``kind``, with the penalty terms of
    :func:`generalized_box_iou_loss`, :func:`distance_box_iou_loss` and :func:`complete_box_iou_loss`:

    .. math::
        \ell_{\alpha\text{-IoU}} = 1 - \mathrm{IoU}^{\alpha}, \quad
        \ell_{\alpha\text{-GIoU}} = 1 - \mathrm{IoU}^{\alpha} + \Big(\frac{|C \setminus (B \cup B^{gt})|}{|C|}\Big)^{\alpha},

        \ell_{\alpha\text{-DIoU}} = 1 - \mathrm{IoU}^{\alpha} + \frac{\rho^{2\alpha}}{c^{2\alpha}}, \quad
        \ell_{\alpha\text{-CIoU}} = 1 - \mathrm{IoU}^{\alpha} + \frac{\rho^{2\alpha}}{c^{2\alpha}} + (\beta v)^{\alpha}

    where :math:`\beta = v / (1 - \mathrm{IoU} + v)` is CIoU's trade-off (a constant in backward).

    Args:
        boxes: Predicted boxes, shape ``(..., 4)``.
        target: Target boxes, same shape.
        alpha: The power, ``> 0`` (3 in the paper); ``alpha=1`` gives the ``kind``'s own loss.
        kind: ``"iou"`` | ``"giou"`` | ``"diou"`` | ``"ciou"``.
        eps: Added to the union and the penalty denominators as in the ``kind``'s own loss, ``>= 0``.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        sample_weight: Optional weights broadcastable to the per-pair loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-pair loss ``(...)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shape, format, ``kind``, ``alpha`` or ``eps``; with validation on, a box with x2 < x1.

    Note:
        Follows the authors' code (Jacobi93/Alpha-IoU, ``bbox_alpha_iou``): CIoU's :math:`\beta` is computed
        from the plain IoU under ``no_grad`` and always applied (torchvision's CIoU convention, not
        mmdetection's IoU > 0.5 gate); the DIoU term is :math:`(\rho^2/c^2)^\alpha`. The authors add ``eps``
        inside every power (``(x + eps) ** alpha``), so their loss of identical boxes is slightly below 0; here
        the powers are exact, with a zero gradient where a base is 0 (double where), so ``alpha < 1`` is finite
        too. ``alpha=1`` equals :func:`iou_loss`, :func:`generalized_box_iou_loss`,
        :func:`distance_box_iou_loss` and :func:`complete_box_iou_loss` exactly.

    Example:
        >>> import torch
        >>> b, t = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[0.0, 0.0, 1.0, 1.0]])
        >>> alpha_iou_loss(b, t, eps=0.0), alpha_iou_loss(b, t, alpha=1.0, eps=0.0)  # 1 - (1/4)^3, 1 - 1/4
        (tensor(0.9844), tensor(0.7500))

    References:
        .. [He2021] J. He, S. Erfani, X. Ma, J. Bailey, Y. Chi, X.-S. Hua. "Alpha-IoU: A Family of Power
           Intersection over Union Losses for Bounding Box Regression." NeurIPS 2021.
           https://arxiv.org/abs/2110.13675
    """
    alpha = check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)
    check_choice(kind, "kind", IOU_KINDS)
    eps = check_scalar(eps, "eps", low=0.0)
    b, t = _prepare(boxes, target, box_format)
    iou = _iou(b, t, eps)
    loss = 1.0 - safe_pow(iou, alpha)
    if kind == "giou":
        loss = loss + safe_pow(_giou_penalty(b, t, eps), alpha)
    elif kind in ("diou", "ciou"):
        loss = loss + safe_pow(_diou_penalty(b, t, eps), alpha)
    if kind == "ciou":
        v = _aspect_penalty(b, t)
        loss = loss + safe_pow(_ciou_tradeoff(iou, v, eps) * v, alpha)
    return reduce_loss(loss, reduction, sample_weight, dtype=boxes.dtype)


def anchor_ious(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    kind: str = "iou",
    eps: float = 0.0,
    box_format: str = "xyxy",
) -> torch.Tensor:
    r"""The localization quality of each anchor's decoded box: its IoU (of any kind) with its target, detached.

    The input of the IoU-aware classification losses: ``ious`` of :func:`iou_balanced_sigmoid_focal_loss`,
    :func:`iou_balanced_softmax_cross_entropy` and :func:`iou_balanced_smooth_l1_loss`, and the soft targets of
    :func:`quality_focal_loss` and :func:`varifocal_loss`. ``kind`` picks the overlap measure:
    :math:`\mathrm{IoU}`, :math:`\mathrm{GIoU} = \mathrm{IoU} - |C \setminus (B \cup B^{gt})|/|C|`,
    :math:`\mathrm{DIoU} = \mathrm{IoU} - \rho^2/c^2` or :math:`\mathrm{CIoU} = \mathrm{DIoU} - \alpha v`
    (each is one minus its loss), clipped to [0, 1] since GIoU, DIoU and CIoU can be negative:

    .. math::
        u_i = \operatorname{clip}\big(\mathrm{IoU}_{kind}(b_i, b_i^{gt}), 0, 1\big)

    Args:
        boxes: Decoded (predicted) boxes of the positive anchors, shape ``(..., 4)``.
        target: Their matched ground-truth boxes, same shape.
        kind: ``"iou"`` | ``"giou"`` | ``"diou"`` | ``"ciou"``.
        eps: Added to the denominators, ``>= 0``; 0 (the default) gives exact ratios.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.

    Returns:
        Qualities in [0, 1], shape ``(...)``, in the input dtype, with no gradient (computed under ``no_grad``).

    Raises:
        ValueError: bad shape, format, ``kind`` or ``eps``; with validation on, a box with x2 < x1.

    Note:
        Detached, as every reference does: the IoU-balanced losses' author code, GFL (``bbox_overlaps`` of
        ``pos_decode_bbox_pred.detach()``) and VarifocalNet (IoU targets from detached boxes). A gradient through
        the quality would let the classifier move the boxes. CIoU's :math:`\alpha` is applied always.

    Example:
        >>> import torch
        >>> b = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]], requires_grad=True)
        >>> t = torch.tensor([[0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0]])
        >>> anchor_ious(b, t), anchor_ious(b, t, kind="diou")
        (tensor([0.2500, 0.0000]), tensor([0.1875, 0.0000]))
    """
    check_choice(kind, "kind", IOU_KINDS)
    eps = check_scalar(eps, "eps", low=0.0)
    with torch.no_grad():
        b, t = _prepare(boxes.detach(), target.detach(), box_format)
        quality = 1.0 - _pair_loss(b, t, kind, eps)
        return quality.clamp(0.0, 1.0).to(boxes.dtype)


class EfficientIoULoss(LossModule, function=efficient_iou_loss):
    pass


class ScyllaIoULoss(LossModule, function=scylla_iou_loss):
    pass


class AlphaIoULoss(LossModule, function=alpha_iou_loss):
    pass

