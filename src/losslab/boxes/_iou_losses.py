"""IoU-family losses: IoU, GIoU, DIoU, CIoU (functions and modules)."""

from __future__ import annotations

import torch

from .._checks import check_bool, check_choice, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._reduction import reduce_loss
from ._geometry import (
    ALPHA_MODES,
    BOX_FORMATS,
    IOU_MODES,
    _aspect_penalty,
    _ciou_tradeoff,
    _diou_penalty,
    _giou_penalty,
    _iou,
    _prepare,
)

# ---------------------------------------------------------------------------------------------------------------
# IoU-family losses


def _check_hyperparameters(
    *,
    eps: float,
    mode: str = "linear",
    alpha_mode: str = "always",
    detach_diagonal: bool = False,
    box_format: str = "xyxy",
    **_: object,
) -> float:
    """The IoU losses' hyperparameter checks (those a loss does not take keep their valid defaults); returns
    ``eps`` as a float."""
    check_choice(mode, "mode", IOU_MODES)
    check_choice(alpha_mode, "alpha_mode", ALPHA_MODES)
    check_bool(detach_diagonal, "detach_diagonal")
    check_choice(box_format, "box_format", BOX_FORMATS)
    return check_scalar(eps, "eps", low=0.0)


@renamed_arguments(weight="sample_weight")
def iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: str = "linear",
    eps: float = 1e-7,
    box_format: str = "xyxy",
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""IoU loss for box regression: ``1 - IoU`` (UnitBox), its square, or ``-log IoU``.

    The loss depends on the boxes only through their overlap, so it is scale invariant, but it is flat (zero
    gradient) for boxes that do not overlap [Yu2016]_:

    .. math::
        \ell = 1 - \mathrm{IoU} \;(\texttt{linear}), \quad 1 - \mathrm{IoU}^2 \;(\texttt{square}),
        \quad -\log \max(\mathrm{IoU}, \epsilon) \;(\texttt{log})

    Args:
        boxes: Predicted boxes, shape ``(..., 4)``.
        target: Target boxes, same shape.
        mode: ``"linear"`` | ``"square"`` | ``"log"`` (mmdetection's names).
        eps: Added to the union (and the floor of IoU in ``log`` mode), ``>= 0``; ``1e-7`` as torchvision.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        sample_weight: Optional per-element weights broadcastable to the per-pair loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-pair loss ``(...)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shape, format, mode or eps; with validation on, a box with x2 < x1.

    Note:
        ``log`` mode floors IoU at ``eps`` (or the dtype's smallest normal number when ``eps=0``), so
        non-overlapping pairs give a large finite loss with zero gradient.

    Example:
        >>> import torch
        >>> b, t = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[0.0, 0.0, 1.0, 1.0]])
        >>> iou_loss(b, t, eps=0.0), iou_loss(b, t, mode="square", eps=0.0)
        (tensor(0.7500), tensor(0.9375))

    References:
        .. [Yu2016] J. Yu, Y. Jiang, Z. Wang, Z. Cao, T. Huang. "UnitBox: An Advanced Object Detection Network."
           ACM MM 2016. https://arxiv.org/abs/1608.01471
    """
    eps = _check_hyperparameters(eps=eps, mode=mode)
    b, t = _prepare(boxes, target, box_format, loss="iou_loss")
    iou = _iou(b, t, eps)
    if mode == "linear":
        loss = 1.0 - iou
    elif mode == "square":
        loss = 1.0 - iou.square()
    else:  # "log": -log IoU, with IoU held above eps (and above 0 when eps is 0)
        loss = -iou.clamp_min(max(eps, torch.finfo(iou.dtype).tiny)).log()
    return reduce_loss(loss, reduction, sample_weight, dtype=boxes.dtype)


@renamed_arguments(weight="sample_weight")
def generalized_box_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    box_format: str = "xyxy",
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Generalized IoU loss: ``1 - IoU`` plus the share of the enclosing box not covered by the union.

    The extra term keeps a gradient for non-overlapping boxes (it pulls them together), which the IoU loss
    lacks [Rezatofighi2019]_. With :math:`C` the smallest box enclosing both:

    .. math::
        \ell = 1 - \mathrm{IoU} + \frac{|C| - |B \cup B^{gt}|}{|C| + \epsilon} \in [0, 2)

    Args:
        boxes: Predicted boxes, shape ``(..., 4)``.
        target: Target boxes, same shape.
        eps: Added to the union and to :math:`|C|`, ``>= 0``; ``1e-7`` as torchvision.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        sample_weight: Optional per-element weights broadcastable to the per-pair loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-pair loss ``(...)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shape, format or eps; with validation on, a box with x2 < x1.

    Note:
        Equal to ``torchvision.ops.generalized_box_iou_loss`` for boxes with a non-zero enclosing area. Where
        :math:`|C| = 0` (both boxes on one line) the second term is 0 with gradient 0 (torchvision: value 0,
        gradient ``1/eps``).

    Example:
        >>> import torch
        >>> b = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
        >>> generalized_box_iou_loss(b, torch.tensor([[1.0, 1.0, 2.0, 2.0]]), eps=0.0)
        tensor(1.5000)

    References:
        .. [Rezatofighi2019] H. Rezatofighi, N. Tsoi, J. Gwak, A. Sadeghian, I. Reid, S. Savarese. "Generalized
           Intersection over Union: A Metric and a Loss for Bounding Box Regression." CVPR 2019.
           https://arxiv.org/abs/1902.09630
    """
    eps = _check_hyperparameters(eps=eps)
    b, t = _prepare(boxes, target, box_format, loss="generalized_box_iou_loss")
    loss = 1.0 - _iou(b, t, eps) + _giou_penalty(b, t, eps)
    return reduce_loss(loss, reduction, sample_weight, dtype=boxes.dtype)


@renamed_arguments(weight="sample_weight")
def distance_box_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    detach_diagonal: bool = False,
    box_format: str = "xyxy",
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Distance-IoU loss: ``1 - IoU`` plus the squared centre distance over the enclosing box's squared diagonal.

    The penalty pulls the centres together directly, so it converges faster than GIoU, also for nested boxes
    where GIoU reduces to IoU [Zheng2020]_. With :math:`\rho` the distance between the centres and :math:`c`
    the diagonal of the smallest enclosing box:

    .. math::
        \ell = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon} \in [0, 2)

    Args:
        boxes: Predicted boxes, shape ``(..., 4)``.
        target: Target boxes, same shape.
        eps: Added to the union and to :math:`c^2`, ``>= 0``; ``1e-7`` as torchvision.
        detach_diagonal: Treat :math:`c^2` as a constant in the backward pass (the value is unchanged).
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        sample_weight: Optional per-element weights broadcastable to the per-pair loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-pair loss ``(...)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shape, format or eps; with validation on, a box with x2 < x1.

    Note:
        The default gradient is the exact gradient of the returned value (``detach_diagonal=False``), as in
        torchvision and mmdetection: it is what gradcheck verifies and what a detector trained with autograd
        receives. It includes :math:`-\rho^2 \nabla c^2 / c^4`, which for far-apart boxes pushes the boxes to
        grow the enclosing box. The paper's gradient (its simulation differentiates :math:`\rho^2` only, with
        :math:`c` fixed) is ``detach_diagonal=True``: it moves the centres straight to the target and converges
        faster in the simulation (``losslab reproduce box-regression`` shows both).

    Example:
        >>> import torch
        >>> b = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
        >>> distance_box_iou_loss(b, torch.tensor([[1.0, 1.0, 2.0, 2.0]]), eps=0.0)
        tensor(1.2500)

    References:
        .. [Zheng2020] Z. Zheng, P. Wang, W. Liu, J. Li, R. Ye, D. Ren. "Distance-IoU Loss: Faster and Better
           Learning for Bounding Box Regression." AAAI 2020. https://arxiv.org/abs/1911.08287
    """
    eps = _check_hyperparameters(eps=eps, detach_diagonal=detach_diagonal)
    b, t = _prepare(boxes, target, box_format, loss="distance_box_iou_loss")
    loss = 1.0 - _iou(b, t, eps) + _diou_penalty(b, t, eps, detach_diagonal)
    return reduce_loss(loss, reduction, sample_weight, dtype=boxes.dtype)


@renamed_arguments(weight="sample_weight")
def complete_box_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    alpha_mode: str = "always",
    detach_diagonal: bool = False,
    box_format: str = "xyxy",
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Complete-IoU loss: the DIoU loss plus an aspect-ratio consistency term.

    Adds to :func:`distance_box_iou_loss` a penalty on the difference of the boxes' aspect angles, weighted by
    a trade-off :math:`\alpha` that is treated as a constant in the gradient [Zheng2020b]_:

    .. math::
        \ell = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon} + \alpha v, \quad
        v = \frac{4}{\pi^2}\Big(\arctan\frac{w^{gt}}{h^{gt}} - \arctan\frac{w}{h}\Big)^2, \quad
        \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}

    Args:
        boxes: Predicted boxes, shape ``(..., 4)``.
        target: Target boxes, same shape.
        eps: Added to the union, to :math:`c^2` and to :math:`\alpha`'s denominator, ``>= 0``.
        alpha_mode: ``"always"`` (default: the AAAI paper's and torchvision's :math:`\alpha`) or ``"iou>0.5"``
            (mmdetection's: :math:`\alpha = 0` unless IoU > 0.5, from the paper's journal version).
        detach_diagonal: Treat :math:`c^2` as a constant in backward (see :func:`distance_box_iou_loss`).
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        sample_weight: Optional per-element weights broadcastable to the per-pair loss ``(...)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-pair loss ``(...)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: bad shape, format, eps or alpha_mode; with validation on, a box with x2 < x1.

    Note:
        The angle is ``atan2(w, h)``, equal to ``atan(w / h)`` for ``h > 0`` (so values match torchvision) and
        defined at ``h = 0`` (pi/2) and for a point box (pi/4, a square's angle, through a double ``where``);
        torchvision returns NaN for a point box and a NaN gradient for a zero-height box. ``eps`` enters every
        denominator here as in the other losses; torchvision's ``complete_box_iou_loss`` passes its ``eps`` only
        to alpha (its IoU and DIoU parts keep 1e-7), so the two differ when eps is not the default. The alpha term
        is a constant in backward (paper and torchvision), so gradcheck of this loss holds only where v = 0;
        tests/test_boxes.py checks the gradient against a fixed-alpha form. mmdetection's CIoU
        also adds its eps to ``h`` and clamps ``1 - loss`` to [-1, 1]; the clamp never binds for valid boxes
        under ``"iou>0.5"``, so it is left out.

    Example:
        >>> import torch
        >>> b = torch.tensor([[0.0, 1.0, 4.0, 3.0]])
        >>> complete_box_iou_loss(b, torch.tensor([[1.0, 0.0, 3.0, 4.0]]), eps=0.0)
        tensor(0.7004)

    References:
        .. [Zheng2020b] Z. Zheng, P. Wang, W. Liu, J. Li, R. Ye, D. Ren. "Distance-IoU Loss: Faster and Better
           Learning for Bounding Box Regression." AAAI 2020. https://arxiv.org/abs/1911.08287
    """
    eps = _check_hyperparameters(eps=eps, alpha_mode=alpha_mode, detach_diagonal=detach_diagonal)
    b, t = _prepare(boxes, target, box_format, loss="complete_box_iou_loss")
    iou = _iou(b, t, eps)
    v = _aspect_penalty(b, t)
    loss = 1.0 - iou + _diou_penalty(b, t, eps, detach_diagonal) + _ciou_tradeoff(iou, v, eps, alpha_mode) * v
    return reduce_loss(loss, reduction, sample_weight, dtype=boxes.dtype)


class IoULoss(LossModule, function=iou_loss, validate=_check_hyperparameters):
    pass


class GeneralizedBoxIoULoss(LossModule, function=generalized_box_iou_loss, validate=_check_hyperparameters):
    pass


class DistanceBoxIoULoss(LossModule, function=distance_box_iou_loss, validate=_check_hyperparameters):
    pass


class CompleteBoxIoULoss(LossModule, function=complete_box_iou_loss, validate=_check_hyperparameters):
    pass
