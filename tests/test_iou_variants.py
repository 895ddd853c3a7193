"""EIoU, SIoU and alpha-IoU losses and anchor_ious: float64 references written from the papers (with torch.max/min
geometry, independent of losslab's), hand-worked boxes, limit cases and degenerate-box probes."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import losslab
from losslab import (
    alpha_iou_loss,
    anchor_ious,
    box_iou,
    complete_box_iou_loss,
    distance_box_iou_loss,
    efficient_iou_loss,
    generalized_box_iou_loss,
    iou_loss,
    scylla_iou_loss,
)

D = torch.float64


def _geometry(b, t):
    x1, y1, x2, y2 = b.unbind(-1)
    u1, v1, u2, v2 = t.unbind(-1)
    iw = (torch.min(x2, u2) - torch.max(x1, u1)).clamp(min=0)
    ih = (torch.min(y2, v2) - torch.max(y1, v1)).clamp(min=0)
    inter = iw * ih
    w1, h1, w2, h2 = x2 - x1, y2 - y1, u2 - u1, v2 - v1
    union = w1 * h1 + w2 * h2 - inter
    cw = torch.max(x2, u2) - torch.min(x1, u1)
    ch = torch.max(y2, v2) - torch.min(y1, v1)
    cx, cy = (u1 + u2) / 2 - (x1 + x2) / 2, (v1 + v2) / 2 - (y1 + y2) / 2
    return dict(iou=inter / union, union=union, w1=w1, h1=h1, w2=w2, h2=h2, cw=cw, ch=ch, cx=cx, cy=cy)


def eiou_reference(b, t):
    g = _geometry(b, t)
    c2 = g["cw"] ** 2 + g["ch"] ** 2
    return (1 - g["iou"] + (g["cx"] ** 2 + g["cy"] ** 2) / c2 + (g["w1"] - g["w2"]) ** 2 / g["cw"] ** 2
            + (g["h1"] - g["h2"]) ** 2 / g["ch"] ** 2)


def siou_reference(b, t, theta=4.0):
    """Gevorgyan 2022 eqs. (1)-(10) as written: arcsin angle with the 45-degree switch."""
    g = _geometry(b, t)
    sigma = torch.sqrt(g["cx"] ** 2 + g["cy"] ** 2)
    sin_a = g["cy"].abs() / sigma
    sin_b = g["cx"].abs() / sigma
    x = torch.where(sin_a <= math.sqrt(2) / 2, sin_a, sin_b)
    angle = 1 - 2 * torch.sin(torch.arcsin(x) - math.pi / 4) ** 2
    gamma = 2 - angle
    rho_x, rho_y = (g["cx"] / g["cw"]) ** 2, (g["cy"] / g["ch"]) ** 2
    distance = (1 - torch.exp(-gamma * rho_x)) + (1 - torch.exp(-gamma * rho_y))
    om_w = (g["w1"] - g["w2"]).abs() / torch.max(g["w1"], g["w2"])
    om_h = (g["h1"] - g["h2"]).abs() / torch.max(g["h1"], g["h2"])
    shape = (1 - torch.exp(-om_w)) ** theta + (1 - torch.exp(-om_h)) ** theta
    return 1 - g["iou"] + (distance + shape) / 2


def alpha_reference(b, t, alpha, kind):
    g = _geometry(b, t)
    loss = 1 - g["iou"] ** alpha
    if kind == "giou":
        area_c = g["cw"] * g["ch"]
        # exactly >= 0; rounding can give -1e-17 for nested boxes (C = union), where the power would be NaN
        loss = loss + ((area_c - g["union"]) / area_c).clamp(min=0) ** alpha
    if kind in ("diou", "ciou"):
        loss = loss + ((g["cx"] ** 2 + g["cy"] ** 2) / (g["cw"] ** 2 + g["ch"] ** 2)) ** alpha
    if kind == "ciou":
        v = 4 / math.pi**2 * (torch.atan(g["w2"] / g["h2"]) - torch.atan(g["w1"] / g["h1"])) ** 2
        den = 1 - g["iou"] + v
        beta = torch.where(den > 0, v / den, 0.0)  # identical boxes: v = 0 and 1 - IoU = 0, the term is 0
        loss = loss + (beta * v) ** alpha
    return loss


def random_pairs(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=D) * 4
    wh = torch.rand(n, 2, generator=g, dtype=D) * 2.5 + 0.3
    shift = (torch.rand(n, 2, generator=g, dtype=D) - 0.5) * 5
    twh = torch.rand(n, 2, generator=g, dtype=D) * 2.5 + 0.3
    return torch.cat((xy, xy + wh), -1), torch.cat((xy + shift, xy + shift + twh), -1)


DEGENERATE = torch.tensor(
    [
        [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]],  # identical points
        [[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]],  # point inside a box
        [[0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 2.0, 0.0]],  # identical zero-height lines
        [[0.0, 0.0, 0.0, 3.0], [1.0, 0.0, 1.0, 3.0]],  # parallel zero-width lines
        [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]],  # identical boxes
        [[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0]],  # touching corners
        [[0.0, 0.0, 1.0, 1.0], [0.0, 2.0, 1.0, 3.0]],  # same x, apart in y (angle cost 0)
    ],
    dtype=D,
)


def test_eiou_matches_paper_formula_and_hand_value():
    b, t = random_pairs()
    torch.testing.assert_close(efficient_iou_loss(b, t, eps=0.0, reduction="none"), eiou_reference(b, t))
    # eps as the public Focal-EIoU code adds it (union, c^2, C_w^2, C_h^2): agreement to O(eps)
    torch.testing.assert_close(efficient_iou_loss(b, t, reduction="none"), eiou_reference(b, t), rtol=0, atol=1e-6)
    # [0,0,2,1] vs [0,0,1,2]: 1 - 1/3 + 0.5/8 + 1/4 + 1/4
    got = efficient_iou_loss(torch.tensor([[0.0, 0.0, 2.0, 1.0]], dtype=D), torch.tensor([[0.0, 0.0, 1.0, 2.0]], dtype=D), eps=0.0)
    assert got.item() == pytest.approx(1 - 1 / 3 + 1 / 16 + 0.5, rel=1e-14)


def test_eiou_gradient_matches_reference():
    b, t = random_pairs(16, seed=1)
    b1, b2 = b.clone().requires_grad_(), b.clone().requires_grad_()
    (g1,) = torch.autograd.grad(efficient_iou_loss(b1, t, eps=0.0, reduction="sum"), b1)
    (g2,) = torch.autograd.grad(eiou_reference(b2, t).sum(), b2)
    torch.testing.assert_close(g1, g2)


def test_siou_matches_paper_formula():
    b, t = random_pairs(seed=2)
    ours = scylla_iou_loss(b, t, eps=0.0, reduction="none")
    torch.testing.assert_close(ours, siou_reference(b, t))
    torch.testing.assert_close(scylla_iou_loss(b, t, theta=2.0, eps=0.0, reduction="none"), siou_reference(b, t, theta=2.0))
    b1, b2 = b.clone().requires_grad_(), b.clone().requires_grad_()
    (g1,) = torch.autograd.grad(scylla_iou_loss(b1, t, eps=0.0, reduction="sum"), b1)
    (g2,) = torch.autograd.grad(siou_reference(b2, t).sum(), b2)
    torch.testing.assert_close(g1, g2)


def test_siou_hand_values():
    b = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]], dtype=D)
    t = torch.tensor([[1.0, 0.0, 3.0, 2.0], [1.0, 1.0, 3.0, 3.0]], dtype=D)
    # axis-aligned offset: Lambda = 0, gamma = 2, rho_x = (1/3)^2; diagonal: Lambda = 1, gamma = 1, rho = 1/9 each
    expected = torch.tensor([1 - 1 / 3 + (1 - math.exp(-2 / 9)) / 2, 1 - 1 / 7 + (1 - math.exp(-1 / 9))], dtype=D)
    torch.testing.assert_close(scylla_iou_loss(b, t, eps=0.0, reduction="none"), expected)
    # shape cost only: same centre, width 2 vs 1 -> omega_w = 1/2
    got = scylla_iou_loss(torch.tensor([[0.0, 0.0, 2.0, 1.0]], dtype=D), torch.tensor([[0.5, 0.0, 1.5, 1.0]], dtype=D), eps=0.0)
    assert got.item() == pytest.approx(1 - 0.5 + (1 - math.exp(-0.5)) ** 4 / 2, rel=1e-14)


@pytest.mark.parametrize("kind", ["iou", "giou", "diou", "ciou"])
@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_alpha_iou_matches_paper_formula(kind, alpha):
    b, t = random_pairs(seed=3)
    ours = alpha_iou_loss(b, t, alpha=alpha, kind=kind, eps=0.0, reduction="none")
    torch.testing.assert_close(ours, alpha_reference(b, t, alpha, kind))


@pytest.mark.parametrize(
    "kind,own",
    [("iou", iou_loss), ("giou", generalized_box_iou_loss), ("diou", distance_box_iou_loss), ("ciou", complete_box_iou_loss)],
)
def test_alpha_one_equals_the_kinds_own_loss(kind, own):
    b, t = random_pairs(seed=4)
    b1, b2 = b.clone().requires_grad_(), b.clone().requires_grad_()
    a = alpha_iou_loss(b1, t, alpha=1.0, kind=kind, reduction="sum")
    o = own(b2, t, reduction="sum")
    torch.testing.assert_close(a, o, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(torch.autograd.grad(a, b1)[0], torch.autograd.grad(o, b2)[0], rtol=1e-12, atol=1e-14)


def test_alpha_giou_of_nested_boxes_is_finite():
    # C == union: the GIoU penalty rounds to -1e-17 here, whose 1.5th power would be NaN (found by hypothesis)
    b, t = torch.tensor([[0.0, 0.0, 1.01, 0.5]], dtype=D), torch.tensor([[0.0, 0.0, 4.0, 1.875]], dtype=D)
    b.requires_grad_()
    loss = alpha_iou_loss(b, t, alpha=1.5, kind="giou", eps=0.0)
    (g,) = torch.autograd.grad(loss, b)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    assert loss.item() == pytest.approx(1 - (1.01 * 0.5 / (4 * 1.875)) ** 1.5, rel=1e-12)


def test_alpha_iou_hand_value():
    b, t = torch.tensor([[0.0, 0.0, 2.0, 2.0]], dtype=D), torch.tensor([[0.0, 0.0, 1.0, 1.0]], dtype=D)
    assert alpha_iou_loss(b, t, eps=0.0).item() == pytest.approx(1 - 0.25**3, rel=1e-14)
    # DIoU penalty rho^2/c^2 = 0.5/8 -> (1/16)^2 at alpha=2
    assert alpha_iou_loss(b, t, alpha=2.0, kind="diou", eps=0.0).item() == pytest.approx(1 - 1 / 16 + 1 / 256, rel=1e-14)


@pytest.mark.parametrize(
    "fn",
    [
        lambda b, t: efficient_iou_loss(b, t, reduction="none"),
        lambda b, t: efficient_iou_loss(b, t, eps=0.0, reduction="none"),
        lambda b, t: scylla_iou_loss(b, t, reduction="none"),
        lambda b, t: scylla_iou_loss(b, t, eps=0.0, theta=0.5, reduction="none"),
        *[
            functools.partial(alpha_iou_loss, alpha=a, kind=k, eps=0.0, reduction="none")
            for k in ("iou", "giou", "diou", "ciou")
            for a in (0.5, 3.0)
        ],
    ],
)
def test_degenerate_boxes_give_finite_values_and_gradients(fn):
    b = DEGENERATE[:, 0].clone().requires_grad_()
    t = DEGENERATE[:, 1].clone().requires_grad_()
    loss = fn(b, t)
    gb, gt = torch.autograd.grad(loss.sum(), (b, t))
    assert torch.isfinite(loss).all() and torch.isfinite(gb).all() and torch.isfinite(gt).all()
    # identical boxes (row 4) have loss 0 with eps = 0
    assert loss[4].item() == pytest.approx(0.0, abs=1e-6)


def test_losses_are_zero_for_identical_boxes_and_scale_invariant():
    b, t = random_pairs(seed=5)
    for fn in (efficient_iou_loss, scylla_iou_loss, alpha_iou_loss):
        torch.testing.assert_close(fn(b, b, eps=0.0, reduction="none"), torch.zeros(len(b), dtype=D))
        torch.testing.assert_close(fn(3 * b, 3 * t, eps=0.0, reduction="none"), fn(b, t, eps=0.0, reduction="none"))


def test_anchor_ious_kinds_detached_and_clipped():
    b, t = random_pairs(seed=6)
    b.requires_grad_()
    u = anchor_ious(b, t)
    assert not u.requires_grad and u.dtype == D
    torch.testing.assert_close(u, box_iou(b, t).detach())
    for kind, own in (("giou", generalized_box_iou_loss), ("diou", distance_box_iou_loss), ("ciou", complete_box_iou_loss)):
        q = anchor_ious(b, t, kind=kind)
        torch.testing.assert_close(q, (1 - own(b, t, eps=0.0, reduction="none")).detach().clamp(0, 1))
        assert (q >= 0).all() and (q <= 1).all()
    assert (anchor_ious(b, t, kind="giou") == 0).any()  # negative GIoUs clipped
    # feeds the IoU-balanced and quality-aware losses directly
    logits = torch.randn(len(b), 3, dtype=D)
    target = torch.zeros(len(b), 3, dtype=D)
    target[:, 0] = 1.0
    losslab.iou_balanced_sigmoid_focal_loss(logits, target, anchor_ious(b, t, kind="ciou"))
    dense = target * anchor_ious(b, t).unsqueeze(1)
    losslab.quality_focal_loss(logits, dense)
    losslab.varifocal_loss(logits, dense)


def test_box_formats_and_rejected_arguments():
    b, t = random_pairs(8, seed=7)
    cxcywh = losslab.box_convert(b, "xyxy", "cxcywh"), losslab.box_convert(t, "xyxy", "cxcywh")
    torch.testing.assert_close(scylla_iou_loss(*cxcywh, box_format="cxcywh"), scylla_iou_loss(b, t))
    with pytest.raises(ValueError, match="kind: expected one of"):
        alpha_iou_loss(b, t, kind="siou")
    with pytest.raises(ValueError, match="alpha: expected a value in"):
        alpha_iou_loss(b, t, alpha=0.0)
    with pytest.raises(ValueError, match="theta: expected a value in"):
        scylla_iou_loss(b, t, theta=-1.0)
    with pytest.raises(ValueError, match="x2 >= x1"):
        efficient_iou_loss(b[:, [2, 1, 0, 3]], t)
    with pytest.raises(ValueError, match="kind: expected one of"):
        anchor_ious(b, t, kind="eiou")

_coord = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False)
_size = st.floats(0.01, 6.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.tuples(_coord, _coord, _size, _size, _coord, _coord, _size, _size), st.floats(0.25, 4.0))
def test_differential_against_paper_formulas(p, alpha):
    x, y, w, h, u, v, s, t = p
    b = torch.tensor([[x, y, x + w, y + h]], dtype=D)
    g = torch.tensor([[u, v, u + s, v + t]], dtype=D)
    torch.testing.assert_close(efficient_iou_loss(b, g, eps=0.0, reduction="none"), eiou_reference(b, g), rtol=1e-9, atol=1e-12)
    for kind in ("iou", "giou", "diou", "ciou"):
        torch.testing.assert_close(
            alpha_iou_loss(b, g, alpha=alpha, kind=kind, eps=0.0, reduction="none"),
            alpha_reference(b, g, alpha, kind), rtol=1e-9, atol=1e-12,
        )
    if abs((x + w / 2) - (u + s / 2)) + abs((y + h / 2) - (v + t / 2)) > 1e-6:  # the paper's angle is 0/0 otherwise
        torch.testing.assert_close(scylla_iou_loss(b, g, eps=0.0, reduction="none"), siou_reference(b, g), rtol=1e-9, atol=1e-12)
