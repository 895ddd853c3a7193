"""Imbalance losses (losslab.classification.imbalance) against optax's PolyLoss (stored values,
tests/data/breadth.json), float64 references from the papers, the official ASL code's convention, limit cases and
the class-balanced weights' closed form."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losslab.registry
from conftest import oracle_path
from losslab import (
    AsymmetricLoss,
    LogitAdjustedCrossEntropyLoss,
    Poly1CrossEntropyLoss,
    asymmetric_loss,
    class_balanced_weights,
    logit_adjusted_cross_entropy,
    poly1_cross_entropy,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
)

D = torch.float64


@pytest.fixture(scope="module")
def oracle():
    with open(oracle_path("breadth.json")) as f:
        return json.load(f)


def _data(n=7, c=5, spatial=(), seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn((n, c, *spatial), generator=g, dtype=D) * scale
    index = torch.randint(0, c, (n, *spatial), generator=g)
    soft = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=D) * 2, dim=1)
    return logits, index, soft


# ---------------------------------------------------------------------------------------------------------------
# asymmetric loss


def ref_asl(logits, y, gamma_pos, gamma_neg, clip):
    """Ridnik et al., eq. (1)-(4) in probability space: p_m = max(p - m, 0)."""
    p = 1 / (1 + torch.exp(-logits))
    p_m = (p - clip).clamp_min(0)
    pos = -y * (1 - p) ** gamma_pos * torch.log(p)
    neg = -(1 - y) * p_m**gamma_neg * torch.log(1 - p_m)
    return pos + neg


def _multilabel(n=6, c=7, seed=0, soft=False):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn((n, c), generator=g, dtype=D) * 3
    target = torch.rand((n, c), generator=g, dtype=D) if soft else (torch.rand((n, c), generator=g) < 0.3).to(D)
    return logits, target


@pytest.mark.parametrize("gamma_pos,gamma_neg,clip", [(0, 4, 0.05), (1, 4, 0.05), (0, 2, 0.0), (0.5, 0.5, 0.2),
                                                      (2, 0, 0.1)])
@pytest.mark.parametrize("soft", [False, True])
def test_asl_reference(gamma_pos, gamma_neg, clip, soft):
    logits, target = _multilabel(soft=soft)
    torch.testing.assert_close(
        asymmetric_loss(logits, target, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, reduction="none"),
        ref_asl(logits, target, gamma_pos, gamma_neg, clip))


@settings(max_examples=25, deadline=None)
@given(gamma_pos=st.floats(0, 4), gamma_neg=st.floats(0, 6), clip=st.floats(0, 0.5), seed=st.integers(0, 10_000))
def test_asl_hypothesis(gamma_pos, gamma_neg, clip, seed):
    logits, target = _multilabel(n=3, c=5, seed=seed, soft=True)
    torch.testing.assert_close(
        asymmetric_loss(logits, target, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, reduction="none"),
        ref_asl(logits, target, gamma_pos, gamma_neg, clip))


def test_asl_matches_official_code_convention():
    # The official AsymmetricLoss: xs_neg = min(1 - sigmoid + clip, 1); logs clamped at eps = 1e-8; the focusing
    # weight (1 - pt)^(gamma_pos y + gamma_neg (1 - y)) with pt = xs_pos y + xs_neg (1 - y); returns -sum.
    logits, y = _multilabel(seed=1)
    xs_pos = torch.sigmoid(logits)
    xs_neg = (1 - xs_pos + 0.05).clamp(max=1)
    loss = y * torch.log(xs_pos.clamp(min=1e-8)) + (1 - y) * torch.log(xs_neg.clamp(min=1e-8))
    pt = xs_pos * y + xs_neg * (1 - y)
    loss = loss * torch.pow(1 - pt, 0 * y + 4 * (1 - y))
    torch.testing.assert_close(asymmetric_loss(logits, y, reduction="sum"), -loss.sum())


def test_asl_limits_and_hand_value():
    logits, target = _multilabel(soft=True)
    bce = sigmoid_binary_cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(asymmetric_loss(logits, target, gamma_pos=0, gamma_neg=0, clip=0, reduction="none"), bce)
    torch.testing.assert_close(asymmetric_loss(logits, target, gamma_pos=0, gamma_neg=0, clip=0, reduction="none"),
                               F.binary_cross_entropy_with_logits(logits, target, reduction="none"))
    # a negative with p = 0.25: p_m = 0.2, loss = 0.2^4 * -log(0.8)
    x = torch.tensor([math.log(1 / 3)], dtype=D)
    torch.testing.assert_close(asymmetric_loss(x, torch.zeros(1, dtype=D)),
                               torch.tensor(0.2**4 * -math.log(0.8), dtype=D))
    # a negative below the margin costs nothing and has no gradient
    x = torch.tensor([-4.0], dtype=D, requires_grad=True)  # p = 0.018 < 0.05
    loss = asymmetric_loss(x, torch.zeros(1, dtype=D))
    (g,) = torch.autograd.grad(loss, x)
    assert loss.item() == 0.0 and g.item() == 0.0


@pytest.mark.parametrize("gamma_pos,gamma_neg,clip", [(0, 4, 0.05), (0.5, 0.3, 0.0), (0.3, 0.5, 0.1)])
def test_asl_extremes_and_gradcheck(gamma_pos, gamma_neg, clip):
    x = torch.tensor([[1e4, -1e4, 0.0, 30.0], [-1e4, 1e4, -30.0, 0.0]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    loss = asymmetric_loss(x, y, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    logits, target = _multilabel(n=3, c=4, soft=True)
    assert torch.autograd.gradcheck(
        lambda z: asymmetric_loss(z, target, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip),
        (logits.requires_grad_(),))


def test_asl_errors_and_module():
    logits, target = _multilabel()
    with pytest.raises(ValueError, match=r"clip: expected a value in \[0, 1\), got 1"):
        asymmetric_loss(logits, target, clip=1.0)
    with pytest.raises(ValueError, match=r"gamma_neg: expected a value in \[0, inf\)"):
        asymmetric_loss(logits, target, gamma_neg=-1.0)
    with pytest.raises(TypeError, match="target: expected a floating-point tensor"):
        asymmetric_loss(logits, target.long())
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\]"):
        asymmetric_loss(logits, target * 2)
    with pytest.raises(ValueError, match="target: expected the same shape as logits"):
        asymmetric_loss(logits, target[:, :3])
    with pytest.raises(ValueError, match="clip: expected"):
        AsymmetricLoss(clip=-0.1)
    m = AsymmetricLoss(gamma_pos=1.0, gamma_neg=2.0, clip=0.0)
    torch.testing.assert_close(m(logits, target),
                               asymmetric_loss(logits, target, gamma_pos=1.0, gamma_neg=2.0, clip=0.0))


# ---------------------------------------------------------------------------------------------------------------
# poly-1


@pytest.mark.parametrize("epsilon", ["-1.0", "0.0", "1.0", "2.0"])
def test_poly1_matches_optax(oracle, epsilon):
    logits = torch.tensor(oracle["inputs"]["logits"], dtype=D)
    index = torch.tensor(oracle["inputs"]["index"])
    soft = torch.tensor(oracle["inputs"]["soft"], dtype=D)
    e = float(epsilon)
    torch.testing.assert_close(poly1_cross_entropy(logits, index, epsilon=e, reduction="none"),
                               torch.tensor(oracle["optax"]["poly1_one_hot"][epsilon], dtype=D), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(poly1_cross_entropy(logits, soft, epsilon=e, reduction="none"),
                               torch.tensor(oracle["optax"]["poly1_soft"][epsilon], dtype=D), rtol=1e-12, atol=1e-14)


def test_poly1_epsilon_zero_is_ce():
    logits, index, soft = _data(spatial=(3,))
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0], dtype=D)
    index[0, 0] = -100
    for target, kw in ((index, {"ignore_index": -100}), (soft, {})):
        for ls in (0.0, 0.1):
            torch.testing.assert_close(
                poly1_cross_entropy(logits, target, epsilon=0.0, class_weight=w, label_smoothing=ls, **kw),
                softmax_cross_entropy(logits, target, class_weight=w, label_smoothing=ls, **kw))


def test_poly1_reference_with_smoothing_and_weights():
    logits, index, _ = _data(spatial=(2,))
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0], dtype=D)
    p = torch.softmax(logits, 1)
    y = F.one_hot(index, 5).movedim(-1, 1).to(D) * 0.9 + 0.1 / 5
    wv = w.reshape(1, -1, 1)
    expected = (wv * y * (-torch.log(p) + 2.0 * (1 - p))).sum(1)
    got = poly1_cross_entropy(logits, index, epsilon=2.0, class_weight=w, label_smoothing=0.1, reduction="none")
    torch.testing.assert_close(got, expected)
    # the class-weighted mean divides by the weights of the (unsmoothed) targets, as softmax_cross_entropy does
    torch.testing.assert_close(
        poly1_cross_entropy(logits, index, epsilon=2.0, class_weight=w, label_smoothing=0.1),
        expected.sum() / w[index].sum())


def test_poly1_extremes_errors_module():
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    loss = poly1_cross_entropy(x, torch.tensor([0, 0]), epsilon=-1.0)
    (g,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    logits, index, _ = _data()
    with pytest.raises(ValueError, match=r"epsilon: expected a value in \[-1, inf\), got -2"):
        poly1_cross_entropy(logits, index, epsilon=-2.0)
    with pytest.raises(ValueError, match=r"label_smoothing: expected a value in \[0, 1\]"):
        Poly1CrossEntropyLoss(label_smoothing=1.5)
    torch.testing.assert_close(Poly1CrossEntropyLoss(epsilon=2.0)(logits, index),
                               poly1_cross_entropy(logits, index, epsilon=2.0))


# ---------------------------------------------------------------------------------------------------------------
# logit adjustment


def test_logit_adjusted_reference_and_limits():
    logits, index, soft = _data(spatial=(2,))
    prior = torch.tensor([0.5, 0.25, 0.15, 0.07, 0.03], dtype=D)
    for tau in (0.5, 1.0, 2.0):
        adjusted = logits + tau * torch.log(prior).reshape(1, -1, 1)
        for target in (index, soft):
            torch.testing.assert_close(
                logit_adjusted_cross_entropy(logits, target, class_prior=prior, tau=tau, reduction="none"),
                -(torch.log_softmax(adjusted, 1) * F.one_hot(index, 5).movedim(-1, 1).to(D)).sum(1)
                if target is index else -(torch.log_softmax(adjusted, 1) * soft).sum(1))
    # tau = 0 and a uniform prior are cross-entropy; counts work like frequencies
    torch.testing.assert_close(logit_adjusted_cross_entropy(logits, index, class_prior=prior, tau=0.0),
                               softmax_cross_entropy(logits, index))
    torch.testing.assert_close(logit_adjusted_cross_entropy(logits, index, class_prior=torch.full((5,), 7.0, dtype=D)),
                               softmax_cross_entropy(logits, index))
    torch.testing.assert_close(logit_adjusted_cross_entropy(logits, index, class_prior=prior * 1000),
                               logit_adjusted_cross_entropy(logits, index, class_prior=prior))


def test_logit_adjusted_hand_value():
    # logits 0, prior (3/4, 1/4): softmax(log 3/4, log 1/4) = (3/4, 1/4); the rare class 1 costs log 4
    logits = torch.zeros(1, 2, dtype=D)
    prior = torch.tensor([0.75, 0.25], dtype=D)
    torch.testing.assert_close(logit_adjusted_cross_entropy(logits, torch.tensor([1]), class_prior=prior),
                               torch.tensor(math.log(4.0), dtype=D))


def test_logit_adjusted_errors_and_module():
    logits, index, _ = _data()
    with pytest.raises(ValueError, match="class_prior: required"):
        logit_adjusted_cross_entropy(logits, index)
    with pytest.raises(ValueError, match="class_prior: required"):
        LogitAdjustedCrossEntropyLoss()
    with pytest.raises(ValueError, match=r"class_prior: expected shape \(5,\)"):
        logit_adjusted_cross_entropy(logits, index, class_prior=torch.ones(4))
    with pytest.raises(ValueError, match=r"class_prior: expected values in \(0, inf[\])], got values in \[0, 1\]"):
        logit_adjusted_cross_entropy(logits, index, class_prior=torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"tau: expected a value in \[0, inf\)"):
        logit_adjusted_cross_entropy(logits, index, class_prior=torch.ones(5), tau=-1.0)
    prior = torch.tensor([0.5, 0.25, 0.15, 0.07, 0.03])
    m = LogitAdjustedCrossEntropyLoss(class_prior=prior, tau=1.5)
    assert "class_prior" in dict(m.named_buffers())
    torch.testing.assert_close(m(logits, index),
                               logit_adjusted_cross_entropy(logits, index, class_prior=prior, tau=1.5))


# ---------------------------------------------------------------------------------------------------------------
# class-balanced weights


def test_class_balanced_weights_closed_form():
    counts = [5000, 500, 50, 5]
    for beta in (0.9, 0.99, 0.999, 0.9999):
        inv_effective = torch.tensor([(1 - beta) / (1 - beta**n) for n in counts], dtype=D)
        expected = inv_effective / inv_effective.sum() * len(counts)
        torch.testing.assert_close(class_balanced_weights(counts, beta=beta, dtype=D), expected)
    # hand value: beta = 1/2, counts (1, 2): E = (1, 3/2) -> 1/E = (1, 2/3) -> normalized to sum 2: (6/5, 4/5)
    torch.testing.assert_close(class_balanced_weights(torch.tensor([1, 2]), beta=0.5, dtype=D),
                               torch.tensor([1.2, 0.8], dtype=D))


def test_class_balanced_weights_limits_and_use():
    counts = torch.tensor([900, 90, 9, 1])
    torch.testing.assert_close(class_balanced_weights(counts, beta=0.0), torch.ones(4))
    inverse = 1 / counts.double()
    torch.testing.assert_close(class_balanced_weights(counts, beta=1 - 1e-9, dtype=D), inverse / inverse.sum() * 4,
                               rtol=1e-5, atol=0)
    w = class_balanced_weights(counts)
    assert w.dtype == torch.get_default_dtype() and w.shape == (4,)
    torch.testing.assert_close(w.sum(), torch.tensor(4.0))
    logits, index, _ = _data(c=4)
    softmax_cross_entropy(logits, index, class_weight=w.double())
    losslab.generalized_cross_entropy(logits, index, class_weight=w)


def test_class_balanced_weights_errors():
    with pytest.raises(ValueError, match=r"counts: expected finite counts > 0 for every class, got \[3.0, 0.0\]"):
        class_balanced_weights([3, 0])
    with pytest.raises(ValueError, match=r"beta: expected a value in \[0, 1\), got 1"):
        class_balanced_weights([3, 4], beta=1.0)
    with pytest.raises(ValueError, match=r"counts: expected shape \(C,\)"):
        class_balanced_weights(torch.ones(2, 2))
    with pytest.raises(TypeError, match="counts: expected a tensor or a sequence of numbers"):
        class_balanced_weights("abc")


def test_registered_for_imbalance():
    for name in ("asymmetric_loss", "poly1_cross_entropy", "logit_adjusted_cross_entropy"):
        spec = losslab.registry.get(name)
        assert "imbalanced" in spec.tasks and spec.advice
    assert "class_balanced_weights" in losslab.registry.get("logit_adjusted_cross_entropy").advice
