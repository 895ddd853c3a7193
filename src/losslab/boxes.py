r"""Bounding-box regression losses (IoU, GIoU, DIoU, CIoU) and the IoU-balanced detection losses.

Boxes are ``(..., 4)`` tensors, ``(x1, y1, x2, y2)`` by default (``box_format`` converts ``xywh`` and ``cxcywh``
first). Losses pair box ``i`` of ``boxes`` with box ``i`` of ``target`` and return one value per pair.

Numerics shared by every function here:

* half precision (float16/bfloat16) is computed in float32 and returned in the input dtype;
* the intersection width ``min(x2, u2) - max(x1, u1)`` is computed as ``(w1 + w2 - |x2 - u2| - |x1 - u1|) / 2``
  and clipped with ``relu``: the same values and gradients as torchvision (ties split evenly, gradient 0 at a
  touching edge) without its boolean-mask indexing and with a cheaper backward than maximum/minimum;
* ``eps`` (default ``1e-7``, torchvision's) is added to the IoU, GIoU and DIoU denominators exactly where
  torchvision adds it, so non-degenerate pairs agree with torchvision to the last bits; ``eps=0`` gives the exact
  ratios (identical boxes give a loss of exactly 0) with a double ``where`` at zero denominators;
* degenerate boxes (zero width or height, points, identical points) give finite values and finite gradients:
  the GIoU enclosing term is guarded where the enclosing area is 0 (torchvision's gradient there is ``1/eps``),
  and CIoU takes the aspect angle with ``atan2`` behind a double ``where`` (torchvision's ``atan(w/h)`` is NaN
  for a point box);
* with validation on (the default in eager mode), a box with ``x2 < x1`` or ``y2 < y1`` raises ``ValueError``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_choice,
    check_class_indices,
    check_integer,
    check_finite,
    check_floating,
    check_in_range,
    check_last_dim,
    check_same_shape,
    check_scalar,
    validation_enabled,
)
from ._numerics import upcast
from ._reduction import reduce_loss
from .distributed import all_reduce_sum, is_distributed
from .focal import sigmoid_focal_loss
from .regression import smooth_l1_loss

__all__ = [
    "box_convert",
    "box_iou",
    "pairwise_box_iou",
    "iou_loss",
    "IoULoss",
    "generalized_box_iou_loss",
    "GeneralizedBoxIoULoss",
    "distance_box_iou_loss",
    "DistanceBoxIoULoss",
    "complete_box_iou_loss",
    "CompleteBoxIoULoss",
    "iou_balanced_sigmoid_focal_loss",
    "IoUBalancedSigmoidFocalLoss",
    "iou_balanced_softmax_cross_entropy",
    "IoUBalancedSoftmaxCrossEntropyLoss",
    "iou_balanced_smooth_l1_loss",
    "IoUBalancedSmoothL1Loss",
]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
IOU_MODES = ("linear", "square", "log")
ALPHA_MODES = ("always", "iou>0.5")
_FOUR_OVER_PI2 = 4.0 / math.pi**2


# ---------------------------------------------------------------------------------------------------------------
# checks and conversion


def _check_boxes(boxes: torch.Tensor, name: str) -> None:
    check_floating(boxes, name)
    check_last_dim(boxes, 4, name)


def _check_valid_xyxy(boxes: torch.Tensor, name: str) -> None:
    """Value check: finite, x2 >= x1 and y2 >= y1 (eager mode, validation on)."""
    if not validation_enabled() or boxes.numel() == 0:
        return
    check_finite(boxes, name)
    bad = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    if bool(bad.any()):
        example = boxes[bad][0].tolist()
        raise ValueError(
            f"{name}: expected boxes with x2 >= x1 and y2 >= y1 (xyxy), got {int(bad.sum())} invalid box(es), "
            f"e.g. {[round(v, 4) for v in example]}; boxes in (x, y, w, h) or (cx, cy, w, h) need box_format="
        )


def box_convert(boxes: torch.Tensor, in_fmt: str, out_fmt: str) -> torch.Tensor:
    r"""Convert boxes between ``"xyxy"`` (corners), ``"xywh"`` (top-left corner and size) and ``"cxcywh"``.

    Args:
        boxes: Boxes, shape ``(..., 4)``.
        in_fmt: Format of ``boxes``: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        out_fmt: Format to return.

    Returns:
        The converted boxes, same shape and dtype (differentiable).

    Raises:
        ValueError: unknown format or a last dimension other than 4.

    Example:
        >>> import torch
        >>> box_convert(torch.tensor([[1.0, 2.0, 4.0, 8.0]]), "xyxy", "cxcywh")
        tensor([[2.5000, 5.0000, 3.0000, 6.0000]])
    """
    check_choice(in_fmt, "in_fmt", BOX_FORMATS)
    check_choice(out_fmt, "out_fmt", BOX_FORMATS)
    _check_boxes(boxes, "boxes")
    if in_fmt == out_fmt:
        return boxes
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    # now xyxy
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = 0.5 * (a + c), 0.5 * (b + d), c - a, d - b
    return torch.stack((a, b, c, d), dim=-1)


def _prepare(boxes: torch.Tensor, target: torch.Tensor, box_format: str, names=("boxes", "target")):
    check_choice(box_format, "box_format", BOX_FORMATS)
    _check_boxes(boxes, names[0])
    _check_boxes(target, names[1])
    check_same_shape(boxes, target, names[0], names[1])
    b, t = upcast(boxes, target)
    if box_format != "xyxy":
        b, t = box_convert(b, box_format, "xyxy"), box_convert(t, box_format, "xyxy")
    _check_valid_xyxy(b, names[0])
    _check_valid_xyxy(t, names[1])
    return b, t


# ---------------------------------------------------------------------------------------------------------------
# geometry


def _ratio(num: torch.Tensor, den: torch.Tensor, eps: float, guard: bool = False) -> torch.Tensor:
    """``num / (den + eps)``; with ``eps == 0`` or ``guard``, 0 (value and gradient) where ``den <= 0``."""
    if eps > 0 and not guard:
        return num / (den + eps)
    ok = den > 0
    return torch.where(ok, num / (torch.where(ok, den, 1.0) + eps), 0.0)


def _box_terms(b1: torch.Tensor, b2: torch.Tensor, eps: float, kind: str, detach_diagonal: bool = False):
    """IoU and, for ``kind`` in {giou, diou, ciou}, the penalty term; returns ``(iou, penalty, extras)``."""
    x1, y1, x2, y2 = b1.unbind(-1)
    u1, v1, u2, v2 = b2.unbind(-1)
    w1, h1, w2, h2 = x2 - x1, y2 - y1, u2 - u1, v2 - v1
    # Intersection and enclosing extents without maximum/minimum (whose backward is several kernels each):
    # min(x2, u2) - max(x1, u1) = (s - d) / 2 and max(x2, u2) - min(x1, u1) = (s + d) / 2 with s = w1 + w2 and
    # d = |x2 - u2| + |x1 - u1|. abs has gradient 0 at 0, so a tie splits the gradient evenly, as torch.maximum
    # does; relu gives 0 with gradient 0 for touching or separate boxes (torchvision's mask, without indexing).
    sx, sy = w1 + w2, h1 + h2
    dx = (x2 - u2).abs() + (x1 - u1).abs()
    dy = (y2 - v2).abs() + (y1 - v1).abs()
    inter = 0.25 * ((sx - dx).relu() * (sy - dy).relu())
    union = w1 * h1 + w2 * h2 - inter
    iou = _ratio(inter, union, eps)
    if kind == "iou":
        return iou, None, None
    cw2, ch2 = sx + dx, sy + dy  # twice the enclosing box's width and height
    if kind == "giou":
        area_c = 0.25 * (cw2 * ch2)
        # guarded: an enclosing box of zero area (both boxes on one line) has penalty 0, not a 1/eps gradient.
        return iou, _ratio(area_c - union, area_c, eps, guard=True), None
    c2 = 0.25 * (cw2.square() + ch2.square())
    if detach_diagonal:
        c2 = c2.detach()
    # squared centre distance: ((x1 + x2) - (u1 + u2))^2 / 4 + same for y
    rho2 = 0.25 * ((x1 + x2 - u1 - u2).square() + (y1 + y2 - v1 - v2).square())
    penalty = _ratio(rho2, c2, eps)
    if kind == "diou":
        return iou, penalty, None
    return iou, penalty, (w1, h1, w2, h2)


def _aspect_angle(w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    # atan2(w, h) == atan(w / h) for h > 0 and pi/2 at h = 0; a point box (w = h = 0) gets the angle of a
    # square, pi/4, through a double where (atan2's gradient is 0/0 there).
    point = (w == 0) & (h == 0)
    return torch.atan2(torch.where(point, 1.0, w), torch.where(point, 1.0, h))


def _pair_loss(b1, b2, kind, eps, *, mode="linear", alpha_mode="always", detach_diagonal=False):
    """The unreduced loss of each pair (``kind``: iou, giou, diou or ciou)."""
    iou, penalty, extras = _box_terms(b1, b2, eps, kind, detach_diagonal)
    if kind == "iou":
        if mode == "linear":
            return 1.0 - iou
        if mode == "square":
            return 1.0 - iou.square()
        return -iou.clamp_min(max(eps, torch.finfo(iou.dtype).tiny)).log()
    loss = 1.0 - iou + penalty
    if kind == "ciou":
        w1, h1, w2, h2 = extras
        v = _FOUR_OVER_PI2 * (_aspect_angle(w2, h2) - _aspect_angle(w1, h1)).square()
        with torch.no_grad():
            den = 1.0 - iou + v + eps
            alpha = torch.where(den > 0, v / torch.where(den > 0, den, 1.0), 0.0)
            if alpha_mode == "iou>0.5":
                alpha = torch.where(iou > 0.5, alpha, 0.0)
        loss = loss + alpha * v
    return loss


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor, *, box_format: str = "xyxy", eps: float = 0.0) -> torch.Tensor:
    r"""Intersection over union of matched box pairs: box ``i`` of ``boxes1`` with box ``i`` of ``boxes2``.

    .. math::
        \mathrm{IoU} = \frac{|B_1 \cap B_2|}{|B_1 \cup B_2| + \epsilon}

    Args:
        boxes1: Boxes, shape ``(..., 4)``.
        boxes2: Boxes, same shape as ``boxes1``.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        eps: Added to the union, ``>= 0``. With 0 (the default) the ratio is exact and a pair of zero-area boxes
            has IoU 0.

    Returns:
        IoU of each pair, shape ``(...)``, in the input dtype.

    Raises:
        ValueError: last dimension not 4, shapes differ, unknown format, or (validation on) a box with x2 < x1.

    Example:
        >>> import torch
        >>> box_iou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[0.0, 0.0, 1.0, 1.0]]))
        tensor([0.2500])
    """
    eps = check_scalar(eps, "eps", low=0.0)
    b1, b2 = _prepare(boxes1, boxes2, box_format, ("boxes1", "boxes2"))
    return _box_terms(b1, b2, eps, "iou")[0].to(boxes1.dtype)


def pairwise_box_iou(
    boxes1: torch.Tensor, boxes2: torch.Tensor, *, box_format: str = "xyxy", eps: float = 0.0
) -> torch.Tensor:
    r"""IoU of every box in ``boxes1`` with every box in ``boxes2`` (the matching matrix of a detector).

    Args:
        boxes1: Boxes, shape ``(N, 4)``.
        boxes2: Boxes, shape ``(M, 4)``.
        box_format: ``"xyxy"`` | ``"xywh"`` | ``"cxcywh"``.
        eps: Added to the union, ``>= 0`` (see :func:`box_iou`).

    Returns:
        ``(N, M)`` IoU matrix in the input dtype.

    Raises:
        ValueError: a tensor is not ``(K, 4)``, unknown format, or (validation on) a box with x2 < x1.

    Example:
        >>> import torch
        >>> a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
        >>> b = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 6.0, 6.0]])
        >>> pairwise_box_iou(a, b)
        tensor([[1.0000, 0.1429, 0.0000]])
    """
    eps = check_scalar(eps, "eps", low=0.0)
    check_choice(box_format, "box_format", BOX_FORMATS)
    for x, name in ((boxes1, "boxes1"), (boxes2, "boxes2")):
        _check_boxes(x, name)
        if x.ndim != 2:
            raise ValueError(f"{name}: expected shape (K, 4), got {tuple(x.shape)}")
    b1, b2 = upcast(boxes1, boxes2)
    if box_format != "xyxy":
        b1, b2 = box_convert(b1, box_format, "xyxy"), box_convert(b2, box_format, "xyxy")
    _check_valid_xyxy(b1, "boxes1")
    _check_valid_xyxy(b2, "boxes2")
    return _box_terms(b1[:, None, :], b2[None, :, :], eps, "iou")[0].to(boxes1.dtype)


# ---------------------------------------------------------------------------------------------------------------
# IoU-family losses


def iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: str = "linear",
    eps: float = 1e-7,
    box_format: str = "xyxy",
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the per-pair loss ``(...)``.
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
    check_choice(mode, "mode", IOU_MODES)
    eps = check_scalar(eps, "eps", low=0.0)
    b, t = _prepare(boxes, target, box_format)
    loss = _pair_loss(b, t, "iou", eps, mode=mode)
    return reduce_loss(loss, reduction, weight, dtype=boxes.dtype)


def generalized_box_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    box_format: str = "xyxy",
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the per-pair loss ``(...)``.
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
    eps = check_scalar(eps, "eps", low=0.0)
    b, t = _prepare(boxes, target, box_format)
    return reduce_loss(_pair_loss(b, t, "giou", eps), reduction, weight, dtype=boxes.dtype)


def distance_box_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    detach_diagonal: bool = False,
    box_format: str = "xyxy",
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the per-pair loss ``(...)``.
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
    eps = check_scalar(eps, "eps", low=0.0)
    _check_bool(detach_diagonal, "detach_diagonal")
    b, t = _prepare(boxes, target, box_format)
    loss = _pair_loss(b, t, "diou", eps, detach_diagonal=detach_diagonal)
    return reduce_loss(loss, reduction, weight, dtype=boxes.dtype)


def complete_box_iou_loss(
    boxes: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    alpha_mode: str = "always",
    detach_diagonal: bool = False,
    box_format: str = "xyxy",
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the per-pair loss ``(...)``.
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
    eps = check_scalar(eps, "eps", low=0.0)
    check_choice(alpha_mode, "alpha_mode", ALPHA_MODES)
    _check_bool(detach_diagonal, "detach_diagonal")
    b, t = _prepare(boxes, target, box_format)
    loss = _pair_loss(b, t, "ciou", eps, alpha_mode=alpha_mode, detach_diagonal=detach_diagonal)
    return reduce_loss(loss, reduction, weight, dtype=boxes.dtype)


def _check_bool(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")


class IoULoss(nn.Module):
    """Module form of :func:`iou_loss`."""

    def __init__(self, *, mode: str = "linear", eps: float = 1e-7, box_format: str = "xyxy", reduction: str = "mean") -> None:
        super().__init__()
        self.mode = check_choice(mode, "mode", IOU_MODES)
        self.eps = check_scalar(eps, "eps", low=0.0)
        self.box_format = check_choice(box_format, "box_format", BOX_FORMATS)
        self.reduction = reduction

    def forward(self, boxes: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return iou_loss(boxes, target, mode=self.mode, eps=self.eps, box_format=self.box_format, weight=weight,
                        reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, eps={self.eps}, box_format={self.box_format!r}, reduction={self.reduction!r}"


class GeneralizedBoxIoULoss(nn.Module):
    """Module form of :func:`generalized_box_iou_loss`."""

    def __init__(self, *, eps: float = 1e-7, box_format: str = "xyxy", reduction: str = "mean") -> None:
        super().__init__()
        self.eps = check_scalar(eps, "eps", low=0.0)
        self.box_format = check_choice(box_format, "box_format", BOX_FORMATS)
        self.reduction = reduction

    def forward(self, boxes: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return generalized_box_iou_loss(boxes, target, eps=self.eps, box_format=self.box_format, weight=weight,
                                        reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, box_format={self.box_format!r}, reduction={self.reduction!r}"


class DistanceBoxIoULoss(nn.Module):
    """Module form of :func:`distance_box_iou_loss`."""

    def __init__(self, *, eps: float = 1e-7, detach_diagonal: bool = False, box_format: str = "xyxy",
                 reduction: str = "mean") -> None:
        super().__init__()
        self.eps = check_scalar(eps, "eps", low=0.0)
        _check_bool(detach_diagonal, "detach_diagonal")
        self.detach_diagonal = detach_diagonal
        self.box_format = check_choice(box_format, "box_format", BOX_FORMATS)
        self.reduction = reduction

    def forward(self, boxes: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return distance_box_iou_loss(boxes, target, eps=self.eps, detach_diagonal=self.detach_diagonal,
                                     box_format=self.box_format, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"eps={self.eps}, detach_diagonal={self.detach_diagonal}, box_format={self.box_format!r}, "
                f"reduction={self.reduction!r}")


class CompleteBoxIoULoss(nn.Module):
    """Module form of :func:`complete_box_iou_loss`."""

    def __init__(self, *, eps: float = 1e-7, alpha_mode: str = "always", detach_diagonal: bool = False,
                 box_format: str = "xyxy", reduction: str = "mean") -> None:
        super().__init__()
        self.eps = check_scalar(eps, "eps", low=0.0)
        self.alpha_mode = check_choice(alpha_mode, "alpha_mode", ALPHA_MODES)
        _check_bool(detach_diagonal, "detach_diagonal")
        self.detach_diagonal = detach_diagonal
        self.box_format = check_choice(box_format, "box_format", BOX_FORMATS)
        self.reduction = reduction

    def forward(self, boxes: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return complete_box_iou_loss(boxes, target, eps=self.eps, alpha_mode=self.alpha_mode,
                                     detach_diagonal=self.detach_diagonal, box_format=self.box_format,
                                     weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"eps={self.eps}, alpha_mode={self.alpha_mode!r}, detach_diagonal={self.detach_diagonal}, "
                f"box_format={self.box_format!r}, reduction={self.reduction!r}")


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


def _reduce(loss, reduction, weight, normalizer, distributed, dtype):
    """``reduce_loss``; with ``distributed`` the ``"mean"`` denominator is summed over the processes."""
    if reduction == "mean" and distributed and is_distributed():
        if normalizer is None:
            den = torch.broadcast_to(weight, loss.shape).sum() if weight is not None else loss.numel()
        else:
            den = normalizer
        den = torch.as_tensor(den, dtype=loss.dtype, device=loss.device).detach()
        normalizer = all_reduce_sum(den.clone(), enabled=True)
    return reduce_loss(loss, reduction, weight, normalizer=normalizer, dtype=dtype)


def _check_normalizer(normalizer) -> None:
    if normalizer is None or isinstance(normalizer, torch.Tensor):
        return
    check_scalar(normalizer, "normalizer", low=0.0)


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
    weight: torch.Tensor | None = None,
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
            the (weighted) elements.
        distributed: All-reduce the renormalization sums (and the ``"mean"`` denominator) over the processes
            of ``torch.distributed``, so N shards give the whole batch's loss (summed) and gradients.
        weight: Optional weights broadcastable to ``logits``; they also weight the renormalization sums.
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
    eta = check_scalar(eta, "eta", low=0.0)
    gamma = check_scalar(gamma, "gamma", low=0.0)
    if alpha is not None:
        alpha = check_scalar(alpha, "alpha", low=0.0, high=1.0)
    _check_bool(distributed, "distributed")
    _check_normalizer(normalizer)
    check_floating(logits, "logits")
    check_floating(target, "target")
    check_same_shape(logits, target, "logits", "target")
    if logits.ndim < 1:
        raise ValueError(f"logits: expected shape (N, C, *), got {tuple(logits.shape)}")
    iou_shape = logits.shape[:1] + logits.shape[2:]
    _check_ious(ious, iou_shape, "logits' shape without the class dim 1")
    x, t, u = upcast(logits, target, ious)
    base = sigmoid_focal_loss(x, t, gamma=gamma, alpha=alpha, reduction="none")
    u = u.detach().clamp(0.0, 1.0)
    u = u.unsqueeze(1) if logits.ndim > 1 else u
    iou_pow = u.pow(eta).expand_as(base)
    w = weight.to(base.dtype) if weight is not None else None
    factors = _renormalized_weights(base, t > 0, iou_pow, w, distributed)
    return _reduce(base * factors, reduction, weight, normalizer, distributed, logits.dtype)


def iou_balanced_softmax_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    ious: torch.Tensor,
    *,
    eta: float = 1.5,
    background_index: int = 0,
    normalizer: torch.Tensor | float | None = None,
    distributed: bool = False,
    weight: torch.Tensor | None = None,
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
            code (``avg_factor`` = number of sampled RoIs).
        distributed: All-reduce the renormalization sums and the ``"mean"`` denominator.
        weight: Optional weights broadcastable to the per-sample loss ``(N, *)``.
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
    eta = check_scalar(eta, "eta", low=0.0)
    _check_bool(distributed, "distributed")
    _check_normalizer(normalizer)
    check_floating(logits, "logits")
    if logits.ndim < 2:
        raise ValueError(f"logits: expected shape (N, C, *) with at least 2 dims, got {tuple(logits.shape)}")
    check_integer(target, "target")
    shape = logits.shape[:1] + logits.shape[2:]
    if tuple(target.shape) != tuple(shape):
        raise ValueError(f"target: expected shape {tuple(shape)} (logits' without the class dim), got {tuple(target.shape)}")
    num_classes = logits.shape[1]
    if isinstance(background_index, bool) or not isinstance(background_index, int) or not 0 <= background_index < num_classes:
        raise ValueError(f"background_index: expected an int in [0, {num_classes - 1}], got {background_index!r}")
    check_class_indices(target, num_classes)
    _check_ious(ious, shape, "one per sample")
    x, u = upcast(logits, ious)
    base = F.cross_entropy(x, target, reduction="none")
    iou_pow = u.detach().clamp(0.0, 1.0).pow(eta)
    w = weight.to(base.dtype) if weight is not None else None
    factors = _renormalized_weights(base, target != background_index, iou_pow, w, distributed)
    return _reduce(base * factors, reduction, weight, normalizer, distributed, logits.dtype)


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
    weight: torch.Tensor | None = None,
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
        normalizer: Denominator of ``"mean"`` instead of the (weighted) number of boxes.
        distributed: All-reduce the ``"mean"`` denominator over the processes.
        weight: Optional weights broadcastable to the per-box loss ``(...)``.
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
    lam = check_scalar(lam, "lam", low=0.0)
    beta = check_scalar(beta, "beta", low=0.0)
    loc_weight = check_scalar(loc_weight, "loc_weight", low=0.0, low_inclusive=False)
    _check_bool(distributed, "distributed")
    _check_normalizer(normalizer)
    check_floating(pred, "pred")
    check_last_dim(pred, 4, "pred")
    _check_ious(ious, pred.shape[:-1], "pred's shape without the last dim")
    per_coord = smooth_l1_loss(pred, target, beta=beta, reduction="none")
    p, u = upcast(per_coord, ious)
    loss = loc_weight * u.detach().clamp(0.0, 1.0).pow(lam) * p.sum(-1)
    return _reduce(loss, reduction, weight, normalizer, distributed, pred.dtype)


class IoUBalancedSigmoidFocalLoss(nn.Module):
    """Module form of :func:`iou_balanced_sigmoid_focal_loss`."""

    def __init__(self, *, eta: float = 1.5, gamma: float = 2.0, alpha: float | None = 0.25,
                 distributed: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        self.eta = check_scalar(eta, "eta", low=0.0)
        self.gamma = check_scalar(gamma, "gamma", low=0.0)
        self.alpha = None if alpha is None else check_scalar(alpha, "alpha", low=0.0, high=1.0)
        _check_bool(distributed, "distributed")
        self.distributed = distributed
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor, ious: torch.Tensor,
                weight: torch.Tensor | None = None, normalizer: torch.Tensor | float | None = None) -> torch.Tensor:
        return iou_balanced_sigmoid_focal_loss(logits, target, ious, eta=self.eta, gamma=self.gamma, alpha=self.alpha,
                                               normalizer=normalizer, distributed=self.distributed, weight=weight,
                                               reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"eta={self.eta}, gamma={self.gamma}, alpha={self.alpha}, distributed={self.distributed}, "
                f"reduction={self.reduction!r}")


class IoUBalancedSoftmaxCrossEntropyLoss(nn.Module):
    """Module form of :func:`iou_balanced_softmax_cross_entropy`."""

    def __init__(self, *, eta: float = 1.5, background_index: int = 0, distributed: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.eta = check_scalar(eta, "eta", low=0.0)
        if isinstance(background_index, bool) or not isinstance(background_index, int) or background_index < 0:
            raise ValueError(f"background_index: expected a non-negative int, got {background_index!r}")
        self.background_index = background_index
        _check_bool(distributed, "distributed")
        self.distributed = distributed
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor, ious: torch.Tensor,
                weight: torch.Tensor | None = None, normalizer: torch.Tensor | float | None = None) -> torch.Tensor:
        return iou_balanced_softmax_cross_entropy(logits, target, ious, eta=self.eta,
                                                  background_index=self.background_index, normalizer=normalizer,
                                                  distributed=self.distributed, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"eta={self.eta}, background_index={self.background_index}, distributed={self.distributed}, "
                f"reduction={self.reduction!r}")


class IoUBalancedSmoothL1Loss(nn.Module):
    """Module form of :func:`iou_balanced_smooth_l1_loss`."""

    def __init__(self, *, lam: float = 1.5, beta: float = 0.11, loc_weight: float = 1.0, distributed: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.lam = check_scalar(lam, "lam", low=0.0)
        self.beta = check_scalar(beta, "beta", low=0.0)
        self.loc_weight = check_scalar(loc_weight, "loc_weight", low=0.0, low_inclusive=False)
        _check_bool(distributed, "distributed")
        self.distributed = distributed
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, ious: torch.Tensor,
                weight: torch.Tensor | None = None, normalizer: torch.Tensor | float | None = None) -> torch.Tensor:
        return iou_balanced_smooth_l1_loss(pred, target, ious, lam=self.lam, beta=self.beta,
                                           loc_weight=self.loc_weight, normalizer=normalizer,
                                           distributed=self.distributed, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"lam={self.lam}, beta={self.beta}, loc_weight={self.loc_weight}, distributed={self.distributed}, "
                f"reduction={self.reduction!r}")
