"""Differential tests of the IoU box losses against float64 references written from the papers.

For boxes :math:`B = (x_1, y_1, x_2, y_2)` and :math:`B^{gt}`, with plain ``max``/``min`` geometry in float64:

* IoU (UnitBox, Yu et al. 2016): :math:`\\mathrm{IoU} = |B\\cap B^{gt}| / (|B\\cup B^{gt}| + \\epsilon)`; the loss
  :math:`1 - \\mathrm{IoU}`, :math:`1 - \\mathrm{IoU}^2` or :math:`-\\log\\max(\\mathrm{IoU}, \\epsilon)`;
* GIoU (Rezatofighi et al. 2019): :math:`1 - \\mathrm{IoU} + (|C| - |B\\cup B^{gt}|)/(|C| + \\epsilon)`, :math:`C`
  the smallest enclosing box;
* DIoU (Zheng et al. 2020): :math:`1 - \\mathrm{IoU} + \\rho^2/(c^2 + \\epsilon)`, :math:`\\rho` the centre
  distance, :math:`c` the enclosing box's diagonal (optionally a constant in backward: ``detach_diagonal``);
* CIoU (same paper): DIoU :math:`+ \\alpha v`, :math:`v = \\frac{4}{\\pi^2}(\\arctan\\frac{w^{gt}}{h^{gt}} -
  \\arctan\\frac{w}{h})^2`, :math:`\\alpha = v/(1 - \\mathrm{IoU} + v + \\epsilon)` a constant in backward, 0 unless
  IoU > 0.5 with ``alpha_mode="iou>0.5"``.

Documented conventions for degenerate boxes, used by the references: a ratio whose denominator is 0 (with
``eps=0``, or an enclosing box of zero area in GIoU) is 0; :math:`\\arctan(w/h)` is ``atan2(w, h)`` (pi/2 at
h = 0) and pi/4 for a point box. hypothesis draws boxes of many sizes and positions, overlapping, nested and
disjoint, every box format, ``eps`` 0 or 1e-7, float32 and float64; values and gradients are compared for boxes
in general position, and for degenerate boxes (zero width or height, points, identical, touching) values are
compared and values and gradients must be finite.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from losslab import complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss, iou_loss

F64 = torch.float64
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _to_xyxy(b, fmt):
    a, c, d, e = b.unbind(-1)
    if fmt == "xywh":
        return torch.stack((a, c, a + d, c + e), -1)
    if fmt == "cxcywh":
        return torch.stack((a - d / 2, c - e / 2, a + d / 2, c + e / 2), -1)
    return b


def _from_xyxy(b, fmt):
    x1, y1, x2, y2 = b.unbind(-1)
    if fmt == "xywh":
        return torch.stack((x1, y1, x2 - x1, y2 - y1), -1)
    if fmt == "cxcywh":
        return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), -1)
    return b


def _div0(num, den):
    """num / den, 0 where den = 0 (no NaN in the gradient)."""
    ok = den > 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def _angle(w, h):
    point = (w == 0) & (h == 0)
    return torch.where(point, math.pi / 4, torch.atan2(torch.where(point, 1.0, w), torch.where(point, 1.0, h)))


def reference(b, t, kind, *, eps, mode="linear", alpha_mode="always", detach_diagonal=False, fmt="xyxy"):
    b, t = _to_xyxy(b, fmt), _to_xyxy(t, fmt)
    x1, y1, x2, y2 = b.unbind(-1)
    u1, v1, u2, v2 = t.unbind(-1)
    w1, h1, w2, h2 = x2 - x1, y2 - y1, u2 - u1, v2 - v1
    iw = (torch.minimum(x2, u2) - torch.maximum(x1, u1)).clamp_min(0)
    ih = (torch.minimum(y2, v2) - torch.maximum(y1, v1)).clamp_min(0)
    inter = iw * ih
    union = w1 * h1 + w2 * h2 - inter
    iou = inter / (union + eps) if eps > 0 else _div0(inter, union)
    if kind == "iou":
        if mode == "linear":
            return 1 - iou
        if mode == "square":
            return 1 - iou**2
        return -torch.log(iou.clamp_min(max(eps, torch.finfo(F64).tiny)))
    cw = torch.maximum(x2, u2) - torch.minimum(x1, u1)
    ch = torch.maximum(y2, v2) - torch.minimum(y1, v1)
    if kind == "giou":
        area_c = cw * ch
        ok = area_c > 0
        penalty = torch.where(ok, (area_c - union) / (torch.where(ok, area_c, 1.0) + eps), 0.0)
        return 1 - iou + penalty
    c2 = cw**2 + ch**2
    if detach_diagonal:
        c2 = c2.detach()
    rho2 = ((x1 + x2 - u1 - u2) / 2) ** 2 + ((y1 + y2 - v1 - v2) / 2) ** 2
    penalty = rho2 / (c2 + eps) if eps > 0 else _div0(rho2, c2)
    loss = 1 - iou + penalty
    if kind == "diou":
        return loss
    v = 4 / math.pi**2 * (_angle(w2, h2) - _angle(w1, h1)) ** 2
    with torch.no_grad():
        alpha = _div0(v, 1 - iou + v + eps)
        if alpha_mode == "iou>0.5":
            alpha = torch.where(iou > 0.5, alpha, 0.0)
    return loss + alpha * v


LOSSES = {
    "iou": lambda b, t, **kw: iou_loss(b, t, **kw),
    "giou": lambda b, t, **kw: generalized_box_iou_loss(b, t, **kw),
    "diou": lambda b, t, **kw: distance_box_iou_loss(b, t, **kw),
    "ciou": lambda b, t, **kw: complete_box_iou_loss(b, t, **kw),
}


def _options(draw, kind):
    opts = {}
    if kind == "iou":
        opts["mode"] = draw(st.sampled_from(["linear", "square", "log"]))
    if kind in ("diou", "ciou"):
        opts["detach_diagonal"] = draw(st.booleans())
    if kind == "ciou":
        opts["alpha_mode"] = draw(st.sampled_from(["always", "iou>0.5"]))
    return opts


@st.composite
def _general_boxes(draw):
    """Pairs in general position: no ties between coordinates, positive sizes."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    n = draw(st.integers(1, 8))
    size = draw(st.sampled_from([1e-2, 1.0, 30.0, 1e3]))
    relation = draw(st.sampled_from(["near", "nested", "far", "mixed"]))
    c = torch.randn(n, 2, generator=g, dtype=F64) * size
    wh = torch.exp(torch.randn(n, 2, generator=g, dtype=F64) * 0.7) * size
    b = torch.cat((c - wh / 2, c + wh / 2), -1)
    if relation == "near":
        jitter = torch.randn(n, 4, generator=g, dtype=F64) * 0.2 * size
        t = b + jitter
    elif relation == "nested":
        t = torch.cat((c - wh / 4, c + wh / 3), -1)
    elif relation == "far":
        t = b + torch.tensor([5.0, -7.0, 5.0, -7.0], dtype=F64) * size
    else:
        c2 = torch.randn(n, 2, generator=g, dtype=F64) * size
        wh2 = torch.exp(torch.randn(n, 2, generator=g, dtype=F64) * 0.7) * size
        t = torch.cat((c2 - wh2 / 2, c2 + wh2 / 2), -1)
    t = torch.cat((torch.minimum(t[:, :2], t[:, 2:]), torch.maximum(t[:, :2], t[:, 2:])), -1)
    kind = draw(st.sampled_from(list(LOSSES)))
    return b, t, kind, _options(draw, kind), draw(st.sampled_from([0.0, 1e-7])), size


@SETTINGS
@given(_general_boxes(), st.sampled_from([torch.float32, torch.float64]), st.sampled_from(["xyxy", "xywh", "cxcywh"]))
def test_iou_losses_match_definition(case, dtype, fmt):
    b64, t64, kind, opts, eps, size = case
    b, t = _from_xyxy(b64, fmt).to(dtype), _from_xyxy(t64, fmt).to(dtype)
    # the general-position assumption must survive the rounding to dtype (no exact ties)
    bx, tx = _to_xyxy(b.double(), fmt), _to_xyxy(t.double(), fmt)
    gap = torch.stack([(bx[:, i] - tx[:, j]).abs() for i in range(4) for j in range(4) if i % 2 == j % 2], -1)
    assume(not bool((gap.amin(-1) < 1e-3 * size).any()))
    bl, tl = b.clone().requires_grad_(), t.clone().requires_grad_()
    got = LOSSES[kind](bl, tl, eps=eps, box_format=fmt, reduction="none", **opts)
    gb, gt = torch.autograd.grad(got.sum(), (bl, tl))
    br, tr = b.double().requires_grad_(), t.double().requires_grad_()
    ref = reference(br, tr, kind, eps=eps, fmt=fmt, **opts)
    rb, rt = torch.autograd.grad(ref.sum(), (br, tr))
    tol = 256 * torch.finfo(dtype).eps
    scale = 1.0 if not (kind == "iou" and opts["mode"] == "log") else 20.0
    torch.testing.assert_close(got.double(), ref.detach(), rtol=tol, atol=tol * scale)
    # d loss / d coordinate ~ 1 / box size: absolute tolerance in those units
    torch.testing.assert_close(gb.double(), rb, rtol=tol, atol=tol * scale / size)
    torch.testing.assert_close(gt.double(), rt, rtol=tol, atol=tol * scale / size)


@st.composite
def _degenerate_boxes(draw):
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    n = 6
    x = torch.randint(-3, 4, (n, 4), generator=g).to(F64)  # small integers: exact ties everywhere
    b = torch.cat((torch.minimum(x[:, :2], x[:, 2:]), torch.maximum(x[:, :2], x[:, 2:])), -1)
    y = torch.randint(-3, 4, (n, 4), generator=g).to(F64)
    t = torch.cat((torch.minimum(y[:, :2], y[:, 2:]), torch.maximum(y[:, :2], y[:, 2:])), -1)
    t[0] = b[0]  # identical
    b[1, 2] = b[1, 0]  # zero width
    t[2, 3] = t[2, 1]  # zero height
    b[3, 2:] = b[3, :2]  # point
    t[3] = b[3]  # identical points (empty union)
    t[4, 0], t[4, 2] = b[4, 2], b[4, 2] + 1.0  # touching
    kind = draw(st.sampled_from(list(LOSSES)))
    return b, t, kind, _options(draw, kind), draw(st.sampled_from([0.0, 1e-7]))


@SETTINGS
@given(_degenerate_boxes(), st.sampled_from([torch.float32, torch.float64]))
def test_iou_losses_on_degenerate_boxes_are_finite_and_match(case, dtype):
    b64, t64, kind, opts, eps = case
    b, t = b64.to(dtype).requires_grad_(), t64.to(dtype).requires_grad_()
    got = LOSSES[kind](b, t, eps=eps, reduction="none", **opts)
    gb, gt = torch.autograd.grad(got.sum(), (b, t))
    assert torch.isfinite(got).all() and torch.isfinite(gb).all() and torch.isfinite(gt).all()
    ref = reference(b64, t64, kind, eps=eps, **opts)
    tol = 64 * torch.finfo(dtype).eps
    scale = 1.0 if not (kind == "iou" and opts["mode"] == "log") else 20.0
    torch.testing.assert_close(got.double(), ref, rtol=tol, atol=tol * scale)


def test_hand_values():
    # GIoU's golden values (torchvision's tests): identical 0, half overlap 0.75... computed by hand here
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]] * 3, dtype=F64)
    t = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0], [3.0, 0.0, 5.0, 2.0]], dtype=F64)
    # IoU 1, 1/3, 0; enclosing areas 4, 6, 10; unions 4, 6, 8
    torch.testing.assert_close(generalized_box_iou_loss(a, t, eps=0.0, reduction="none"),
                               torch.tensor([0.0, 2 / 3, 1.2], dtype=F64))
    # DIoU: centres 0, 1, 3 apart; enclosing diagonals^2 8, 13, 29
    torch.testing.assert_close(distance_box_iou_loss(a, t, eps=0.0, reduction="none"),
                               torch.tensor([0.0, 2 / 3 + 1 / 13, 1 + 9 / 29], dtype=F64))


@pytest.mark.parametrize("seed", [0, 1])
def test_gradcheck_float64(seed):
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(5, 2, generator=g, dtype=F64)
    wh = torch.rand(5, 2, generator=g, dtype=F64) + 0.5
    b = torch.cat((c - wh / 2, c + wh / 2), -1).requires_grad_()
    t = (b.detach() + torch.randn(5, 4, generator=g, dtype=F64) * 0.2).requires_grad_()
    t.data = torch.cat((torch.minimum(t.data[:, :2], t.data[:, 2:]), torch.maximum(t.data[:, :2], t.data[:, 2:])), -1)
    for mode in ("linear", "square", "log"):
        assert torch.autograd.gradcheck(lambda x, y, mode=mode: iou_loss(x, y, mode=mode), (b, t))
    assert torch.autograd.gradcheck(generalized_box_iou_loss, (b, t))
    bc = _from_xyxy(b.detach(), "cxcywh").requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: distance_box_iou_loss(x, y, box_format="cxcywh"),
                                    (bc, _from_xyxy(t.detach(), "cxcywh")))
    # CIoU's alpha is a constant in backward (the paper's gradient), so gradcheck holds where alpha is 0: with
    # alpha_mode="iou>0.5" and pairs of IoU below 0.5 (the hypothesis test covers the other case)
    far = (t.detach() + torch.tensor([1.5, 0.0, 1.5, 0.0], dtype=F64)).requires_grad_()
    assert bool((reference(b.detach(), far.detach(), "iou", eps=0.0) > 0.5).all())  # 1 - IoU > 0.5
    assert torch.autograd.gradcheck(lambda x, y: complete_box_iou_loss(x, y, alpha_mode="iou>0.5"), (b, far))
