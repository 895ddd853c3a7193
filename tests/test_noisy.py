"""Noisy-label losses (losslab.classification.noisy) against Keras 3 (stored values, tests/data/breadth.json),
float64 references written from the papers' formulas, the authors' code conventions, limit cases and extremes."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losslab
import losslab.registry
from conftest import oracle_path
from losslab import (
    ActivePassiveLoss,
    BootstrappedCrossEntropyLoss,
    GeneralizedCrossEntropyLoss,
    SymmetricCrossEntropyLoss,
    TaylorCrossEntropyLoss,
    active_passive_loss,
    bootstrapped_cross_entropy,
    generalized_cross_entropy,
    normalized_cross_entropy,
    reverse_cross_entropy,
    softmax_cross_entropy,
    symmetric_cross_entropy,
    taylor_cross_entropy,
)

D = torch.float64


@pytest.fixture(scope="module")
def oracle():
    with open(oracle_path("breadth.json")) as f:
        return json.load(f)


def _inputs(oracle, name, dtype=D):
    return torch.tensor(oracle["inputs"][name], dtype=dtype)


def _data(n=7, c=5, spatial=(), seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn((n, c, *spatial), generator=g, dtype=D) * scale
    index = torch.randint(0, c, (n, *spatial), generator=g)
    soft = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=D) * 2, dim=1)
    return logits, index, soft


# ---------------------------------------------------------------------------------------------------------------
# float64 references, written from the papers' formulas in probability space (no log-space tricks)


def _probs(logits):
    e = torch.exp(logits - logits.amax(1, keepdim=True))
    return e / e.sum(1, keepdim=True)


def _dense(target, logits):
    if target.is_floating_point():
        return target
    return F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(D)


def ref_gce(logits, target, q):
    p, y = _probs(logits), _dense(target, logits)
    return (y * (1 - p**q) / q).sum(1)


def ref_taylor(logits, target, order):
    p, y = _probs(logits), _dense(target, logits)
    return (y * sum((1 - p) ** k / k for k in range(1, order + 1))).sum(1)


def ref_ce(logits, target):
    p, y = _probs(logits), _dense(target, logits)
    return -(y * torch.log(p)).sum(1)


def ref_rce(logits, target, A):
    p, y = _probs(logits), _dense(target, logits)
    log_y = torch.where(y > 0, torch.log(torch.where(y > 0, y, 1.0)), torch.full_like(y, -math.inf))
    return -(p * torch.maximum(log_y, torch.full_like(y, A))).sum(1)


def ref_nfl(logits, target, gamma):
    p, y = _probs(logits), _dense(target, logits)
    focal = (1 - p) ** gamma * -torch.log(p)
    return (y * focal).sum(1) / focal.sum(1)


def ref_mae_code(logits, target):  # Ma et al.'s code: 1 - sum_c y_c p_c
    p, y = _probs(logits), _dense(target, logits)
    return 1 - (y * p).sum(1)


def ref_bootstrap(logits, target, beta, mode):
    p, y = _probs(logits), _dense(target, logits)
    z = p if mode == "soft" else F.one_hot(p.argmax(1), p.shape[1]).movedim(-1, 1).to(D)
    return -((beta * y + (1 - beta) * z) * torch.log(p)).sum(1)


# ---------------------------------------------------------------------------------------------------------------
# generalized cross-entropy


@pytest.mark.parametrize("q", ["0.1", "0.3", "0.5", "0.7", "0.9"])
def test_gce_matches_keras(oracle, q):
    logits, index = _inputs(oracle, "logits"), torch.tensor(oracle["inputs"]["index"])
    expected = torch.tensor(oracle["keras"]["gce"][q], dtype=D)
    got = generalized_cross_entropy(logits, index, q=float(q), reduction="none")
    # Keras' ops.power takes q as float32 (0.1 -> 0.10000000149), which moves its float64 result by up to 4e-8
    # relative; q = 0.5 is exact in float32 and agrees to 4e-16.
    rtol = 1e-12 if q == "0.5" else 1e-7
    torch.testing.assert_close(got, expected, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("q", [0.05, 0.7, 1.0])
@pytest.mark.parametrize("kind", ["index", "soft"])
def test_gce_reference(q, kind):
    logits, index, soft = _data(spatial=(3,))
    target = index if kind == "index" else soft
    torch.testing.assert_close(generalized_cross_entropy(logits, target, q=q, reduction="none"),
                               ref_gce(logits, target, q))


def test_gce_limits():
    logits, index, soft = _data()
    for target in (index, soft):
        ce = softmax_cross_entropy(logits, target, reduction="none")
        torch.testing.assert_close(generalized_cross_entropy(logits, target, q=1e-7, reduction="none"), ce,
                                   rtol=1e-5, atol=1e-7)
    # q = 1: the mean absolute error 1 - p_y (Zhang & Sabuncu's MAE end, up to their factor 2)
    p_y = _probs(logits).gather(1, index[:, None]).squeeze(1)
    torch.testing.assert_close(generalized_cross_entropy(logits, index, q=1.0, reduction="none"), 1 - p_y)


def test_gce_hand_value():
    # p = softmax([0, log 3]) = (1/4, 3/4); target 1, q = 1/2: (1 - sqrt(3/4)) / (1/2) = 2 - sqrt(3)
    logits = torch.tensor([[0.0, math.log(3.0)]], dtype=D)
    torch.testing.assert_close(generalized_cross_entropy(logits, torch.tensor([1]), q=0.5),
                               torch.tensor(2 - math.sqrt(3), dtype=D))


@settings(max_examples=25, deadline=None)
@given(q=st.floats(1e-3, 1.0), c=st.integers(2, 6), n=st.integers(1, 5), seed=st.integers(0, 10_000),
       dense=st.booleans())
def test_gce_hypothesis(q, c, n, seed, dense):
    logits, index, soft = _data(n=n, c=c, seed=seed, scale=3.0)
    target = soft if dense else index
    torch.testing.assert_close(generalized_cross_entropy(logits, target, q=q, reduction="none"),
                               ref_gce(logits, target, q))


# ---------------------------------------------------------------------------------------------------------------
# Taylor cross-entropy


@pytest.mark.parametrize("order", [1, 2, 3, 6])
def test_taylor_reference(order):
    logits, index, soft = _data(spatial=(2,))
    for target in (index, soft):
        torch.testing.assert_close(taylor_cross_entropy(logits, target, order=order, reduction="none"),
                                   ref_taylor(logits, target, order))


def test_taylor_limits():
    logits, index, _ = _data(scale=0.5)  # p_y not tiny, so the series converges within a few hundred terms
    p_y = _probs(logits).gather(1, index[:, None]).squeeze(1)
    torch.testing.assert_close(taylor_cross_entropy(logits, index, order=1, reduction="none"), 1 - p_y)
    torch.testing.assert_close(taylor_cross_entropy(logits, index, order=400, reduction="none"),
                               softmax_cross_entropy(logits, index, reduction="none"), rtol=1e-6, atol=1e-8)
    # bounded by the harmonic number H_t
    bad = torch.tensor([[-1e4, 1e4]], dtype=D)
    torch.testing.assert_close(taylor_cross_entropy(bad, torch.tensor([0]), order=3),
                               torch.tensor(1 + 1 / 2 + 1 / 3, dtype=D))


# ---------------------------------------------------------------------------------------------------------------
# reverse and symmetric cross-entropy


@pytest.mark.parametrize("log_zero", [-4.0, math.log(1e-4)])
def test_rce_reference(log_zero):
    logits, index, soft = _data(spatial=(3,))
    for target in (index, soft, _dense(index, logits)):
        torch.testing.assert_close(reverse_cross_entropy(logits, target, log_zero=log_zero, reduction="none"),
                                   ref_rce(logits, target, log_zero))


def test_rce_matches_authors_code_convention():
    # The SCE/APL code: p = clamp(softmax, 1e-7, 1), label = clamp(one_hot, 1e-4, 1), rce = -sum(p * log(label)).
    logits, index, _ = _data()
    p = _probs(logits).clamp(1e-7, 1.0)
    code = -(p * torch.log(_dense(index, logits).clamp(1e-4, 1.0))).sum(1)
    torch.testing.assert_close(reverse_cross_entropy(logits, index, log_zero=math.log(1e-4), reduction="none"), code)


def test_rce_hand_value():
    # one-hot: -A (1 - p_y) with A = -4; p = (1/4, 3/4), target 0 -> 4 * 3/4 = 3
    logits = torch.tensor([[0.0, math.log(3.0)]], dtype=D)
    torch.testing.assert_close(reverse_cross_entropy(logits, torch.tensor([0])), torch.tensor(3.0, dtype=D))


@pytest.mark.parametrize("alpha,beta", [(0.1, 1.0), (6.0, 0.1), (1.0, 0.0)])
def test_sce_reference(alpha, beta):
    logits, index, soft = _data(spatial=(2,))
    for target in (index, soft):
        expected = alpha * ref_ce(logits, target) + beta * ref_rce(logits, target, -4.0)
        torch.testing.assert_close(
            symmetric_cross_entropy(logits, target, alpha=alpha, beta=beta, reduction="none"), expected)


def test_sce_beta_zero_is_alpha_ce():
    logits, index, _ = _data()
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0], dtype=D)
    index[0] = -100
    torch.testing.assert_close(
        symmetric_cross_entropy(logits, index, alpha=0.3, beta=0.0, class_weight=w, ignore_index=-100),
        0.3 * softmax_cross_entropy(logits, index, class_weight=w, ignore_index=-100))


# ---------------------------------------------------------------------------------------------------------------
# normalized losses and APL


def test_nce_reference_and_range():
    logits, index, soft = _data(spatial=(3,))
    for target in (index, soft):
        got = normalized_cross_entropy(logits, target, reduction="none")
        torch.testing.assert_close(got, ref_nfl(logits, target, 0.0))
        assert (got >= 0).all() and (got <= 1).all()
    # the normalized losses sum to 1 over the possible labels
    total = sum(normalized_cross_entropy(logits, torch.full_like(index, k), reduction="none") for k in range(5))
    torch.testing.assert_close(total, torch.ones_like(total))


@pytest.mark.parametrize("active,passive", [("nce", "rce"), ("nce", "mae"), ("nfl", "rce"), ("nfl", "mae")])
def test_apl_reference(active, passive):
    logits, index, soft = _data(spatial=(2,))
    for target in (index, soft):
        a = ref_nfl(logits, target, 0.5 if active == "nfl" else 0.0)
        b = ref_rce(logits, target, -4.0) if passive == "rce" else ref_mae_code(logits, target)
        got = active_passive_loss(logits, target, active=active, passive=passive, alpha=2.0, beta=0.5,
                                  reduction="none")
        torch.testing.assert_close(got, 2.0 * a + 0.5 * b)


def test_apl_options():
    logits, index, _ = _data()
    torch.testing.assert_close(active_passive_loss(logits, index, active="nfl", gamma=0.0, passive="mae"),
                               active_passive_loss(logits, index, active="nce", passive="mae"))
    torch.testing.assert_close(active_passive_loss(logits, index, alpha=1.0, beta=0.0),
                               normalized_cross_entropy(logits, index))
    torch.testing.assert_close(active_passive_loss(logits, index, alpha=0.0, beta=1.0, log_zero=-2.0),
                               reverse_cross_entropy(logits, index, log_zero=-2.0))
    torch.testing.assert_close(active_passive_loss(logits, index, active="nfl", gamma=2.0, reduction="none"),
                               ref_nfl(logits, index, 2.0) + ref_rce(logits, index, -4.0))


def test_apl_rejects_unused_options():
    logits, index, _ = _data()
    with pytest.raises(ValueError, match="gamma: only applies to active='nfl'"):
        active_passive_loss(logits, index, gamma=1.0)
    with pytest.raises(ValueError, match="log_zero: only applies to passive='rce'"):
        active_passive_loss(logits, index, passive="mae", log_zero=-4.0)
    with pytest.raises(ValueError, match=r"active: expected one of \('nce', 'nfl'\), got 'ce'"):
        active_passive_loss(logits, index, active="ce")
    with pytest.raises(ValueError, match="gamma: only applies"):
        ActivePassiveLoss(gamma=0.5)


# ---------------------------------------------------------------------------------------------------------------
# bootstrapping


@pytest.mark.parametrize("mode,beta", [("soft", 0.95), ("soft", 0.5), ("hard", 0.8), ("hard", 0.0)])
def test_bootstrap_reference(mode, beta):
    logits, index, soft = _data(spatial=(2,))
    for target in (index, soft):
        torch.testing.assert_close(bootstrapped_cross_entropy(logits, target, beta=beta, mode=mode, reduction="none"),
                                   ref_bootstrap(logits, target, beta, mode))


def test_bootstrap_defaults_and_beta_one_is_ce():
    logits, index, soft = _data()
    torch.testing.assert_close(bootstrapped_cross_entropy(logits, index, reduction="none"),
                               ref_bootstrap(logits, index, 0.95, "soft"))
    torch.testing.assert_close(bootstrapped_cross_entropy(logits, index, mode="hard", reduction="none"),
                               ref_bootstrap(logits, index, 0.8, "hard"))
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0], dtype=D)
    for mode in ("soft", "hard"):
        for target in (index, soft):
            torch.testing.assert_close(bootstrapped_cross_entropy(logits, target, beta=1.0, mode=mode, class_weight=w),
                                       softmax_cross_entropy(logits, target, class_weight=w))


def test_bootstrap_soft_gradient_includes_entropy():
    # the soft target's p is differentiated: the gradient is CE's plus (1 - beta) times the entropy's
    logits, index, _ = _data(n=3)
    x = logits.clone().requires_grad_()
    (g,) = torch.autograd.grad(bootstrapped_cross_entropy(x, index, beta=0.6, reduction="sum"), x)
    x2 = logits.clone().requires_grad_()
    p = torch.softmax(x2, 1)
    expected_loss = 0.6 * F.cross_entropy(x2, index, reduction="sum") - 0.4 * (p * torch.log(p)).sum()
    (g2,) = torch.autograd.grad(expected_loss, x2)
    torch.testing.assert_close(g, g2)


# ---------------------------------------------------------------------------------------------------------------
# shared behaviour: class weights, ignore_index, dense == index, extremes, gradients, modules, errors

ALL = [
    (generalized_cross_entropy, {"q": 0.7}),
    (taylor_cross_entropy, {"order": 3}),
    (reverse_cross_entropy, {}),
    (symmetric_cross_entropy, {"alpha": 0.5}),
    (normalized_cross_entropy, {}),
    (active_passive_loss, {"active": "nfl", "passive": "rce"}),
    (active_passive_loss, {"active": "nce", "passive": "mae"}),
    (bootstrapped_cross_entropy, {"mode": "soft"}),
    (bootstrapped_cross_entropy, {"mode": "hard"}),
]
IDS = [f"{f.__name__}-{'-'.join(map(str, k.values()))}" for f, k in ALL]


@pytest.mark.parametrize("fn,kw", ALL, ids=IDS)
def test_class_weight_ignore_index_and_one_hot(fn, kw):
    logits, index, _ = _data(n=8, spatial=(3,))
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 0.0], dtype=D)
    one_hot = _dense(index, logits)
    none = fn(logits, index, **kw, reduction="none")
    # one-hot dense targets give exactly the index-target loss, weighted or not
    torch.testing.assert_close(fn(logits, one_hot, **kw, reduction="none"), none)
    torch.testing.assert_close(fn(logits, one_hot, **kw, class_weight=w, reduction="none"),
                               fn(logits, index, **kw, class_weight=w, reduction="none"))
    # class weights scale each position by w_y; the mean divides by sum w_y (torch's convention)
    wy = w[index]
    torch.testing.assert_close(fn(logits, index, **kw, class_weight=w, reduction="none"), none * wy)
    torch.testing.assert_close(fn(logits, index, **kw, class_weight=w), (none * wy).sum() / wy.sum())
    torch.testing.assert_close(fn(logits, index, **kw, class_weight=torch.full((5,), 3.0, dtype=D)),
                               fn(logits, index, **kw))
    # ignore_index == dropping those positions; all ignored -> 0 with a zero gradient
    ignored = index.clone()
    ignored[:, 0] = 255
    kept = ignored != 255
    torch.testing.assert_close(fn(logits, ignored, **kw, ignore_index=255), none[kept].mean())
    x = logits.clone().requires_grad_()
    loss = fn(x, torch.full_like(index, -100), **kw, ignore_index=-100)
    (g,) = torch.autograd.grad(loss, x)
    assert loss.item() == 0.0 and (g == 0).all()


def test_class_weight_with_soft_targets():
    # terms linear in the target weight each class inside the sum (as cross-entropy does); RCE and the bootstrap
    # term scale by the target's weight sum_c w_c y_c; "mean" divides by the summed target weights
    logits, _, soft = _data(spatial=(2,))
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 0.25], dtype=D)
    wv = w.reshape(1, -1, 1)
    tw = (soft * wv).sum(1)
    p = _probs(logits)
    gce = (wv * soft * (1 - p**0.7) / 0.7).sum(1)
    torch.testing.assert_close(generalized_cross_entropy(logits, soft, class_weight=w, reduction="none"), gce)
    torch.testing.assert_close(generalized_cross_entropy(logits, soft, class_weight=w), gce.sum() / tw.sum())
    torch.testing.assert_close(reverse_cross_entropy(logits, soft, class_weight=w, reduction="none"),
                               tw * ref_rce(logits, soft, -4.0))
    ce = -(wv * soft * torch.log(p)).sum(1)
    torch.testing.assert_close(bootstrapped_cross_entropy(logits, soft, beta=0.7, class_weight=w, reduction="none"),
                               0.7 * ce + 0.3 * tw * -(p * torch.log(p)).sum(1))


@pytest.mark.parametrize("fn,kw", ALL, ids=IDS)
def test_extreme_logits_finite(fn, kw):
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [0.0, 0.0, 0.0]], requires_grad=True)
    for target in (torch.tensor([0, 0, 2]), torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])):
        loss = fn(logits, target, **kw, reduction="sum")
        (g,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


@pytest.mark.parametrize("fn,kw", ALL, ids=IDS)
def test_gradcheck_dense_weighted(fn, kw):
    logits, index, soft = _data(n=3, c=4)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=D)
    x = logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: fn(x, soft, **kw, class_weight=w), (x,))
    index[0] = -1
    assert torch.autograd.gradcheck(lambda x: fn(x, index, **kw, class_weight=w, ignore_index=-1), (x,))


def test_modules():
    logits, index, _ = _data()
    cases = [
        (GeneralizedCrossEntropyLoss(q=0.4), generalized_cross_entropy, {"q": 0.4}),
        (TaylorCrossEntropyLoss(order=4), taylor_cross_entropy, {"order": 4}),
        (SymmetricCrossEntropyLoss(alpha=6.0, beta=0.1), symmetric_cross_entropy, {"alpha": 6.0, "beta": 0.1}),
        (ActivePassiveLoss(active="nfl", gamma=1.0, passive="mae", alpha=10.0, beta=0.1), active_passive_loss,
         {"active": "nfl", "gamma": 1.0, "passive": "mae", "alpha": 10.0, "beta": 0.1}),
        (BootstrappedCrossEntropyLoss(mode="hard"), bootstrapped_cross_entropy, {"mode": "hard"}),
    ]
    for module, fn, kw in cases:
        torch.testing.assert_close(module(logits, index), fn(logits, index, **kw))
    assert "q=0.4" in repr(cases[0][0])
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0])
    m = GeneralizedCrossEntropyLoss(class_weight=w)
    assert "class_weight" in dict(m.named_buffers())


@pytest.mark.parametrize("call,error,match", [
    (lambda x, y: generalized_cross_entropy(x, y, q=0.0), ValueError, r"q: expected a value in \(0, 1\], got 0"),
    (lambda x, y: generalized_cross_entropy(x, y, q=1.5), ValueError, r"q: expected a value in \(0, 1\]"),
    (lambda x, y: generalized_cross_entropy(x, y, q=float("nan")), ValueError, "q: expected a"),
    (lambda x, y: taylor_cross_entropy(x, y, order=0), ValueError, "order: expected an int >= 1, got 0"),
    (lambda x, y: taylor_cross_entropy(x, y, order=2.0), TypeError, "order: expected an int >= 1, got float"),
    (lambda x, y: reverse_cross_entropy(x, y, log_zero=0.0), ValueError, r"log_zero: expected a value in \(-inf, 0\)"),
    (lambda x, y: symmetric_cross_entropy(x, y, alpha=-1.0), ValueError, "alpha: expected a value in"),
    (lambda x, y: bootstrapped_cross_entropy(x, y, mode="mixed"), ValueError,
     r"mode: expected one of \('soft', 'hard'\)"),
    (lambda x, y: bootstrapped_cross_entropy(x, y, beta=1.5), ValueError, r"beta: expected a value in \[0, 1\]"),
    (lambda x, y: normalized_cross_entropy(x, y.float()), TypeError, "target: class indices of shape"),
    (lambda x, y: normalized_cross_entropy(x, y + 10), ValueError, r"target: expected class indices in \[0, 4\]"),
    (lambda x, y: normalized_cross_entropy(x[:, :1], y * 0), ValueError, "logits: expected at least 2 classes"),
    (lambda x, y: generalized_cross_entropy(x, y, class_weight=torch.ones(3)), ValueError,
     r"class_weight: expected shape \(5,\)"),
    (lambda x, y: generalized_cross_entropy(x, y, reduction="avg"), ValueError, "reduction: expected one of"),
])
def test_errors(call, error, match):
    logits, index, _ = _data()
    with pytest.raises(error, match=match):
        call(logits, index)


def test_module_validates_at_construction():
    with pytest.raises(ValueError, match=r"q: expected a value in \(0, 1\]"):
        GeneralizedCrossEntropyLoss(q=2.0)
    with pytest.raises(ValueError, match="order: expected an int >= 1"):
        TaylorCrossEntropyLoss(order=0)


def test_public_and_registered():
    names = ["generalized_cross_entropy", "taylor_cross_entropy", "reverse_cross_entropy", "symmetric_cross_entropy",
             "normalized_cross_entropy", "active_passive_loss", "bootstrapped_cross_entropy"]
    for name in names:
        spec = losslab.registry.get(name)
        assert "noisy-labels" in spec.tasks and spec.advice
