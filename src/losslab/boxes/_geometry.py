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


def _aspect_angle_difference(w1: torch.Tensor, h1: torch.Tensor, w2: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    # atan(w2/h2) - atan(w1/h1) as one atan2: both angles lie in [0, pi/2], so their difference is the angle of
    # the complex number (h2 + i w2)(h1 - i w1), whose real part h1 h2 + w1 w2 is >= 0. One transcendental instead
    # of two (inductor's CPU code runs atan2 scalar over the strided box columns). A point box (w = h = 0) gets
    # the angle of a square, pi/4, through a double where (atan2's gradient is 0/0 there); after that the two
    # arguments are never both 0.
    p1 = (w1 == 0) & (h1 == 0)
    p2 = (w2 == 0) & (h2 == 0)
    w1, h1 = torch.where(p1, 1.0, w1), torch.where(p1, 1.0, h1)
    w2, h2 = torch.where(p2, 1.0, w2), torch.where(p2, 1.0, h2)
    return torch.atan2(w2 * h1 - w1 * h2, h1 * h2 + w1 * w2)


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
        v = _FOUR_OVER_PI2 * _aspect_angle_difference(w1, h1, w2, h2).square()
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
