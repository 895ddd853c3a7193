"""The bi-tempered losses against a float64 reference written from the paper, over every branch.

The reference below is the authors' algorithm (Amid et al. 2019, Algorithm 1 and the official code's
normalizations) in plain float64 NumPy, run to convergence: the fixed point for ``t2 > 1``, bisection for
``t2 < 1``, the softmax at ``t2 = 1``; the loss is the paper's Bregman divergence and the gradient its closed
form (eq. 12). Nothing here calls losslab's internals. The grid is the issue's: every ``t1`` below, near and at
1 against every ``t2`` below, near, at and above 1, with index, smoothed and dense targets, float32 and float64,
the binary loss, and gradients.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losslab import bi_tempered_binary_logistic_loss, bi_tempered_logistic_loss, tempered_softmax

T1 = [0.2, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1 - 1e-6, 1.0]
T2 = [0.5, 0.9, 1 - 1e-6, 1.0, 1 + 1e-6, 1.2, 1.3, 1.4, 2.0, 4.0]


# ---------------------------------------------------------------------------------------------------------------
# the reference (float64 NumPy, from the paper)


# The paper's definitions, evaluated so that they stay accurate for t within 1e-16 of 1 (hypothesis draws such t):
# u^(1-t) = exp((1-t) log u) and [1 + (1-t)u]^(1/(1-t)) = exp(log1p((1-t)u) / (1-t)).


def ref_log_t(u: np.ndarray, t: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(u) if t == 1.0 else np.expm1((1.0 - t) * np.log(u)) / (1.0 - t)


def ref_exp_t(u: np.ndarray, t: float) -> np.ndarray:
    if t == 1.0:
        return np.exp(u)
    base = (1.0 - t) * u
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > -1.0, np.exp(np.log1p(np.maximum(base, -1.0)) / (1.0 - t)), 0.0)


def ref_normalizer(a: np.ndarray, t: float, fixed_point_iters: int | None = None) -> np.ndarray:
    """lambda per row (last axis) with sum_c exp_t(a_c - lambda) = 1."""
    mu = a.max(-1, keepdims=True)
    a0 = a - mu
    if t == 1.0:
        return mu + np.log(np.exp(a0).sum(-1, keepdims=True))
    if t > 1.0 and fixed_point_iters is not None:  # the official schedule, as published
        scaled = a0
        for _ in range(fixed_point_iters):
            z = ref_exp_t(scaled, t).sum(-1, keepdims=True)
            scaled = a0 * z ** (1.0 - t)
        z = ref_exp_t(scaled, t).sum(-1, keepdims=True)
        return -ref_log_t(1.0 / z, t) + mu
    # bisection on the monotone sum, run to float64 resolution
    lo = np.zeros_like(mu)
    hi = np.full_like(mu, 1.0)
    while (ref_exp_t(a0 - hi, t).sum(-1, keepdims=True) > 1.0).any():
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        too_big = ref_exp_t(a0 - mid, t).sum(-1, keepdims=True) > 1.0
        lo, hi = np.where(too_big, mid, lo), np.where(too_big, hi, mid)
    return 0.5 * (lo + hi) + mu


def ref_probs(a: np.ndarray, t: float, fixed_point_iters: int | None = None) -> np.ndarray:
    return ref_exp_t(a - ref_normalizer(a, t, fixed_point_iters), t)


def ref_loss(a: np.ndarray, y: np.ndarray, t1: float, t2: float, fixed_point_iters: int | None = None) -> np.ndarray:
    """Per-row loss, classes on the last axis."""
    p = ref_probs(a, t2, fixed_point_iters)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log_y = np.where(y > 0, y * ref_log_t(np.where(y > 0, y, 1.0), t1), 0.0)
        y_log_p = np.where(y > 0, y * ref_log_t(p, t1), 0.0)
    terms = y_log_y - y_log_p - (np.power(y, 2.0 - t1) - np.power(p, 2.0 - t1)) / (2.0 - t1)
    return terms.sum(-1)


def ref_grad(a: np.ndarray, y: np.ndarray, t1: float, t2: float) -> np.ndarray:
    """The paper's closed-form gradient (exact at the normalized p)."""
    p = ref_probs(a, t2)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(p > 0, (p - y) * np.power(p, t2 - t1), 0.0)
    escort = np.power(p, t2)
    return d - escort / escort.sum(-1, keepdims=True) * d.sum(-1, keepdims=True)


def smooth(y: np.ndarray, ls: float) -> np.ndarray:
    c = y.shape[-1]
    return y * (1.0 - c * ls / (c - 1)) + ls / (c - 1)


# ---------------------------------------------------------------------------------------------------------------
# fixtures


def _sample(seed: int, n: int = 6, c: int = 5, scale: float = 3.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, c)) * scale
    labels = rng.integers(0, c, size=n)
    dense = rng.dirichlet(np.ones(c) * 0.7, size=n)
    return a, labels, dense


def _tol(dtype: torch.dtype, t1: float, t2: float) -> dict:
    if dtype == torch.float64:
        return dict(rtol=1e-9, atol=1e-10)
    return dict(rtol=2e-5, atol=2e-5)


def _finite_ref(a, y, t1, t2):
    """t1 >= 1 with t2 < 1 costs inf where a labelled class lies outside the support; skip those rows."""
    ref = ref_loss(a, y, t1, t2)
    return ref, np.isfinite(ref)


# ---------------------------------------------------------------------------------------------------------------
# the grid


@pytest.mark.parametrize("t2", T2)
@pytest.mark.parametrize("t1", T1)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_multiclass_grid_against_the_paper(t1, t2, dtype):
    a, labels, dense = _sample(int(1e6 * t1 + 1e3 * t2) % 2**31)
    onehot = np.eye(a.shape[1])[labels]
    at = torch.tensor(a, dtype=dtype)
    cases = [
        (torch.tensor(labels), onehot, {}),  # index
        (torch.tensor(labels), smooth(onehot, 0.1), {"label_smoothing": 0.1}),  # smoothed index
        (torch.tensor(dense, dtype=dtype), dense, {}),  # dense
        (torch.tensor(dense, dtype=dtype), smooth(dense, 0.2), {"label_smoothing": 0.2}),  # smoothed dense
    ]
    for target, y, kwargs in cases:
        ref, ok = _finite_ref(a, y, t1, t2)
        got = bi_tempered_logistic_loss(at, target, t1=t1, t2=t2, num_iters=None, reduction="none", **kwargs)
        torch.testing.assert_close(got[torch.tensor(ok)], torch.tensor(ref[ok], dtype=dtype), **_tol(dtype, t1, t2))


@pytest.mark.parametrize("t2", T2)
@pytest.mark.parametrize("t1", T1)
def test_multiclass_gradient_grid_against_the_paper(t1, t2):
    a, labels, dense = _sample(7 + int(1e4 * (t1 + t2)) % 1000)
    for y in (np.eye(a.shape[1])[labels], dense):
        ref, ok = _finite_ref(a, y, t1, t2)
        at = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        target = torch.tensor(labels) if (y == np.eye(a.shape[1])[labels]).all() else torch.tensor(y)
        loss = bi_tempered_logistic_loss(at, target, t1=t1, t2=t2, num_iters=None, reduction="none")
        loss[torch.tensor(ok)].sum().backward()
        expected = ref_grad(a, y, t1, t2)
        torch.testing.assert_close(at.grad[torch.tensor(ok)], torch.tensor(expected[ok]), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("t2", T2)
@pytest.mark.parametrize("t1", T1)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binary_grid_against_the_paper(t1, t2, dtype):
    rng = np.random.default_rng(3)
    a = rng.normal(size=8) * 3
    y = np.concatenate([rng.integers(0, 2, size=4).astype(float), rng.uniform(size=4)])
    pair_a = np.stack([np.zeros_like(a), a], -1)
    for ls in (0.0, 0.1):
        yy = y * (1 - 2 * ls) + ls
        ref, ok = _finite_ref(pair_a, np.stack([1 - yy, yy], -1), t1, t2)
        at = torch.tensor(a, dtype=dtype)
        got = bi_tempered_binary_logistic_loss(
            at, torch.tensor(y, dtype=dtype), t1=t1, t2=t2, num_iters=None, label_smoothing=ls, reduction="none"
        )
        torch.testing.assert_close(got[torch.tensor(ok)], torch.tensor(ref[ok], dtype=dtype), **_tol(dtype, t1, t2))


@pytest.mark.parametrize("t2", [1.2, 1.3, 2.0, 4.0, 1 + 1e-6])
@pytest.mark.parametrize("num_iters", [1, 5, 20])
def test_official_fixed_point_schedule(t2, num_iters):
    """``num_iters`` rounds reproduce the authors' (unconverged) fixed point exactly as published."""
    a, labels, _ = _sample(11, scale=4.0)
    y = np.eye(a.shape[1])[labels]
    for t1 in (0.5, 0.8, 1.0):
        got = bi_tempered_logistic_loss(
            torch.tensor(a), torch.tensor(labels), t1=t1, t2=t2, num_iters=num_iters, reduction="none"
        )
        torch.testing.assert_close(got, torch.tensor(ref_loss(a, y, t1, t2, num_iters)), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("t", [0.5, 0.9, 1 - 1e-6, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-6, 1.2, 2.0, 4.0])
def test_tempered_softmax_float32_is_continuous_through_one(t):
    a, _, _ = _sample(5, scale=4.0)
    p = tempered_softmax(torch.tensor(a, dtype=torch.float32), t, num_iters=None)
    torch.testing.assert_close(p.sum(1), torch.ones(a.shape[0]), rtol=0, atol=1e-5)
    torch.testing.assert_close(p, torch.tensor(ref_probs(a, t), dtype=torch.float32), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_loss_is_continuous_through_one(dtype):
    """Annealing a temperature toward 1 never jumps: the loss at 1 +- d approaches the loss at 1."""
    a, labels, _ = _sample(9)
    at, lt = torch.tensor(a, dtype=dtype), torch.tensor(labels)
    at1 = bi_tempered_logistic_loss(at, lt, t1=1.0, t2=1.0, reduction="none")
    eps = torch.finfo(dtype).eps
    for d in (1e-3, 1e-6, 1e-8, 1e-10):
        for t1, t2 in ((1 - d, 1.0), (1.0, 1 - d), (1.0, 1 + d), (1 - d, 1 + d)):
            got = bi_tempered_logistic_loss(at, lt, t1=t1, t2=t2, num_iters=None, reduction="none")
            # |loss(t) - loss(1)| is O(d) (the derivative in t is ~ (log p)^2 / 2 < 200 here) plus rounding
            torch.testing.assert_close(got, at1, rtol=50 * eps, atol=200 * d + 50 * eps)


# ---------------------------------------------------------------------------------------------------------------
# hypothesis over shapes, scales and temperatures


@settings(max_examples=60, deadline=None)
@given(
    t1=st.floats(0.05, 1.0),
    t2=st.floats(0.3, 4.0),
    n=st.integers(1, 4),
    c=st.integers(2, 9),
    scale=st.sampled_from([0.1, 1.0, 5.0, 30.0]),
    seed=st.integers(0, 10_000),
    ls=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_random_configurations_against_the_paper(t1, t2, n, c, scale, seed, ls):
    a, labels, dense = _sample(seed, n, c, scale)
    for target, y in ((torch.tensor(labels), np.eye(c)[labels]), (torch.tensor(dense), dense)):
        ref, ok = _finite_ref(a, smooth(y, ls) if ls else y, t1, t2)
        at = torch.tensor(a, requires_grad=True)
        got = bi_tempered_logistic_loss(at, target, t1=t1, t2=t2, num_iters=None, label_smoothing=ls, reduction="none")
        torch.testing.assert_close(got[torch.tensor(ok)], torch.tensor(ref[ok]), rtol=1e-8, atol=1e-9)
        if ok.all():
            got.sum().backward()
            grad = ref_grad(a, smooth(y, ls) if ls else y, t1, t2)
            torch.testing.assert_close(at.grad, torch.tensor(grad), rtol=1e-6, atol=1e-8)


def test_extreme_activations_are_finite_with_finite_gradients():
    for t1, t2 in ((0.2, 4.0), (0.7, 1.3), (0.5, 0.8), (0.99, 1.0), (1.0, 1.0 + 1e-6)):
        for dtype in (torch.float32, torch.float64):
            a = (torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)).requires_grad_()
            loss = bi_tempered_logistic_loss(a, torch.tensor([1, 0]), t1=t1, t2=t2, num_iters=None)
            loss.backward()
            assert math.isfinite(loss.item()) and torch.isfinite(a.grad).all(), (t1, t2, dtype)
