"""Tests for losslab.tempered: golden values from the authors' code, limit cases, invariances, gradients.

Oracles: ``../shared/oracles/bitempered.json`` (google/bi-tempered-loss @1c65c77, JAX float64; see the file's
``conventions``), torch's ``cross_entropy`` / ``binary_cross_entropy_with_logits`` for the t1 = t2 = 1 limits,
central finite differences, and an unrolled autograd reference written here from the paper's equations.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import losslab
from conftest import oracle_path
from losslab import (
    BiTemperedBinaryLogisticLoss,
    BiTemperedLogisticLoss,
    bi_tempered_binary_logistic_loss,
    bi_tempered_logistic_loss,
    exp_t,
    log_t,
    tempered_sigmoid,
    tempered_softmax,
)

F64 = torch.float64
GRID = [(0.2, 1.0), (0.5, 4.0), (0.8, 1.2), (0.8, 2.0), (1.0, 1.0), (0.7, 0.7)]


@pytest.fixture(scope="module")
def oracle():
    with open(oracle_path("bitempered.json")) as f:
        return json.load(f)


def _t(x, dtype=F64):
    def num(v):
        return [num(u) for u in v] if isinstance(v, list) else float(v)

    return torch.tensor(num(x), dtype=dtype)


def _close(actual, expected, atol, rtol=0.0):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol)


# ---------------------------------------------------------------------------------------------------------------
# golden values


@pytest.mark.parametrize("name,fn", [("log_t", log_t), ("exp_t", exp_t)])
def test_log_t_exp_t_golden(oracle, name, fn):
    x = _t(oracle[name]["x"])
    for t, values in oracle[name]["values_by_t"].items():
        expected = _t(values)
        got = fn(x, float(t))
        finite = torch.isfinite(expected)
        assert torch.equal(got[~finite], expected[~finite]), (t, got, expected)  # exp_t's pole: +inf, as official
        _close(got[finite], expected[finite], atol=1e-12, rtol=1e-12)


def test_log_t_exp_t_inverse_and_limits():
    u = torch.linspace(0.01, 5.0, 50, dtype=F64)
    for t in (0.0, 0.3, 0.999999, 1.0, 1.000001, 1.7, 3.0):
        _close(exp_t(log_t(u, t), t), u, atol=1e-9, rtol=1e-9)
    _close(log_t(u, 1.0), u.log(), atol=0, rtol=0)
    _close(exp_t(u, 1.0), u.exp(), atol=0, rtol=0)
    # near t = 1 no cancellation: log_t(u) = log u + (1 - t) log(u)^2 / 2 + O((1 - t)^2)
    d = -1e-9
    _close(log_t(u, 1.0 - d), u.log() + d * u.log() ** 2 / 2, atol=1e-15, rtol=0)
    # finite support for t < 1; gradient finite (0) at and beyond the cutoff
    x = torch.tensor([-3.0, -2.0, -1.0, 0.0], dtype=F64, requires_grad=True)
    y = exp_t(x, 0.5)
    assert y.tolist() == [0.0, 0.0, 0.25, 1.0]
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.isfinite(g).all() and g[:2].tolist() == [0.0, 0.0]
    z = torch.tensor([0.0, 1.0], dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(log_t(z, 0.5).sum(), z)
    assert torch.isfinite(g).all()


def test_tempered_softmax_golden(oracle):
    for case in oracle["tempered_softmax"]:
        a, t = _t(case["activations"]), case["t"]
        expected = _t(case["converged_num_iters_100"]["probs"])
        _close(tempered_softmax(a, t, num_iters=None), expected, atol=1e-7)
        if t > 1.0:  # the paper's fixed point, run long, and the official 5-round schedule itself
            _close(tempered_softmax(a, t, num_iters=100), expected, atol=1e-7)
            _close(tempered_softmax(a, t, num_iters=5), _t(case["official_num_iters_5"]["probs"]), atol=1e-12)
        else:  # t <= 1: always exact, whatever num_iters says
            _close(tempered_softmax(a, t, num_iters=5), expected, atol=1e-7)


def test_tempered_sigmoid_golden(oracle):
    x = _t(oracle["tempered_sigmoid"]["x"])
    for t, values in oracle["tempered_sigmoid"]["by_t"].items():
        _close(tempered_sigmoid(x, float(t), num_iters=None), _t(values["converged_num_iters_100"]), atol=1e-7)


@pytest.mark.parametrize("targets", ["index", "dense"])
def test_multiclass_loss_golden(oracle, targets):
    a = _t(oracle["inputs"]["logits_8x5"])
    y = torch.tensor(oracle["inputs"]["labels_idx"]) if targets == "index" else _t(oracle["inputs"]["onehot_labels_8x5"])
    for case in oracle["multiclass_loss_per_example"]["cases"]:
        kw = dict(t1=case["t1"], t2=case["t2"], label_smoothing=case["label_smoothing"], reduction="none")
        expected = _t(case["converged_num_iters_100"])
        # the official code adds 1e-10 inside log_t1(y); losslab uses 0 log 0 = 0: differences ~1e-10
        _close(bi_tempered_logistic_loss(a, y, num_iters=None, **kw), expected, atol=1e-8)
        if case["t2"] > 1.0:
            _close(bi_tempered_logistic_loss(a, y, num_iters=100, **kw), expected, atol=1e-8)
            _close(bi_tempered_logistic_loss(a, y, num_iters=5, **kw), _t(case["official_num_iters_5"]), atol=1e-8)
        # float32 within 1e-5 of the converged values
        got32 = bi_tempered_logistic_loss(a.float(), y if targets == "index" else y.float(), num_iters=None, **kw)
        _close(got32.double(), expected, atol=1e-5)


def test_soft_label_loss_golden(oracle):
    a, y = _t(oracle["inputs"]["soft_activations_3x3"]), _t(oracle["inputs"]["soft_labels_3x3"])
    for case in oracle["soft_label_loss_per_example"]["cases"]:
        got = bi_tempered_logistic_loss(a, y, t1=case["t1"], t2=case["t2"], num_iters=None, reduction="none")
        _close(got, _t(case["converged_num_iters_100"]), atol=1e-8)


def test_binary_loss_golden(oracle):
    a, y = _t(oracle["inputs"]["binary_logits"]), _t(oracle["inputs"]["binary_labels"])
    for case in oracle["binary_loss_per_element"]["cases"]:
        got = bi_tempered_binary_logistic_loss(
            a, y, t1=case["t1"], t2=case["t2"], label_smoothing=case["label_smoothing"], num_iters=None, reduction="none"
        )
        _close(got, _t(case["converged_num_iters_100"]), atol=1e-7)


def test_gradient_golden(oracle):
    a = _t(oracle["inputs"]["logits_8x5"])
    labels = torch.tensor(oracle["inputs"]["labels_idx"])
    for case in oracle["gradient_wrt_logits_of_sum_of_losses"]["cases"]:
        x = a.clone().requires_grad_()
        bi_tempered_logistic_loss(x, labels, t1=case["t1"], t2=case["t2"], num_iters=None, reduction="sum").backward()
        _close(x.grad, _t(case["finite_difference_true_gradient"]), atol=1e-6)
        _close(x.grad, _t(case["official_custom_gradient_num_iters_100"]), atol=1e-9)


def _central_difference(fn, x, h=1e-6):
    g = torch.zeros_like(x)
    flat = g.view(-1)
    for i in range(x.numel()):
        e = torch.zeros_like(x).view(-1)
        e[i] = h
        e = e.view_as(x)
        flat[i] = (fn(x + e) - fn(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("t1,t2", [(0.7, 0.7), (0.9, 0.7), (0.5, 0.8)])
def test_gradient_outside_finite_support_is_the_true_gradient(oracle, t1, t2):
    # With t2 < 1 some labelled classes get probability exactly 0. The official custom gradient puts -1 there
    # (t1 == t2) or NaN (t2 < t1); the true gradient, measured by finite differences of the loss, is 0.
    a = _t(oracle["inputs"]["logits_8x5"])
    labels = torch.tensor(oracle["inputs"]["labels_idx"])
    p = tempered_softmax(a, t2)
    outside = p.gather(1, labels[:, None]).squeeze(1) == 0
    assert outside.any()

    def loss(x):
        return bi_tempered_logistic_loss(x, labels, t1=t1, t2=t2, reduction="sum")

    x = a.clone().requires_grad_()
    loss(x).backward()
    assert torch.isfinite(x.grad).all()
    _close(x.grad, _central_difference(loss, a), atol=1e-6)
    assert (x.grad[outside].gather(1, labels[outside, None]) == 0).all()


# ---------------------------------------------------------------------------------------------------------------
# limit cases


def test_t1_t2_one_is_cross_entropy():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(7, 6, 3, generator=g, dtype=F64) * 3
    labels = torch.randint(0, 6, (7, 3), generator=g)
    labels[0, 0] = -100
    for red in ("none", "mean", "sum"):
        got = bi_tempered_logistic_loss(a, labels, t1=1.0, t2=1.0, ignore_index=-100, reduction=red)
        _close(got, F.cross_entropy(a, labels, ignore_index=-100, reduction=red), atol=1e-14, rtol=1e-14)
    # float32, gradient too
    x = a.float().requires_grad_()
    y = x.detach().clone().requires_grad_()
    bi_tempered_logistic_loss(x, labels, t1=1.0, t2=1.0, ignore_index=-100).backward()
    F.cross_entropy(y, labels, ignore_index=-100).backward()
    _close(x.grad, y.grad, atol=1e-7, rtol=1e-5)


def test_t1_t2_one_soft_targets_is_kl():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(5, 4, generator=g, dtype=F64) * 2
    y = torch.softmax(torch.randn(5, 4, generator=g, dtype=F64), 1)
    y[0] = torch.tensor([0.0, 0.5, 0.5, 0.0], dtype=F64)
    entropy = -torch.special.xlogy(y, y).sum(1)
    got = bi_tempered_logistic_loss(a, y, t1=1.0, t2=1.0, reduction="none")
    _close(got, F.cross_entropy(a, y, reduction="none") - entropy, atol=1e-13, rtol=1e-13)
    _close(got, F.kl_div(F.log_softmax(a, 1), y, reduction="none").sum(1), atol=1e-13, rtol=1e-13)


def test_label_smoothing_conventions():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(6, 5, generator=g, dtype=F64)
    labels = torch.randint(0, 5, (6,), generator=g)
    eps, C = 0.1, 5
    # official: the labelled class 1 - eps, every other class eps / (C - 1)
    dense = torch.full((6, C), eps / (C - 1), dtype=F64).scatter_(1, labels[:, None], 1 - eps)
    for t1, t2 in GRID:
        smoothed = bi_tempered_logistic_loss(a, labels, t1=t1, t2=t2, label_smoothing=eps, reduction="none")
        _close(smoothed, bi_tempered_logistic_loss(a, dense, t1=t1, t2=t2, reduction="none"), atol=1e-12, rtol=1e-12)
        onehot = F.one_hot(labels, C).to(F64)
        _close(smoothed, bi_tempered_logistic_loss(a, onehot, t1=t1, t2=t2, label_smoothing=eps, reduction="none"),
               atol=1e-12, rtol=1e-12)
    # torch's mixture convention eps' maps to eps = eps' (C - 1) / C: at t = 1 the loss is torch's smoothed CE
    # minus the entropy of the smoothed target
    eps_torch = 0.2
    target = torch.full((6, C), eps_torch / C, dtype=F64).scatter_(1, labels[:, None], 1 - eps_torch + eps_torch / C)
    entropy = -torch.special.xlogy(target, target).sum(1)
    got = bi_tempered_logistic_loss(a, labels, t1=1.0, t2=1.0, label_smoothing=eps_torch * (C - 1) / C, reduction="none")
    _close(got, F.cross_entropy(a, labels, label_smoothing=eps_torch, reduction="none") - entropy, atol=1e-13, rtol=1e-13)


def test_binary_limit_is_bce_with_logits():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(4, 5, generator=g, dtype=F64) * 4
    y = torch.randint(0, 2, (4, 5), generator=g).to(F64)
    for red in ("none", "mean", "sum"):
        got = bi_tempered_binary_logistic_loss(a, y, t1=1.0, t2=1.0, reduction=red)
        _close(got, F.binary_cross_entropy_with_logits(a, y, reduction=red), atol=1e-14, rtol=1e-14)
    soft = torch.rand(4, 5, generator=g, dtype=F64)
    h = -(torch.special.xlogy(soft, soft) + torch.special.xlogy(1 - soft, 1 - soft))
    got = bi_tempered_binary_logistic_loss(a, soft, t1=1.0, t2=1.0, reduction="none")
    _close(got, F.binary_cross_entropy_with_logits(a, soft, reduction="none") - h, atol=1e-13, rtol=1e-13)
    # tempered_sigmoid at t = 1 is the sigmoid; the binary loss is the 2-class loss on [0, a]
    _close(tempered_sigmoid(a, 1.0), torch.sigmoid(a), atol=1e-15, rtol=0)
    for t1, t2 in GRID:
        pair = torch.stack([torch.zeros_like(a), a], 1)
        _close(bi_tempered_binary_logistic_loss(a, y, t1=t1, t2=t2, reduction="none"),
               bi_tempered_logistic_loss(pair, y.long(), t1=t1, t2=t2, reduction="none"), atol=1e-12, rtol=1e-12)


def test_tempered_softmax_t1_is_softmax_and_sums_to_one():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(3, 7, 2, generator=g, dtype=F64) * 5
    _close(tempered_softmax(a, 1.0), torch.softmax(a, 1), atol=0, rtol=0)
    for t in (0.2, 0.5, 0.7, 0.9, 1.2, 1.5, 2.0, 4.0):
        p = tempered_softmax(a, t, num_iters=None, dim=1)
        _close(p.sum(1), torch.ones(3, 2, dtype=F64), atol=1e-13, rtol=0)
        assert (p >= 0).all()
        # the defining equation: p = exp_t(a - lambda) for one lambda per row
        lam = a - log_t(p.clamp_min(1e-300), t)
        inside = p > 0
        spread = torch.where(inside, lam, torch.nan)
        assert (spread.nan_to_num(0).amax(1) - torch.where(inside, lam, -torch.inf).amax(1)).abs().max() < 1e-9
        _close(p.movedim(1, -1), tempered_softmax(a.movedim(1, -1), t, num_iters=None, dim=-1), atol=1e-14, rtol=0)


def test_normalization_converges_on_hard_rows():
    # wide spreads and many classes, where the paper's 5-round fixed point is visibly off
    g = torch.Generator().manual_seed(5)
    for c, scale in ((2, 1e3), (10, 1e3), (1000, 10.0), (3000, 3.0)):
        a = torch.randn(8, c, generator=g, dtype=F64) * scale
        for t in (0.2, 0.7, 1.5, 2.0, 4.0):
            p = tempered_softmax(a, t, num_iters=None)
            _close(p.sum(1), torch.ones(8, dtype=F64), atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------------------------------------------
# invariances and properties


@pytest.mark.parametrize("t1,t2", GRID + [(0.5, 0.8)])
def test_shift_invariance(t1, t2):
    g = torch.Generator().manual_seed(6)
    a = torch.randn(6, 5, generator=g, dtype=F64) * 2
    labels = torch.randint(0, 5, (6,), generator=g)
    soft = torch.softmax(torch.randn(6, 5, generator=g, dtype=F64), 1)
    for target in (labels, soft):
        base = bi_tempered_logistic_loss(a, target, t1=t1, t2=t2, num_iters=None, reduction="none")
        for c in (-7.5, 3.0, 100.0):
            shifted = bi_tempered_logistic_loss(a + c, target, t1=t1, t2=t2, num_iters=None, reduction="none")
            _close(shifted, base, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("t1", [0.2, 0.5, 0.8])
def test_bounded_for_t1_below_one(t1):
    # -log_t1(p) <= 1/(1 - t1) and sum p^(2 - t1) <= 1, so a one-hot loss never exceeds 1/(1 - t1)
    a = torch.zeros(4, 3, dtype=F64)
    labels = torch.zeros(4, dtype=torch.long)
    a[:, 1] = torch.tensor([1.0, 10.0, 100.0, 1000.0])  # ever more confident, ever more wrong
    for t2 in (0.7, 1.0, 1.2, 4.0):
        loss = bi_tempered_logistic_loss(a, labels, t1=t1, t2=t2, reduction="none")
        assert (loss <= 1.0 / (1.0 - t1) + 1e-12).all()
        assert (loss.diff() >= -1e-12).all()
    ce = bi_tempered_logistic_loss(a, labels, t1=1.0, t2=1.0, reduction="none")
    assert ce[-1] > 999  # the logistic loss is not bounded


def test_zero_at_the_target_distribution():
    a = torch.tensor([[0.3, -1.0, 2.0], [5.0, 0.0, 0.0]], dtype=F64)
    for t1, t2 in GRID:
        p = tempered_softmax(a, t2, num_iters=None)
        loss = bi_tempered_logistic_loss(a, p, t1=t1, t2=t2, num_iters=None, reduction="none")
        _close(loss, torch.zeros(2, dtype=F64), atol=1e-12, rtol=0)


def test_ignore_index_and_spatial_layout():
    g = torch.Generator().manual_seed(7)
    a = torch.randn(2, 4, 3, 2, generator=g, dtype=F64)
    labels = torch.randint(0, 4, (2, 3, 2), generator=g)
    labels[1, 2, 0] = 255
    flat_a, flat_y = a.movedim(1, -1).reshape(-1, 4), labels.reshape(-1)
    keep = flat_y != 255
    for t1, t2 in ((0.8, 1.2), (0.7, 0.7)):
        got = bi_tempered_logistic_loss(a, labels, t1=t1, t2=t2, ignore_index=255)
        ref = bi_tempered_logistic_loss(flat_a[keep], flat_y[keep], t1=t1, t2=t2)
        _close(got, ref, atol=1e-14, rtol=1e-14)
        none = bi_tempered_logistic_loss(a, labels, t1=t1, t2=t2, ignore_index=255, reduction="none")
        assert none.shape == (2, 3, 2) and none[1, 2, 0] == 0
    # everything ignored: 0 with a zero gradient
    x = a.clone().requires_grad_()
    loss = bi_tempered_logistic_loss(x, torch.full_like(labels, 255), t1=0.8, t2=1.2, ignore_index=255)
    loss.backward()
    assert loss.item() == 0.0 and (x.grad == 0).all()


# ---------------------------------------------------------------------------------------------------------------
# gradients


def _reference_loss(a, y, t1, t2, iters=60):
    """Unrolled autograd reference from the paper's equations (float64, dense targets, classes on dim 1).

    t2 > 1: the paper's fixed point, differentiated through every round. t2 < 1: bisection (no gradient) and
    then one Newton step, whose autograd gives the implicit-function gradient of the normalization.
    """

    def expt(u, t):
        return torch.clamp(1 + (1 - t) * u, min=0) ** (1 / (1 - t)) if t != 1 else u.exp()

    def logt(u, t):
        return (u ** (1 - t) - 1) / (1 - t) if t != 1 else u.log()

    mu = a.amax(1, keepdim=True)
    a0 = a - mu
    if t2 == 1.0:
        p = torch.softmax(a, 1)
    elif t2 > 1.0:
        z_like = a0
        for _ in range(iters):
            z = expt(z_like, t2).sum(1, keepdim=True)
            z_like = a0 * z ** (1 - t2)
        z = expt(z_like, t2).sum(1, keepdim=True)
        lam = -logt(1 / z, t2)
        p = expt(a0 - lam, t2)
    else:
        with torch.no_grad():
            lo = torch.zeros_like(mu)
            hi = torch.full_like(mu, -((1 / a.shape[1]) ** (1 - t2) - 1) / (1 - t2))
            for _ in range(200):
                mid = (lo + hi) / 2
                over = expt(a0 - mid, t2).sum(1, keepdim=True) > 1
                lo, hi = torch.where(over, mid, lo), torch.where(over, hi, mid)
            lam_star = (lo + hi) / 2
        pe = expt(a0 - lam_star, t2)
        lam = lam_star + (pe.sum(1, keepdim=True) - 1) / (pe ** t2).sum(1, keepdim=True)
        p = expt(a0 - lam, t2)
    safe_y = torch.where(y > 0, y, torch.ones_like(y))
    ylogy = torch.where(y > 0, y * logt(safe_y, t1), torch.zeros_like(y))
    return (ylogy - y * logt(p, t1) - (y ** (2 - t1) - p ** (2 - t1)) / (2 - t1)).sum(1)


@pytest.mark.parametrize("t1,t2", [(0.8, 1.2), (0.5, 4.0), (0.8, 2.0), (0.5, 1.5), (0.2, 1.0), (0.7, 0.9), (1.0, 1.5)])
def test_custom_gradient_equals_autograd_through_iterations(t1, t2):
    g = torch.Generator().manual_seed(8)
    a = torch.randn(5, 6, generator=g, dtype=F64) * 1.5
    y = torch.softmax(torch.randn(5, 6, generator=g, dtype=F64) * 2, 1)
    w = torch.rand(5, generator=g, dtype=F64)
    x1 = a.clone().requires_grad_()
    x2 = a.clone().requires_grad_()
    loss = bi_tempered_logistic_loss(x1, y, t1=t1, t2=t2, num_iters=None, reduction="none")
    ref = _reference_loss(x2, y, t1, t2)
    _close(loss, ref.detach(), atol=1e-10, rtol=1e-10)
    (loss * w).sum().backward()
    (ref * w).sum().backward()
    _close(x1.grad, x2.grad, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("t1,t2", GRID + [(0.5, 0.8), (1.0, 2.0)])
def test_gradcheck_float64(t1, t2):
    g = torch.Generator().manual_seed(9)
    a = (torch.randn(3, 4, generator=g, dtype=F64) * 1.5).requires_grad_()
    labels = torch.randint(0, 4, (3,), generator=g)
    soft = torch.softmax(torch.randn(3, 4, generator=g, dtype=F64), 1).requires_grad_()
    kw = dict(t1=t1, t2=t2, num_iters=None)
    assert torch.autograd.gradcheck(lambda x: bi_tempered_logistic_loss(x, labels, label_smoothing=0.1, **kw), (a,))
    with losslab.validation(False):  # (the target range check would read a tensor that requires grad)
    # gradients w.r.t. both the activations and a soft target
        assert torch.autograd.gradcheck(lambda x, y: bi_tempered_logistic_loss(x, y, reduction="none", **kw), (a, soft))
    b = (torch.randn(5, generator=g, dtype=F64) * 2).requires_grad_()
    yb = torch.rand(5, generator=g, dtype=F64)
    assert torch.autograd.gradcheck(lambda x: bi_tempered_binary_logistic_loss(x, yb, **kw), (b,))
    assert torch.autograd.gradcheck(lambda x: tempered_softmax(x, t2, num_iters=None), (a,))


@pytest.mark.parametrize("t1,t2", GRID)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_at_extreme_activations(t1, t2, dtype):
    g = torch.Generator().manual_seed(10)
    a = torch.randn(6, 5, generator=g, dtype=F64) * 1e3
    a[0] = torch.tensor([1e3, -1e3, 0.0, 1e3, -1e3])
    a[1] = torch.tensor([-1e3, -1e3, -1e3, -1e3, 1e3])
    a[2] = 0.0
    a = a.to(dtype)
    labels = torch.tensor([1, 0, 3, 2, 4, 1])
    soft = torch.softmax(torch.randn(6, 5, generator=g, dtype=F64), 1).to(dtype)
    for target, ls in ((labels, 0.0), (labels, 0.1), (soft, 0.0)):
        x = a.clone().requires_grad_()
        loss = bi_tempered_logistic_loss(x, target, t1=t1, t2=t2, label_smoothing=ls, reduction="none")
        loss.sum().backward()
        assert torch.isfinite(loss).all(), (target.dtype, ls, loss)
        assert torch.isfinite(x.grad).all(), (target.dtype, ls, x.grad)
    xb = a.reshape(-1).clone().requires_grad_()
    yb = (torch.arange(30) % 2).to(dtype)
    lb = bi_tempered_binary_logistic_loss(xb, yb, t1=t1, t2=t2, reduction="none")
    lb.sum().backward()
    assert torch.isfinite(lb).all() and torch.isfinite(xb.grad).all()
    assert torch.isfinite(tempered_softmax(a, t2)).all()
    # (the paper's 5-round fixed point is finite but not converged on such rows at t2 = 4: num_iters=None is)
    p = tempered_softmax(a, t2, num_iters=None)
    _close(p.sum(1).double(), torch.ones(6, dtype=F64), atol=1e-5 if dtype == torch.float32 else 1e-12, rtol=0)


def test_half_precision_is_computed_in_float32():
    g = torch.Generator().manual_seed(11)
    a = torch.randn(8, 5, generator=g) * 3
    labels = torch.randint(0, 5, (8,), generator=g)
    for dtype in (torch.float16, torch.bfloat16):
        x = a.to(dtype).requires_grad_()
        loss = bi_tempered_logistic_loss(x, labels, t1=0.8, t2=1.2)
        assert loss.dtype == dtype
        ref = bi_tempered_logistic_loss(a.to(dtype).float(), labels, t1=0.8, t2=1.2)
        _close(loss.float(), ref.to(dtype).float(), atol=0, rtol=0)
        loss.backward()
        assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


def test_no_grad_path_matches_grad_path():
    g = torch.Generator().manual_seed(12)
    a = torch.randn(4, 6, generator=g)
    labels = torch.randint(0, 6, (4,), generator=g)
    for t1, t2 in GRID:
        with torch.no_grad():
            plain = bi_tempered_logistic_loss(a, labels, t1=t1, t2=t2, reduction="none")
        tracked = bi_tempered_logistic_loss(a.clone().requires_grad_(), labels, t1=t1, t2=t2, reduction="none")
        _close(tracked.detach(), plain, atol=0, rtol=0)


# ---------------------------------------------------------------------------------------------------------------
# modules and bad input


def test_modules():
    m = BiTemperedLogisticLoss(t1=0.8, t2=1.2, label_smoothing=0.1, ignore_index=-1)
    assert "t1=0.8, t2=1.2, label_smoothing=0.1" in repr(m)
    a, y = torch.randn(3, 4), torch.tensor([0, -1, 2])
    _close(m(a, y), bi_tempered_logistic_loss(a, y, t1=0.8, t2=1.2, label_smoothing=0.1, ignore_index=-1),
           atol=0, rtol=0)
    mb = BiTemperedBinaryLogisticLoss(t1=0.5, t2=4.0)
    assert "BiTemperedBinaryLogisticLoss(t1=0.5, t2=4.0" in repr(mb)
    with pytest.raises(ValueError, match=r"t2: expected a value in \(0, inf\), got 0"):
        BiTemperedLogisticLoss(t1=0.5, t2=0.0)
    with pytest.raises(ValueError, match=r"t1: expected a value in \(0, 2\), got -1"):
        BiTemperedBinaryLogisticLoss(t1=-1.0, t2=1.0)
    assert losslab.bi_tempered_logistic_loss is bi_tempered_logistic_loss


def test_bad_input():
    a, y = torch.randn(3, 4), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match=r"t1: expected a value in \(0, 2\), got 0"):
        bi_tempered_logistic_loss(a, y, t1=0.0, t2=1.0)
    with pytest.raises(ValueError, match=r"t1: expected a value in \(0, 2\), got 2"):
        bi_tempered_logistic_loss(a, y, t1=2.0, t2=1.0)
    with pytest.raises(ValueError, match=r"t2: expected a value in \(0, inf\), got -0.5"):
        bi_tempered_logistic_loss(a, y, t1=0.5, t2=-0.5)
    with pytest.raises(ValueError, match=r"t: expected a value in \(0, inf\), got 0"):
        tempered_softmax(a, 0.0)
    with pytest.raises(ValueError, match=r"t: expected a value in \(0, inf\), got 0"):
        tempered_sigmoid(a, 0.0)
    with pytest.raises(ValueError, match=r"t: expected a value in \[0, inf\), got -1"):
        log_t(a.abs(), -1.0)
    with pytest.raises(ValueError, match=r"num_iters: expected an int >= 1 or None, got 0"):
        bi_tempered_logistic_loss(a, y, t1=0.5, t2=2.0, num_iters=0)
    with pytest.raises(TypeError, match=r"num_iters: expected an int >= 1 or None, got float"):
        tempered_softmax(a, 2.0, num_iters=5.0)
    with pytest.raises(ValueError, match=r"label_smoothing: expected a value in \[0, 1\], got 1.5"):
        bi_tempered_logistic_loss(a, y, t1=0.5, t2=2.0, label_smoothing=1.5)
    with pytest.raises(TypeError, match=r"target: class indices of shape \(3,\) must have an integer dtype"):
        bi_tempered_logistic_loss(a, y.float(), t1=0.5, t2=2.0)
    with pytest.raises(ValueError, match=r"target: expected class indices in \[0, 3\], got values in \[0, 4\]"):
        bi_tempered_logistic_loss(a, torch.tensor([0, 4, 1]), t1=0.5, t2=2.0)
    with pytest.raises(ValueError, match=r"ignore_index: only applies to class-index targets"):
        bi_tempered_logistic_loss(a, torch.rand(3, 4), t1=0.5, t2=2.0, ignore_index=0)
    with pytest.raises(TypeError, match=r"activations: expected a floating-point tensor, got dtype torch.int64"):
        bi_tempered_logistic_loss(torch.ones(3, 4, dtype=torch.long), y, t1=0.5, t2=2.0)
    with pytest.raises(ValueError, match=r"activations: expected shape \(N, C, \*\)"):
        bi_tempered_logistic_loss(torch.randn(3), y, t1=0.5, t2=2.0)
    with pytest.raises(ValueError, match=r"activations: expected at least 2 classes on dim 1"):
        bi_tempered_logistic_loss(torch.randn(3, 1), torch.zeros(3, dtype=torch.long), t1=0.5, t2=2.0, label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"target: expected the same shape as activations \(3,\), got \(4,\)"):
        bi_tempered_binary_logistic_loss(torch.randn(3), torch.rand(4), t1=0.5, t2=2.0)
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\], got values in"):
        bi_tempered_binary_logistic_loss(torch.randn(3), torch.tensor([0.0, 1.0, 2.0]), t1=0.5, t2=2.0)
    with pytest.raises(ValueError, match=r"reduction: expected one of"):
        bi_tempered_logistic_loss(a, y, t1=0.5, t2=2.0, reduction="avg")
    with losslab.validation(False):  # value checks off: metadata checks still run
        with pytest.raises(ValueError, match=r"t2: expected"):
            bi_tempered_logistic_loss(a, y, t1=0.5, t2=0.0)


@pytest.mark.parametrize("t1,t2", GRID)
def test_few_classes_layout_matches(t1, t2):
    # many rows of few classes run with the classes moved to dim 0 internally; chunks of 4 rows do not
    g = torch.Generator().manual_seed(13)
    a = torch.randn(96, 5, generator=g, dtype=F64) * 3
    labels = torch.randint(0, 5, (96,), generator=g)
    soft = torch.softmax(torch.randn(96, 5, generator=g, dtype=F64), 1)
    for target, ls in ((labels, 0.1), (soft, 0.0)):
        x = a.clone().requires_grad_()
        full = bi_tempered_logistic_loss(x, target, t1=t1, t2=t2, label_smoothing=ls, reduction="none")
        (full * torch.arange(96)).sum().backward()
        for i in range(0, 96, 4):
            xi = a[i : i + 4].clone().requires_grad_()
            part = bi_tempered_logistic_loss(xi, target[i : i + 4], t1=t1, t2=t2, label_smoothing=ls, reduction="none")
            (part * torch.arange(i, i + 4)).sum().backward()
            _close(full[i : i + 4].detach(), part.detach(), atol=1e-12, rtol=1e-12)
            _close(x.grad[i : i + 4], xi.grad, atol=1e-12, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# regressions of the outside review (issue 12) and torch.func


@pytest.mark.parametrize("t1,t2", [(0.7, 1.3), (0.6, 1.4), (0.8, 1.2), (0.5, 1.5)])
def test_t1_plus_t2_equal_two_matches_the_unrolled_reference(t1, t2):
    """The old fast branch for t1 + t2 = 2 read an overwritten buffer when 1/(1 - t1) was not a whole number."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(5, 4, generator=g, dtype=F64, requires_grad=True)
    y = torch.tensor([0, 3, 1, 1, 2])
    got = bi_tempered_logistic_loss(a, y, t1=t1, t2=t2, num_iters=None, reduction="none")
    p = tempered_softmax(a, t2, num_iters=None)
    onehot = F.one_hot(y, 4).to(F64)
    expected = (-onehot * log_t(p, t1) - (onehot - p ** (2 - t1)) / (2 - t1)).sum(1)
    _close(got, expected, atol=1e-12, rtol=1e-10)
    got.sum().backward()
    grad, a.grad = a.grad.clone(), None
    expected.sum().backward()
    _close(grad, a.grad, atol=1e-10, rtol=1e-8)


def test_rejects_bad_ignore_index_dim_and_class_counts():
    a = torch.randn(3, 4)
    y = torch.tensor([0, 1, 2])
    for bad in (True, 1.5):
        with pytest.raises(TypeError, match="ignore_index: expected an int or None"):
            bi_tempered_logistic_loss(a, y, t1=0.5, t2=2.0, ignore_index=bad)
    with pytest.raises(ValueError, match=r"dim: expected a dimension of activations in \[-2, 1\], got 2"):
        tempered_softmax(a, 1.5, dim=2)
    with pytest.raises(ValueError, match="activations: expected at least 1 class on dim 1"):
        tempered_softmax(torch.randn(3, 0), 1.5)
    with pytest.raises(ValueError, match="activations: expected at least 2 classes on dim 1"):
        bi_tempered_logistic_loss(torch.randn(3, 1), torch.zeros(3, dtype=torch.long), t1=0.5, t2=2.0)
    with pytest.raises(ValueError, match="activations: expected at least 2 classes on dim 1, got shape \\(3, 0\\)"):
        bi_tempered_logistic_loss(torch.randn(3, 0), torch.rand(3, 0), t1=0.5, t2=2.0)
    with pytest.raises(TypeError, match="bi_tempered_logistic_loss: `weight` was renamed to `sample_weight`"):
        bi_tempered_logistic_loss(a, y, t1=0.5, t2=2.0, weight=torch.ones(3))
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="t2: expected"):
            bi_tempered_logistic_loss(a, y, t1=0.5, t2=bad)
        with pytest.raises(ValueError, match="activations: expected finite values"):
            bi_tempered_logistic_loss(torch.full((3, 4), bad), y, t1=0.5, t2=2.0)


@pytest.mark.parametrize("t1,t2", [(0.5, 0.8), (0.8, 1.2), (1.0, 1.0)])
def test_torch_func_grad_vmap_and_double_backward(t1, t2):
    g = torch.Generator().manual_seed(2)
    a = torch.randn(3, 5, generator=g, dtype=F64)
    y = torch.tensor([0, 4, 2])

    def loss(x):
        return bi_tempered_logistic_loss(x, y, t1=t1, t2=t2, num_iters=None)

    x = a.clone().requires_grad_()
    loss(x).backward()
    torch.testing.assert_close(torch.func.grad(loss)(a), x.grad)
    per_row = torch.func.vmap(lambda row, lab: bi_tempered_logistic_loss(row[None], lab[None], t1=t1, t2=t2, num_iters=None))
    torch.testing.assert_close(per_row(a, y), bi_tempered_logistic_loss(a, y, t1=t1, t2=t2, num_iters=None, reduction="none"))
    # double backward: the Hessian-vector product agrees with finite differences of the gradient
    v = torch.randn(3, 5, generator=g, dtype=F64)
    x = a.clone().requires_grad_()
    (gx,) = torch.autograd.grad(loss(x), x, create_graph=True)
    (hv,) = torch.autograd.grad((gx * v).sum(), x)
    h = 1e-6
    fd = (torch.func.grad(loss)(a + h * v) - torch.func.grad(loss)(a - h * v)) / (2 * h)
    torch.testing.assert_close(hv, fd, rtol=1e-5, atol=1e-7)
