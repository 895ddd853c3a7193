"""Tests for losslab.boxes: geometry by hand, torchvision's values, invariances, degenerate boxes, IoU-balanced."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import losslab
from conftest import oracle_path
from losslab import boxes as B

D = torch.float64
BOX_LOSSES = {
    "iou": B.iou_loss,
    "giou": B.generalized_box_iou_loss,
    "diou": B.distance_box_iou_loss,
    "ciou": B.complete_box_iou_loss,
}
ORACLE_NAMES = {
    "giou": "generalized_box_iou_loss",
    "diou": "distance_box_iou_loss",
    "ciou": "complete_box_iou_loss",
}


def t(x, dtype=D):
    return torch.tensor(x, dtype=dtype)


def random_pairs(n=16, seed=0, dtype=D):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=D) * 4
    wh = 0.5 + torch.rand(n, 2, generator=g, dtype=D) * 3
    sh = (torch.rand(n, 2, generator=g, dtype=D) - 0.5) * 6
    twh = 0.5 + torch.rand(n, 2, generator=g, dtype=D) * 3
    return torch.cat((xy, xy + wh), -1).to(dtype), torch.cat((xy + sh, xy + sh + twh), -1).to(dtype)


# ---------------------------------------------------------------------------------------------------------------
# hand-derived geometry (eps=0: exact ratios)

UNIT = [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("name", list(BOX_LOSSES))
def test_identical_boxes_give_zero(name):
    b = t([[0.0, 0.0, 2.0, 2.0], [1.5, -3.0, 4.0, 7.25]])
    assert torch.equal(BOX_LOSSES[name](b, b.clone(), eps=0.0, reduction="none"), torch.zeros(2, dtype=D))


def test_nested_quarter_box_iou():
    big, quarter = t([[0.0, 0.0, 2.0, 2.0]]), t([[0.0, 0.0, 1.0, 1.0]])
    assert B.box_iou(big, quarter).item() == 0.25
    assert B.iou_loss(big, quarter, eps=0.0).item() == 0.75
    assert B.iou_loss(big, quarter, eps=0.0, mode="square").item() == 1 - 0.25**2
    torch.testing.assert_close(B.iou_loss(big, quarter, eps=0.0, mode="log"), t(math.log(4.0)))
    # nested: the enclosing box is the big box itself, so GIoU == IoU loss
    assert B.generalized_box_iou_loss(big, quarter, eps=0.0).item() == 0.75
    # DIoU: centres (1, 1) and (0.5, 0.5): rho^2 = 0.5, diagonal^2 = 8 -> 0.75 + 1/16
    assert B.distance_box_iou_loss(big, quarter, eps=0.0).item() == 0.75 + 0.0625


def test_diagonally_adjacent_unit_boxes():
    a, b = t([UNIT]), t([[1.0, 1.0, 2.0, 2.0]])
    # IoU 0; enclosing area 4, union 2 -> GIoU = -0.5, loss 1.5
    assert B.generalized_box_iou_loss(a, b, eps=0.0).item() == 1.5
    # rho^2 = 2, c^2 = 8 -> 1 + 0.25; same aspect ratio, so CIoU adds nothing
    assert B.distance_box_iou_loss(a, b, eps=0.0).item() == 1.25
    assert B.complete_box_iou_loss(a, b, eps=0.0).item() == 1.25
    assert B.iou_loss(a, b, eps=0.0).item() == 1.0


def test_ciou_aspect_term_by_hand():
    # 2x1 and 1x2 boxes sharing the corner (0, 0): IoU = 1 / 3, centres (1, .5) and (.5, 1): rho^2 = .5, c^2 = 8
    a, b = t([[0.0, 0.0, 2.0, 1.0]]), t([[0.0, 0.0, 1.0, 2.0]])
    iou = 1 / 3
    v = 4 / math.pi**2 * (math.atan(0.5) - math.atan(2.0)) ** 2
    alpha = v / (1 - iou + v)
    assert B.distance_box_iou_loss(a, b, eps=0.0).item() == pytest.approx(1 - iou + 0.5 / 8, abs=1e-15)
    assert B.complete_box_iou_loss(a, b, eps=0.0).item() == pytest.approx(1 - iou + 0.5 / 8 + alpha * v, abs=1e-15)
    # mmdetection's alpha is 0 at IoU <= 0.5: CIoU == DIoU here
    torch.testing.assert_close(
        B.complete_box_iou_loss(a, b, eps=0.0, alpha_mode="iou>0.5"), B.distance_box_iou_loss(a, b, eps=0.0)
    )


def test_ciou_alpha_modes_agree_above_half_iou():
    # concentric 2x1.8 and 2x2: IoU 0.9 > 0.5, aspect ratios differ
    a, b = t([[0.0, 0.1, 2.0, 1.9]]), t([[0.0, 0.0, 2.0, 2.0]])
    torch.testing.assert_close(
        B.complete_box_iou_loss(a, b, eps=0.0, alpha_mode="iou>0.5"), B.complete_box_iou_loss(a, b, eps=0.0)
    )
    assert B.complete_box_iou_loss(a, b, eps=0.0) > B.distance_box_iou_loss(a, b, eps=0.0)


def test_box_convert_known_values_and_round_trip():
    xyxy = t([[1.0, 2.0, 4.0, 8.0]])
    assert B.box_convert(xyxy, "xyxy", "xywh").tolist() == [[1.0, 2.0, 3.0, 6.0]]
    assert B.box_convert(xyxy, "xyxy", "cxcywh").tolist() == [[2.5, 5.0, 3.0, 6.0]]
    b, _ = random_pairs()
    for fmt in ("xywh", "cxcywh"):
        torch.testing.assert_close(B.box_convert(B.box_convert(b, "xyxy", fmt), fmt, "xyxy"), b)
        other = "cxcywh" if fmt == "xywh" else "xywh"
        torch.testing.assert_close(
            B.box_convert(B.box_convert(b, "xyxy", fmt), fmt, other), B.box_convert(b, "xyxy", other)
        )


@pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
def test_box_format_argument(fmt):
    b, g = random_pairs()
    for name, fn in BOX_LOSSES.items():
        torch.testing.assert_close(
            fn(B.box_convert(b, "xyxy", fmt), B.box_convert(g, "xyxy", fmt), box_format=fmt, reduction="none"),
            fn(b, g, reduction="none"),
        )


def test_pairwise_box_iou():
    a = t([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]])
    b = t([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 1.0, 1.0]])
    expected = t([[1.0, 1 / 7, 0.0, 0.25], [1 / 7, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(B.pairwise_box_iou(a, b), expected)
    x, y = random_pairs(5)
    m = B.pairwise_box_iou(x, y)
    for i in range(5):
        torch.testing.assert_close(m[i], B.box_iou(x[i].expand(5, 4), y))
    assert B.pairwise_box_iou(x, y[:0]).shape == (5, 0)


# ---------------------------------------------------------------------------------------------------------------
# torchvision 0.29.1 (../shared/oracles/torchvision.json)


@pytest.fixture(scope="module")
def tv():
    with open(oracle_path("torchvision.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("name", list(ORACLE_NAMES))
def test_matches_torchvision_float64_values_and_gradients(tv, name):
    ref = tv["box_losses"][ORACLE_NAMES[name]]
    b1 = t(tv["inputs"]["boxes1"]).requires_grad_()
    b2 = t(tv["inputs"]["boxes2"]).requires_grad_()
    loss = BOX_LOSSES[name](b1, b2, reduction="none")  # default eps=1e-7, placed as torchvision places it
    torch.testing.assert_close(loss, t(ref["reduction_none_float64"]), rtol=0, atol=1e-9)
    g1, g2 = torch.autograd.grad(loss.sum(), (b1, b2))
    torch.testing.assert_close(g1, t(ref["grad_wrt_boxes1_of_sum_float64"]), rtol=0, atol=1e-7)
    torch.testing.assert_close(g2, t(ref["grad_wrt_boxes2_of_sum_float64"]), rtol=0, atol=1e-7)
    # reductions over the same pairs
    torch.testing.assert_close(BOX_LOSSES[name](b1, b2, reduction="sum"), t(ref["reduction_none_float64"]).sum())
    torch.testing.assert_close(BOX_LOSSES[name](b1, b2), t(ref["reduction_none_float64"]).mean())


@pytest.mark.parametrize("name", list(ORACLE_NAMES))
def test_matches_torchvision_float32(tv, name):
    ref = tv["box_losses"][ORACLE_NAMES[name]]
    loss = BOX_LOSSES[name](t(tv["inputs"]["boxes1"], torch.float32), t(tv["inputs"]["boxes2"], torch.float32),
                            reduction="none")
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, t(ref["reduction_none_float32"], torch.float32), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["giou", "diou"])
def test_matches_torchvision_eps(tv, name):
    ref = tv["box_losses"][ORACLE_NAMES[name]]["eps_1e-3_reduction_none_float64"]
    loss = BOX_LOSSES[name](t(tv["inputs"]["boxes1"]), t(tv["inputs"]["boxes2"]), eps=1e-3, reduction="none")
    torch.testing.assert_close(loss, t(ref), rtol=0, atol=1e-9)


def test_ciou_eps_is_used_everywhere_unlike_torchvision(tv):
    # Deliberate difference: torchvision's complete_box_iou_loss uses its eps only in alpha (the IoU and DIoU
    # parts keep 1e-7); here eps means the same in every loss. So with eps=1e-3 our CIoU equals our DIoU(eps=1e-3)
    # plus alpha*v, and torchvision's equals its DIoU at the default eps plus alpha*v.
    b1, b2 = t(tv["inputs"]["boxes1"]), t(tv["inputs"]["boxes2"])
    ref_ciou = t(tv["box_losses"]["complete_box_iou_loss"]["eps_1e-3_reduction_none_float64"])
    ref_diou_default = t(tv["box_losses"]["distance_box_iou_loss"]["reduction_none_float64"])
    ref_diou_eps = t(tv["box_losses"]["distance_box_iou_loss"]["eps_1e-3_reduction_none_float64"])
    ours = B.complete_box_iou_loss(b1, b2, eps=1e-3, reduction="none")
    aspect = ours - B.distance_box_iou_loss(b1, b2, eps=1e-3, reduction="none")
    torch.testing.assert_close(ref_diou_eps + aspect, ours, rtol=0, atol=1e-12)
    # torchvision's aspect term alpha*v differs from ours only through the IoU inside alpha (eps 1e-7 vs 1e-3)
    torch.testing.assert_close(ref_ciou - ref_diou_default, aspect, rtol=0, atol=1e-5)
    assert not torch.allclose(ours, ref_ciou, rtol=0, atol=1e-6)


def test_degenerate_boxes_are_finite_with_torchvision_values_where_defined():
    # point inside a box, identical points, identical zero-width lines, zero-height box vs square, x2<x1 excluded
    b1 = t([[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0], [1.0, 0.0, 1.0, 3.0], [0.0, 1.0, 2.0, 1.0]])
    b2 = t([[0.0, 0.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0], [1.0, 0.0, 1.0, 3.0], [0.0, 0.0, 2.0, 2.0]])
    for name, fn in BOX_LOSSES.items():
        for eps in (1e-7, 0.0):
            x1, x2 = b1.clone().requires_grad_(), b2.clone().requires_grad_()
            loss = fn(x1, x2, eps=eps, reduction="none")
            grads = torch.autograd.grad(loss.sum(), (x1, x2))
            assert torch.isfinite(loss).all(), (name, eps, loss)
            assert all(torch.isfinite(g).all() for g in grads), (name, eps, grads)
            # torchvision's GIoU gradient for the identical zero-width lines is 1/eps = 1e7; here it is bounded
            assert all(g.abs().max() < 10 for g in grads), (name, eps, grads)
    # values torchvision documents for these cases: GIoU point inside a box 1.0, identical points 1.0,
    # DIoU identical points 1.0 (CIoU: torchvision is NaN for point boxes; here the point gets a square's angle)
    giou = B.generalized_box_iou_loss(b1, b2, reduction="none")
    assert giou[0].item() == pytest.approx(1.0) and giou[1].item() == pytest.approx(1.0)
    assert B.distance_box_iou_loss(b1, b2, reduction="none")[1].item() == pytest.approx(1.0)
    ciou = B.complete_box_iou_loss(b1, b2, reduction="none")
    torch.testing.assert_close(ciou[:2], B.distance_box_iou_loss(b1, b2, reduction="none")[:2])  # v = 0 vs squares
    # zero-height box vs a square: angle pi/2 vs pi/4 (torchvision: same value, NaN gradient)
    v = 4 / math.pi**2 * (math.pi / 4) ** 2
    iou = 0.0
    assert ciou[3].item() == pytest.approx(
        B.distance_box_iou_loss(b1, b2, reduction="none")[3].item() + v / (1 - iou + v + 1e-7) * v, abs=1e-12
    )


def test_half_precision_computed_in_float32():
    b, g = random_pairs(64, dtype=torch.float32)
    for dtype in (torch.float16, torch.bfloat16):
        bh, gh = b.to(dtype), g.to(dtype)
        for name, fn in BOX_LOSSES.items():
            out = fn(bh, gh, reduction="none")
            assert out.dtype == dtype
            ref = fn(bh.float(), gh.float(), reduction="none").to(dtype)
            torch.testing.assert_close(out, ref, rtol=0, atol=0)
        assert B.box_iou(bh, gh).dtype == dtype


# ---------------------------------------------------------------------------------------------------------------
# invariances and gradients


@pytest.mark.parametrize("name", list(BOX_LOSSES))
def test_symmetry_and_translation_and_scale_invariance(name):
    fn = BOX_LOSSES[name]
    b, g = random_pairs(32)
    ref = fn(b, g, eps=0.0, reduction="none")
    torch.testing.assert_close(fn(g, b, eps=0.0, reduction="none"), ref)
    shift = t([7.5, -3.25, 7.5, -3.25])
    torch.testing.assert_close(fn(b + shift, g + shift, eps=0.0, reduction="none"), ref)
    torch.testing.assert_close(fn(b * 3.0, g * 3.0, eps=0.0, reduction="none"), ref)


@pytest.mark.parametrize("name", list(BOX_LOSSES))
def test_gradcheck_float64(name):
    b, g = random_pairs(6, seed=3)
    fn = BOX_LOSSES[name]
    if name == "ciou":
        return  # alpha is a constant in backward: checked against a fixed-alpha form below
    assert torch.autograd.gradcheck(lambda x, y: fn(x, y, reduction="none"), (b.requires_grad_(), g.requires_grad_()))


def _v_by_hand(x):
    w, h = x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]
    return torch.atan(w / h)


def test_ciou_gradient_treats_alpha_as_constant():
    b, g = random_pairs(6, seed=3)
    with torch.no_grad():
        iou = B.box_iou(b, g)
        v0 = 4 / math.pi**2 * (_v_by_hand(g) - _v_by_hand(b)) ** 2
        alpha = v0 / (1 - iou + v0 + 1e-7)

    def fixed_alpha(x, y):
        v = 4 / math.pi**2 * (_v_by_hand(y) - _v_by_hand(x)) ** 2
        return B.distance_box_iou_loss(x, y, reduction="none") + alpha * v

    x, y = b.clone().requires_grad_(), g.clone().requires_grad_()
    torch.autograd.gradcheck(fixed_alpha, (x, y))
    got = torch.autograd.grad(B.complete_box_iou_loss(x, y, reduction="sum"), (x, y))
    want = torch.autograd.grad(fixed_alpha(x, y).sum(), (x, y))
    for a, w in zip(got, want):
        torch.testing.assert_close(a, w)


@pytest.mark.parametrize("name", ["diou", "ciou"])
def test_detach_diagonal_gradient(name):
    b, g = random_pairs(8, seed=5)
    fn = BOX_LOSSES[name]
    x = b.clone().requires_grad_()
    # same value
    torch.testing.assert_close(fn(x, g, detach_diagonal=True, reduction="none"), fn(x, g, reduction="none"))
    (got,) = torch.autograd.grad(fn(x, g, detach_diagonal=True, reduction="sum"), x)
    # by hand: the gradient of rho^2 / c^2 with c^2 a constant, plus the rest of the exact gradient
    with torch.no_grad():
        cw = torch.maximum(b[:, 2], g[:, 2]) - torch.minimum(b[:, 0], g[:, 0])
        ch = torch.maximum(b[:, 3], g[:, 3]) - torch.minimum(b[:, 1], g[:, 1])
        c2 = cw**2 + ch**2 + 1e-7
    xc = x.clone()

    def rho2(z):
        return ((z[:, 0] + z[:, 2] - g[:, 0] - g[:, 2]) ** 2 + (z[:, 1] + z[:, 3] - g[:, 1] - g[:, 3]) ** 2) / 4

    rest = fn(xc, g, reduction="none") - B.distance_box_iou_loss(xc, g, reduction="none")  # CIoU aspect (or 0)
    (want,) = torch.autograd.grad((1 - B.box_iou(xc, g, eps=1e-7) + rho2(xc) / c2 + rest).sum(), xc)
    torch.testing.assert_close(got, want)
    (exact,) = torch.autograd.grad(fn(x, g, reduction="sum"), x)
    assert not torch.allclose(got, exact)


def test_non_overlapping_iou_loss_has_no_gradient_but_giou_does():
    a, b = t([UNIT]).requires_grad_(), t([[3.0, 0.0, 4.0, 1.0]])
    (g,) = torch.autograd.grad(B.iou_loss(a, b), a)
    assert torch.equal(g, torch.zeros_like(g))
    (g,) = torch.autograd.grad(B.generalized_box_iou_loss(a, b), a)
    assert g[0, 2] < 0  # growing x2 toward the target lowers the loss


@pytest.mark.parametrize("cls,fn,kwargs", [
    (B.IoULoss, B.iou_loss, {"mode": "log", "eps": 1e-4}),
    (B.GeneralizedBoxIoULoss, B.generalized_box_iou_loss, {"eps": 0.0, "box_format": "xyxy"}),
    (B.DistanceBoxIoULoss, B.distance_box_iou_loss, {"detach_diagonal": True}),
    (B.CompleteBoxIoULoss, B.complete_box_iou_loss, {"alpha_mode": "iou>0.5", "detach_diagonal": True}),
])
def test_module_equals_function(cls, fn, kwargs):
    b, g = random_pairs(8)
    w = torch.rand(8, dtype=D)
    module = cls(**kwargs, reduction="sum")
    torch.testing.assert_close(module(b, g, sample_weight=w), fn(b, g, **kwargs, sample_weight=w, reduction="sum"))
    assert cls.__name__ in repr(module) and "eps=" in repr(module)


# ---------------------------------------------------------------------------------------------------------------
# bad input


def test_bad_input_messages():
    b, g = random_pairs(3)
    with pytest.raises(ValueError, match=r"boxes: expected a last dimension of size 4, got shape \(3, 3\)"):
        B.generalized_box_iou_loss(b[:, :3], g[:, :3])
    with pytest.raises(ValueError, match=r"target: expected the same shape as boxes \(3, 4\), got \(2, 4\)"):
        B.distance_box_iou_loss(b, g[:2])
    with pytest.raises(ValueError, match=r"box_format: expected one of \('xyxy', 'xywh', 'cxcywh'\), got 'xyhw'"):
        B.complete_box_iou_loss(b, g, box_format="xyhw")
    with pytest.raises(ValueError, match=r"in_fmt: expected one of .*got 'yxyx'"):
        B.box_convert(b, "yxyx", "xyxy")
    with pytest.raises(ValueError, match=r"mode: expected one of \('linear', 'square', 'log'\), got 'exp'"):
        B.iou_loss(b, g, mode="exp")
    with pytest.raises(ValueError, match=r"alpha_mode: expected one of \('always', 'iou>0.5'\), got 'never'"):
        B.complete_box_iou_loss(b, g, alpha_mode="never")
    with pytest.raises(ValueError, match=r"eps: expected a value in \[0, inf\), got -1"):
        B.box_iou(b, g, eps=-1.0)
    with pytest.raises(TypeError, match=r"boxes: expected a floating-point tensor, got dtype torch.int64"):
        B.iou_loss(b.long(), g.long())
    with pytest.raises(TypeError, match=r"detach_diagonal: expected a bool, got int"):
        B.distance_box_iou_loss(b, g, detach_diagonal=1)
    with pytest.raises(ValueError, match=r"boxes1: expected shape \(K, 4\), got \(1, 3, 4\)"):
        B.pairwise_box_iou(b[None], g)


def test_inverted_box_is_invalid_when_validation_is_on():
    b = t([[0.0, 0.0, 2.0, 2.0], [3.0, 0.0, 1.0, 1.0]])  # x2 < x1 in row 1
    g = t([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"boxes: expected boxes with x2 >= x1 and y2 >= y1 \(xyxy\), got 1 invalid"):
        B.generalized_box_iou_loss(b, g)
    with pytest.raises(ValueError, match=r"boxes2: expected boxes with x2 >= x1"):
        B.box_iou(g, b.flip(0))
    with pytest.raises(ValueError, match=r"boxes: expected finite values, found NaN"):
        B.iou_loss(torch.full((1, 4), float("nan"), dtype=D), g[:1])
    with losslab.validation(False):
        x = b.clone().requires_grad_()
        for fn in BOX_LOSSES.values():
            loss = fn(x, g)
            (grad,) = torch.autograd.grad(loss, x)
            assert torch.isfinite(loss) and torch.isfinite(grad).all()


# ---------------------------------------------------------------------------------------------------------------
# IoU-balanced losses


@pytest.mark.parametrize("setting", range(5))
def test_iou_balanced_focal_eta0_is_torchvision_focal(tv, setting):
    ref = tv["sigmoid_focal_loss"][setting]
    logits = t(tv["inputs"]["focal_logits_3x5"])
    alpha = None if ref["alpha"] < 0 else ref["alpha"]
    ious = t([0.3, 0.9, 0.6])
    for key, target in (("reduction_none_float64", "focal_targets_3x5"),
                        ("soft_targets_reduction_none_float64", "focal_soft_targets_3x5")):
        x = logits.clone().requires_grad_()
        out = B.iou_balanced_sigmoid_focal_loss(
            x, t(tv["inputs"][target]), ious, eta=0.0, gamma=ref["gamma"], alpha=alpha, reduction="none"
        )
        torch.testing.assert_close(out, t(ref[key]), rtol=1e-6, atol=1e-12)
        if key == "reduction_none_float64":
            (g,) = torch.autograd.grad(out.sum(), x)
            torch.testing.assert_close(g, t(ref["grad_wrt_logits_of_sum_float64"]), rtol=1e-6, atol=1e-12)
            torch.testing.assert_close(
                B.iou_balanced_sigmoid_focal_loss(logits, t(tv["inputs"][target]), ious, eta=0.0, gamma=ref["gamma"],
                                                  alpha=alpha, reduction="sum"),
                t(ref["reduction_sum_float64"]),
            )


def _det_batch(seed=0, n=12, c=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=D) * 2
    labels = torch.randint(0, c + 1, (n,), generator=g)
    target = torch.zeros(n, c, dtype=D)
    rows = torch.arange(n)[labels < c]
    target[rows, labels[labels < c]] = 1.0
    ious = 0.05 + 0.95 * torch.rand(n, generator=g, dtype=D)
    return logits, target, ious


def test_iou_balanced_focal_keeps_positive_sum_and_negatives():
    logits, target, ious = _det_batch()
    base = B.iou_balanced_sigmoid_focal_loss(logits, target, ious, eta=0.0, reduction="none")
    out = B.iou_balanced_sigmoid_focal_loss(logits, target, ious, eta=1.5, reduction="none")
    pos = target > 0
    assert pos.sum() >= 3
    torch.testing.assert_close(out[pos].sum(), base[pos].sum())
    torch.testing.assert_close(out[~pos], base[~pos])
    # weights proportional to IoU^eta among positives
    ratio = out[pos] / base[pos]
    expected = ious[:, None].expand_as(out)[pos] ** 1.5
    torch.testing.assert_close(ratio / ratio[0], expected / expected[0])
    assert not torch.allclose(out[pos], base[pos])


def test_iou_balanced_focal_gradient_and_no_gradient_into_ious():
    logits, target, ious = _det_batch(1)
    x, u = logits.clone().requires_grad_(), ious.clone().requires_grad_()
    out = B.iou_balanced_sigmoid_focal_loss(x, target, u, eta=2.0, reduction="sum")
    gx, gu = torch.autograd.grad(out, (x, u), allow_unused=True)
    assert gu is None or torch.equal(gu, torch.zeros_like(gu))
    # the balanced weights are constants in backward (the author's code): grad = factor * grad(base)
    with torch.no_grad():
        base = B.iou_balanced_sigmoid_focal_loss(logits, target, ious, eta=0.0, reduction="none")
        pos = target > 0
        up = ious[:, None].expand_as(base) ** 2.0
        s = base[pos].sum() / (up * base)[pos].sum()
        factor = torch.where(pos, up * s, torch.ones_like(base))
    x2 = logits.clone().requires_grad_()
    (want,) = torch.autograd.grad(
        (factor * B.iou_balanced_sigmoid_focal_loss(x2, target, ious, eta=0.0, reduction="none")).sum(), x2
    )
    torch.testing.assert_close(gx, want)


def test_iou_balanced_normalizer_and_no_positives():
    logits, target, ious = _det_batch(2)
    s = B.iou_balanced_sigmoid_focal_loss(logits, target, ious, reduction="sum")
    torch.testing.assert_close(
        B.iou_balanced_sigmoid_focal_loss(logits, target, ious, normalizer=target.sum()), s / target.sum()
    )
    torch.testing.assert_close(B.iou_balanced_sigmoid_focal_loss(logits, target, ious, normalizer=4.0), s / 4)
    zero = torch.zeros_like(target)
    torch.testing.assert_close(
        B.iou_balanced_sigmoid_focal_loss(logits, zero, ious, reduction="none"),
        B.iou_balanced_sigmoid_focal_loss(logits, zero, ious, eta=0.0, reduction="none"),
    )


def test_iou_balanced_ce():
    logits, _, ious = _det_batch(3)
    labels = torch.tensor([0, 1, 2, 0, 3, 1, 0, 2, 0, 0, 3, 1])
    logits = torch.cat((logits, torch.randn(12, 1, dtype=D)), 1)  # 4 classes, 0 = background
    ce = F.cross_entropy(logits, labels, reduction="none")  # torch as the oracle of the base loss
    torch.testing.assert_close(B.iou_balanced_softmax_cross_entropy(logits, labels, ious, eta=0.0, reduction="none"), ce)
    out = B.iou_balanced_softmax_cross_entropy(logits, labels, ious, eta=1.3, reduction="none")
    pos = labels != 0
    torch.testing.assert_close(out[pos].sum(), ce[pos].sum())
    torch.testing.assert_close(out[~pos], ce[~pos])
    # another background index changes which samples are positives
    out3 = B.iou_balanced_softmax_cross_entropy(logits, labels, ious, eta=1.3, background_index=3, reduction="none")
    torch.testing.assert_close(out3[labels == 3], ce[labels == 3])
    u = ious.clone().requires_grad_()
    x = logits.clone().requires_grad_()
    (gu,) = torch.autograd.grad(B.iou_balanced_softmax_cross_entropy(x, labels, u), (u,), allow_unused=True)
    assert gu is None or torch.equal(gu, torch.zeros_like(gu))


def test_iou_balanced_smooth_l1():
    g = torch.Generator().manual_seed(4)
    pred, target = torch.randn(10, 4, generator=g, dtype=D), torch.randn(10, 4, generator=g, dtype=D)
    ious = torch.rand(10, generator=g, dtype=D)
    sl1 = F.smooth_l1_loss(pred, target, beta=0.11, reduction="none").sum(-1)  # torch as the oracle
    torch.testing.assert_close(B.iou_balanced_smooth_l1_loss(pred, target, ious, lam=0.0, reduction="none"), sl1)
    out = B.iou_balanced_smooth_l1_loss(pred, target, ious, lam=1.5, loc_weight=2.5, reduction="none")
    torch.testing.assert_close(out, 2.5 * ious**1.5 * sl1)
    # "mean" is the paper's sum over positives / N_pos
    torch.testing.assert_close(B.iou_balanced_smooth_l1_loss(pred, target, ious), (ious**1.5 * sl1).sum() / 10)
    torch.testing.assert_close(B.iou_balanced_smooth_l1_loss(pred, target, ious, normalizer=4),
                               (ious**1.5 * sl1).sum() / 4)
    x, u = pred.clone().requires_grad_(), ious.clone().requires_grad_()
    gx, gu = torch.autograd.grad(B.iou_balanced_smooth_l1_loss(x, target, u), (x, u), allow_unused=True)
    assert gu is None or torch.equal(gu, torch.zeros_like(gu))
    assert torch.autograd.gradcheck(lambda p: B.iou_balanced_smooth_l1_loss(p, target, ious), (x,))


def test_iou_balanced_modules_and_bad_input():
    logits, target, ious = _det_batch(5)
    m = B.IoUBalancedSigmoidFocalLoss(eta=1.0, gamma=1.0, alpha=None, reduction="sum")
    torch.testing.assert_close(m(logits, target, ious),
                               B.iou_balanced_sigmoid_focal_loss(logits, target, ious, eta=1.0, gamma=1.0, alpha=None,
                                                                 reduction="sum"))
    assert "eta=1.0" in repr(m)
    with pytest.raises(ValueError, match=r"ious: expected shape \(12,\) \(logits' shape without the class dim 1\), got \(12, 3\)"):
        B.iou_balanced_sigmoid_focal_loss(logits, target, ious[:, None].expand(12, 3))
    with pytest.raises(ValueError, match=r"ious: expected values in \[0, 1\], got values in"):
        B.iou_balanced_sigmoid_focal_loss(logits, target, ious * 3)
    with pytest.raises(ValueError, match=r"eta: expected a value in \[0, inf\), got -1"):
        B.iou_balanced_sigmoid_focal_loss(logits, target, ious, eta=-1.0)
    with pytest.raises(ValueError, match=r"alpha: expected a value in \[0, 1\], got 1.5"):
        B.IoUBalancedSigmoidFocalLoss(alpha=1.5)
    with pytest.raises(ValueError, match=r"background_index: expected an int in \[0, 2\], got 3"):
        B.iou_balanced_softmax_cross_entropy(logits, torch.zeros(12, dtype=torch.long), ious, background_index=3)
    with pytest.raises(ValueError, match=r"lam: expected a value in \[0, inf\), got -0.5"):
        B.IoUBalancedSmoothL1Loss(lam=-0.5)
    with pytest.raises(ValueError, match=r"pred: expected a last dimension of size 4"):
        B.iou_balanced_smooth_l1_loss(logits, logits, ious)
