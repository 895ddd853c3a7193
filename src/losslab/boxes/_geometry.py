"""Box formats, checks, and the shared per-pair IoU/GIoU/DIoU/CIoU terms."""

from __future__ import annotations

import math

import torch

from .._checks import (
    check_choice,
    check_floating,
    check_last_dim,
    check_same_shape,
    check_scalar,
    finite_extremes,
    validation_enabled,
)
from .._numerics import upcast

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
IOU_MODES = ("linear", "square", "log")
ALPHA_MODES = ("always", "iou>0.5")
_FOUR_OVER_PI2 = 4.0 / math.pi**2


# ---------------------------------------------------------------------------------------------------------------
# checks and conversion


def _check_boxes(boxes: torch.Tensor, name: str) -> None:
    check_floating(boxes, name)
    check_last_dim(boxes, 4, name)


def _check_valid_xyxy(boxes: torch.Tensor, name: str, loss: str = "") -> None:
    """Value check: finite, x2 >= x1 and y2 >= y1 (eager mode, validation on); one host sync reads both."""
    if boxes.numel() == 0 or not validation_enabled(boxes):
        return
    b = boxes.detach()
    smallest_side = torch.minimum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]).amin()
    if finite_extremes(b, name, loss, (smallest_side,))[2] >= 0:
        return
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


def _prepare(boxes: torch.Tensor, target: torch.Tensor, box_format: str, names=("boxes", "target"), loss: str = ""):
    check_choice(box_format, "box_format", BOX_FORMATS)
    _check_boxes(boxes, names[0])
    _check_boxes(target, names[1])
    check_same_shape(boxes, target, names[0], names[1])
    b, t = upcast(boxes, target)
    if box_format != "xyxy":
        b, t = box_convert(b, box_format, "xyxy"), box_convert(t, box_format, "xyxy")
    _check_valid_xyxy(b, names[0], loss)
    _check_valid_xyxy(t, names[1], loss)
    return b, t


# ---------------------------------------------------------------------------------------------------------------
# geometry


def _ratio(num: torch.Tensor, den: torch.Tensor, eps: float, guard: bool = False) -> torch.Tensor:
    """``num / (den + eps)``; with ``eps == 0`` or ``guard``, 0 (value and gradient) where ``den <= 0``."""
    if eps > 0 and not guard:
        return num / (den + eps)
    ok = den > 0
    return torch.where(ok, num / (torch.where(ok, den, 1.0) + eps), 0.0)


def _area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _intersection_union(b1: torch.Tensor, b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`|B_1 \cap B_2|` and :math:`|B_1 \cup B_2|`; touching or separate boxes intersect in 0 (``relu``: a zero
    gradient there too, as torchvision's mask)."""
    iw = (torch.minimum(b1[..., 2], b2[..., 2]) - torch.maximum(b1[..., 0], b2[..., 0])).relu()
    ih = (torch.minimum(b1[..., 3], b2[..., 3]) - torch.maximum(b1[..., 1], b2[..., 1])).relu()
    inter = iw * ih
    return inter, _area(b1) + _area(b2) - inter


def _enclosing_size(b1: torch.Tensor, b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Width and height of :math:`C`, the smallest box enclosing both."""
    cw = torch.maximum(b1[..., 2], b2[..., 2]) - torch.minimum(b1[..., 0], b2[..., 0])
    ch = torch.maximum(b1[..., 3], b2[..., 3]) - torch.minimum(b1[..., 1], b2[..., 1])
    return cw, ch


def _centre_distance2(b1: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """:math:`\rho^2(b, b^{gt})`, the squared distance between the two centres."""
    dx = 0.5 * (b1[..., 0] + b1[..., 2] - b2[..., 0] - b2[..., 2])
    dy = 0.5 * (b1[..., 1] + b1[..., 3] - b2[..., 1] - b2[..., 3])
    return dx.square() + dy.square()


def _aspect_angle(b: torch.Tensor) -> torch.Tensor:
    """:math:`\arctan(w/h)`, as ``atan2(w, h)`` (so a line box of height 0 has :math:`\\pi/2`); a point box
    (``w = h = 0``, where the angle is 0/0) is taken as square, :math:`\\pi/4`, through a double ``where``."""
    w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    point = (w == 0) & (h == 0)
    return torch.atan2(torch.where(point, 1.0, w), torch.where(point, 1.0, h))


def _aspect_penalty(b1: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """CIoU's :math:`v = \frac{4}{\\pi^2}(\arctan(w^{gt}/h^{gt}) - \arctan(w/h))^2`."""
    return _FOUR_OVER_PI2 * (_aspect_angle(b2) - _aspect_angle(b1)).square()


def _iou(b1: torch.Tensor, b2: torch.Tensor, eps: float) -> torch.Tensor:
    inter, union = _intersection_union(b1, b2)
    return _ratio(inter, union, eps)


def _giou_penalty(b1: torch.Tensor, b2: torch.Tensor, eps: float) -> torch.Tensor:
    r""":math:`|C \setminus (B_1 \cup B_2)| / |C|`; 0 for an enclosing box of zero area (both boxes on one line),
    not a 1/eps gradient."""
    _, union = _intersection_union(b1, b2)
    cw, ch = _enclosing_size(b1, b2)
    area_c = cw * ch
    return _ratio(area_c - union, area_c, eps, guard=True)


def _diou_penalty(b1: torch.Tensor, b2: torch.Tensor, eps: float, detach_diagonal: bool = False) -> torch.Tensor:
    """:math:`\rho^2 / c^2`, with :math:`c` the diagonal of the enclosing box (held constant when
    ``detach_diagonal``, the paper's gradient)."""
    cw, ch = _enclosing_size(b1, b2)
    c2 = cw.square() + ch.square()
    return _ratio(_centre_distance2(b1, b2), c2.detach() if detach_diagonal else c2, eps)


def _ciou_tradeoff(iou: torch.Tensor, v: torch.Tensor, eps: float, alpha_mode: str = "always") -> torch.Tensor:
    """CIoU's :math:`\alpha = v / ((1 - \\mathrm{IoU}) + v)`, a constant for the gradient (as the paper)."""
    with torch.no_grad():
        den = 1.0 - iou + v + eps
        alpha = torch.where(den > 0, v / torch.where(den > 0, den, 1.0), 0.0)
        return torch.where(iou > 0.5, alpha, 0.0) if alpha_mode == "iou>0.5" else alpha


def _pair_loss(b1, b2, kind, eps, *, mode="linear", alpha_mode="always", detach_diagonal=False):
    """The unreduced ``1 - IoU (+ penalty)`` of a user-chosen ``kind`` (iou, giou, diou, ciou), composed from the
    terms above; the public losses compose them explicitly."""
    iou = _iou(b1, b2, eps)
    if kind == "iou":
        if mode == "linear":
            return 1.0 - iou
        if mode == "square":
            return 1.0 - iou.square()
        return -iou.clamp_min(max(eps, torch.finfo(iou.dtype).tiny)).log()
    if kind == "giou":
        return 1.0 - iou + _giou_penalty(b1, b2, eps)
    loss = 1.0 - iou + _diou_penalty(b1, b2, eps, detach_diagonal)
    if kind == "ciou":
        v = _aspect_penalty(b1, b2)
        loss = loss + _ciou_tradeoff(iou, v, eps, alpha_mode) * v
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
    return _iou(b1, b2, eps).to(boxes1.dtype)


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
    return _iou(b1[:, None, :], b2[None, :, :], eps).to(boxes1.dtype)
